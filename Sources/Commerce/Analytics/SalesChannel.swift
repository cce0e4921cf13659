/// Where an order was sold. A channel is recorded on the placed event (`OrderEvent.channel`);
/// events from before it was are told apart by what they carry.
public enum SalesChannel: String, Sendable, CaseIterable, Codable {
    /// The storefront (HTML or the shopper API).
    case web
    /// A store's till (the POS API).
    case till

    /// The channel of an order from its placed event: the recorded one, else a till sale is
    /// the one placed without a sealed contact (every web checkout seals an email).
    public static func of(_ placed: OrderEvent) -> SalesChannel {
        placed.channel ?? (placed.sealedContact == nil ? .till : .web)
    }
}

/// One way an order was paid, for the payment mix.
public struct SaleTender: Equatable, Sendable, Codable {
    public enum Method: String, Sendable, CaseIterable, Codable {
        /// A card the acquirer answered at the time of the sale.
        case card
        /// A card stored while the hub was out of reach, forwarded later (store-and-forward).
        case cardOffline = "card_offline"
        case cash
    }

    public var method: Method
    /// Minor units taken by this tender (for cash: the sale's share, not the notes handed over).
    public var amount: Int64

    public init(method: Method, amount: Int64) {
        self.method = method
        self.amount = amount
    }
}
