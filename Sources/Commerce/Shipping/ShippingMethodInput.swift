import Platform
import Replication

/// How a shipping method sits in the catalog collection, so it replicates fleet-wide like a
/// promotion: one last-writer-wins register per field at `shipping:<id>`.
///
///     name, region, currency, min_days, max_days, free_from?, collect_at?, retired?
///     country/<CC>      a country it delivers to (none: every country)
///     rate              flat | weight | value
///     fee               the flat fee
///     band/<n>          weight: the fee up to n grams; value: the fee from goods of n
extension ShippingMethod {
    public static let keyPrefix = "shipping:"
    public static func isKey(_ key: String) -> Bool { key.hasPrefix(keyPrefix) }

    public var fields: [String: FieldValue] {
        var fields: [String: FieldValue] = ["name": .text(name), "region": .text(region), "currency": .text(currency),
                                            "min_days": .integer(minDays), "max_days": .integer(maxDays), "retired": .flag(retired)]
        for country in countries { fields["country/" + country] = .flag(true) }
        if let freeFrom { fields["free_from"] = .integer(freeFrom) }
        if let collectAt { fields["collect_at"] = .text(collectAt) }
        switch rate {
        case .flat(let fee):
            fields["rate"] = .text("flat"); fields["fee"] = .integer(fee)
        case .weightBands(let bands):
            fields["rate"] = .text("weight")
            for band in bands { fields["band/\(band.upToGrams)"] = .integer(band.fee) }
        case .valueBands(let bands):
            fields["rate"] = .text("value")
            for band in bands { fields["band/\(band.from)"] = .integer(band.fee) }
        }
        return fields
    }

    public init?(id: String, fields: [String: FieldValue]) {
        guard case .text(let name)? = fields["name"], case .text(let region)? = fields["region"], case .text(let currency)? = fields["currency"],
              case .integer(let minDays)? = fields["min_days"], case .integer(let maxDays)? = fields["max_days"],
              case .text(let rateKind)? = fields["rate"] else { return nil }
        var bands: [(Int64, Int64)] = []
        var countries: [String] = []
        for (field, value) in fields {
            if field.hasPrefix("band/"), let n = Int64(field.dropFirst(5)), case .integer(let fee) = value { bands.append((n, fee)) }
            if field.hasPrefix("country/"), case .flag(true) = value { countries.append(String(field.dropFirst(8))) }
        }
        bands.sort { $0.0 < $1.0 }
        let rate: Rate
        switch rateKind {
        case "flat":
            guard case .integer(let fee)? = fields["fee"] else { return nil }
            rate = .flat(fee)
        case "weight": rate = .weightBands(bands.map { WeightBand(upToGrams: $0.0, fee: $0.1) })
        case "value": rate = .valueBands(bands.map { ValueBand(from: $0.0, fee: $0.1) })
        default: return nil
        }
        var collectAt: String?
        if case .text(let location)? = fields["collect_at"] { collectAt = location }
        var freeFrom: Int64?
        if case .integer(let from)? = fields["free_from"] { freeFrom = from }
        self.init(id: id, name: name, region: region, currency: currency, countries: countries.sorted(), rate: rate, freeFrom: freeFrom,
                  minDays: minDays, maxDays: maxDays, collectAt: collectAt)
        if case .flag(true)? = fields["retired"] { retired = true }
    }
}

/// A shipping method from the admin API's JSON, every bad field named (docs/shipping.md).
public enum ShippingMethodInput {
    static let fieldNames: Set<String> = ["id", "name", "region", "currency", "countries", "rate", "free_from", "min_days", "max_days", "collect_at"]

    public static func method(from members: [String: LooseJSON]) throws(ValidationFailure) -> ShippingMethod {
        var input = InputFields(members, known: fieldNames, what: "shipping method")
        let money: ClosedRange<Int64> = 0...1_000_000_000_000
        let id = input.text("id") ?? ""
        if !ProductInput.isProductId(id) || id == "standard" {
            input.fail("id", "is required: 1 to 64 lowercase letters, digits and '-' (\"standard\" is the built-in flat fee)")
        }
        let name = (input.text("name") ?? "").trimmingWhitespace()
        if !(1...100).contains(name.count) { input.fail("name", "is required: 1 to 100 characters") }
        let region = input.text("region") ?? ""
        if !ProductInput.isProductId(region) { input.fail("region", "is required: the region whose shoppers are offered it") }
        let currency = input.text("currency") ?? ""
        if !ProductInput.isCurrency(currency) { input.fail("currency", "is required: an ISO 4217 code such as EUR") }
        let collectAt = input.text("collect_at")
        if let collectAt, !ProductInput.isProductId(collectAt) { input.fail("collect_at", "must be a stock location's id") }
        var countries: [String] = []
        switch members["countries"] {
        case nil, .null?: break
        case .array(let items)? where items.count <= 250:
            countries = items.compactMap { if case .string(let code) = $0, Address.isCountry(code) { code } else { nil } }
            if countries.count != items.count { input.fail("countries", "must hold ISO 3166-1 alpha-2 codes in capitals (DE, FR)") }
            countries = Array(Set(countries)).sorted()
        default: input.fail("countries", "must be an array of at most 250 country codes")
        }
        if collectAt != nil && !countries.isEmpty { input.fail("countries", "a click-and-collect method delivers to no country") }
        let minDays = input.count("min_days", 0...365)
        let maxDays = input.count("max_days", 0...365)
        if minDays == nil { input.fail("min_days", "is required: business days to the earliest delivery") }
        if maxDays == nil { input.fail("max_days", "is required: business days to the latest delivery") }
        if let minDays, let maxDays, maxDays < minDays { input.fail("max_days", "must not be before min_days") }
        let freeFrom = input.count("free_from", money)

        var rate = ShippingMethod.Rate.flat(0)
        let rateHelp = #"must be {"flat": fee}, {"weight": [{"up_to_g", "fee"}]} or {"value": [{"from", "fee"}]} (minor units)"#
        switch members["rate"] {
        case nil where collectAt != nil: break
        case .object(let rateMembers)? where rateMembers.count == 1:
            func bands(_ items: [LooseJSON], _ bound: String) -> [(Int64, Int64)]? {
                guard (1...50).contains(items.count) else { return nil }
                let parsed = items.compactMap { item -> (Int64, Int64)? in
                    guard case .object(let band) = item, case .integer(let n)? = band[bound], case .integer(let fee)? = band["fee"],
                          band.count == 2, n >= 0, money.contains(fee) else { return nil }
                    return (n, fee)
                }
                return parsed.count == items.count && Set(parsed.map(\.0)).count == parsed.count ? parsed.sorted { $0.0 < $1.0 } : nil
            }
            switch rateMembers.first {
            case ("flat", .integer(let fee))? where money.contains(fee): rate = .flat(fee)
            case ("weight", .array(let items))?:
                if let parsed = bands(items, "up_to_g") { rate = .weightBands(parsed.map { .init(upToGrams: $0.0, fee: $0.1) }) }
                else { input.fail("rate.weight", "must be 1 to 50 bands {\"up_to_g\", \"fee\"}, each limit once") }
            case ("value", .array(let items))?:
                if let parsed = bands(items, "from") { rate = .valueBands(parsed.map { .init(from: $0.0, fee: $0.1) }) }
                else { input.fail("rate.value", "must be 1 to 50 bands {\"from\", \"fee\"}, each start once") }
            default: input.fail("rate", rateHelp)
            }
        default: input.fail("rate", rateHelp)
        }
        if case .valueBands(let bands) = rate, bands.first?.from != 0 { input.fail("rate.value", "the first band must start from 0") }
        try input.check()
        return ShippingMethod(id: id, name: name, region: region, currency: currency, countries: countries, rate: rate, freeFrom: freeFrom,
                              minDays: minDays ?? 0, maxDays: maxDays ?? 0, collectAt: collectAt)
    }
}
