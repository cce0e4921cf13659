/// How a region charges tax and shipping (the `[checkout]` section of the node's config).
public struct CheckoutTerms: Sendable, Equatable {
    /// Tax rate in basis points (1900 = 19 %).
    public var taxRateBasisPoints: Int64 = 0
    /// Whether catalog prices include tax (EU shelf prices do; US prices do not).
    public var pricesIncludeTax = true
    /// The shipping fee of every order, in minor units, until the shipping issue brings rates.
    public var shippingFlatFee: Int64 = 0
    /// Orders whose goods cost at least this ship free; nil: never.
    public var freeShippingFrom: Int64?

    public init() {}

    /// The flat fee, or nothing from the free-shipping threshold on.
    public func shippingFee(goods: Int64) -> Int64 {
        freeShippingFrom.map { goods >= $0 } == true ? 0 : shippingFlatFee
    }
}

/// A priced line of an order.
public struct PricedLine: Equatable, Sendable, Codable {
    public var sku: String
    public var productId: String
    public var name: String
    public var quantity: Int64
    public var unitPrice: Int64
    /// The product's category when it sold (sales by category stay as they were when the
    /// catalog is reorganised); nil for an uncategorised product or a line from before it was kept.
    public var category: String?

    public init(sku: String, productId: String, name: String, quantity: Int64, unitPrice: Int64, category: String? = nil) {
        self.sku = sku
        self.productId = productId
        self.name = name
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.category = category
    }

    public var amount: Int64 { quantity * unitPrice }
}

/// An order's money: goods, discounts, shipping, tax and what the shopper pays, in minor units.
///
/// Tax applies to goods and shipping alike, after discounts, and is rounded once per order, half
/// away from zero. With inclusive prices the tax is the part of the gross that is tax
/// (gross × r / (1 + r)); with exclusive prices it is added on top.
public struct OrderTotals: Equatable, Sendable, Codable {
    public var currency: String
    /// The goods before discounts.
    public var subtotal: Int64
    /// Every discount: off the goods and off the shipping fee.
    public var discount: Int64
    /// The shipping fee before discounts.
    public var shipping: Int64
    public var tax: Int64
    public var total: Int64
    public var taxIncluded: Bool

    public init(currency: String, lines: [PricedLine], terms: CheckoutTerms) {
        let goods = lines.reduce(Int64(0)) { $0 + $1.amount }
        self.init(currency: currency, goods: goods, shipping: terms.shippingFee(goods: goods), discounts: [], terms: terms)
    }

    public init(currency: String, goods: Int64, shipping: Int64, discounts: [DiscountLine], terms: CheckoutTerms) {
        let discount = discounts.reduce(Int64(0)) { $0 + $1.amount }
        let base = max(0, goods + shipping - discount)
        let rate = terms.taxRateBasisPoints
        let tax = terms.pricesIncludeTax ? Self.divideRounding(base * rate, by: 10_000 + rate) : Self.divideRounding(base * rate, by: 10_000)
        self.currency = currency
        subtotal = goods
        self.discount = discount
        self.shipping = shipping
        self.tax = tax
        total = terms.pricesIncludeTax ? base : base + tax
        taxIncluded = terms.pricesIncludeTax
    }

    /// Totals as an event recorded them.
    public init(currency: String, subtotal: Int64, discount: Int64 = 0, shipping: Int64, tax: Int64, total: Int64, taxIncluded: Bool) {
        self.currency = currency
        self.subtotal = subtotal
        self.discount = discount
        self.shipping = shipping
        self.tax = tax
        self.total = total
        self.taxIncluded = taxIncluded
    }

    public static func divideRounding(_ numerator: Int64, by denominator: Int64) -> Int64 {
        precondition(denominator > 0 && numerator >= 0, "amounts and rates are not negative")
        return (numerator + denominator / 2) / denominator
    }
}
