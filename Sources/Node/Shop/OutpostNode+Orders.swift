import Commerce
import HTTP
import Platform
import Replication

struct OrderEventBody: Codable, Sendable {
    struct Item: Codable, Sendable {
        var sku: String
        var quantity: Int64
    }

    var kind: String
    var carrier: String?
    var tracking: String?
    var reason: String?
    var amount: Int64?
    var items: [Item]?
    var location: String?
}

extension OutpostNode {
    // MARK: The orders view

    /// Folds the changed orders into the order index (inside the change's transaction) and notes
    /// the ones whose stock this node must give back or take again.
    func projectOrders(_ keys: [String]) throws {
        for key in Set(keys) {
            try projectOrder(key, state: orderState(texts: replica.state(at: key, in: Collections.orders)?.elements ?? []))
        }
    }

    /// The orders this node knows of, one row each.
    var orderIndex: OrderIndex { OrderIndex(database: database) }

    /// Returns the store still has to act on: asked for, approved or received, not yet refunded
    /// or rejected (an exchange is done once received).
    static func openReturns(_ state: OrderState) -> Int {
        state.returns.filter { $0.status == .requested || $0.status == .approved || ($0.status == .received && !$0.isExchangeOnly) }.count
    }

    /// The sales figures folded from the orders (docs/back-office.md).
    var salesWindows: SalesWindows { SalesWindows(database: database) }

    /// One order's row of the order index, from its state already folded; `isNew`: placed in
    /// this transaction (nothing of it is stored yet).
    func projectOrder(_ key: String, state: OrderState, isNew: Bool = false) throws {
        let placed = state.placed
        try orderIndex.project(.init(id: key, number: placed?.number, customer: placed?.customer, node: placed?.node, status: state.status.rawValue,
                                     placedMs: placed?.atMs, total: placed?.totals?.total, currency: placed?.totals?.currency,
                                     reservedUntilMs: state.reservationExpiresMs, cancellationRaced: state.cancellationRaced,
                                     returnsOpen: Self.openReturns(state)))
        try projectRedemptions(order: key, state: state)
        if !life.faults.skipsSalesWindows { try salesWindows.fold(order: key, SalesContribution(state), isNew: isNew) }
        try recordOrderNotices(key, state: state)
        if placed?.node == identity.nodeId && (state.status == .cancelled || state.cancellationRaced) { shop.stockFollowUps.insert(key) }
    }

    /// Orders whose stock this node placed and whose cancellation (or a shipment racing it) was
    /// seen: their units given back or taken again (`SaleReservations.followUp`), in a write of
    /// its own, off the change's transaction.
    func settleStockFollowUps() {
        guard !shop.stockFollowUps.isEmpty else { return }
        let orders = shop.stockFollowUps
        shop.stockFollowUps.removeAll()
        writer.submit({ [unowned self] _ in
            var outcomes: [(String, SaleReservations.FollowUp)] = []
            for order in orders.sorted() {
                let state = orderState(texts: replica.state(at: order, in: Collections.orders)?.elements ?? [])
                outcomes.append((order, try reservations.followUp(order: order, state: state, nowMs: WallClock.nowMs())))
            }
            return outcomes
        }, completion: { [unowned self] result in
            switch result {
            case .failure(let error): logger.error("could not settle the stock of cancelled orders", metadata: ["error": "\(error)"])
            case .success(let outcomes):
                replicatedChanged()
                for case let (order, .retaken(short, redemptionShort)) in outcomes {
                    for (sku, units) in short.sorted(by: { $0.key < $1.key }) {
                        logger.warning("a shipment raced a cancellation and this node holds too few rights to take the units again; count and adjust",
                                       metadata: ["order": "\(order)", "sku": "\(sku)", "short": "\(units)"])
                    }
                    if redemptionShort {
                        logger.warning("a shipment raced a cancellation and this node holds no redemption of the order's code to take again",
                                       metadata: ["order": "\(order)"])
                    }
                }
            }
        })
    }

    /// Orders this node placed whose payment never came: cancelled when their hold runs out.
    func expireReservations(nowMs: Int64) {
        guard let due = try? orderIndex.expired(node: identity.nodeId, nowMs: nowMs, limit: 64), !due.isEmpty else { return }
        for order in due where shop.expiring.insert(order).inserted {
            var cancel = OrderEvent(kind: .cancelled, atMs: nowMs, node: identity.nodeId)
            cancel.reason = "payment_not_received"
            orderDesk.record(cancel, on: order) { [unowned self] error in
                shop.expiring.remove(order)
                if let error { logger.error("could not expire a reservation", metadata: ["order": "\(order)", "error": "\(error)"]) }
                else { logger.info("unpaid order cancelled, stock released", metadata: ["order": "\(order)"]) }
            }
        }
    }

    // MARK: Events

    /// Records events on orders, with what each implies at the acquirer (`OrderDesk`).
    var orderDesk: OrderDesk {
        let desk = OrderDesk(writer: writer, gateway: gateway, clock: WallClock.nowMs, reservations: { [unowned self] in reservations },
                             order: { [unowned self] id in orderState(texts: replica.state(at: id, in: Collections.orders)?.elements ?? []) },
                             payment: { [unowned self] id in paymentState(id) })
        desk.changed = { [unowned self] in replicatedChanged() }
        return desk
    }

    // MARK: JSON

    /// Whether an order's JSON shows its email and address, and from where: opened from the
    /// sealed contact, or as just given at checkout (no need to open what is in hand).
    enum ContactShown {
        case hidden, sealed
        case known(email: String, shipTo: Address?)
    }

    func orderJSON(_ id: String, state: OrderState, payment: PaymentState?, contact shown: ContactShown, token: String? = nil) -> JSONValue {
        let placed = state.placed
        var members: [JSONMember] = [
            JSONMember("id", .string(id)),
            JSONMember("number", placed?.number.map { .string($0) } ?? .null),
            JSONMember("status", .string(state.status.rawValue)),
            JSONMember("placed_at", placed.map { .string(WallClock.iso8601(ms: $0.atMs)) } ?? .null),
            JSONMember("node", placed.map { .string($0.node) } ?? .null),
            JSONMember("customer", placed?.customer.map { .string($0) } ?? .null),
            JSONMember("lines", .array((placed?.lines ?? []).map {
                .object([JSONMember("sku", .string($0.sku)), JSONMember("product_id", .string($0.productId)), JSONMember("name", .string($0.name)),
                         JSONMember("quantity", .int($0.quantity)), JSONMember("unit_price", .int($0.unitPrice)), JSONMember("amount", .int($0.amount))])
            })),
        ]
        if let totals = placed?.totals {
            members.append(JSONMember("totals", .object([
                JSONMember("currency", .string(totals.currency)), JSONMember("subtotal", .int(totals.subtotal)), JSONMember("discount", .int(totals.discount)),
                JSONMember("shipping", .int(totals.shipping)),
                JSONMember("tax", .int(totals.tax)), JSONMember("tax_included", .bool(totals.taxIncluded)), JSONMember("total", .int(totals.total)),
            ])))
        }
        members.append(JSONMember("discounts", .array((placed?.discounts ?? []).map(Self.discountJSON))))
        // An order paid with no payment (an exchange, settled by the return) says so: nothing to
        // capture, nothing to settle, no authorization for anyone to chase.
        let unpaidStatus = placed != nil && placed?.payment == nil && state.status != .placed ? "none" : nil
        members.append(JSONMember("payment", .object([
            JSONMember("id", placed?.payment.map { .string($0) } ?? .null),
            JSONMember("status", .string(payment?.status ?? unpaidStatus ?? (state.status == .placed ? "pending" : "authorized"))),
            JSONMember("settlement", .string(payment?.settlement ?? (unpaidStatus == nil ? "open" : "none"))),
        ])))
        if let due = paymentDueJSON(id, state: state) { members.append(JSONMember("payment_due", due)) }
        if state.refundedAmount > 0 { members.append(JSONMember("refunded_amount", .int(state.refundedAmount))) }
        if let until = state.reservationExpiresMs { members.append(JSONMember("reserved_until", .string(WallClock.iso8601(ms: until)))) }
        if state.cancellationRaced { members.append(JSONMember("cancellation_raced", .bool(true))) }
        let contact: (email: String, shipTo: Address?)?
        switch shown {
        case .hidden: contact = nil
        case .sealed: contact = orderContact(id, sealed: placed?.sealedContact)
        case .known(let email, let shipTo): contact = (email, shipTo)
        }
        if let contact {
            members.append(JSONMember("email", .string(contact.email)))
            members.append(JSONMember("ship_to", contact.shipTo.map { a in .object([
                JSONMember("name", a.name.map { .string($0) } ?? .null), JSONMember("line1", .string(a.line1)),
                JSONMember("line2", a.line2.map { .string($0) } ?? .null), JSONMember("city", .string(a.city)),
                JSONMember("postal_code", .string(a.postalCode)), JSONMember("country", .string(a.country)),
            ]) } ?? .null))
        }
        if let shipping = placed?.shipping { members.append(JSONMember("shipping", Self.shippingChoiceJSON(shipping))) }
        func units(_ counts: [String: Int64]) -> JSONValue { .object(counts.sorted { $0.key < $1.key }.map { JSONMember($0.key, .int($0.value)) }) }
        members.append(JSONMember("fulfilment", .object([JSONMember("shipped", units(state.shipped)), JSONMember("unshipped", units(state.unshipped)),
                                                         JSONMember("delivered", units(state.delivered))])))
        members.append(JSONMember("returns", .array(state.returns.map { returnJSON($0, state: state) })))
        members.append(JSONMember("events", .array(state.events.map { event in
            var fields = [JSONMember("kind", .string(event.kind.rawValue)), JSONMember("at", .string(WallClock.iso8601(ms: event.atMs))),
                          JSONMember("node", .string(event.node))]
            if let carrier = event.carrier { fields.append(JSONMember("carrier", .string(carrier))) }
            if let tracking = event.tracking { fields.append(JSONMember("tracking", .string(tracking))) }
            if let reason = event.reason { fields.append(JSONMember("reason", .string(reason))) }
            if let location = event.location { fields.append(JSONMember("location", .string(location))) }
            if let returnId = event.returnId { fields.append(JSONMember("return", .string(returnId))) }
            if let items = event.items { fields.append(JSONMember("items", .array(items.map(Self.itemJSON)))) }
            if event.kind == .refunded, let amount = event.amount { fields.append(JSONMember("amount", .int(amount))) }
            return .object(fields)
        })))
        if let token { members.append(JSONMember("order_token", .string(token))) }
        return .object(members)
    }

    func orderState(_ id: String) -> OrderState? {
        guard let events = replica.state(at: id, in: Collections.orders), !events.elements.isEmpty else { return nil }
        let state = orderState(texts: events.elements)
        return state.placed == nil ? nil : state
    }

    func orderState(texts: some Sequence<String>) -> OrderState {
        OrderState(texts: texts, memo: &caches.orderEvents)
    }

    func paymentState(_ id: String?) -> PaymentState? {
        guard let id else { return nil }
        return PaymentState(texts: replica.state(at: id, in: Collections.payments)?.elements ?? [])
    }

    /// Object-level check for an order: its customer, a guest with the order's token, or staff.
    /// Anyone else learns only that there is no such order.
    func authorizeOrder(_ request: Request) throws(HTTPError) -> (id: String, state: OrderState) {
        guard let id = request.parameter("id"), let state = orderState(id), let placed = state.placed else { throw HTTPError(.notFound, detail: "no such order") }
        if isStaff(request) { return (id, state) }
        if let customer = placed.customer {
            try requireOwner(request, customer: customer, what: "order")
            return (id, state)
        }
        guard Self.tokenOpens(placed, request.queryValue("token") ?? request.headers["x-order-token"]) else {
            throw HTTPError(.notFound, detail: "no such order")
        }
        return (id, state)
    }

    /// Whether a guest's order token (from the checkout's answer or link) opens this order.
    static func tokenOpens(_ placed: OrderEvent, _ token: String?) -> Bool {
        guard let token, let hash = placed.accessHash else { return false }
        return constantTimeEquals(Array(SHA256.hex(token).utf8), Array(hash.utf8))
    }

    // MARK: Routes

    func registerOrderRoutes() {
        registerShopperOrderRoutes()
        registerStaffOrderRoutes()
    }

    /// A shopper's order, their orders, and cancelling one.
    private func registerShopperOrderRoutes() {
        let problem = RouteDoc.Reply.problem
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "The order's id.")
        let orderReply = RouteDoc.Reply(200, "The order: status, lines, totals, payment, events.", schema: ["type": "object"])

        router.get("/api/v1/orders/{id}", doc: RouteDoc(
            operationId: "getOrder", summary: "One order: its customer's (token), a guest's (`?token=` from the checkout's answer), or any for staff.",
            tags: ["orders"], parameters: [idParameter, .init("token", in: .query, description: "A guest order's token.")],
            replies: [orderReply, problem(401, "A customer's order without a token."), problem(403, "Another customer's order.")])
        ) { [unowned self] request in
            let (id, state) = try authorizeOrder(request)
            return .json(orderJSON(id, state: state, payment: paymentState(state.paymentId), contact: .sealed))
        }

        router.get("/api/v1/me/orders", access: .roles(["customer"]), doc: RouteDoc(
            operationId: "listMyOrders", summary: "The signed-in customer's orders, newest first.", tags: ["orders"],
            parameters: [.init("limit", in: .query, description: "1 to 100, default 20.", schema: ["type": "integer"]), ListCursor.parameter],
            replies: [.init(200, "{orders: [...], next_cursor}", schema: ["type": "object"])])
        ) { [unowned self] request in
            let limit = try Self.limit(request)
            let page = try orderIndex.list(.init(customer: request.subject ?? ""), after: try ListCursor.parse(request).map { ($0.atMs, $0.id) }, limit: limit)
            let ids = page.map(\.id)
            let next = ListCursor.next(after: page.last.map { ($0.placedMs, $0.id) }, rows: page.count, limit: limit)
            return .json(["orders": .array(ids.compactMap { id in orderState(id).map { orderJSON(id, state: $0, payment: paymentState($0.paymentId), contact: .hidden) } }),
                          "next_cursor": next])
        }

        router.add("POST", "/api/v1/orders/{id}/cancel", bodyBytesMax: 2048, doc: RouteDoc(
            operationId: "cancelOrder", summary: "Cancel an order before it ships: the authorization is voided and the stock returns.",
            description: "No body, or {\"reason\": text of at most 500 characters} kept with the cancellation.",
            tags: ["orders"], parameters: [idParameter, .init("token", in: .query, description: "A guest order's token.")],
            requestBody: .init(0, "Optional: {reason}.", schema: ["type": "object", "properties": ["reason": ["type": "string", "maxLength": 500]]]),
            replies: [orderReply, problem(409, "Shipped, delivered, refunded or cancelled already (`order_status`)."), problem(422, "The reason is not text of at most 500 characters.")])
        ) { [unowned self] request, responder in
            do {
                let (id, _) = try authorizeOrder(request)
                var cancel = OrderEvent(kind: .cancelled, atMs: WallClock.nowMs(), node: identity.nodeId)
                cancel.reason = isStaff(request) ? "cancelled_by_staff" : "cancelled_by_customer"
                if !request.body.isEmpty {
                    var fields = InputFields(try Self.jsonObject(request), known: ["reason"], what: "cancellation")
                    if let note = fields.text("reason") {
                        if note.count > 500 || note.contains(where: { $0.isNewline && $0 != "\n" }) { fields.fail("reason", "must be text of at most 500 characters") }
                        cancel.note = note.isEmpty ? nil : note
                    }
                    try fields.check()
                }
                orderDesk.record(cancel, on: id, completion: answerWithOrder(id, responder))
            } catch {
                responder.fail(error)
            }
        }
    }

    /// The store's orders list and the events staff add to an order.
    private func registerStaffOrderRoutes() {
        registerOrderListRoutes()
        registerOrderEventRoutes()
    }

    /// The store's orders, filtered and paged.
    private func registerOrderListRoutes() {
        let problem = RouteDoc.Reply.problem

        router.get("/admin/v1/orders", access: .roles(Self.shopStaffRoles), doc: RouteDoc(
            operationId: "searchOrders", summary: "Orders this node knows of, newest first, by status, dates, customer and placing node.",
            tags: ["orders"], parameters: [
                .init("status", in: .query, description: "placed, paid, fulfilled, partially_shipped, shipped, delivered, cancelled, refunded or payment_failed (owes a declined payment)."),
                .init("from", in: .query, description: "Placed at or after (UTC ISO 8601)."),
                .init("to", in: .query, description: "Placed before (UTC ISO 8601)."),
                .init("customer", in: .query, description: "A customer id."),
                .init("node", in: .query, description: "The node that placed it."),
                .init("number", in: .query, description: "The order number (as on the receipt or the mail)."),
                .init("limit", in: .query, description: "1 to 100, default 20.", schema: ["type": "integer"]), ListCursor.parameter,
            ],
            replies: [.init(200, "{orders: [...], next_cursor}: summaries; next_cursor (null on the last page) fetches the next page.", schema: ["type": "object"]),
                      problem(400, "A filter or the cursor is malformed.")])
        ) { [unowned self] request in
            var filter = OrderIndex.Filter(customer: request.queryValue("customer"), node: request.queryValue("node"), number: request.queryValue("number"))
            if let status = request.queryValue("status") {
                guard OrderState.Status(rawValue: status) != nil else { throw HTTPError(.badRequest, detail: "status must be one of \(OrderState.Status.allCases.map(\.rawValue).joined(separator: ", "))") }
                filter.status = status
            }
            for name in ["from", "to"] {
                guard let text = request.queryValue(name) else { continue }
                guard let ms = WallClock.parseISO8601(text) else { throw HTTPError(.badRequest, detail: "\(name) must be a UTC ISO 8601 time such as 2026-11-21T00:00:00Z") }
                if name == "from" { filter.placedFromMs = ms } else { filter.placedBeforeMs = ms }
            }
            let limit = try Self.limit(request)
            let page = try orderIndex.list(filter, after: try ListCursor.parse(request).map { ($0.atMs, $0.id) }, limit: limit)
            let rows: [JSONValue] = page.map { row in
                .object([JSONMember("id", .string(row.id)), JSONMember("number", row.number.map { .string($0) } ?? .null),
                         JSONMember("status", .string(row.status)),
                         JSONMember("placed_at", row.placedMs.map { .string(WallClock.iso8601(ms: $0)) } ?? .null),
                         JSONMember("customer", row.customer.map { .string($0) } ?? .null), JSONMember("node", row.node.map { .string($0) } ?? .null),
                         JSONMember("total", row.total.map { .int($0) } ?? .null), JSONMember("currency", row.currency.map { .string($0) } ?? .null),
                         JSONMember("cancellation_raced", .bool(row.cancellationRaced))])
            }
            return .json(["orders": .array(rows), "next_cursor": ListCursor.next(after: page.last.map { ($0.placedMs, $0.id) }, rows: rows.count, limit: limit)])
        }
    }

    /// What staff record on an order: packed, shipped, delivered, cancelled.
    private func registerOrderEventRoutes() {
        let problem = RouteDoc.Reply.problem
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "The order's id.")
        let orderReply = RouteDoc.Reply(200, "The order: status, lines, totals, payment, events.", schema: ["type": "object"])

        router.add("POST", "/admin/v1/orders/{id}/events", access: .roles(["store_manager", "operator"]), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "recordOrderEvent", summary: "Record fulfilled, shipped (capture), delivered, cancelled (void, stock back) or refunded (full or partial).",
            description: """
                Body: {"kind", "carrier" and "tracking" (shipped), "reason" (cancelled, refunded), "amount" (refunded; default what is left), \
                "items": [{"sku", "quantity"}] (fulfilled, shipped, delivered: a partial step; default every unit left), "location" (fulfilled, shipped: \
                where the parcel left from)}. The first shipment captures the payment in full. An event the status does not allow: 409 with `status`.
                """,
            tags: ["orders"], parameters: [idParameter], requestBody: .init(0, "The event.", schema: ["type": "object", "required": ["kind"]]),
            replies: [orderReply, problem(409, "Not allowed in the current status, or the acquirer refused."), problem(422, "A field is missing or malformed.")])
        ) { [unowned self] request, responder in
            do {
                guard let id = request.parameter("id"), orderState(id) != nil else { throw HTTPError(.notFound, detail: "no such order") }
                let body = try request.decodeJSON(OrderEventBody.self)
                guard let kind = OrderEvent.Kind(rawValue: body.kind), kind != .placed, kind != .paid else {
                    throw HTTPError(.validation, detail: "kind must be fulfilled, shipped, delivered, cancelled or refunded")
                }
                var event = OrderEvent(kind: kind, atMs: WallClock.nowMs(), node: identity.nodeId)
                func text(_ value: String?, _ name: String, _ max: Int, required: Bool) throws(HTTPError) -> String? {
                    guard let value else {
                        if required { throw HTTPError(.validation, detail: "\(name) is required for \(kind.rawValue)") }
                        return nil
                    }
                    let trimmed = value.trimmingWhitespace()
                    guard (1...max).contains(trimmed.count), !trimmed.contains(where: \.isNewline) else { throw HTTPError(.validation, detail: "\(name) must be 1 to \(max) characters on one line") }
                    return trimmed
                }
                // Handing a click-and-collect order over is its shipment: no carrier, no tracking.
                let collected = orderState(id)?.placed?.shipping?.collectAt
                event.carrier = try text(body.carrier, "carrier", 50, required: kind == .shipped && collected == nil)
                event.tracking = try text(body.tracking, "tracking", 100, required: kind == .shipped && collected == nil)
                if kind == .shipped, let collected, event.carrier == nil { event.carrier = "collected at \(collected)" }
                event.reason = try text(body.reason, "reason", 200, required: false)
                if let amount = body.amount {
                    guard kind == .refunded else { throw HTTPError(.validation, detail: "amount is for refunds") }
                    guard amount > 0 else { throw HTTPError(.validation, detail: "amount must be positive (minor units)") }
                    event.amount = amount
                }
                if let location = body.location {
                    guard kind == .fulfilled || kind == .shipped else { throw HTTPError(.validation, detail: "location is for fulfilled and shipped") }
                    event.location = try stockLocation(location, field: "location")
                }
                if let items = body.items {
                    guard [.fulfilled, .shipped, .delivered].contains(kind) else { throw HTTPError(.validation, detail: "items are for fulfilled, shipped and delivered") }
                    event.items = try fulfilmentItems(items, kind: kind, state: orderState(id))
                }
                orderDesk.record(event, on: id, completion: answerWithOrder(id, responder))
            } catch {
                responder.fail(error)
            }
        }
    }

    /// The completion of a recorded event: the order as it is now, or what went wrong.
    func answerWithOrder(_ id: String, _ responder: Responder, status: Int = 200) -> ((any Error)?) -> Void {
        { [unowned self] error in
            if let error { return responder.fail(error) }
            guard let state = orderState(id) else { return responder.fail(HTTPError(.notFound, detail: "no such order")) }
            responder.send(.json(orderJSON(id, state: state, payment: paymentState(state.paymentId), contact: .sealed), status: status))
        }
    }

    static func limit(_ request: Request, max: Int = 100, default fallback: Int = 20) throws(HTTPError) -> Int {
        guard let text = request.queryValue("limit") else { return fallback }
        guard let limit = Int(text), (1...max).contains(limit) else { throw HTTPError(.badRequest, detail: "limit must be 1 to \(max)") }
        return limit
    }
}

