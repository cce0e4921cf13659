import Commerce
import HTTP
import Platform
import Replication

extension OutpostNode {
    static let promotionRoles = ["catalog_admin", "operator", "hub_admin"]

    // MARK: Reading

    /// Every promotion of the fleet, whatever its status; re-read after the catalog projection
    /// saw one change.
    func promotions() -> [Promotion] {
        if let cached = caches.promotionList { return cached }
        let keys = replica.keys(in: Collections.catalog.name, withPrefix: Promotion.keyPrefix)
        let list = keys.sorted().compactMap { promotion(String($0.dropFirst(Promotion.keyPrefix.count))) }
        caches.promotionList = list
        return list
    }

    func promotion(_ id: String) -> Promotion? {
        guard let entry = replica.state(at: Promotion.keyPrefix + id, in: Collections.catalog) else { return nil }
        return Promotion(id: id, fields: CatalogFields.values(of: entry))
    }

    /// A category and every category above it (a promotion for "footwear" covers "boots").
    func categoryPath(_ id: String?) -> [String] {
        var path: [String] = []
        var next = id
        while let current = next, path.count < 32, !path.contains(current) {
            path.append(current)
            next = catalog.categories[current]?.parent
        }
        return path
    }

    /// A cart's lines with its promotions and the region's shipping fee and tax.
    /// `shipping`: the chosen method's fee; nil: the cheapest the region offers (a cart not yet at checkout).
    func price(_ lines: [PricedLine], code: String?, currency: String, shipping: Int64? = nil) -> (outcome: PromotionEngine.Outcome, totals: OrderTotals) {
        let goods = lines.reduce(Int64(0)) { $0 + $1.amount }
        let shipping = shipping ?? estimatedShipping(lines, currency: currency)
        let promoted = lines.map { PromotedLine(line: $0, categories: categoryPath(product($0.productId)?.category)) }
        let outcome = PromotionEngine.apply(promotions(), code: code, to: promoted, currency: currency, shipping: shipping, nowMs: WallClock.nowMs())
        return (outcome, OrderTotals(currency: currency, goods: goods, shipping: shipping, discounts: outcome.discounts, terms: config.checkout))
    }

    /// The limit per customer: codes with one need a signed-in customer, counted over the orders
    /// this node has seen (not cancelled).
    /// Throws when the uses cannot be read: a limit that cannot be checked is not passed.
    func customerRefusal(_ promotion: Promotion, customer: String?) throws -> CodeRefusal? {
        guard let limit = promotion.perCustomerLimit else { return nil }
        guard let customer else { return .signInRequired }
        let used = try PromotionRedemptions(database: database).uses(promotion: promotion.id, customer: customer)
        return used >= limit ? .customerLimit : nil
    }

    func cartCode(_ cartId: String) -> String? {
        replica.state(at: cartId, in: Collections.carts).flatMap(CartContents.code)
    }

    static func discountJSON(_ discount: DiscountLine) -> JSONValue {
        .object([JSONMember("promotion", .string(discount.promotion)), JSONMember("name", .string(discount.name)),
                 JSONMember("code", discount.code.map { .string($0) } ?? .null), JSONMember("amount", .int(discount.amount)),
                 JSONMember("shipping", .int(discount.shipping))])
    }

    /// The orders view's companion: who used which promotion, kept with the order's status.
    func projectRedemptions(order: String, state: OrderState) throws {
        guard let placed = state.placed, let discounts = placed.discounts, !discounts.isEmpty else { return }
        let redemptions = PromotionRedemptions(database: database)
        for discount in discounts where discount.promotion != DiscountLine.exchangePromotion {
            try redemptions.record(promotion: discount.promotion, order: order, code: discount.code, customer: placed.customer, node: placed.node,
                                   amount: discount.amount, placedMs: placed.atMs, cancelled: state.status == .cancelled)
        }
    }

    // MARK: Admin

    func promotionJSON(_ promotion: Promotion) -> JSONValue {
        var members: [JSONMember] = [
            JSONMember("id", .string(promotion.id)), JSONMember("name", .string(promotion.name)), JSONMember("kind", .string(promotion.kind.rawValue)),
            JSONMember("status", .string(promotion.status.rawValue)), JSONMember("code", promotion.code.map { .string($0) } ?? .null),
            JSONMember("automatic", .bool(promotion.isAutomatic)), JSONMember("priority", .int(promotion.priority)),
        ]
        let optionals: [(String, Int64?)] = [("percent_bp", promotion.percentBasisPoints), ("amount", promotion.amount), ("min_spend", promotion.minSpend),
                                             ("per_customer_limit", promotion.perCustomerLimit), ("usage_cap", promotion.usageCap),
                                             ("buy", promotion.buy), ("get", promotion.get)]
        for case let (name, value?) in optionals { members.append(JSONMember(name, .int(value))) }
        if let currency = promotion.currency { members.append(JSONMember("currency", .string(currency))) }
        if let starts = promotion.startsMs { members.append(JSONMember("starts_at", .string(WallClock.iso8601(ms: starts)))) }
        if let ends = promotion.endsMs { members.append(JSONMember("ends_at", .string(WallClock.iso8601(ms: ends)))) }
        if !promotion.products.isEmpty { members.append(JSONMember("products", .array(promotion.products.map { .string($0) }))) }
        if !promotion.categories.isEmpty { members.append(JSONMember("categories", .array(promotion.categories.map { .string($0) }))) }
        if !promotion.tiers.isEmpty {
            members.append(JSONMember("tiers", .array(promotion.tiers.map { tier in
                .object([JSONMember("from", .int(tier.from))] + (tier.percentBasisPoints.map { [JSONMember("percent_bp", .int($0))] } ?? [])
                        + (tier.amount.map { [JSONMember("amount", .int($0))] } ?? []))
            })))
        }
        let byNode = (try? PromotionRedemptions(database: database).usesByNode(promotion: promotion.id)) ?? []
        var redemptions: [JSONMember] = [JSONMember("fleet", .int(byNode.reduce(0) { $0 + $1.1 })),
                                         JSONMember("by_node", .object(byNode.map { JSONMember($0.0, .int($0.1)) }))]
        if promotion.usageCap != nil, let counter = replica.state(at: promotion.id, in: Collections.redemptions) {
            redemptions.append(JSONMember("left", .int(counter.value)))
            redemptions.append(JSONMember("rights", .object(counter.replicas.sorted().map { JSONMember($0, .int(counter.rights(of: $0))) })))
        }
        members.append(JSONMember("redemptions", .object(redemptions)))
        return .object(members)
    }

    private func changeStatus(_ id: String, to status: Promotion.Status, _ responder: Responder) {
        guard var promotion = promotion(id) else { return responder.fail(HTTPError(.notFound, detail: "no promotion \(id)")) }
        guard promotion.status != .retired || status == .retired else {
            return responder.fail(HTTPError(.promotionRetired, detail: "promotion \(id) is retired"))
        }
        promotion.status = status
        let fields = promotion.fields
        commitCatalog(key: Promotion.keyPrefix + id, fields: { fields }) { [unowned self] error in
            if let error { return responder.fail(error) }
            responder.send(.json(promotionJSON(promotion)))
        }
    }

    func registerPromotionRoutes() {
        registerPromotionAdminRoutes()
        registerDiscountCodeRoutes()
    }

    /// Promotions: create, list, read, pause and resume.
    private func registerPromotionAdminRoutes() {
        let problem = RouteDoc.Reply.problem
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "The promotion's id.")
        let promotionReply = RouteDoc.Reply(200, "The promotion, with its redemptions per node and fleet-wide.", schema: ["type": "object"])

        router.add("POST", "/admin/v1/promotions", access: .roles(Self.promotionRoles), bodyBytesMax: 32_768, doc: RouteDoc(
            operationId: "createPromotion", summary: "Create a promotion: a discount code, or an automatic promotion (no code).",
            description: """
                Body: {"id", "name", "kind": percentage|fixed_amount|free_shipping|buy_x_get_y|tiered_spend, "code"?, "percent_bp"?, "amount"?, \
                "currency"?, "min_spend"?, "starts_at"?, "ends_at"?, "products"?, "categories"?, "per_customer_limit"?, "usage_cap"?, "buy"?, "get"?, \
                "tiers"?: [{"from", "percent_bp" | "amount"}], "priority"?}. Amounts in minor units. A usage cap holds fleet-wide, partitions \
                included: this node gets the rights to every redemption, and other nodes ask for them as they sell (docs/promotions.md).
                """,
            tags: ["promotions"], requestBody: .init(0, "The promotion.", schema: ["type": "object", "required": ["id", "name", "kind"]]),
            replies: [.init(201, "The promotion.", schema: ["type": "object"]), problem(409, "The id or the code is taken."),
                      problem(422, "A field is malformed.")])
        ) { [unowned self] request, responder in
            do {
                let promotion: Promotion
                do { promotion = try PromotionInput.promotion(from: try Self.jsonObject(request)) } catch let failure as ValidationFailure { throw Self.validationError(failure) }
                guard self.promotion(promotion.id) == nil else { throw HTTPError(.promotionExists, detail: "promotion \(promotion.id) exists") }
                if let code = promotion.code, PromotionEngine.promotion(code: code, in: promotions()) != nil {
                    throw HTTPError(.promotionCodeTaken, detail: "the code \(code) belongs to another promotion")
                }
                let me = identity.nodeId
                writer.submit({ [unowned self] _ in
                    _ = try Self.commit(promotion.fields, key: Promotion.keyPrefix + promotion.id, replica: replica, as: me)
                    // This node holds the rights to every redemption; others ask for them as they sell.
                    if let cap = promotion.usageCap {
                        try reservations.change(promotion.id, in: Collections.redemptions, nowMs: WallClock.nowMs()) { try $0.increment(by: UInt64(cap), replica: me) }
                    }
                }, completion: { [unowned self] result in
                    switch result {
                    case .success:
                        replicatedChanged()
                        responder.send(.json(promotionJSON(promotion), status: 201))
                    case .failure(let error):
                        responder.fail(error)
                    }
                })
            } catch {
                responder.fail(error)
            }
        }

        router.get("/admin/v1/promotions", access: .roles(Self.promotionRoles + Self.shopStaffRoles), doc: RouteDoc(
            operationId: "listPromotions", summary: "Every promotion with its status and redemptions (per node and fleet-wide), by id.", tags: ["promotions"],
            parameters: KeyedPage<Promotion>.parameters(),
            replies: [.init(200, "{promotions: [...], next_cursor}", schema: ["type": "object"])])
        ) { [unowned self] request in
            let page = try KeyedPage(promotions(), key: \.id, request: request)
            return .json(["promotions": .array(page.items.map(promotionJSON)), "next_cursor": page.next])
        }

        router.get("/admin/v1/promotions/{id}", access: .roles(Self.promotionRoles + Self.shopStaffRoles), doc: RouteDoc(
            operationId: "getPromotion", summary: "A promotion with its redemptions.", tags: ["promotions"], parameters: [idParameter],
            replies: [promotionReply, problem(404, "No such promotion.")])
        ) { [unowned self] request in
            guard let promotion = promotion(request.parameter("id") ?? "") else { throw HTTPError(.notFound, detail: "no such promotion") }
            return .json(promotionJSON(promotion))
        }

        for (action, status, summary) in [("pause", Promotion.Status.paused, "Pause a promotion: it stops applying until resumed."),
                                          ("resume", .active, "Resume a paused promotion."),
                                          ("retire", .retired, "Retire a promotion for good: it never applies again and its code is free for reuse.")] {
            router.add("POST", "/admin/v1/promotions/{id}/" + action, access: .roles(Self.promotionRoles), bodyBytesMax: 0, doc: RouteDoc(
                operationId: action + "Promotion", summary: summary, tags: ["promotions"], parameters: [idParameter],
                replies: [promotionReply, problem(404, "No such promotion."), problem(409, "The promotion is retired.")])
            ) { [unowned self] request, responder in
                changeStatus(request.parameter("id") ?? "", to: status, responder)
            }
        }
    }

    /// A cart's discount code: apply and remove.
    private func registerDiscountCodeRoutes() {
        let problem = RouteDoc.Reply.problem

        let cartIdParameter = RouteDoc.Parameter("id", in: .path, description: "The cart's id.")
        let cartReply = RouteDoc.Reply(200, "The cart with its discounts and totals.", schema: ["type": "object"])
        router.add("PUT", "/api/v1/carts/{id}/discount-code", bodyBytesMax: 1024, doc: RouteDoc(
            operationId: "applyDiscountCode", summary: "Apply a discount code to the cart (one per cart; it replaces the one before).",
            description: """
                Body: {"code"}. A code that is unknown, paused, retired, not started or expired is refused (422 discount-code-refused with `reason`). \
                A code the cart does not qualify for yet (minimum spend, eligible products) is kept: the cart's `discount_code.applies` is false \
                with the `reason`, and checkout refuses it until it applies or is removed.
                """,
            tags: ["carts", "promotions"], parameters: [cartIdParameter],
            requestBody: .init(0, "The code.", schema: ["type": "object", "required": ["code"]]),
            replies: [cartReply, problem(422, "The code is refused (reason).")])
        ) { [unowned self] request, responder in
            do {
                let (id, owner) = try authorizeCart(request)
                if case .wishlist = owner { throw HTTPError(.validation, detail: "a wishlist takes no discount code") }
                guard case .string(let text)? = try Self.jsonObject(request)["code"] else { throw HTTPError(.validation, detail: "code is required") }
                let code = try applicableCode(text, cart: id, address: request.remoteAddress?.host ?? "unknown")
                let locale = shopperLocale(request)
                setCartCode(id, code) { [unowned self] error in
                    if let error { responder.fail(error) } else { sendCart(id, locale: locale, to: responder) }
                }
            } catch {
                responder.fail(error)
            }
        }

        router.add("DELETE", "/api/v1/carts/{id}/discount-code", bodyBytesMax: 0, doc: RouteDoc(
            operationId: "removeDiscountCode", summary: "Remove the cart's discount code.", tags: ["carts", "promotions"], parameters: [cartIdParameter],
            replies: [cartReply])
        ) { [unowned self] request, responder in
            do {
                let (id, _) = try authorizeCart(request)
                let locale = shopperLocale(request)
                setCartCode(id, nil) { [unowned self] error in
                    if let error { responder.fail(error) } else { sendCart(id, locale: locale, to: responder) }
                }
            } catch {
                responder.fail(error)
            }
        }
    }

    /// A code a shopper may put in a cart: known and live (whether the cart qualifies is the
    /// checkout's question). Wrong codes are throttled per cart and per address, counted before
    /// the code is looked up, so codes cannot be found by guessing (a shop's STAFF50 fell to
    /// 1,320 guesses in 0.1 s).
    func applicableCode(_ text: String, cart: String, address: String) throws(HTTPError) -> String {
        let nowMs = WallClock.nowMs()
        if case .wait(let untilMs, _) = accounts.codeThrottle.begin(account: cart, address: address, nowMs: nowMs) {
            let seconds = max(1, (untilMs - nowMs + 999) / 1000)
            throw HTTPError(.discountCodeThrottled, detail: "too many wrong discount codes; try again in \(seconds) s",
                            headers: HTTPHeaders([("Retry-After", String(seconds))]))
        }
        let code = try liveCode(text)
        accounts.codeThrottle.succeeded(account: cart, address: address)
        return code
    }

    private func liveCode(_ text: String) throws(HTTPError) -> String {
        func refused(_ reason: CodeRefusal, _ detail: String) -> HTTPError {
            var error = HTTPError(.discountCodeRefused, detail: detail)
            error.problem.extensions = [("reason", .string(reason.rawValue))]
            return error
        }
        guard let code = Promotion.normalizedCode(text), let promotion = PromotionEngine.promotion(code: code, in: promotions()) else {
            throw refused(.unknown, "there is no such discount code")
        }
        let now = WallClock.nowMs()
        if promotion.status != .active { throw refused(.inactive, "the code \(code) is not active") }
        if let starts = promotion.startsMs, now < starts { throw refused(.notStarted, "the code \(code) is valid from \(WallClock.iso8601(ms: starts))") }
        if let ends = promotion.endsMs, now >= ends { throw refused(.expired, "the code \(code) expired at \(WallClock.iso8601(ms: ends))") }
        return code
    }

    func setCartCode(_ id: String, _ code: String?, completion: @escaping ((any Error)?) -> Void) {
        let replica = self.replica, me = identity.nodeId
        writer.submit({ _ in
            var state = replica.state(at: id, in: Collections.carts) ?? CartContents.State()
            let at = replica.tick(wallMs: WallClock.nowMs())
            _ = try replica.commit(CartContents.settingCode(&state, code, replica: me, at: at), key: id, in: Collections.carts, at: at)
        }, completion: { [unowned self] result in
            if case .failure(let error) = result { return completion(error) }
            replicatedChanged()
            completion(nil)
        })
    }
}
