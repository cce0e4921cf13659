import Platform
import Replication

/// Why an event is not recorded on an order. Node maps each to its problem type
/// (`RuleRefusals+Problem.swift`).
public enum OrderRefusal: Error, Equatable {
    case notFound(order: String)
    /// The order's status does not allow the event (docs/orders.md).
    case transition(status: String, event: String)
    /// A refund of more than what is left to refund (or of nothing).
    case refundAmount(max: Int64)
    /// The acquirer refused the capture, void or refund, or did not answer; nothing recorded.
    case acquirerRefused(said: String)
    /// Another tender is only for an order whose card was declined after the sale.
    case owesNothing(status: String)
    /// Another tender for the order is being taken now.
    case tenderInProgress
}

/// Records events on orders (shipped, cancelled, refunded, returns...): checks that the event may
/// follow the order's status, does at the acquirer what it implies first (the capture at the
/// first shipment, the void at a cancellation, a refund), then commits the event with the
/// payment's own in one write. Loop thread only. It holds no state of its own: the node makes
/// one per use, and the write under way keeps it alive until it is answered.
public final class OrderDesk {
    private let writer: GroupCommit
    private let gateway: any PaymentGateway
    private let clock: () -> Int64
    /// The sales' writes (events are added through them).
    private let reservations: () -> SaleReservations
    /// An order's state folded from its events, and a payment's.
    private let order: (String) -> OrderState
    private let payment: (String) -> PaymentState?
    /// After a commit: the node tells its peers and views.
    public var changed: () -> Void = {}

    public init(writer: GroupCommit, gateway: any PaymentGateway, clock: @escaping () -> Int64, reservations: @escaping () -> SaleReservations,
                order: @escaping (String) -> OrderState, payment: @escaping (String) -> PaymentState?) {
        self.writer = writer
        self.gateway = gateway
        self.clock = clock
        self.reservations = reservations
        self.order = order
        self.payment = payment
    }

    /// Records `event` on `orderId`. `alongside` runs in the same transaction (a return's
    /// restock, an exchange); `completion` gets nil once it is durable, or the refusal or error.
    public func record(_ event: OrderEvent, on orderId: String, alongside: ((OrderState) throws -> Void)? = nil,
                       completion: @escaping ((any Error)?) -> Void) {
        let state = order(orderId)
        guard let placed = state.placed else { return completion(OrderRefusal.notFound(order: orderId)) }
        guard state.allows(event.kind) else { return completion(OrderRefusal.transition(status: state.status.rawValue, event: event.kind.rawValue)) }
        let paymentId = state.paymentId ?? ""
        var event = event
        var paymentEvent = PaymentEvent(kind: .captured, atMs: event.atMs, node: event.node)
        paymentEvent.order = orderId
        var recordsPayment = false
        let write: () -> Void = { [self] in
            writer.submit({ [self] _ in
                let nowMs = clock(), sales = reservations()
                try sales.addEvents([event.text], key: orderId, in: Collections.orders, nowMs: nowMs)
                if recordsPayment && !paymentId.isEmpty { try sales.addEvents([paymentEvent.text], key: paymentId, in: Collections.payments, nowMs: nowMs) }
                try alongside?(state)
            }, completion: { [self] result in
                if case .failure(let error) = result { return completion(error) }
                changed()
                completion(nil)
            })
        }
        // A card taken offline is the hub's to capture, void and refund: it forwarded it, so the
        // acquirer knows it from the hub. Recording the event is the request.
        let heldByHub = !paymentId.isEmpty && payment(paymentId)?.stored == true
        let acquirer: (GatewayOutcome) -> Void = { outcome in
            guard outcome == .done else {
                return completion(OrderRefusal.acquirerRefused(said: { if case .refused(let why) = outcome { why } else { "no answer" } }()))
            }
            write()
        }
        let gateway: any PaymentGateway = heldByHub ? RecordOnlyGateway() : self.gateway
        // An order without a card payment (an exchange, paid by its return) has nothing to tell the acquirer.
        switch event.kind {
        case _ where paymentId.isEmpty && event.kind != .refunded:
            write()
        case .shipped where !state.events.contains { $0.kind == .shipped }:
            // Captured in full when the first parcel leaves; later parcels of the order capture nothing.
            recordsPayment = true
            paymentEvent.amount = placed.totals?.total ?? 0
            gateway.capture(paymentId: paymentId, amount: paymentEvent.amount ?? 0, completion: acquirer)
        case .cancelled:
            recordsPayment = true
            paymentEvent.kind = .voided
            gateway.void(paymentId: paymentId, completion: acquirer)
        case .refunded:
            let amount = event.amount ?? state.refundable
            guard amount > 0 && amount <= state.refundable else { return completion(OrderRefusal.refundAmount(max: state.refundable)) }
            event.amount = amount
            let refundId = "r-\(orderId)-\(state.events.filter { $0.kind == .refunded }.count + 1)"
            recordsPayment = true
            paymentEvent.kind = .refunded
            paymentEvent.amount = amount
            paymentEvent.refundId = refundId
            gateway.refund(paymentId: paymentId, refundId: refundId, amount: amount, completion: acquirer)
        default:
            write()
        }
    }
}

/// Another tender for an order whose offline card was declined after the sale.
public struct AnotherTender: Sendable {
    public var order: String
    /// The declined payments it replaces.
    public var replaces: [String]
    public var amount: Int64
    public var currency: String
    /// The goods left already: nothing will capture it later, so it is captured now.
    public var captureNow: Bool
    public var token: String

    public init(order: String, replaces: [String], amount: Int64, currency: String, captureNow: Bool, token: String) {
        self.order = order
        self.replaces = replaces
        self.amount = amount
        self.currency = currency
        self.captureNow = captureNow
        self.token = token
    }
}

extension OrderDesk {
    /// The new payment is made durable before the acquirer hears of it (as at checkout), then
    /// answered: approved (and captured, if the goods left), the order is paid again in the same
    /// commit as the authorization; otherwise the payment is closed and the order still owes it.
    /// `completion` gets the new payment's id, or the refusal.
    public func collect(_ due: AnotherTender, authorizing desk: SaleDesk, completion: @escaping (Result<String, any Error>) -> Void) {
        let sales = reservations()
        let paymentId = "p-" + SaleReservations.stamp(node: sales.node, sales.replica.tick(wallMs: clock()))
        writer.submit({ [self] _ in
            let nowMs = clock(), sales = reservations()
            let created = sales.paymentCreated(order: due.order, amount: due.amount, currency: due.currency, acquirer: gateway.name, atMs: nowMs)
            try sales.addEvents([created.text], key: paymentId, in: Collections.payments, nowMs: nowMs)
        }, completion: { [self] result in
            if case .failure(let error) = result { return completion(.failure(error)) }
            let request = PaymentRequest(paymentId: paymentId, amount: due.amount, currency: due.currency, token: due.token)
            desk.authorize(request) { [self] outcome in
                switch outcome {
                case .approved(let code):
                    guard due.captureNow else { return writeTender(due, paymentId: paymentId, code: code, captured: false, completion: completion) }
                    gateway.capture(paymentId: paymentId, amount: due.amount) { [self] captured in
                        guard captured == .done else {
                            gateway.void(paymentId: paymentId) { _ in }
                            return closeTender(paymentId, order: due.order, kind: .voided, code: nil, completion: completion,
                                               refusal: .acquirerUnreachable(detail: "the acquirer authorized the card but did not capture it; nothing was charged"))
                        }
                        writeTender(due, paymentId: paymentId, code: code, captured: true, completion: completion)
                    }
                case .declined(let reason):
                    closeTender(paymentId, order: due.order, kind: .declined, code: reason.rawValue, completion: completion,
                                refusal: .cardDeclined(reason: reason.rawValue, detail: "the new card was declined (\(reason.rawValue)); the order still owes it", tender: nil))
                case .retry, .timedOut:
                    gateway.void(paymentId: paymentId) { _ in }
                    closeTender(paymentId, order: due.order, kind: .voided, code: nil, completion: completion,
                                refusal: .acquirerUnreachable(detail: "the acquirer did not answer; nothing was charged"))
                }
            }
        })
    }

    private func writeTender(_ due: AnotherTender, paymentId: String, code: String, captured: Bool, completion: @escaping (Result<String, any Error>) -> Void) {
        writer.submit({ [self] _ in
            let nowMs = clock(), sales = reservations()
            var authorized = PaymentEvent(kind: .authorized, atMs: nowMs, node: sales.node)
            authorized.order = due.order
            authorized.code = code
            var events = [authorized.text]
            if captured {
                var capture = PaymentEvent(kind: .captured, atMs: nowMs, node: sales.node)
                capture.order = due.order
                capture.amount = due.amount
                events.append(capture.text)
            }
            try sales.addEvents(events, key: paymentId, in: Collections.payments, nowMs: nowMs)
            let paid = due.replaces.map { declined in
                var paid = OrderEvent(kind: .paid, atMs: nowMs, node: sales.node)
                paid.payment = paymentId
                paid.replaces = declined
                paid.amount = order(due.order).paidAmount
                return paid.text
            }
            try sales.addEvents(paid, key: due.order, in: Collections.orders, nowMs: nowMs)
        }, completion: { [self] result in
            if case .failure(let error) = result { return completion(.failure(error)) }
            changed()
            completion(.success(paymentId))
        })
    }

    /// The new payment ends without money: declined or voided, and the order still owes it.
    private func closeTender(_ paymentId: String, order: String, kind: PaymentEvent.Kind, code: String?,
                             completion: @escaping (Result<String, any Error>) -> Void, refusal: SaleRefusal) {
        writer.submit({ [self] _ in
            let nowMs = clock(), sales = reservations()
            try sales.addEvents([sales.closing(kind, order: order, reason: code, nowMs: nowMs).text], key: paymentId, in: Collections.payments, nowMs: nowMs)
        }, completion: { [self] result in
            changed()
            if case .failure(let failure) = result { return completion(.failure(failure)) }
            completion(.failure(refusal))
        })
    }
}

/// What a node "asks" for a payment the hub holds: nothing; the event it records goes to the
/// hub, which asks the acquirer when it settles.
private final class RecordOnlyGateway: PaymentGateway {
    let name = "hub"
    func authorize(_ request: PaymentRequest, completion: @escaping (AuthorizationOutcome) -> Void) { completion(.timedOut) }
    func capture(paymentId: String, amount: Int64, completion: @escaping (GatewayOutcome) -> Void) { completion(.done) }
    func void(paymentId: String, completion: @escaping (GatewayOutcome) -> Void) { completion(.done) }
    func refund(paymentId: String, refundId: String, amount: Int64, completion: @escaping (GatewayOutcome) -> Void) { completion(.done) }
    func clear(_ item: ClearingItem, completion: @escaping (ClearingOutcome) -> Void) { completion(.timedOut) }
}
