import Commerce
import HTTP
import Persistence
import Platform
import Replication

/// What a customer writes about a product (the API's body and the storefront's form alike).
struct ReviewInput {
    var rating: Int64?
    var title: String?
    var text: String?
    var author: String?
}

extension OutpostNode {
    static let reviewModeratorRoles = ["store_manager", "operator"]
    /// Reviews one product page or API page lists at most.
    static let reviewsPageMax = 50

    var reviewBook: ReviewBook { ReviewBook(database: database) }

    // MARK: The views

    /// Folds changed reviews (from either collection) into the rows and ratings, in the change's
    /// transaction; a product whose rating moved has its cached pages go stale.
    func projectReviews(_ keys: [String]) throws {
        for key in Set(keys) where key.hasPrefix(Review.keyPrefix) {
            // The region's own copy decides where there is one; another region's shared copy otherwise.
            let entry = replica.state(at: key, in: Collections.reviews) ?? replica.state(at: key, in: Collections.publishedReviews)
            let review = entry.flatMap { Review(key: key, fields: CatalogFields.values(of: $0)) }
            if let product = try reviewBook.project(key: key, review) {
                catalog.noteRating(product: product, try reviewBook.rating(of: product))
            }
        }
    }

    // MARK: Writing

    /// A customer's review of a product they bought, written pending. Refuses (and changes
    /// nothing) a customer who has no paid order of it, a second review, and bad fields.
    func submitReview(_ input: ReviewInput, product productId: String, customer: Customer, completion: @escaping ((any Error)?) -> Void) {
        do {
            guard let product = product(productId), product.status == .active else { throw HTTPError(.notFound, detail: "no product \(productId) is sold here") }
            var errors = Review.problems(rating: input.rating, title: input.title, text: input.text, author: input.author)
            if let author = input.author, author.trimmingWhitespace().isEmpty { errors.removeAll { $0.field == "author" } }
            guard errors.isEmpty else { throw Self.validationError(ValidationFailure(errors)) }
            guard try hasBought(product.id, customer: customer.id) else {
                throw HTTPError(.reviewNotAllowed, detail: "only a customer who bought \(product.id) (a paid order, not cancelled) may review it")
            }
            let key = Review.key(product: product.id, customer: customer.id)
            guard replica.state(at: key, in: Collections.reviews) == nil else { throw HTTPError(.reviewExists, detail: "this account has reviewed \(product.id) already") }
            let author = input.author?.trimmingWhitespace() ?? ""
            let review = Review(product: product.id, customer: customer.id, rating: input.rating ?? 0, title: input.title?.trimmingWhitespace().nilIfEmpty,
                                text: (input.text ?? "").trimmingWhitespace(), author: author.isEmpty ? "Verified buyer" : author, writtenMs: WallClock.nowMs(),
                                node: identity.nodeId)
            let replica = self.replica, me = identity.nodeId
            writer.submit({ _ in
                // Checked again in the write: two posts of one review in one turn make one review.
                guard replica.state(at: key, in: Collections.reviews) == nil else { throw HTTPError(.reviewExists, detail: "this account has reviewed \(product.id) already") }
                _ = try Self.commit(review.fields, key: key, in: Collections.reviews, replica: replica, as: me)
            }, completion: { [unowned self] result in
                if case .failure(let error) = result { return completion(error) }
                replicatedChanged()
                logger.info("review written", metadata: ["product": "\(product.id)", "customer": "\(customer.id)", "rating": "\(review.rating)"])
                completion(nil)
            })
        } catch {
            completion(error)
        }
    }

    /// Whether the customer has an order of the product that counts as a sale (paid or shipped,
    /// not cancelled).
    private func hasBought(_ product: String, customer: String) throws -> Bool {
        for order in try orderIndex.ids(ofCustomer: customer).prefix(1_000) {
            guard let state = orderState(order), SalesContribution.counts(state) else { continue }
            if state.placed?.lines?.contains(where: { $0.productId == product }) == true { return true }
        }
        return false
    }

    enum Moderation: String, CaseIterable {
        case approve, reject, reply
    }

    /// Staff's word on a review: approved (shown), rejected (hidden), or a public reply. Where the
    /// region shares its reviews with the fleet, the approved review is shared too (and a
    /// rejection withdraws it).
    func moderateReview(_ key: String, _ action: Moderation, reply: String?, staff: String, completion: @escaping (Result<Review, any Error>) -> Void) {
        guard let entry = replica.state(at: key, in: Collections.reviews), var review = Review(key: key, fields: CatalogFields.values(of: entry)) else {
            return completion(.failure(HTTPError(.notFound, detail: "no review \(key) in this region")))
        }
        switch action {
        case .approve: review.status = .approved
        case .reject: review.status = .rejected
        case .reply:
            let text = reply?.trimmingWhitespace() ?? ""
            guard (1...Review.replyCharactersMax).contains(text.count), Review.isPlainText(text) else {
                return completion(.failure(Self.validationError(ValidationFailure([FieldError("reply", "must be 1 to \(Review.replyCharactersMax) characters of plain text (no < or >)")]))))
            }
            review.reply = text
        }
        review.moderatedBy = staff
        review.moderatedMs = WallClock.nowMs()
        let replica = self.replica, me = identity.nodeId, shares = config.reviewShare == .fleet
        writer.submit({ _ in
            _ = try Self.commit(review.fields, key: key, in: Collections.reviews, replica: replica, as: me)
            if shares && (review.status == .approved || replica.state(at: key, in: Collections.publishedReviews) != nil) {
                _ = try Self.commit(review.fields, key: key, in: Collections.publishedReviews, replica: replica, as: me)
            }
        }, completion: { [unowned self] result in
            if case .failure(let error) = result { return completion(.failure(error)) }
            replicatedChanged()
            logger.info("review moderated", metadata: ["review": "\(key)", "action": "\(action.rawValue)", "by": "\(staff)"])
            completion(.success(review))
        })
    }

    /// An erased customer's reviews: their words and name gone, hidden, in their region and
    /// wherever the region shared them; the stars they gave no longer count.
    func withdrawReviews(ofCustomer customer: String, completion: @escaping ((any Error)?) -> Void) {
        let keys: [String]
        do { keys = try reviewBook.keys(ofCustomer: customer) } catch { return completion(error) }
        guard !keys.isEmpty else { return completion(nil) }
        let replica = self.replica, me = identity.nodeId, nowMs = WallClock.nowMs()
        writer.submit({ _ in
            for key in keys {
                for collection in [Collections.reviews, Collections.publishedReviews] {
                    guard let entry = replica.state(at: key, in: collection), var review = Review(key: key, fields: CatalogFields.values(of: entry)) else { continue }
                    review.text = "(removed at the customer's request)"
                    review.title = nil
                    review.author = "Former customer"
                    review.status = .rejected
                    review.moderatedBy = "erasure"
                    review.moderatedMs = nowMs
                    _ = try Self.commit(review.fields, key: key, in: collection, replica: replica, as: me)
                }
            }
        }, completion: { [unowned self] result in
            if case .failure(let error) = result { return completion(error) }
            replicatedChanged()
            completion(nil)
        })
    }

    // MARK: JSON

    func reviewJSON(_ review: Review, forStaff: Bool) -> JSONValue {
        var members = [
            JSONMember("product", .string(review.product)), JSONMember("rating", .int(review.rating)),
            JSONMember("title", review.title.map { .string($0) } ?? .null), JSONMember("text", .string(review.text)), JSONMember("author", .string(review.author)),
            JSONMember("written_at", .string(WallClock.iso8601(ms: review.writtenMs))), JSONMember("reply", review.reply.map { .string($0) } ?? .null),
        ]
        if forStaff {
            members = [JSONMember("key", .string(review.key))] + members + [
                JSONMember("status", .string(review.status.rawValue)), JSONMember("customer", .string(review.customer)), JSONMember("node", .string(review.node)),
                JSONMember("moderated_by", review.moderatedBy.map { .string($0) } ?? .null),
                JSONMember("moderated_at", review.moderatedMs.map { .string(WallClock.iso8601(ms: $0)) } ?? .null),
            ]
        }
        return .object(members)
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
