import Commerce
import HTTP
import Platform
import Replication

/// A till return between its checks and its answer.
private struct TillReturn {
    var id: String
    var caller: TillCaller
    var shift: String
    var requestHash: String
    var currency: String
    var items: [OrderItem]
    var restock: Bool
    var approvedBy: String?
    /// With a receipt: the order, its events so far, and the payments of its tenders.
    var orderId: String?
    var number: String?
    var amount: Int64 = 0
    var tax: Int64 = 0
    /// Per refund: the payment it comes out of, its id, amount and tender.
    var refunds: [(payment: String, refundId: String, amount: Int64, kind: TenderKind, heldByHub: Bool)] = []
    /// Without a receipt: the lines refunded at today's price.
    var lines: [PricedLine] = []
}

extension OutpostNode {
    func registerTillReturnRoutes() {
        router.add("POST", Self.tillPrefix + "/returns", access: .credential(Self.cashierScheme), bodyBytesMax: 32 * 1024, doc: RouteDoc(
            operationId: "tillReturn", summary: "Take goods back and refund them: with a receipt to its original tenders, without one in cash (a manager approves).",
            description: """
                Body: {"id": made by the terminal, "receipt": receipt number (typed or scanned; omit for none), \
                "items": [{"sku", "quantity", "reason"?, "exchange_sku"?}], "restock"?: true (false: written off), "approval"?: {"staff", "pin"}}. \
                With a receipt the refund is what was paid for the units (after discounts, tax in proportion), back to the sale's cards \
                first, then its cash; without one, today's price in cash, if [pos] returns_without_receipt allows. A unit with `exchange_sku` \
                is swapped for that variant of the same product at the price paid (a receipt is needed): the shopper takes it now, in a new \
                order paid by the return, and that unit refunds nothing. The same request again \
                answers the same refund slip; the same id with another body is refused.
                """,
            tags: ["pos"], requestBody: .init(0, "What comes back.", schema: ["type": "object", "required": ["id", "items"]]),
            replies: [.init(201, "The refund slip (JSON with `text`).", schema: ["type": "object"]), .init(200, "The slip again, for a retry."),
                      .problem(403, "A manager's approval is required."), .problem(404, "No such receipt."),
                      .problem(409, "Another body for this id, or no open shift."), .problem(422, "Items not on the receipt or already returned.")])
        ) { [unowned self] request, responder in
            do {
                try takeReturn(request, responder)
            } catch {
                responder.fail(error)
            }
        }
    }

    private func takeReturn(_ request: Request, _ responder: Responder) throws {
        let caller = try tillCaller(request)
        let members = try Self.jsonObject(request)
        var fields = InputFields(members, known: ["id", "receipt", "items", "restock", "approval"], what: "return")
        let id = fields.text("id"), number = fields.text("receipt")
        var restock = true
        switch members["restock"] {
        case nil, .null?: break
        case .bool(let flag)?: restock = flag
        default: fields.fail("restock", "must be true or false")
        }
        var items: [OrderItem] = []
        if case .array(let list)? = members["items"], (1...100).contains(list.count) {
            for (index, entry) in list.enumerated() {
                guard case .object(let item) = entry, case .string(let sku)? = item["sku"], case .integer(let quantity)? = item["quantity"], (1...10_000).contains(quantity) else {
                    fields.fail("items[\(index)]", "needs sku and a quantity of 1 to 10000"); continue
                }
                var reason = "other"
                if case .string(let given)? = item["reason"] {
                    if ReturnPolicy.reasons.contains(given) { reason = given } else { fields.fail("items[\(index)].reason", "must be one of \(ReturnPolicy.reasons.joined(separator: ", "))") }
                }
                var exchangeSku: String?
                switch item["exchange_sku"] {
                case nil, .null?: break
                case .string(let other)? where !other.isEmpty: exchangeSku = other
                default: fields.fail("items[\(index)].exchange_sku", "must be a SKU")
                }
                items.append(OrderItem(sku: sku, quantity: quantity, reason: reason, exchangeSku: exchangeSku))
            }
        } else {
            fields.fail("items", "must hold 1 to 100 {sku, quantity, reason?}")
        }
        try fields.check()
        let returnId = try Self.tillId(id, "id")
        let requestHash = Hex.encode(SHA256.hash(request.body))
        if let (hash, receipt) = try sales.returnSlip(returnId) {
            guard hash == requestHash else { throw saleStateErrorForReturn("this return id was used for another return") }
            var response = try receiptResponse(receipt, request: request, copy: false)
            response.headers = HTTPHeaders([("Idempotent-Replayed", "true")])
            return responder.send(response)
        }
        guard tills.returnsInFlight.insert(returnId).inserted else { throw saleStateErrorForReturn("this return is being answered; retry to get its slip") }
        let shift = try requireOpenShift(device: caller.device)
        var r = TillReturn(id: returnId, caller: caller, shift: shift.id, requestHash: requestHash, currency: shift.currency, items: items, restock: restock)
        let finish: (Result<Response, any Error>) -> Void = { [unowned self] result in
            tills.returnsInFlight.remove(returnId)
            switch result {
            case .success(let response): responder.send(response)
            case .failure(let error): responder.fail(error)
            }
        }
        do {
            if let number {
                try planReturnWithReceipt(&r, number: number)
            } else {
                guard !items.contains(where: { $0.exchangeSku != nil }) else {
                    throw HTTPError(.validation, detail: "an exchange needs the receipt: the replacement is given at the price that was paid")
                }
                guard config.pos.returnsWithoutReceipt else {
                    throw HTTPError(.returnRefused, detail: "this store takes returns with a receipt only; find the receipt by its number")
                }
                r.approvedBy = try approver(members["approval"], caller: caller, action: "refund_without_receipt", detail: "a refund without a receipt")
                try planReturnWithoutReceipt(&r)
            }
        } catch {
            tills.returnsInFlight.remove(returnId)
            throw error
        }
        refundAtAcquirer(r, index: 0, finish: finish)
    }

    private func saleStateErrorForReturn(_ detail: String) -> HTTPError {
        HTTPError(.idempotencyKeyReused, detail: detail, headers: HTTPHeaders([("Retry-After", "1")]))
    }

    /// The refund of units from a receipt: what was paid for them, split over the sale's
    /// tenders, cards first (the shopper sees it where they paid), then cash.
    private func planReturnWithReceipt(_ r: inout TillReturn, number: String) throws {
        guard let (_, orderId, _, paymentIds) = try sales.completed(number: number), let state = orderState(orderId), let placed = state.placed else {
            throw HTTPError(.notFound, detail: "no receipt \(number) was issued here")
        }
        let desk = returnDesk
        try desk.checkReturnable(r.items, of: state, source: "on receipt \(number)")
        try desk.checkReplacementsInStock(try desk.checkExchanges(r.items, of: placed))
        r.orderId = orderId
        r.number = number
        r.currency = placed.totals?.currency ?? r.currency
        var requested = OrderEvent(kind: .returnRequested, atMs: WallClock.nowMs(), node: identity.nodeId)
        requested.items = r.items
        requested.returnId = "ret-" + r.id
        let texts = (replica.state(at: orderId, in: Collections.orders)?.elements ?? []) + [requested.text]
        let after = orderState(texts: texts)
        guard let thisReturn = after.findReturn("ret-" + r.id) else { throw HTTPError(.internalError, detail: "the return could not be folded") }
        r.amount = after.refundAmount(for: thisReturn, policy: config.returns)
        if let totals = placed.totals, totals.total > 0 { r.tax = totals.tax * r.amount / totals.total }
        var left = r.amount, k = 0
        let states = paymentIds.compactMap { id in paymentState(id).map { (id, $0) } }
        for (paymentId, payment) in states.sorted(by: { !$0.1.isCash && $1.1.isCash }) where left > 0 {
            let room = payment.captured - payment.refunded
            guard room > 0 else { continue }
            let amount = min(room, left)
            k += 1
            r.refunds.append((paymentId, "r-\(r.id)-\(k)", amount, payment.isCash ? .cash : .card, payment.stored))
            left -= amount
        }
        guard left == 0 else { throw HTTPError(.returnRefused, detail: "receipt \(number) has \(r.amount - left) left to refund; \(r.amount) asked") }
    }

    /// Without a receipt: today's price for each unit, in cash, from a payment of its own.
    private func planReturnWithoutReceipt(_ r: inout TillReturn) throws {
        var goods: Int64 = 0
        for item in r.items {
            let offer = try sellable(item.sku)
            guard offer.price.currency == r.currency else { throw HTTPError(.validation, detail: "\(item.sku) is sold in \(offer.price.currency); this till takes \(r.currency)") }
            let name = Product.localized(offer.product.names, config.locale, fallback: config.locale) ?? item.sku
            r.lines.append(PricedLine(sku: item.sku, productId: offer.product.id, name: name, quantity: item.quantity, unitPrice: offer.price.amount))
            goods += offer.price.amount * item.quantity
        }
        let totals = OrderTotals(currency: r.currency, goods: goods, shipping: 0, discounts: [], terms: config.checkout)
        r.amount = totals.total
        r.tax = totals.tax
        let at = replica.tick(wallMs: WallClock.nowMs())
        r.refunds = [("p-\(SaleReservations.stamp(node: identity.nodeId, at))-r", "r-\(r.id)-1", r.amount, .cash, false)]
    }

    /// Card refunds go to the acquirer first (a card the hub holds is the hub's to refund:
    /// recording it is the request); cash is paid from the drawer.
    private func refundAtAcquirer(_ r: TillReturn, index: Int, finish: @escaping (Result<Response, any Error>) -> Void) {
        guard index < r.refunds.count else { return writeReturn(r, finish: finish) }
        let refund = r.refunds[index]
        guard refund.kind == .card && !refund.heldByHub else { return refundAtAcquirer(r, index: index + 1, finish: finish) }
        gateway.refund(paymentId: refund.payment, refundId: refund.refundId, amount: refund.amount) { [unowned self] outcome in
            guard outcome == .done else {
                let said = { if case .refused(let why) = outcome { why } else { "no answer" } }()
                return finish(.failure(HTTPError(.paymentActionFailed, detail: "the acquirer refused the card refund: \(said); nothing was recorded, try again")))
            }
            refundAtAcquirer(r, index: index + 1, finish: finish)
        }
    }

    private func writeReturn(_ r: TillReturn, finish: @escaping (Result<Response, any Error>) -> Void) {
        writer.submit({ [unowned self] _ -> String in
            let nowMs = WallClock.nowMs(), returnId = "ret-" + r.id
            let handedBack = r.items.map {
                OrderItem(sku: $0.sku, quantity: $0.quantity, disposition: r.restock ? .restock : .writeOff, location: r.restock ? myStockLocation : nil)
            }
            let exchange = try recordOnOrder(r, returnId: returnId, handedBack: handedBack, nowMs: nowMs)
            let refunds = try recordRefunds(r, nowMs: nowMs)
            try returnDesk.restock(handedBack, order: r.orderId ?? returnId, actor: r.caller.staff, nowMs: nowMs)
            let text = try returnReceipt(r, refunds: refunds, exchange: exchange, nowMs: nowMs)
            try sales.recordReturn(r.id, device: r.caller.device, shift: r.shift, staff: r.caller.staff, approvedBy: r.approvedBy, order: r.orderId,
                                   requestHash: r.requestHash, currency: r.currency, amount: r.amount, tax: r.tax, cash: refunds.cash, card: refunds.card,
                                   receipt: text, atMs: nowMs)
            return text
        }, completion: { [unowned self] result in
            switch result {
            case .success(let text):
                replicatedChanged()
                logger.info("till return taken", metadata: ["return": "\(r.id)", "order": "\(r.orderId ?? "none")", "amount": "\(r.amount)"])
                finish(.success(.json(bytes: Array(text.utf8), status: 201)))
            case .failure(let error):
                logger.error("a till return could not be committed", metadata: ["return": "\(r.id)", "error": "\(error)"])
                finish(.failure(error))
            }
        })
    }

    /// A return against a receipt, on its order: requested, received (and refunded) at once;
    /// an exchange's new order placed and handed over. Returns the exchange, if any.
    private func recordOnOrder(_ r: TillReturn, returnId: String, handedBack: [OrderItem], nowMs: Int64) throws
        -> (orderId: String, number: String, lines: [Receipt.Line])? {
        let me = identity.nodeId
        guard let orderId = r.orderId else { return nil }
        var requested = OrderEvent(kind: .returnRequested, atMs: nowMs, node: me)
        requested.items = r.items
        requested.returnId = returnId
        var received = OrderEvent(kind: .returnReceived, atMs: nowMs, node: me)
        received.returnId = returnId
        received.items = handedBack
        let exchangeId = r.items.contains { $0.exchangeSku != nil } ? "o-\(me)-x-\(r.id)" : nil
        received.exchangeOrder = exchangeId
        var events = [requested, received]
        if r.amount > 0 {
            var refunded = OrderEvent(kind: .refunded, atMs: nowMs, node: me)
            refunded.returnId = returnId
            refunded.amount = r.amount
            events.append(refunded)
        }
        try reservations.addEvents(events.map(\.text), key: orderId, in: Collections.orders, nowMs: nowMs)
        if let exchangeId {
            // The return was just recorded: not finding it is a bug, and nothing is kept.
            guard let state = orderState(orderId), let thisReturn = state.findReturn(returnId), let original = state.placed else {
                throw HTTPError(.internalError, detail: "the return could not be folded for its exchange")
            }
            let given = try returnDesk.placeExchange(thisReturn, of: state, originalId: orderId, exchangeId: exchangeId, handedOver: true, nowMs: nowMs) {
                try exchangeContact(of: original, originalId: orderId, exchangeId: exchangeId)
            }
            return (exchangeId, orderState(exchangeId)?.placed?.number ?? exchangeId,
                    given.map { Receipt.Line(name: $0.name, sku: $0.sku, quantity: $0.quantity, unitPrice: $0.unitPrice) })
        }
        return nil
    }

    /// Each refund's payment events: cash rounded to coins that exist, a card's as the acquirer
    /// took it; a refund without a receipt is its own cash payment.
    private func recordRefunds(_ r: TillReturn, nowMs: Int64) throws -> (tenders: [Receipt.Tender], cash: Int64, card: Int64) {
        let me = identity.nodeId, rounding = config.pos.cashRounding
        var tenders: [Receipt.Tender] = []
        var cash: Int64 = 0, card: Int64 = 0
        for refund in r.refunds {
            // Cash goes back in coins that exist: the drawer pays the rounded amount.
            let amount = refund.kind == .cash ? rounding.cashDue(refund.amount, currency: r.currency) : refund.amount
            var events: [PaymentEvent] = []
            if r.orderId == nil {
                var created = reservations.paymentCreated(order: nil, amount: amount, currency: r.currency, acquirer: PaymentState.cashAcquirer, atMs: nowMs)
                created.sale = r.id
                created.tax = r.tax
                events.append(created)
            }
            var refunded = PaymentEvent(kind: .refunded, atMs: nowMs, node: me)
            refunded.order = r.orderId
            refunded.amount = amount
            refunded.refundId = refund.refundId
            events.append(refunded)
            try reservations.addEvents(events.map(\.text), key: refund.payment, in: Collections.payments, nowMs: nowMs)
            if refund.kind == .cash { cash += amount } else { card += amount }
            tenders.append(Receipt.Tender(kind: refund.kind, amount: amount, tendered: amount, change: 0, reference: refund.kind == .card ? "refund" : nil))
        }
        return (tenders, cash, card)
    }

    /// The return's slip (numbered after its receipt, "<number>-R<n>"), as JSON with its text.
    private func returnReceipt(_ r: TillReturn, refunds: (tenders: [Receipt.Tender], cash: Int64, card: Int64),
                               exchange: (orderId: String, number: String, lines: [Receipt.Line])?, nowMs: Int64) throws -> String {
        let lines: [Receipt.Line]
        if let orderId = r.orderId, let placed = orderState(orderId)?.placed {
            lines = r.items.map { item in
                let paid = placed.lines?.first { $0.sku == item.sku }
                return Receipt.Line(name: paid?.name ?? item.sku, sku: item.sku, quantity: item.quantity, unitPrice: paid?.unitPrice ?? 0)
            }
        } else {
            lines = r.lines.map { Receipt.Line(name: $0.name, sku: $0.sku, quantity: $0.quantity, unitPrice: $0.unitPrice) }
        }
        let exchangeCredit = exchange.map { [(name: "Exchange", amount: $0.lines.reduce(Int64(0)) { $0 + $1.amount })] } ?? []
        // The n-th return on one receipt at this node is "<number>-R<n>": counted in this
        // transaction (one writer), so no two slips share a number.
        let slip = try r.number.map { number -> String in
            let earlier = try sales.returns(ofOrder: r.orderId ?? "")
            return number + "-R\(earlier + 1)"
        } ?? "R-" + r.id
        var receipt = Receipt(header: [config.shopName] + config.pos.receiptHeader, number: slip,
                              orderId: r.orderId ?? "", at: WallClock.iso8601(ms: nowMs), device: r.caller.device, cashier: r.caller.staff,
                              currency: r.currency, lines: lines, discounts: exchangeCredit, subtotal: lines.reduce(0) { $0 + $1.amount }, tax: r.tax,
                              taxIncluded: config.checkout.pricesIncludeTax, total: r.amount, rounding: refunds.cash > 0 ? (refunds.cash + refunds.card) - r.amount : 0,
                              tenders: refunds.tenders, customer: nil, approvals: r.approvedBy.map { ["refund without receipt by " + $0] } ?? [])
        receipt.isRefund = true
        receipt.exchanges = exchange?.lines ?? []
        receipt.exchangeNumber = exchange?.number
        return receiptJSON(receipt, sale: r.id, payments: r.refunds.map(\.payment), exchangeOrder: exchange?.orderId).encodedString
    }
}
