import Platform

/// A way an order reaches its shopper: delivered into a zone of countries at a rate, or
/// collected at a store.
public struct ShippingMethod: Equatable, Sendable {
    public enum Rate: Equatable, Sendable {
        /// The same fee for every order.
        case flat(Int64)
        /// By the order's weight: the first band the weight fits under; heavier orders are not offered this method.
        case weightBands([WeightBand])
        /// By the goods' value: the band of the highest `from` the goods reach.
        case valueBands([ValueBand])
    }

    public struct WeightBand: Equatable, Sendable {
        public var upToGrams: Int64
        public var fee: Int64
    }

    public struct ValueBand: Equatable, Sendable {
        public var from: Int64
        public var fee: Int64
    }

    public var id: String
    public var name: String
    /// The region whose shoppers are offered it (its currency is the region's).
    public var region: String
    public var currency: String
    /// ISO 3166 alpha-2 countries it delivers to; empty: every country (click-and-collect: none).
    public var countries: [String]
    public var rate: Rate
    /// Orders whose goods cost at least this ship free.
    public var freeFrom: Int64?
    /// Business days from the order to delivery (or to ready for collection).
    public var minDays: Int64
    public var maxDays: Int64
    /// Click-and-collect: the stock location (a store) where the shopper picks the order up.
    public var collectAt: String?
    /// A retired method is offered no more; orders that chose it keep its name and fee.
    public var retired = false

    public init(id: String, name: String, region: String, currency: String, countries: [String], rate: Rate, freeFrom: Int64? = nil,
                minDays: Int64, maxDays: Int64, collectAt: String? = nil) {
        self.id = id
        self.name = name
        self.region = region
        self.currency = currency
        self.countries = countries
        self.rate = rate
        self.freeFrom = freeFrom
        self.minDays = minDays
        self.maxDays = maxDays
        self.collectAt = collectAt
    }

    public var isCollect: Bool { collectAt != nil }

    /// Whether it takes parcels to `country` (nil: the shopper gave no address yet).
    public func delivers(to country: String?) -> Bool {
        guard !isCollect, let country else { return false }
        return countries.isEmpty || countries.contains(country)
    }

    /// The region's `[checkout]` flat fee as a method, for regions that define none of their own.
    public static func standard(region: String, currency: String, terms: CheckoutTerms) -> ShippingMethod {
        ShippingMethod(id: "standard", name: "Standard delivery", region: region, currency: currency, countries: [],
                       rate: .flat(terms.shippingFlatFee), freeFrom: terms.freeShippingFrom, minDays: 2, maxDays: 5)
    }

    /// The fee for goods of `value` weighing `grams`; nil when the method cannot carry them.
    public func fee(value: Int64, grams: Int64) -> Int64? {
        if let freeFrom, value >= freeFrom { return weightFits(grams) ? 0 : nil }
        switch rate {
        case .flat(let fee): return fee
        case .weightBands(let bands): return bands.sorted { $0.upToGrams < $1.upToGrams }.first { grams <= $0.upToGrams }?.fee
        case .valueBands(let bands): return bands.sorted { $0.from < $1.from }.last { value >= $0.from }?.fee
        }
    }

    private func weightFits(_ grams: Int64) -> Bool {
        guard case .weightBands(let bands) = rate else { return true }
        return bands.contains { grams <= $0.upToGrams }
    }
}

/// A method offered for one cart and address, with its fee and when it should arrive.
public struct ShippingQuote: Equatable, Sendable {
    public var method: ShippingMethod
    public var fee: Int64
    /// UTC calendar days (yyyy-mm-dd) of the earliest and latest delivery or collection.
    public var earliest: String
    public var latest: String
}

public enum ShippingRates {
    /// The methods valid for an address in `country` (nil: collection only) and goods of `value`
    /// weighing `grams`, cheapest first (then by name), each with its fee and estimate from `nowMs`.
    public static func quotes(_ methods: [ShippingMethod], region: String, currency: String, country: String?, value: Int64, grams: Int64,
                              nowMs: Int64) -> [ShippingQuote] {
        methods.filter { !$0.retired && $0.region == region && $0.currency == currency && ($0.isCollect || $0.delivers(to: country)) }
            .compactMap { method in
                method.fee(value: value, grams: grams).map {
                    ShippingQuote(method: method, fee: $0, earliest: businessDay(after: method.minDays, fromMs: nowMs),
                                  latest: businessDay(after: method.maxDays, fromMs: nowMs))
                }
            }
            .sorted { ($0.fee, $0.method.name, $0.method.id) < ($1.fee, $1.method.name, $1.method.id) }
    }

    /// The day `days` business days (Monday to Friday) after the day of `fromMs`, UTC.
    public static func businessDay(after days: Int64, fromMs: Int64) -> String {
        let msPerDay: Int64 = 86_400_000
        var day = fromMs >= 0 ? fromMs / msPerDay : (fromMs - msPerDay + 1) / msPerDay
        var left = max(0, days)
        // 1970-01-01 was a Thursday: weekday 0 = Monday ... 6 = Sunday.
        func weekday(_ day: Int64) -> Int64 { ((day + 3) % 7 + 7) % 7 }
        while left > 0 {
            day += 1
            if weekday(day) < 5 { left -= 1 }
        }
        while weekday(day) >= 5 { day += 1 }
        return String(WallClock.iso8601(ms: day * msPerDay).prefix(10))
    }
}
