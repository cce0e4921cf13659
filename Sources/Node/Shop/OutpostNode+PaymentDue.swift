import Commerce
import HTTP
import Platform
import Replication

extension ProblemType {
    public static let acquirerUnreachable = ProblemType(slug: "acquirer-unreachable", title: "The acquirer cannot be reached", status: 503,
        explanation: "A tender that replaces a declined payment must be authorized by the acquirer now, and this node cannot reach it (the hub is out of reach, or the acquirer did not answer). Nothing was charged; try again once online, or cancel the order.")
}

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
                let due = PaymentDue(order: id, replaces: state.paymentsDue.compactMap(\.payment), amount: state.paymentsDue.reduce(0) { $0 + ($1.amount ?? 0) },
                                     currency: totals.currency, captureNow: state.anyShipped, token: token ?? "")
                collectTender(due) { [unowned self] error in
                    shop.collectingTender.remove(id)
                    answerWithOrder(id, responder)(error)
                }
            } catch {
                responder.fail(error)
            }
        }
    }

    /// A replacement tender in progress.
    private struct PaymentDue {
        var order: String
        var replaces: [String]
        var amount: Int64
        var currency: String
        /// The goods left already: nothing will capture it later.
        var captureNow: Bool
        var token: String
    }

    /// The payment is made durable before the acquirer hears of it (as at checkout), then
    /// answered: approved, the order is paid again in the same commit as the authorization.
    private func collectTender(_ due: PaymentDue, completion: @escaping ((any Error)?) -> Void) {
        let paymentId = "p-" + SaleReservations.stamp(node: identity.nodeId, replica.tick(wallMs: WallClock.nowMs()))
        writer.submit({ [unowned self] _ in
            let created = reservations.paymentCreated(order: due.order, amount: due.amount, currency: due.currency, acquirer: gateway.name, atMs: WallClock.nowMs())
            try reservations.addEvents([created.text], key: paymentId, in: Collections.payments, nowMs: WallClock.nowMs())
        }, completion: { [unowned self] result in
            if case .failure(let error) = result { return completion(error) }
            let request = PaymentRequest(paymentId: paymentId, amount: due.amount, currency: due.currency, token: due.token)
            saleDesk.authorize(request) { [unowned self] outcome in
                switch outcome {
                case .approved(let code):
                    guard due.captureNow else { return writeTender(due, paymentId: paymentId, code: code, captured: false, completion: completion) }
                    gateway.capture(paymentId: paymentId, amount: due.amount) { [unowned self] captured in
                        guard captured == .done else {
                            gateway.void(paymentId: paymentId) { _ in }
                            return closeTender(paymentId, order: due.order, kind: .voided, code: nil,
                                               error: SaleRefusal.acquirerUnreachable(detail: "the acquirer authorized the card but did not capture it; nothing was charged"),
                                               completion: completion)
                        }
                        writeTender(due, paymentId: paymentId, code: code, captured: true, completion: completion)
                    }
                case .declined(let reason):
                    let error = SaleRefusal.cardDeclined(reason: reason.rawValue, detail: "the new card was declined (\(reason.rawValue)); the order still owes it", tender: nil)
                    closeTender(paymentId, order: due.order, kind: .declined, code: reason.rawValue, error: error, completion: completion)
                case .retry, .timedOut:
                    gateway.void(paymentId: paymentId) { _ in }
                    closeTender(paymentId, order: due.order, kind: .voided, code: nil,
                                error: SaleRefusal.acquirerUnreachable(detail: "the acquirer did not answer; nothing was charged"), completion: completion)
                }
            }
        })
    }

    private func writeTender(_ due: PaymentDue, paymentId: String, code: String, captured: Bool, completion: @escaping ((any Error)?) -> Void) {
        let me = identity.nodeId
        writer.submit({ [unowned self] _ in
            let nowMs = WallClock.nowMs()
            var authorized = PaymentEvent(kind: .authorized, atMs: nowMs, node: me)
            authorized.order = due.order
            authorized.code = code
            var events = [authorized.text]
            if captured {
                var capture = PaymentEvent(kind: .captured, atMs: nowMs, node: me)
                capture.order = due.order
                capture.amount = due.amount
                events.append(capture.text)
            }
            try reservations.addEvents(events, key: paymentId, in: Collections.payments, nowMs: WallClock.nowMs())
            let paid = due.replaces.map { declined in
                var paid = OrderEvent(kind: .paid, atMs: nowMs, node: me)
                paid.payment = paymentId
                paid.replaces = declined
                paid.amount = orderState(due.order)?.paidAmount
                return paid.text
            }
            try reservations.addEvents(paid, key: due.order, in: Collections.orders, nowMs: WallClock.nowMs())
        }, completion: { [unowned self] result in
            if case .failure(let error) = result { return completion(error) }
            replicatedChanged()
            logger.info("another tender replaced a declined payment", metadata: ["order": "\(due.order)", "payment": "\(paymentId)"])
            completion(nil)
        })
    }

    /// The new payment ends without money: declined or voided, and the order still owes it.
    private func closeTender(_ paymentId: String, order: String, kind: PaymentEvent.Kind, code: String?, error: any Error,
                             completion: @escaping ((any Error)?) -> Void) {
        let me = identity.nodeId
        writer.submit({ [unowned self] _ in
            var event = PaymentEvent(kind: kind, atMs: WallClock.nowMs(), node: me)
            event.order = order
            event.code = code
            try reservations.addEvents([event.text], key: paymentId, in: Collections.payments, nowMs: WallClock.nowMs())
        }, completion: { [unowned self] result in
            replicatedChanged()
            if case .failure(let failure) = result { return completion(failure) }
            completion(error)
        })
    }
}
