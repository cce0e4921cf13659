import Commerce
import HTTP
import Persistence
import Platform
import Replication

/// The ids, money and stock of a checkout between its reservation and its answer.
struct PendingCheckout {
    var cart: String
    var key: String
    var requestHash: String
    var orderId: String
    var number: String
    var paymentId: String
    var customer: String?
    var email: String
    var shipTo: Address?
    var token: String
    var shipping: ShippingChoice
    var lines: [PricedLine]
    var totals: OrderTotals
    var discounts: [DiscountLine] = []
    /// The capped promotion one of whose redemptions the order takes.
    var redemption: Promotion?
    var allocations: [StockAllocation] = []
    var locale: String?
    /// What the sale holds until it is answered.
    var hold: SaleReservations.Hold { SaleReservations.Hold(orderId: orderId, allocations: allocations, redemption: redemption?.id) }
    /// The payment's `created` event, made with the reservation: the answer folds it with the
    /// acquirer's outcome without reading the payment back.
    var paymentCreated: PaymentEvent?

    var sale: SaleDesk.Sale { .checkout(cart: cart, key: key) }
}

extension OutpostNode {
    static let paymentsCollection = "payments"

    var myStockLocation: String { config.stockLocation ?? identity.nodeId }

    func registerCheckoutRoutes() {
        let problem = RouteDoc.Reply.problem
        router.add("POST", "/api/v1/carts/{id}/checkout", bodyBytesMax: 16_384, doc: RouteDoc(
            operationId: "checkout", summary: "Place the cart's order: prices and tax recomputed, stock taken here, the card authorized.",
            description: """
                Header `Idempotency-Key` (required): the same key with the same body answers what the first request got; with another body, 409. \
                Body: {"email" (guests; a customer's account email otherwise), "ship_to": {line1, line2?, city, postal_code, country, name?}, \
                "payment_token": an acquirer token such as tok_visa (never a card number)}. \
                201: placed and paid (authorized). 202: placed, payment unconfirmed (the acquirer did not answer): the stock is held until \
                `reserved_until`, then the order is cancelled. 402: declined, nothing kept.
                """,
            tags: ["checkout"], parameters: [.init("id", in: .path, description: "The cart's id."),
                                              .init("Idempotency-Key", in: .header, required: true, description: "1 to 255 visible ASCII characters.")],
            requestBody: .init(0, "Contact, address and card token.", schema: ["type": "object", "required": ["ship_to", "payment_token"]]),
            replies: [.init(201, "The order, paid.", schema: ["type": "object"]), .init(202, "The order, awaiting payment.", schema: ["type": "object"]),
                      problem(400, "No Idempotency-Key."), problem(402, "Payment declined."),
                      problem(409, "Key reused with another body, in progress, a price changed, or not enough stock."),
                      problem(422, "Empty cart or invalid contact, address or token.")])
        ) { [unowned self] request, responder in
            do {
                try checkout(request, responder)
            } catch {
                responder.fail(error)
            }
        }
    }

    private func checkout(_ request: Request, _ responder: Responder) throws {
        let (cartId, owner) = try authorizeCart(request)
        guard let key = request.headers["idempotency-key"], (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPError(.idempotencyKeyRequired, detail: "send an Idempotency-Key header (1 to 255 visible ASCII characters)")
        }
        let customerId: String? = if case .customer(let id) = owner { id } else { nil }
        var body = try checkoutBody(fields: try Self.jsonObject(request), customer: customerId.flatMap(customer(id:)))
        body.locale = shopperLocale(request)
        try placeOrder(cart: cartId, owner: owner, key: key, requestHash: Hex.encode(SHA256.hash(request.body)), body: body) { result in
            switch result {
            case .success(let answer):
                let body = answer.status >= 400 ? Problem.body(answer.body, instance: request.path, requestId: request.requestId) : answer.body
                var response = Response(status: answer.status, contentType: answer.status >= 400 ? Response.problemContentType : Response.jsonContentType,
                                        body: body)
                if answer.replayed { response.headers = HTTPHeaders([("Idempotent-Replayed", "true")]) }
                responder.send(response)
            case .failure(let error):
                responder.fail(error)
            }
        }
    }

    /// What a checkout answered: the status and body the shopper gets (again, for a replay).
    struct CheckoutAnswer {
        var status: Int
        var body: [UInt8]
        var replayed = false
        /// The order's id, when one was placed.
        var orderId: String?
    }

    /// Places the order of a cart (steps in docs/orders.md): the JSON route and the storefront's
    /// form both come here. Throws what is refused before anything is written.
    func placeOrder(cart cartId: String, owner: CartOwner, key: String, requestHash: String, body: CheckoutBody,
                    answer: @escaping (Result<CheckoutAnswer, any Error>) -> Void) throws {
        var reuse: (orderId: String, number: String, paymentId: String)?
        if let saved = try checkoutRecord(cart: cartId, key: key) {
            guard saved.requestHash == requestHash else {
                throw CheckoutRefusal.keyReused
            }
            switch saved.state {
            case .answered:
                let status = saved.status ?? 500
                guard status < 300 else { return answer(.success(CheckoutAnswer(status: status, body: saved.response ?? [], replayed: true))) }
                guard let state = orderState(saved.orderId) else { throw CheckoutRefusal.orderMissing }
                let body = orderJSON(saved.orderId, state: state, payment: paymentState(state.paymentId), contact: .sealed, token: saved.orderToken).encoded()
                return answer(.success(CheckoutAnswer(status: status, body: body, replayed: true, orderId: saved.orderId)))
            case .abandoned:
                // Cut short by a crash before its answer, its stock released and its payment
                // voided: run again as the same order (id and number), with a new payment.
                reuse = (saved.orderId, saved.number, "")
            case .authorizing:
                // Left without an answer by a refused commit: released once the disk takes writes.
                if let refusal = life.storage.refusal { throw refusal }
                throw CheckoutRefusal.inProgress
            }
        }
        if case .wishlist = owner { throw CheckoutRefusal.wishlist }
        let customerId: String? = if case .customer(let id) = owner { id } else { nil }
        let lines = try priced(cartLines(cartId))
        guard !lines.isEmpty else { throw SaleRefusal.empty(what: "cart") }
        if let gone = lines.first(where: { $0.priceNow == nil }) {
            throw SaleRefusal.itemUnavailable(sku: gone.line.sku, detail: "\(gone.line.sku) is not sold here now; remove it from the cart")
        }
        let changed = lines.filter(\.priceChanged)
        guard changed.isEmpty else { throw SaleRefusal.pricesChanged(changed.map { ($0.line.sku, $0.line.unitPriceAtAdd, $0.priceNow?.amount ?? 0) }) }
        let currencies = Set(lines.compactMap { $0.priceNow?.currency })
        guard currencies.count == 1, let currency = currencies.first else {
            throw SaleRefusal.currencies(detail: "the cart's lines are priced in \(currencies.sorted().joined(separator: ", ")); one currency per order")
        }
        let orderLines = orderLines(lines, locale: config.locale)
        let quote = try chooseShipping(body.shippingMethod, lines: orderLines, currency: currency, country: body.shipTo?.country)
        if !quote.method.isCollect && body.shipTo == nil {
            throw ValidationFailure([FieldError("ship_to", "is required for delivery (\(quote.method.id)); only click-and-collect needs none")])
        }
        let code = cartCode(cartId)
        let (outcome, totals) = price(orderLines, code: code, currency: currency, shipping: quote.fee)
        let codePromotion = code.flatMap { PromotionEngine.promotion(code: $0, in: promotions()) }
        if let code, let refusal = try outcome.codeRefusal ?? codePromotion.flatMap({ try customerRefusal($0, customer: customerId) }) {
            throw SaleRefusal.codeNotApplicable(code: code, refusal: refusal, what: "order")
        }
        var pending = PendingCheckout(cart: cartId, key: key, requestHash: requestHash, orderId: reuse?.orderId ?? "", number: reuse?.number ?? "",
                                      paymentId: reuse?.paymentId ?? "", customer: customerId, email: body.email,
                                      shipTo: quote.method.isCollect ? nil : body.shipTo, token: body.token, shipping: ShippingChoice(quote),
                                      lines: orderLines, totals: totals)
        pending.discounts = outcome.discounts
        pending.locale = body.locale
        pending.redemption = codePromotion?.usageCap == nil ? nil : codePromotion
        guard try saleDesk.admit(pending.sale, what: "checkouts") == .admitted else { throw CheckoutRefusal.inProgress }
        submitReservation(pending, answer: answer)
    }

    /// Reserves (first transaction), then authorizes.
    /// The reservation takes the stock, the capped code's redemption and the payment's
    /// `created` (the sale's `SaleReservations`), with the checkout row that ties them together.
    /// All of it is durable before the acquirer hears of the payment.
    private func submitReservation(_ pending: PendingCheckout, answer: @escaping (Result<CheckoutAnswer, any Error>) -> Void) {
        let sale = SaleReservations.Sale(kind: .checkout, lines: pending.lines.map { ($0.sku, $0.quantity) }, redemption: pending.redemption,
                                         payments: [(pending.totals.total, gateway.name)], currency: pending.totals.currency,
                                         actor: pending.customer ?? "guest", reusing: pending.orderId.isEmpty ? nil : (pending.orderId, pending.number))
        let record = SaleRecord.checkout(cart: pending.cart, key: pending.key, requestHash: pending.requestHash)
        saleDesk.reserve(sale, recordedAs: record, by: reservations) { [unowned self] result in
            switch result {
            case .success(let reserved):
                var pending = pending
                (pending.orderId, pending.number, pending.allocations) = (reserved.orderId, reserved.number, reserved.hold.allocations)
                (pending.paymentId, pending.paymentCreated) = (reserved.payments[0].id, reserved.payments[0].created)
                authorize(pending, answer: answer)
            case .failure(let error):
                saleDesk.answered(pending.sale)
                answer(.failure(error))
            }
        }
    }

    struct CheckoutBody {
        var email: String
        /// nil only for click-and-collect.
        var shipTo: Address?
        var token: String
        /// A method's id from the cart's shipping options; nil: the cheapest delivery.
        var shippingMethod: String?
        /// The shopper's language (`shopperLocale`): mail about the order is written in it.
        var locale: String?
    }

    static func jsonObject(_ request: Request) throws(HTTPError) -> [String: LooseJSON] {
        let contentType = request.headers["content-type"]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") || contentType.hasSuffix("+json") else {
            throw HTTPError(.unsupportedMediaType, detail: "send the body as application/json")
        }
        // Parsed by our own parser: Foundation's decoder cost a tenth of a checkout.
        guard let json = LooseJSON.parse(request.body) else { throw HTTPError(.malformedJSON, detail: "the body is not valid JSON") }
        guard case .object(let members) = json else { throw HTTPError(.validation, detail: "the body must be a JSON object") }
        // No card number is kept or logged, whatever field it comes in: refused before any rule
        // sees it (the detail names no value).
        if json.containsCardNumber {
            throw HTTPError(.validation, detail: "the body holds what looks like a card number; send the acquirer's token (tok_...) instead, never card data")
        }
        return members
    }

    /// The checkout's contact, address and card token, every bad field named.
    func checkoutBody(fields members: [String: LooseJSON], customer: Customer?) throws(HTTPError) -> CheckoutBody {
        var errors: [FieldError] = []
        for name in members.keys.sorted() where !["email", "ship_to", "payment_token", "shipping_method"].contains(name) {
            errors.append(FieldError(name, "is not a checkout field (fields: email, payment_token, ship_to, shipping_method)"))
        }
        var shippingMethod: String?
        switch members["shipping_method"] {
        case nil: break
        case .string(let id)? where ProductInput.isProductId(id): shippingMethod = id
        default: errors.append(FieldError("shipping_method", "must be a shipping method's id (GET /api/v1/carts/{id}/shipping-options)"))
        }
        let collecting = shippingMethod.flatMap(shippingMethod(_:))?.isCollect == true
        var email = customer?.email
        switch members["email"] {
        case nil: if email == nil { errors.append(FieldError("email", "is required for a guest")) }
        case .string(let text)? where Customer.isEmail(Customer.normalizedEmail(text)): email = Customer.normalizedEmail(text)
        default: errors.append(FieldError("email", "must be an email address"))
        }
        var shipTo: Address?
        if let item = members["ship_to"] {
            let problems = Self.addressProblems(item)
            errors += problems.map { FieldError("ship_to" + ($0.field.isEmpty ? "" : "." + $0.field), $0.reason) }
            if problems.isEmpty { shipTo = Address(item) }
        } else if !collecting {
            errors.append(FieldError("ship_to", "is required (only click-and-collect needs none)"))
        }
        var token: String?
        switch members["payment_token"] {
        case .string(let text)? where PaymentRequest.isToken(text): token = text
        // The value is never echoed: it may be a card number sent by mistake.
        default: errors.append(FieldError("payment_token", "must be an acquirer token (tok_...); card numbers are never accepted"))
        }
        guard errors.isEmpty, let email, let token, shipTo != nil || collecting else { throw Self.validationError(ValidationFailure(errors)) }
        return CheckoutBody(email: email, shipTo: shipTo, token: token, shippingMethod: shippingMethod)
    }


    // MARK: The reservation (first transaction)

    /// The one path by which sales (checkouts, till sales, exchanges) take stock and a capped
    /// code's redemption and give them back.
    var reservations: SaleReservations {
        SaleReservations(replica: replica, database: database, catalog: catalog, node: identity.nodeId, location: myStockLocation, region: config.region, peers: fleet.sync)
    }

    /// This node's journal of stock changes.
    var stockJournal: StockJournal { StockJournal(database: database) }

    // MARK: Authorization and the answer (second transaction)

    /// How a checkout's card was answered: by the acquirer, or, with the hub out of reach, by
    /// this node's offline policy.
    enum CardAnswer {
        case acquirer(AuthorizationOutcome)
        /// Taken store-and-forward: the hub forwards it to the acquirer by `deadlineMs`.
        case stored(deadlineMs: Int64)
        case refusedOffline(reason: String, detail: String)
    }

    private func authorize(_ pending: PendingCheckout, answer: @escaping (Result<CheckoutAnswer, any Error>) -> Void) {
        if !cardPaymentsOnline {
            let policy = offlinePolicy(for: identity.nodeId)
            do {
                _ = try saleDesk.holdOffline([pending.totals.total], policy: policy, recorded: offlinePayments.exposure, floorLimitWaived: false,
                                             money: moneyText(currency: pending.totals.currency))
            } catch {
                guard case .offlineCardRefused(let reason, let detail) = error else { preconditionFailure("holdOffline refuses offline only") }
                return finish(pending, card: .refusedOffline(reason: reason, detail: detail), answer: answer)
            }
            return finish(pending, card: .stored(deadlineMs: saleDesk.offlineDeadline(policy)), answer: answer)
        }
        let request = PaymentRequest(paymentId: pending.paymentId, amount: pending.totals.total, currency: pending.totals.currency, token: pending.token)
        saleDesk.authorize(request) { [unowned self] outcome in finish(pending, card: .acquirer(outcome), answer: answer) }
    }

    /// An amount as the shopper or cashier reads it ("€12.50"), for the words of a refusal.
    func moneyText(currency: String) -> (Int64) -> String {
        { [priceText = caches.priceText, config] in priceText.format($0, currency: currency, locale: config.locale) }
    }

    private func finish(_ pending: PendingCheckout, card: CardAnswer, answer: @escaping (Result<CheckoutAnswer, any Error>) -> Void) {
        let orderToken = pending.customer == nil ? Hex.encode(SecureRandom.bytes(16)) : nil
        writer.submit({ [unowned self] _ in
            try writeAnswer(pending, card: card, orderToken: orderToken, nowMs: WallClock.nowMs())
        }, completion: { [unowned self] result in
            saleDesk.answered(pending.sale)
            if case .stored = card { saleDesk.releaseOffline(pending.totals.total) }
            switch result {
            case .success(let written):
                replicatedChanged()
                answer(.success(CheckoutAnswer(status: written.status, body: written.body, orderId: written.status < 300 ? pending.orderId : nil)))
            case .failure(let error):
                // The answer could not be written: undo at the acquirer, and give the stock back
                // as after a crash, as soon as the disk takes writes (not at the next start).
                logger.error("a checkout's answer could not be committed; it will be released", metadata: ["order": "\(pending.orderId)", "error": "\(error)"])
                gateway.void(paymentId: pending.paymentId) { _ in }
                shop.unansweredSales.pending = true
                answer(.failure(error))
            }
        })
    }

    /// Second transaction: the order placed (paid, or awaiting the acquirer's answer), or, with
    /// the card refused, what the sale held given back; the checkout answered either way.
    private func writeAnswer(_ pending: PendingCheckout, card: CardAnswer, orderToken: String?, nowMs: Int64) throws -> (status: Int, body: [UInt8]) {
        var payment = PaymentEvent(kind: .authorized, atMs: nowMs, node: identity.nodeId)
        payment.order = pending.orderId
        var refused: (reason: String, refusal: SaleRefusal)?
        var paid = true
        switch card {
        case .refusedOffline(let reason, let detail): refused = (reason, .offlineCardRefused(reason: reason, detail: detail))
        case .acquirer(.declined(let why)):
            refused = (why.rawValue, .cardDeclined(reason: why.rawValue, detail: "the card was declined (\(why.rawValue)); nothing was charged", tender: nil))
        case .acquirer(.approved(let code)): payment.code = code
        // No answer: the order stands, awaiting payment, and holds its stock until then.
        case .acquirer(.retry), .acquirer(.timedOut): paid = false
        case .stored(let deadlineMs):
            payment.kind = .stored
            payment.token = pending.token
            payment.deadlineMs = deadlineMs
            try offlinePayments.record(payment: pending.paymentId, order: pending.orderId, currency: pending.totals.currency,
                                       amount: pending.totals.total, takenMs: nowMs, deadlineMs: deadlineMs)
        }
        if let refused {
            let declined = reservations.closing(.declined, order: pending.orderId, reason: refused.reason, nowMs: nowMs)
            try reservations.release(pending.hold, closing: [(pending.paymentId, declined)], actor: pending.customer ?? "guest", nowMs: nowMs)
            // Kept as answered, so a retry with the same key gets the same refusal.
            let problem = refused.refusal.httpError.problem.encoded()
            try checkouts.answered(cart: pending.cart, key: pending.key, status: 402, errorBody: problem, orderToken: nil)
            return (402, problem)
        }
        let tender = SaleTender(method: payment.kind == .stored ? .cardOffline : .card, amount: pending.totals.total)
        let state = try place(pending, paid: paid, tender: tender, token: orderToken, atMs: nowMs)
        if paid { try reservations.addEvents([payment.text], key: pending.paymentId, in: Collections.payments, nowMs: nowMs) }
        let events = paid ? [pending.paymentCreated, payment] : [pending.paymentCreated]
        let body = orderJSON(pending.orderId, state: state, payment: PaymentState(events: events.compactMap { $0 }),
                             contact: .known(email: pending.email, shipTo: pending.shipTo), token: orderToken).encoded()
        try checkouts.answered(cart: pending.cart, key: pending.key, status: paid ? 201 : 202, errorBody: nil, orderToken: orderToken)
        return (paid ? 201 : 202, body)
    }

    /// Records the order (placed, and paid when it is) and empties the cart; the events are
    /// remembered as made, so later reads of the order do not parse them back.
    private func place(_ pending: PendingCheckout, paid: Bool, tender: SaleTender, token: String?, atMs: Int64) throws -> OrderState {
        let events = placedEvents(pending, paid: paid, tender: tender, token: token, atMs: atMs, contactKey: try storeContactKey(pending))
        let texts = events.map(\.text)
        for (event, text) in zip(events, texts) { caches.orderEvents.remember(event, text: text) }
        // A new order: its events are all there is, so its view row comes from them, folded once.
        let state = orderState(texts: texts)
        _ = try replica.commit([(pending.orderId, GSet(Set(texts)), replica.tick(wallMs: WallClock.nowMs()))], in: Collections.orders) { [unowned self] _ in
            try projectOrder(pending.orderId, state: state, isNew: true)
        }
        if config.mail != nil, let token, let placedText = texts.first {
            let mail = "mail_" + OrderNotices.eventId(order: pending.orderId, text: placedText)
            try mailQueue.attachSecret(keys.customerVault.sealMailSecret(token, mail: mail), to: mail)
        }
        try emptyCart(pending)
        return state
    }

    private func placedEvents(_ pending: PendingCheckout, paid: Bool, tender: SaleTender, token: String?, atMs: Int64, contactKey: [UInt8]) -> [OrderEvent] {
        let me = identity.nodeId
        var placed = OrderEvent(kind: .placed, atMs: atMs, node: me)
        placed.channel = .web
        placed.region = config.region
        placed.tenders = [tender]
        placed.number = pending.number
        placed.customer = pending.customer
        placed.lines = pending.lines
        placed.totals = pending.totals
        placed.allocations = pending.allocations
        placed.discounts = pending.discounts.isEmpty ? nil : pending.discounts
        placed.redemption = pending.redemption?.id
        placed.shipping = pending.shipping
        placed.sealedContact = keys.customerVault.sealContact(email: pending.email, shipTo: pending.shipTo, order: pending.orderId, key: contactKey)
        placed.payment = pending.paymentId
        placed.accessHash = token.map(SHA256.hex)
        placed.locale = pending.locale
        guard paid else {
            placed.reservedUntilMs = atMs + config.reservationSeconds * 1000
            return [placed]
        }
        var paidEvent = OrderEvent(kind: .paid, atMs: atMs, node: me)
        paidEvent.payment = pending.paymentId
        paidEvent.amount = pending.totals.total
        return [placed, paidEvent]
    }

    /// A new key for the order's contact, kept (sealed) in this region's customers collection.
    private func storeContactKey(_ pending: PendingCheckout) throws -> [UInt8] {
        try storeContactKey(order: pending.orderId, customer: pending.customer)
    }

    func storeContactKey(order: String, customer: String?) throws -> [UInt8] {
        let key = CustomerVault.newContactKey()
        _ = try Self.commit(keys.customerVault.contactKeyFields(key, order: order, customer: customer),
                            key: CustomerVault.orderKeyPrefix + order, in: Collections.customers, replica: replica, as: identity.nodeId)
        return key
    }

    /// An order's email and address, if this region still holds its key (not after erasure,
    /// never in another region).
    func orderContact(_ orderId: String, sealed: String?) -> (email: String, shipTo: Address?)? {
        guard let sealed, let entry = replica.state(at: CustomerVault.orderKeyPrefix + orderId, in: Collections.customers),
              let key = keys.customerVault.contactKey(from: CatalogFields.values(of: entry), order: orderId) else { return nil }
        return keys.customerVault.openContact(sealed, order: orderId, key: key)
    }

    private func emptyCart(_ pending: PendingCheckout) throws {
        var state = replica.state(at: pending.cart, in: Collections.carts) ?? CartContents.State()
        let at = replica.tick(wallMs: WallClock.nowMs())
        _ = try replica.commit(CartContents.change(&state, setting: [], removing: pending.lines.map(\.sku), removingCode: true, replica: identity.nodeId, at: at),
                               key: pending.cart, in: Collections.carts, at: at)
    }

    /// The record of each checkout by cart and Idempotency-Key.
    var checkouts: CheckoutBook { CheckoutBook(database: database) }

    func checkoutRecord(cart: String, key: String) throws -> CheckoutBook.Record? { try checkouts.record(cart: cart, key: key) }
}
