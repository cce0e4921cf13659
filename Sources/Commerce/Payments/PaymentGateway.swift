/// An authorization asked of an acquirer. The node never holds a card number: `token` is the
/// acquirer's token for the card (its hosted fields made it in the shopper's browser).
public struct PaymentRequest: Equatable, Sendable {
    /// Made at the edge and persisted before the acquirer is called: retries reuse it, and the
    /// acquirer treats a repeated id as the same payment.
    public var paymentId: String
    public var amount: Int64
    public var currency: String
    public var token: String

    public init(paymentId: String, amount: Int64, currency: String, token: String) {
        self.paymentId = paymentId
        self.amount = amount
        self.currency = currency
        self.token = token
    }

    /// An acquirer token: `tok_` and 1 to 60 of a-z, 0-9, '_'. Anything else (a card number
    /// above all) is refused before it is stored or logged anywhere.
    public static func isToken(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count > 4, bytes.count <= 64, text.hasPrefix("tok_") else { return false }
        // `tok_4242424242424242` has the prefix, and a card number inside.
        return bytes.dropFirst(4).allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "_") }
            && !CardNumber.appears(in: text)
    }
}

public enum DeclineReason: String, Sendable, CaseIterable, Codable {
    case insufficientFunds = "insufficient_funds"
    case stolenCard = "stolen_card"
    case expiredCard = "expired_card"
    case invalidToken = "invalid_token"
    case amountTooLarge = "amount_too_large"
}

public enum AuthorizationOutcome: Equatable, Sendable {
    /// The acquirer holds the amount; `code` is its authorization code.
    case approved(code: String)
    case declined(DeclineReason)
    /// A soft decline: the same payment may be tried again at once.
    case retry
    /// No answer: the acquirer may or may not have authorized. The payment stays open until a
    /// later answer, a void, or its reservation's expiry.
    case timedOut
}

/// The answer to a capture, void or refund.
public enum GatewayOutcome: Equatable, Sendable {
    case done
    /// The acquirer refused; the text says why (for operators).
    case refused(String)
    case timedOut
}

/// One line of what the hub hands the acquirer for settlement (clearing): a sale it captured or
/// a refund, idempotent by payment id and `ref`.
public struct ClearingItem: Equatable, Sendable {
    public enum Kind: String, Sendable { case sale, refund }
    public var paymentId: String
    /// `sale`, or the refund's id.
    public var ref: String
    public var kind: Kind
    public var amount: Int64
    public var currency: String
    /// The code the acquirer gave when it authorized the payment (any node may have asked).
    public var authorizationCode: String?

    public init(paymentId: String, ref: String, kind: Kind, amount: Int64, currency: String, authorizationCode: String?) {
        self.paymentId = paymentId
        self.ref = ref
        self.kind = kind
        self.amount = amount
        self.currency = currency
        self.authorizationCode = authorizationCode
    }
}

public enum ClearingOutcome: Equatable, Sendable {
    /// The acquirer will pay out (or take back) the amount; `fee` is what it keeps.
    case cleared(fee: Int64)
    case refused(String)
    case timedOut
}

/// A payment acquirer as the node uses it. Calls start on the loop and complete on the loop; an
/// adapter for a remote acquirer does its I/O off the loop. Every call is idempotent by its ids.
public protocol PaymentGateway: AnyObject {
    var name: String { get }
    func authorize(_ request: PaymentRequest, completion: @escaping (AuthorizationOutcome) -> Void)
    func capture(paymentId: String, amount: Int64, completion: @escaping (GatewayOutcome) -> Void)
    func void(paymentId: String, completion: @escaping (GatewayOutcome) -> Void)
    func refund(paymentId: String, refundId: String, amount: Int64, completion: @escaping (GatewayOutcome) -> Void)
    /// The hub's settlement: presents a captured sale or a refund for the acquirer's settlement.
    func clear(_ item: ClearingItem, completion: @escaping (ClearingOutcome) -> Void)
}
