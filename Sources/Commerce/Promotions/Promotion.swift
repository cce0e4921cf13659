import Replication

/// A promotion as the admin API defines it and the catalog collection replicates it (key
/// `promotion:<id>`, one last-writer-wins field per rule, so pausing on one node and editing a
/// rule on another both survive).
///
/// With a `code` the shopper applies it to a cart; without one it applies by itself to every cart
/// it qualifies for (an automatic promotion). How promotions combine and round is
/// `PromotionEngine`'s (docs/promotions.md).
public struct Promotion: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// `percentBasisPoints` off the eligible goods.
        case percentage
        /// `amount` off the eligible goods, at most what they cost.
        case fixedAmount = "fixed_amount"
        /// The shipping fee waived.
        case freeShipping = "free_shipping"
        /// Of every `buy + get` eligible units, the `get` cheapest at `percentBasisPoints` off (free by default).
        case buyXGetY = "buy_x_get_y"
        /// The highest tier the eligible goods reach: its percentage or amount off.
        case tieredSpend = "tiered_spend"
    }

    public enum Status: String, Sendable, CaseIterable {
        case active, paused
        /// Final: a retired promotion never applies again, and its code is never reused.
        case retired
    }

    /// A step of a tiered promotion: from `from` minor units of eligible goods, a percentage or an amount off.
    public struct Tier: Equatable, Sendable {
        public var from: Int64
        public var percentBasisPoints: Int64?
        public var amount: Int64?

        public init(from: Int64, percentBasisPoints: Int64? = nil, amount: Int64? = nil) {
            self.from = from
            self.percentBasisPoints = percentBasisPoints
            self.amount = amount
        }
    }

    public var id: String
    public var name: String
    public var kind: Kind
    public var status: Status = .active
    /// Upper case; nil for an automatic promotion.
    public var code: String?
    public var percentBasisPoints: Int64?
    public var amount: Int64?
    /// The currency of `amount`, `minSpend` and tiers; a promotion with one applies only to carts in it.
    public var currency: String?
    /// Eligible goods (before any discount) must cost at least this.
    public var minSpend: Int64?
    public var startsMs: Int64?
    public var endsMs: Int64?
    /// Eligible products, and products in these categories (or below them); both empty: every product.
    public var products: [String] = []
    public var categories: [String] = []
    /// Orders one customer may place with it; codes with a limit need a signed-in customer.
    public var perCustomerLimit: Int64?
    /// Redemptions fleet-wide, a bounded counter (the `redemptions` collection) that holds while partitioned.
    public var usageCap: Int64?
    public var buy: Int64?
    public var get: Int64?
    public var tiers: [Tier] = []
    /// Automatic promotions apply highest first (then by id).
    public var priority: Int64 = 0

    public init(id: String, name: String, kind: Kind) {
        self.id = id
        self.name = name
        self.kind = kind
    }

    public static let keyPrefix = "promotion:"
    public static func isKey(_ key: String) -> Bool { key.hasPrefix(keyPrefix) }

    public var isAutomatic: Bool { code == nil }

    /// Whether it applies at `nowMs` by its status and dates.
    public func isLive(atMs nowMs: Int64) -> Bool {
        status == .active && (startsMs.map { nowMs >= $0 } ?? true) && (endsMs.map { nowMs < $0 } ?? true)
    }

    /// Codes are matched without regard to case: `save10` is `SAVE10`.
    public static func normalizedCode(_ text: String) -> String? {
        let code = text.trimmingWhitespace().uppercased()
        guard (3...32).contains(code.utf8.count), code.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }) else {
            return nil
        }
        return code
    }

    public var fields: [String: FieldValue] {
        var fields: [String: FieldValue] = ["name": .text(name), "kind": .text(kind.rawValue), "status": .text(status.rawValue), "priority": .integer(priority)]
        let integers: [(String, Int64?)] = [("percent_bp", percentBasisPoints), ("amount", amount), ("min_spend", minSpend), ("starts_ms", startsMs),
                                            ("ends_ms", endsMs), ("per_customer_limit", perCustomerLimit), ("usage_cap", usageCap), ("buy", buy), ("get", get)]
        for case let (name, value?) in integers { fields[name] = .integer(value) }
        if let code { fields["code"] = .text(code) }
        if let currency { fields["currency"] = .text(currency) }
        for product in products { fields["product/" + product] = .flag(true) }
        for category in categories { fields["category/" + category] = .flag(true) }
        for tier in tiers {
            if let bp = tier.percentBasisPoints { fields["tier/\(tier.from)/percent_bp"] = .integer(bp) }
            if let amount = tier.amount { fields["tier/\(tier.from)/amount"] = .integer(amount) }
        }
        return fields
    }

    public init?(id: String, fields: [String: FieldValue]) {
        guard case .text(let name)? = fields["name"], case .text(let kindText)? = fields["kind"], let kind = Kind(rawValue: kindText) else { return nil }
        self.init(id: id, name: name, kind: kind)
        if case .text(let text)? = fields["status"], let status = Status(rawValue: text) { self.status = status }
        if case .text(let code)? = fields["code"] { self.code = code }
        if case .text(let currency)? = fields["currency"] { self.currency = currency }
        func integer(_ name: String) -> Int64? { if case .integer(let value)? = fields[name] { value } else { nil } }
        percentBasisPoints = integer("percent_bp")
        amount = integer("amount")
        minSpend = integer("min_spend")
        startsMs = integer("starts_ms")
        endsMs = integer("ends_ms")
        perCustomerLimit = integer("per_customer_limit")
        usageCap = integer("usage_cap")
        buy = integer("buy")
        get = integer("get")
        priority = integer("priority") ?? 0
        var tiers: [Int64: Tier] = [:]
        for (name, value) in fields {
            let parts = name.split(separator: "/", maxSplits: 2)
            switch (parts.first, value) {
            case ("product"?, .flag(true)) where parts.count == 2: products.append(String(parts[1]))
            case ("category"?, .flag(true)) where parts.count == 2: categories.append(String(parts[1]))
            case ("tier"?, .integer(let number)) where parts.count == 3:
                guard let from = Int64(parts[1]) else { continue }
                var tier = tiers[from] ?? Tier(from: from)
                if parts[2] == "percent_bp" { tier.percentBasisPoints = number } else if parts[2] == "amount" { tier.amount = number }
                tiers[from] = tier
            default: continue
            }
        }
        products.sort()
        categories.sort()
        self.tiers = tiers.values.sorted { $0.from < $1.from }
    }
}
