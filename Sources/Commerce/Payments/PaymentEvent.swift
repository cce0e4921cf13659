
/// One fact about a payment, as the `payments` collection holds it (grow-only, canonical JSON
/// text). Nodes record what they did at the acquirer; the hub adds `settled` (and, for a card
/// taken offline, its own `authorized` or `declined`) once its ledger holds the money.
public struct PaymentEvent: Equatable, Sendable, Codable {
    public enum Kind: String, Codable, Sendable {
        /// Made and persisted before the acquirer is called: a crash after it leaves a trace.
        case created
        case authorized, declined, captured, voided, refunded
        /// Taken while the hub was unreachable, within the node's offline policy: the hub asks
        /// the acquirer when the payment reaches it (store-and-forward).
        case stored
        /// The hub's: the sale, a void or one refund (`ref`) is in the ledger and cleared with
        /// the acquirer.
        case settled
    }

    public var kind: Kind
    public var atMs: Int64
    public var node: String
    /// `created`: the region of the node that took it (its books are that region's).
    public var region: String?
    public var order: String?
    public var amount: Int64?
    public var currency: String?
    public var acquirer: String?
    /// Authorization code, or the decline reason.
    public var code: String?
    public var refundId: String?
    /// `stored`: the acquirer's token for the card, which the hub forwards (never a card number).
    public var token: String?
    /// `stored`: when the payment must be settled by (the offline policy's deadline).
    public var deadlineMs: Int64?
    /// `settled`: what was settled: `sale`, `void`, or a refund id.
    public var ref: String?
    /// `settled`: the acquirer's fee for a sale.
    public var fee: Int64?
    /// `created` at a till: the POS sale it pays (a sale paid by split tenders has several),
    /// or the return a refund without a receipt pays out.
    public var sale: String?
    /// `created` for a refund without a receipt (no order to take it from): the tax in `amount`.
    public var tax: Int64?

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
        json.int("deadline_ms", deadlineMs)
        json.int("fee", fee)
        json.string("kind", kind.rawValue)
        json.string("node", node)
        json.string("order", order)
        json.string("ref", ref)
        json.string("refund_id", refundId)
        json.string("region", region)
        json.string("sale", sale)
        json.int("tax", tax)
        json.string("token", token)
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
        token = json.string("token")
        region = json.string("region")
        deadlineMs = json.int("deadline_ms")
        ref = json.string("ref")
        fee = json.int("fee")
        sale = json.string("sale")
        tax = json.int("tax")
    }
}

/// A payment's money so far, folded from its events.
public struct PaymentState: Equatable, Sendable {
    /// The node that took the payment.
    public private(set) var node: String?
    public private(set) var region: String?
    /// When the node made it (its clock).
    public private(set) var createdMs: Int64?
    public private(set) var order: String?
    public private(set) var amount: Int64 = 0
    public private(set) var currency: String?
    /// Who takes the money: an acquirer's name, or `cash` for a till's cash.
    public private(set) var acquirer: String?
    /// The POS sale it pays, when a till took it.
    public private(set) var sale: String?
    /// A refund without a receipt: the tax in its amount.
    public private(set) var tax: Int64?
    public private(set) var authorized = false
    /// The acquirer's authorization code.
    public private(set) var authorizationCode: String?
    public private(set) var declined: String?
    public private(set) var captured: Int64 = 0
    public private(set) var refunded: Int64 = 0
    public private(set) var voided = false
    /// Taken offline (store-and-forward): the acquirer hears of it from the hub, which then
    /// holds its authorization, so its capture, void and refunds are the hub's to send too.
    public private(set) var stored = false
    public private(set) var token: String?
    public private(set) var deadlineMs: Int64?
    /// Per refund id, the amount refunded.
    public private(set) var refunds: [String: Int64] = [:]
    /// What the hub settled: `sale`, `void` and refund ids, with amounts.
    public private(set) var settled: [String: Int64] = [:]
    /// The acquirer's fee on the sale, once settled.
    public private(set) var fee: Int64 = 0

    public init(texts: some Sequence<String>) {
        self.init(events: texts.compactMap(PaymentEvent.init(text:)))
    }

    /// The fold of events already parsed (a checkout holds the ones it just made).
    public init(events: some Sequence<PaymentEvent>) {
        for event in events {
            switch event.kind {
            case .created:
                node = event.node
                createdMs = event.atMs
                region = event.region
                order = event.order
                amount = event.amount ?? 0
                currency = event.currency
                acquirer = event.acquirer
                sale = event.sale
                tax = event.tax
            case .authorized:
                authorized = true
                authorizationCode = event.code
            case .declined: declined = event.code
            case .captured: captured = max(captured, event.amount ?? 0)
            case .voided: voided = true
            case .refunded: refunds[event.refundId ?? "", default: 0] = max(refunds[event.refundId ?? ""] ?? 0, event.amount ?? 0)
            case .stored:
                stored = true
                token = event.token
                deadlineMs = event.deadlineMs
            case .settled:
                let ref = event.ref ?? "sale"
                settled[ref] = max(settled[ref] ?? 0, event.amount ?? 0)
                if ref == "sale" { fee = max(fee, event.fee ?? 0) }
            }
        }
        refunded = refunds.values.reduce(0, +)
    }

    /// Cash in a till: no acquirer is asked anything; the hub books it to the node's cash account.
    public var isCash: Bool { acquirer == Self.cashAcquirer }
    public static let cashAcquirer = "cash"

    /// Taken offline and not yet authorized or declined by the hub: counts against the node's
    /// offline exposure.
    public var awaitingHub: Bool { stored && !authorized && declined == nil && !voided }

    /// Where the hub's books stand: `settled` once the sale is (refunds settle after it),
    /// `declined` when a card taken offline was refused, else `open`.
    public var settlement: String {
        if declined != nil && stored { return "declined" }
        if settled["sale"] != nil || settled["void"] != nil {
            return refunds.keys.allSatisfy { settled[$0] != nil } ? "settled" : "refund_open"
        }
        return "open"
    }

    public var status: String {
        if stored, declined != nil { return "declined" }
        if refunded > 0 { return refunded >= captured ? "refunded" : "partially_refunded" }
        if captured > 0 { return "captured" }
        if voided { return "voided" }
        if authorized { return "authorized" }
        if declined != nil { return "declined" }
        if stored { return "stored" }
        return "pending"
    }
}
