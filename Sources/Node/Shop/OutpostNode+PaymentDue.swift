import Commerce
import HTTP
import Platform
import Replication

/// An order whose card, taken offline, the acquirer declined when the hub forwarded it: the
/// hub records `payment_failed` on it, which stops its fulfilment on every node until the store
/// collects another tender here, or cancels it (docs/orders.md, "Payment failed").
extension OutpostNode {
    /// What an order still owes, with what staff can do about it; nil when nothing is owed.
    func paymentDueJSON(_ id: String, state: OrderState) -> JSONValue? {
        guard state.status == .paymentFailed, let currency = state.placed?.totals?.currency else { return nil }
        let amount = state.paymentsDue.reduce(Int64(0)) { $0 + ($1.amount ?? 0) }
        let money = moneyText(currency: currency)(amount)
        let reasons = state.paymentsDue.compactMap(\.reason).joined(separator: ", ")
        let whatToDo = state.anyShipped
            ? "The card payment of \(money) was declined after the goods left (\(reasons)): collect another tender (POST /admin/v1/orders/\(id)/payment)."
            : "The card payment of \(money) was declined after the sale (\(reasons)): collect another tender (POST /admin/v1/orders/\(id)/payment), or cancel the order to put its stock back."
        return .object([
            JSONMember("amount", .int(amount)), JSONMember("currency", .string(currency)),
            JSONMember("payments", .array(state.paymentsDue.map { .string($0.payment ?? "") })),
            JSONMember("reason", .string(reasons)), JSONMember("what_to_do", .string(whatToDo)),
        ])
    }

    /// This node's orders owing a declined payment, oldest first.
    func ordersOwingPayment(limit: Int) throws -> [OrderIndex.Summary] {
        try orderIndex.owingPayment(node: identity.nodeId, limit: limit)
    }

    func ordersOwingPaymentCount() throws -> Int {
        try orderIndex.owingPaymentCount(node: identity.nodeId)
    }

    func registerPaymentDueRoutes() {
        router.add("POST", "/admin/v1/orders/{id}/payment", access: .roles(["store_manager", "operator"]), bodyBytesMax: 1024, doc: RouteDoc(
            operationId: "collectAnotherTender",
            summary: "Collect another card for an order whose offline card payment was declined: authorized now (captured too if the goods left).",
            description: """
                Body: {"token": the acquirer's token for the new card}. Only for an order in `payment_failed`; the amount is what \
                the declined payments came to. The card goes to the acquirer now, so the node must be online. Approved: the order \
                is paid again and may be fulfilled; declined: 402, the order still owes it.
                """,
            tags: ["orders"], parameters: [.init("id", in: .path, description: "The order's id.")],
            requestBody: .init(0, "{token}", schema: ["type": "object", "required": ["token"], "properties": ["token": ["type": "string"]]]),
            replies: [.init(200, "The order, paid again.", schema: ["type": "object"]), .problem(402, "The new card was declined (`reason`)."),
                      .problem(409, "The order owes nothing (`order_status`), or another tender for it is being taken."),
                      .problem(422, "token is missing or not an acquirer token."), .problem(503, "The acquirer cannot be reached now.")])
        ) { [unowned self] request, responder in
            do {
                guard let id = request.parameter("id"), let state = orderState(id), let placed = state.placed, let totals = placed.totals else {
                    throw OrderRefusal.notFound(order: request.parameter("id") ?? "")
                }
                var fields = InputFields(try Self.jsonObject(request), known: ["token"], what: "tender")
                let token = fields.text("token")
                if token == nil { fields.fail("token", "is required: the acquirer's token for the new card") }
                else if let token, !PaymentRequest.isToken(token) { fields.fail("token", "must be an acquirer token (tok_…), never a card number") }
                try fields.check()
                guard state.status == .paymentFailed else { throw OrderRefusal.owesNothing(status: state.status.rawValue) }
                guard cardPaymentsOnline else {
                    throw SaleRefusal.acquirerUnreachable(detail: "the hub is out of reach, so a card cannot be checked now; nothing was charged")
                }
                guard shop.collectingTender.insert(id).inserted else { throw OrderRefusal.tenderInProgress }
                let due = AnotherTender(order: id, replaces: state.paymentsDue.compactMap(\.payment), amount: state.paymentsDue.reduce(0) { $0 + ($1.amount ?? 0) },
                                        currency: totals.currency, captureNow: state.anyShipped, token: token ?? "")
                orderDesk.collect(due, authorizing: saleDesk) { [unowned self] result in
                    shop.collectingTender.remove(id)
                    switch result {
                    case .success(let payment):
                        logger.info("another tender replaced a declined payment", metadata: ["order": "\(id)", "payment": "\(payment)"])
                        answerWithOrder(id, responder)(nil)
                    case .failure(let error):
                        answerWithOrder(id, responder)(error)
                    }
                }
            } catch {
                responder.fail(error)
            }
        }
    }
}
