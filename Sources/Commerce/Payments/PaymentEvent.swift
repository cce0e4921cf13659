
/// One fact about a payment, as the `payments` collection holds it (grow-only, canonical JSON
/// text). The hub's settlement adds `settled` events later (the ledger issue).
public struct PaymentEvent: Equatable, Sendable, Codable {
    public enum Kind: String, Codable, Sendable {
        /// Made and persisted before the acquirer is called: a crash after it leaves a trace.
        case created
        case authorized, declined, captured, voided, refunded
    }

    public var kind: Kind
    public var atMs: Int64
    public var node: String
    public var order: String?
    public var amount: Int64?
    public var currency: String?
    public var acquirer: String?
    /// Authorization code, or the decline reason.
    public var code: String?
    public var refundId: String?

    public init(kind: Kind, atMs: Int64, node: String) {
        self.kind = kind
        self.atMs = atMs
        self.node = node
    }

    public var text: String {
        var json = EventJSONWriter()
        json.string("acquirer", acquirer)
        json.int("amount", amount)
        json.int("at_ms", atMs)
        json.string("code", code)
        json.string("currency", currency)
        json.string("kind", kind.rawValue)
        json.string("node", node)
        json.string("order", order)
        json.string("refund_id", refundId)
        return json.text
    }

    public init?(text: String) {
        guard let json = EventJSONReader(text), let kind = json.string("kind").flatMap(Kind.init(rawValue:)), let atMs = json.int("at_ms"),
              let node = json.string("node") else { return nil }
        self.init(kind: kind, atMs: atMs, node: node)
        acquirer = json.string("acquirer")
        amount = json.int("amount")
        code = json.string("code")
        currency = json.string("currency")
        order = json.string("order")
        refundId = json.string("refund_id")
    }
}

/// A payment's money so far, folded from its events.
public struct PaymentState: Equatable, Sendable {
    public private(set) var order: String?
    public private(set) var amount: Int64 = 0
    public private(set) var currency: String?
    public private(set) var authorized = false
    public private(set) var declined: String?
    public private(set) var captured: Int64 = 0
    public private(set) var refunded: Int64 = 0
    public private(set) var voided = false

    public init(texts: some Sequence<String>) {
        var refunds: [String: Int64] = [:]
        for event in texts.compactMap(PaymentEvent.init(text:)) {
            switch event.kind {
            case .created:
                order = event.order
                amount = event.amount ?? 0
                currency = event.currency
            case .authorized: authorized = true
            case .declined: declined = event.code
            case .captured: captured = max(captured, event.amount ?? 0)
            case .voided: voided = true
            case .refunded: refunds[event.refundId ?? "", default: 0] = max(refunds[event.refundId ?? ""] ?? 0, event.amount ?? 0)
            }
        }
        refunded = refunds.values.reduce(0, +)
    }

    public var status: String {
        if refunded > 0 { return refunded >= captured ? "refunded" : "partially_refunded" }
        if captured > 0 { return "captured" }
        if voided { return "voided" }
        if authorized { return "authorized" }
        if declined != nil { return "declined" }
        return "pending"
    }
}
