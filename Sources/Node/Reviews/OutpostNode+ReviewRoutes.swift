import Commerce
import HTTP
import Platform

extension OutpostNode {
    func registerReviewRoutes() {
        registerShopperReviewRoutes()
        registerModerationRoutes()
    }

    /// Writing a review, and reading a product's.
    private func registerShopperReviewRoutes() {
        let problem = RouteDoc.Reply.problem
        let productParameter = RouteDoc.Parameter("id", in: .path, description: "The product's id.")

        router.add("POST", "/api/v1/products/{id}/reviews", access: .roles(["customer"]), bodyBytesMax: 16_384, doc: RouteDoc(
            operationId: "writeReview", summary: "Rate (1 to 5) and review a product you bought; shown once the store approves it.",
            description: """
                Body: {"rating": 1-5, "text" (1 to \(Review.textCharactersMax) characters), "title"? (at most \(Review.titleCharactersMax)), \
                "author"? (the name shown, at most \(Review.authorCharactersMax); default "Verified buyer")}. Plain text only. One review per \
                customer and product.
                """,
            tags: ["reviews"], parameters: [productParameter], requestBody: .init(0, "The review.", schema: ["type": "object", "required": ["rating", "text"]]),
            replies: [.init(201, "The review, pending moderation.", schema: ["type": "object"]), problem(403, "No paid order of the product."),
                      problem(404, "No such product."), problem(409, "Reviewed already."), problem(422, "A field is malformed (HTML, too long, no stars).")])
        ) { [unowned self] request, responder in
            do {
                let customer = try signedInCustomer(request)
                var fields = InputFields(try Self.jsonObject(request), known: ["rating", "title", "text", "author"], what: "review")
                let input = ReviewInput(rating: fields.count("rating", Int64.min...Int64.max), title: fields.text("title"), text: fields.text("text"),
                                        author: fields.text("author"))
                if !fields.errors.isEmpty { throw Self.validationError(ValidationFailure(fields.errors)) }
                let product = request.parameter("id") ?? ""
                submitReview(input, product: product, customer: customer) { [unowned self] error in
                    if let error { return responder.fail(error) }
                    guard let review = try? reviewBook.review(key: Review.key(product: product, customer: customer.id)) else {
                        return responder.fail(HTTPError(.internalError, detail: "the review was written but cannot be read back"))
                    }
                    responder.send(.json(reviewJSON(review, forStaff: false), status: 201))
                }
            } catch {
                responder.fail(error)
            }
        }

        router.get("/api/v1/products/{id}/reviews", doc: RouteDoc(
            operationId: "listReviews", summary: "A product's approved reviews, newest first, and its rating.", tags: ["reviews"],
            parameters: [productParameter, .init("limit", in: .query, description: "1 to \(Self.reviewsPageMax), default 20.", schema: ["type": "integer"]),
                         .init("before", in: .query, description: "Only reviews written before this time (UTC ISO 8601): the next page.")],
            replies: [.init(200, "{rating: {average, count} | null, reviews: [{product, rating, title, text, author, written_at, reply}], next_before}",
                            schema: ["type": "object"]), problem(404, "No such product.")])
        ) { [unowned self] request in
            let id = request.parameter("id") ?? ""
            guard let product = product(id), product.status == .active else { throw HTTPError(.notFound, detail: "no product \(id) is sold here") }
            let limit = try Self.limit(request, max: Self.reviewsPageMax, default: 20)
            var before = Int64.max
            if let text = request.queryValue("before") {
                guard let ms = WallClock.parseISO8601(text) else { throw HTTPError(.badRequest, detail: "before must be a UTC ISO 8601 time") }
                before = ms
            }
            let reviews = try reviewBook.approved(product: product.id, beforeMs: before, limit: limit)
            return .json(["rating": CatalogJSON.rating(catalog.ratings[product.id]), "reviews": .array(reviews.map { reviewJSON($0, forStaff: false) }),
                          "next_before": reviews.count == limit ? reviews.last.map { .string(WallClock.iso8601(ms: $0.writtenMs)) } ?? .null : .null])
        }

    }

    /// The moderation queue, and staff's word on a review.
    private func registerModerationRoutes() {
        let problem = RouteDoc.Reply.problem
        router.get("/admin/v1/reviews", access: .roles(Self.reviewModeratorRoles + ["hub_admin"]), doc: RouteDoc(
            operationId: "moderationQueue", summary: "Reviews by status (pending: the moderation queue), oldest first.", tags: ["reviews"],
            parameters: [.init("status", in: .query, description: "pending (default), approved or rejected."),
                         .init("limit", in: .query, description: "1 to 100, default 50.", schema: ["type": "integer"])],
            replies: [.init(200, "{reviews: [{key, status, customer, node, ...}]}", schema: ["type": "object"]), problem(400, "status or limit is malformed.")])
        ) { [unowned self] request in
            let status = try request.queryValue("status").map { text throws(HTTPError) -> Review.Status in
                guard let status = Review.Status(rawValue: text) else { throw HTTPError(.badRequest, detail: "status must be pending, approved or rejected") }
                return status
            } ?? .pending
            let reviews = try reviewBook.inStatus(status, limit: try Self.limit(request, max: 100, default: 50))
            return .json(["reviews": .array(reviews.map { reviewJSON($0, forStaff: true) })])
        }

        for action in Moderation.allCases {
            router.add("POST", "/admin/v1/reviews/{key}/" + action.rawValue, access: .roles(Self.reviewModeratorRoles), bodyBytesMax: 4096, doc: RouteDoc(
                operationId: action.rawValue + "Review",
                summary: action == .approve ? "Approve a review: shown with the product (and shared with the fleet where configured)."
                    : action == .reject ? "Reject a review: hidden (and withdrawn from the fleet)." : "Reply to a review in public: {\"reply\"}.",
                tags: ["reviews"], parameters: [.init("key", in: .path, description: "The review's key (rv:<product>:<customer>).")],
                replies: [.init(200, "The review.", schema: ["type": "object"]), problem(404, "No such review in this region."), problem(422, "The reply is malformed.")])
            ) { [unowned self] request, responder in
                var reply: String?
                if action == .reply {
                    do {
                        var fields = InputFields(try Self.jsonObject(request), known: ["reply"], what: "reply")
                        reply = fields.text("reply")
                        if !fields.errors.isEmpty { throw Self.validationError(ValidationFailure(fields.errors)) }
                    } catch {
                        return responder.fail(error)
                    }
                }
                moderateReview(request.parameter("key") ?? "", action, reply: reply, staff: request.subject ?? "admin token") { [unowned self] result in
                    switch result {
                    case .success(let review): responder.send(.json(reviewJSON(review, forStaff: true)))
                    case .failure(let error): responder.fail(error)
                    }
                }
            }
        }
    }
}
