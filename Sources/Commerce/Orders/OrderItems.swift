/// Units of one SKU of an order that a fulfilment or return step is about.
public struct OrderItem: Equatable, Sendable, Codable {
    /// What a returned unit becomes once the store has it back.
    public enum Disposition: String, Sendable, Codable, CaseIterable {
        /// Back on the shelf at `location`: sellable again on every node.
        case restock
        /// Damaged or unsellable: recorded, never sold again.
        case writeOff = "write_off"
    }

    public var sku: String
    public var quantity: Int64
    /// A return request: why (one of `ReturnPolicy.reasons`).
    public var reason: String?
    /// A return request: the SKU the shopper takes instead, at the price paid (an exchange).
    public var exchangeSku: String?
    /// A received return: restocked or written off, and where it was restocked.
    public var disposition: Disposition?
    public var location: String?

    public init(sku: String, quantity: Int64, reason: String? = nil, exchangeSku: String? = nil, disposition: Disposition? = nil, location: String? = nil) {
        self.sku = sku
        self.quantity = quantity
        self.reason = reason
        self.exchangeSku = exchangeSku
        self.disposition = disposition
        self.location = location
    }

    static func write(_ json: inout EventJSONWriter, _ item: OrderItem) {
        json.string("disposition", item.disposition?.rawValue); json.string("exchange_sku", item.exchangeSku)
        json.string("location", item.location); json.int("quantity", item.quantity); json.string("reason", item.reason); json.string("sku", item.sku)
    }

    static func read(_ json: EventJSONReader) -> OrderItem? {
        guard let sku = json.string("sku"), let quantity = json.int("quantity"), quantity > 0 else { return nil }
        return OrderItem(sku: sku, quantity: quantity, reason: json.string("reason"), exchangeSku: json.string("exchange_sku"),
                         disposition: json.string("disposition").flatMap(OrderItem.Disposition.init(rawValue:)), location: json.string("location"))
    }
}

/// The way to ship a shopper chose at checkout, as the placed event keeps it.
public struct ShippingChoice: Equatable, Sendable, Codable {
    public var method: String
    public var name: String
    /// Click-and-collect: the store location the shopper collects from.
    public var collectAt: String?
    /// UTC calendar days of the earliest and latest delivery (or readiness for collection).
    public var earliest: String
    public var latest: String

    public init(method: String, name: String, collectAt: String?, earliest: String, latest: String) {
        self.method = method
        self.name = name
        self.collectAt = collectAt
        self.earliest = earliest
        self.latest = latest
    }

    public init(_ quote: ShippingQuote) {
        self.init(method: quote.method.id, name: quote.method.name, collectAt: quote.method.collectAt, earliest: quote.earliest, latest: quote.latest)
    }

    static func write(_ json: inout EventJSONWriter, _ choice: ShippingChoice) {
        json.string("collect_at", choice.collectAt); json.string("earliest", choice.earliest); json.string("latest", choice.latest)
        json.string("method", choice.method); json.string("name", choice.name)
    }

    static func read(_ json: EventJSONReader) -> ShippingChoice? {
        guard let method = json.string("method") else { return nil }
        return ShippingChoice(method: method, name: json.string("name") ?? method, collectAt: json.string("collect_at"),
                              earliest: json.string("earliest") ?? "", latest: json.string("latest") ?? "")
    }
}

/// How this region takes goods back (the `[returns]` section of the node's config).
public struct ReturnPolicy: Sendable, Equatable {
    public enum ShippingRefund: String, Sendable, CaseIterable {
        /// The shipping fee comes back with the return that leaves nothing of the order kept.
        case fullReturn = "full_return"
        case always, never
    }

    /// Days after the last shipment within which a return may be requested.
    public var windowDays: Int64 = 30
    public var refundShipping: ShippingRefund = .fullReturn

    public static let reasons = ["damaged", "wrong_item", "not_as_described", "no_longer_needed", "size_or_fit", "other"]

    public init() {}
}

extension DiscountLine {
    /// The discount line that settles an exchange's new order. Not a promotion id (those have
    /// no underscore), so it is never counted as a redemption.
    public static let exchangePromotion = "_exchange"
}
