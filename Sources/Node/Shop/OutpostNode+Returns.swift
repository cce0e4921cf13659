import Commerce
import HTTP
import Platform
import Replication

/// A returned or exchanged unit as the return routes take it.
struct ReturnItemBody {
    var sku: String
    var quantity: Int64
    var reason: String?
    var exchangeSku: String?
    var disposition: OrderItem.Disposition?
    var location: String?
}

extension OutpostNode {
    static let returnRoles = ["store_manager", "operator"]

    static func itemJSON(_ item: OrderItem) -> JSONValue {
        var members = [JSONMember("sku", .string(item.sku)), JSONMember("quantity", .int(item.quantity))]
        if let reason = item.reason { members.append(JSONMember("reason", .string(reason))) }
        if let sku = item.exchangeSku { members.append(JSONMember("exchange_sku", .string(sku))) }
        if let disposition = item.disposition { members.append(JSONMember("disposition", .string(disposition.rawValue))) }
        if let location = item.location { members.append(JSONMember("location", .string(location))) }
        return .object(members)
    }

    func returnJSON(_ r: OrderReturn, state: OrderState) -> JSONValue {
        var members = [JSONMember("id", .string(r.id)), JSONMember("status", .string(r.status.rawValue)),
                       JSONMember("requested_at", .string(WallClock.iso8601(ms: r.requestedMs))),
                       JSONMember("requested_by", .string(r.requestedBy ?? "store")),
                       JSONMember("items", .array(r.items.map(Self.itemJSON)))]
        if !r.dispositions.isEmpty { members.append(JSONMember("received", .array(r.dispositions.map(Self.itemJSON)))) }
        if let rejection = r.rejection { members.append(JSONMember("rejection", .string(rejection))) }
        if let exchange = r.exchangeOrder { members.append(JSONMember("exchange_order", .string(exchange))) }
        if r.refundedAmount > 0 { members.append(JSONMember("refunded_amount", .int(r.refundedAmount))) }
        if r.status == .received && !r.isExchangeOnly {
            members.append(JSONMember("refund_due", .int(state.refundAmount(for: r, policy: config.returns))))
        }
        return .object(members)
    }

    // MARK: Checks

    private func returnStep(_ r: OrderReturn, allowed: Set<OrderReturn.Status>, step: String) throws(ReturnRefusal) {
        guard allowed.contains(r.status) else { throw .transition(status: r.status.rawValue, step: step) }
    }

    /// Items of a return request from JSON, each line checked against what the order shipped and
    /// what other returns already asked back; an exchange must be for a SKU of the same product
    /// sold now at the price paid.
    func returnItems(_ members: [String: LooseJSON], state: OrderState, staff: Bool) throws -> [OrderItem] {
        for name in members.keys.sorted() where name != "items" { throw HTTPError(.validation, detail: "\(name) is not a return field (fields: items)") }
        guard case .array(let list)? = members["items"], (1...100).contains(list.count) else {
            throw HTTPError(.validation, detail: "items must hold 1 to 100 {sku, quantity, reason, exchange_sku?}")
        }
        let desk = returnDesk
        if !staff { try desk.checkWindow(state, nowMs: WallClock.nowMs()) }
        var items: [OrderItem] = []
        for (index, entry) in list.enumerated() {
            guard case .object(let item) = entry, case .string(let sku)? = item["sku"], case .integer(let quantity)? = item["quantity"], quantity > 0,
                  case .string(let reason)? = item["reason"], ReturnPolicy.reasons.contains(reason) else {
                throw HTTPError(.validation, detail: "items[\(index)] needs sku, a positive quantity and a reason (\(ReturnPolicy.reasons.joined(separator: ", ")))")
            }
            var exchangeSku: String?
            switch item["exchange_sku"] {
            case nil, .null?: break
            case .string(let other)?:
                guard let line = state.placed?.lines?.first(where: { $0.sku == sku }) else { break }
                try desk.checkExchange(line, for: other)
                exchangeSku = other
            default: throw HTTPError(.validation, detail: "items[\(index)].exchange_sku must be a SKU")
            }
            items.append(OrderItem(sku: sku, quantity: quantity, reason: reason, exchangeSku: exchangeSku))
        }
        try desk.checkReturnable(items, of: state, source: "shipped")
        return items
    }

    /// What the store did with each returned unit: as sent, or by default every unit restocked
    /// at this node's location. The units must be the return's, SKU by SKU.
    func receivedItems(_ members: [String: LooseJSON], of r: OrderReturn) throws(HTTPError) -> [OrderItem] {
        for name in members.keys.sorted() where name != "items" { throw HTTPError(.validation, detail: "\(name) is not a field here (fields: items)") }
        guard case .array(let list)? = members["items"] else {
            return r.items.map { OrderItem(sku: $0.sku, quantity: $0.quantity, disposition: .restock, location: myStockLocation) }
        }
        var items: [OrderItem] = []
        for (index, entry) in list.enumerated() {
            guard case .object(let item) = entry, case .string(let sku)? = item["sku"], case .integer(let quantity)? = item["quantity"], quantity > 0,
                  case .string(let text)? = item["disposition"], let disposition = OrderItem.Disposition(rawValue: text) else {
                throw HTTPError(.validation, detail: "items[\(index)] needs sku, a positive quantity and a disposition (restock or write_off)")
            }
            var location: String?
            if disposition == .restock {
                switch item["location"] {
                case nil: location = myStockLocation
                case .string(let id)?: location = try stockLocation(id, field: "items[\(index)].location")
                default: throw HTTPError(.validation, detail: "items[\(index)].location must be a stock location's id")
                }
            }
            items.append(OrderItem(sku: sku, quantity: quantity, disposition: disposition, location: location))
        }
        func units(_ list: [OrderItem]) -> [String: Int64] { list.reduce(into: [:]) { $0[$1.sku, default: 0] += $1.quantity } }
        guard units(items) == units(r.items) else {
            throw HTTPError(.validation, detail: "items must account for the return's units exactly: \(r.items.map { "\($0.quantity) × \($0.sku)" }.joined(separator: ", "))")
        }
        return items
    }

    /// Records a return request (the API's and the storefront's): a new return id made here.
    func requestReturn(_ items: [OrderItem], of orderId: String, state: OrderState, byStore: Bool, completion: @escaping ((any Error)?) -> Void) {
        let now = WallClock.nowMs()
        var event = OrderEvent(kind: .returnRequested, atMs: now, node: identity.nodeId)
        event.items = items
        event.returnId = "ret-\(identity.nodeId)-\(String(now, radix: 36))-\(state.returns.count + 1)"
        event.customer = byStore ? nil : state.placed?.customer
        orderDesk.record(event, on: orderId, completion: completion)
    }

    /// Returns and exchanges by the shop's rules, with this node's catalog and stock.
    var returnDesk: ReturnDesk {
        ReturnDesk(reservations: reservations, policy: config.returns, terms: config.checkout) { [unowned self] sku in
            try offer(sku).map { ($0.product.id, Product.localized($0.product.names, config.locale, fallback: config.locale) ?? sku, $0.price) }
        }
    }

    /// The exchange order's contact: the original's, sealed again under a key of the new order
    /// (kept in this region's customers collection); nil when the original has none here.
    func exchangeContact(of original: OrderEvent, originalId: String, exchangeId: String) throws -> String? {
        guard let contact = orderContact(originalId, sealed: original.sealedContact) else { return nil }
        let key = try storeContactKey(order: exchangeId, customer: original.customer)
        return keys.customerVault.sealContact(email: contact.email, shipTo: contact.shipTo, order: exchangeId, key: key)
    }

    // MARK: Routes

    func registerReturnRoutes() {
        registerReturnRequestRoutes()
        registerReturnReceiptRoutes()
    }

    /// A shopper asking to return, and staff approving or rejecting.
    private func registerReturnRequestRoutes() {
        let problem = RouteDoc.Reply.problem
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "The order's id.")
        let returnParameter = RouteDoc.Parameter("return", in: .path, description: "The return's id.")
        let orderReply = RouteDoc.Reply(200, "The order, with its returns.", schema: ["type": "object"])

        router.add("POST", "/api/v1/orders/{id}/returns", bodyBytesMax: 16_384, doc: RouteDoc(
            operationId: "requestReturn", summary: "Ask to return shipped units, each line with a reason; optionally exchange for another variant at the price paid.",
            description: """
                The order's customer (their token), a guest (`?token=`), or staff for a customer in the store. Body: {"items": [{"sku", "quantity", \
                "reason": damaged|wrong_item|not_as_described|no_longer_needed|size_or_fit|other, "exchange_sku"?}]}. Customers may ask within \
                `[returns] window_days` of the last shipment. A store manager then approves or rejects it (docs/returns.md).
                """,
            tags: ["returns"], parameters: [idParameter, .init("token", in: .query, description: "A guest order's token.")],
            requestBody: .init(0, "The units asked back.", schema: ["type": "object", "required": ["items"]]),
            replies: [.init(201, "The order, with the new return in `returns`.", schema: ["type": "object"]),
                      problem(409, "The order has not shipped (`status`)."), problem(422, "A line is malformed or cannot be returned (`reason`).")])
        ) { [unowned self] request, responder in
            do {
                let (id, state) = try authorizeOrder(request)
                let staff = isStaff(request)
                guard state.allows(.returnRequested) else {
                    var error = HTTPError(.orderTransition, detail: "only shipped units can be returned; the order is \(state.status.rawValue.replacingOccurrences(of: "_", with: " "))")
                    error.problem.extensions = [("order_status", .string(state.status.rawValue))]
                    throw error
                }
                let items = try returnItems(try Self.jsonObject(request), state: state, staff: staff)
                requestReturn(items, of: id, state: state, byStore: staff, completion: answerWithOrder(id, responder, status: 201))
            } catch {
                responder.fail(error)
            }
        }

        let steps: [(path: String, summary: String, allowed: Set<OrderReturn.Status>, kind: OrderEvent.Kind)] = [
            ("approve", "Approve a requested return: the shopper may send the goods.", [.requested], .returnApproved),
            ("reject", "Reject a requested or approved return, with a `reason` the shopper sees.", [.requested, .approved], .returnRejected),
        ]
        for step in steps {
            router.add("POST", "/admin/v1/orders/{id}/returns/{return}/" + step.path, access: .roles(Self.returnRoles), bodyBytesMax: 2048, doc: RouteDoc(
                operationId: step.path + "Return", summary: step.summary, tags: ["returns"], parameters: [idParameter, returnParameter],
                replies: [orderReply, problem(404, "No such order or return."), problem(409, "The return's status does not allow it (`return_status`).")])
            ) { [unowned self] request, responder in
                do {
                    guard let id = request.parameter("id"), let state = orderState(id), let r = state.findReturn(request.parameter("return") ?? "") else {
                        throw HTTPError(.notFound, detail: "no such order or return")
                    }
                    try returnStep(r, allowed: step.allowed, step: step.path == "approve" ? "approved" : "rejected")
                    var event = OrderEvent(kind: step.kind, atMs: WallClock.nowMs(), node: identity.nodeId)
                    event.returnId = r.id
                    if step.kind == .returnRejected {
                        let members = request.body.isEmpty ? [:] : try Self.jsonObject(request)
                        guard case .string(let reason)? = members["reason"], (1...200).contains(reason.trimmingWhitespace().count) else {
                            throw HTTPError(.validation, detail: "reason is required: 1 to 200 characters the shopper will read")
                        }
                        event.reason = reason.trimmingWhitespace()
                    }
                    orderDesk.record(event, on: id, completion: answerWithOrder(id, responder))
                } catch {
                    responder.fail(error)
                }
            }
        }
    }

    /// Staff receiving returned goods and refunding them.
    private func registerReturnReceiptRoutes() {
        let problem = RouteDoc.Reply.problem
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "The order's id.")
        let returnParameter = RouteDoc.Parameter("return", in: .path, description: "The return's id.")
        let orderReply = RouteDoc.Reply(200, "The order, with its returns.", schema: ["type": "object"])

        router.add("POST", "/admin/v1/orders/{id}/returns/{return}/receive", access: .roles(Self.returnRoles), bodyBytesMax: 16_384, doc: RouteDoc(
            operationId: "receiveReturn", summary: "The goods are back: restock each unit at a location or write it off; exchanges get their new order.",
            description: """
                Body (optional): {"items": [{"sku", "quantity", "disposition": restock|write_off, "location"? (restock; default this node's)}]}, \
                accounting for the return's units exactly; without it every unit is restocked here. Restocked units are stock again on every node. \
                Units asked in exchange are sent in a new order, paid by the return, taken from this node's stock rights.
                """,
            tags: ["returns"], parameters: [idParameter, returnParameter],
            replies: [orderReply, problem(404, "No such order or return."), problem(409, "The return is not approved, or the replacement is out of stock here."),
                      problem(422, "The items do not match the return.")])
        ) { [unowned self] request, responder in
            do {
                guard let id = request.parameter("id"), let state = orderState(id), let r = state.findReturn(request.parameter("return") ?? "") else {
                    throw HTTPError(.notFound, detail: "no such order or return")
                }
                try returnStep(r, allowed: [.approved], step: "received")
                let items = try receivedItems(request.body.isEmpty ? [:] : try Self.jsonObject(request), of: r)
                let now = WallClock.nowMs()
                var event = OrderEvent(kind: .returnReceived, atMs: now, node: identity.nodeId)
                event.returnId = r.id
                event.items = items
                let exchangeId = r.items.contains { $0.exchangeSku != nil } ? "o-\(identity.nodeId)-x\(String(now, radix: 36))" : nil
                event.exchangeOrder = exchangeId
                let actor = request.subject ?? "admin"
                let desk = returnDesk
                orderDesk.record(event, on: id, alongside: { [unowned self] state in
                    try desk.restock(items, order: id, actor: actor, nowMs: now)
                    guard let exchangeId, let original = state.placed else { return }
                    try desk.placeExchange(r, of: state, originalId: id, exchangeId: exchangeId, handedOver: false, nowMs: now) {
                        try exchangeContact(of: original, originalId: id, exchangeId: exchangeId)
                    }
                }, completion: answerWithOrder(id, responder))
            } catch {
                responder.fail(error)
            }
        }

        router.add("POST", "/admin/v1/orders/{id}/returns/{return}/refund", access: .roles(Self.returnRoles), bodyBytesMax: 0, doc: RouteDoc(
            operationId: "refundReturn", summary: "Refund a received return to the original tender: its goods as paid after discounts, shipping by policy, tax in proportion.",
            description: "The amount is computed (docs/returns.md); the acquirer refunds it and the order and payment both record it. Exchanged units refund nothing.",
            tags: ["returns"], parameters: [idParameter, returnParameter],
            replies: [orderReply, problem(404, "No such order or return."), problem(409, "Not received, refunded already, or the acquirer refused."),
                      problem(422, "Nothing to refund (an exchange).")])
        ) { [unowned self] request, responder in
            do {
                guard let id = request.parameter("id"), let state = orderState(id), let r = state.findReturn(request.parameter("return") ?? "") else {
                    throw HTTPError(.notFound, detail: "no such order or return")
                }
                try returnStep(r, allowed: [.received], step: "refunded")
                let amount = state.refundAmount(for: r, policy: config.returns)
                guard amount > 0 else { throw HTTPError(.validation, detail: "nothing to refund: the units were exchanged (or the order is refunded already)") }
                var event = OrderEvent(kind: .refunded, atMs: WallClock.nowMs(), node: identity.nodeId)
                event.returnId = r.id
                event.amount = amount
                event.reason = "return"
                orderDesk.record(event, on: id, completion: answerWithOrder(id, responder))
            } catch {
                responder.fail(error)
            }
        }
    }
}
