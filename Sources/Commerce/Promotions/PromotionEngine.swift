import Platform

/// A cart line as promotions see it: its price and where it sits in the catalog.
public struct PromotedLine: Equatable, Sendable {
    public var line: PricedLine
    /// The product's category and every category above it.
    public var categories: [String]

    public init(line: PricedLine, categories: [String]) {
        self.line = line
        self.categories = categories
    }
}

/// One discount as the cart, the order and the receipt show it.
public struct DiscountLine: Equatable, Sendable, Codable {
    public var promotion: String
    public var name: String
    public var code: String?
    /// Minor units off: the goods part plus `shipping`.
    public var amount: Int64
    /// The part of `amount` taken off the shipping fee.
    public var shipping: Int64
    /// Minor units taken off each SKU's line (goods only); they add up to `amount - shipping`.
    public var lines: [String: Int64]

    public init(promotion: String, name: String, code: String?, amount: Int64, shipping: Int64, lines: [String: Int64]) {
        self.promotion = promotion
        self.name = name
        self.code = code
        self.amount = amount
        self.shipping = shipping
        self.lines = lines
    }
}

/// Why a code does not apply to a cart; `rawValue` is the stable `reason` of the problem reply.
public enum CodeRefusal: String, Sendable, CaseIterable {
    case unknown, inactive = "not_active", notStarted = "not_started", expired, currency = "other_currency"
    case minimumSpend = "minimum_spend", noEligibleItems = "no_eligible_items"
    case signInRequired = "sign_in_required", customerLimit = "customer_limit", exhausted

    /// What the storefront tells the shopper.
    public var explanation: String {
        switch self {
        case .unknown: "there is no such code"
        case .inactive: "the code is not active now"
        case .notStarted: "the code is not valid yet"
        case .expired: "the code has expired"
        case .currency: "the code is for another currency"
        case .minimumSpend: "the cart does not reach the code's minimum spend yet"
        case .noEligibleItems: "none of the items in the cart is included"
        case .signInRequired: "sign in to use this code"
        case .customerLimit: "you have used this code already"
        case .exhausted: "the code has been used up"
        }
    }
}

/// Applies promotions to a cart, deterministically, so a cart shows what its order will charge.
///
/// Stacking: every live automatic promotion the cart qualifies for applies, highest `priority`
/// first (then by id), each on what the ones before left of every line; then the one code of
/// the cart, on what is left after them. A line never goes below zero.
///
/// Rounding, in minor units: a percentage is taken once of the eligible total, half up; an
/// order-level discount is spread over the eligible lines in proportion to what is left of them,
/// the units that do not divide evenly going to the largest remainders (ties: the first line by
/// SKU), so the lines' parts add up to the discount exactly. Buy X get Y discounts each free unit
/// by its own price, rounded half up per unit.
public enum PromotionEngine {
    public struct Outcome: Equatable, Sendable {
        public var discounts: [DiscountLine] = []
        /// Why the cart's code does not apply (the other discounts still do).
        public var codeRefusal: CodeRefusal?

        public var goodsDiscount: Int64 { discounts.reduce(0) { $0 + $1.amount - $1.shipping } }
        public var shippingDiscount: Int64 { discounts.reduce(0) { $0 + $1.shipping } }
    }

    /// - Parameters:
    ///   - promotions: every promotion known (any status; the engine picks the live ones).
    ///   - code: the cart's code, normalized; nil for none.
    ///   - shipping: the shipping fee before discounts.
    public static func apply(_ promotions: [Promotion], code: String?, to lines: [PromotedLine], currency: String, shipping: Int64,
                             nowMs: Int64) -> Outcome {
        var outcome = Outcome()
        let sortedLines = lines.sorted { $0.line.sku < $1.line.sku }
        var left = Dictionary(sortedLines.map { ($0.line.sku, $0.line.amount) }, uniquingKeysWith: +)
        var shippingLeft = shipping
        let automatic = promotions.filter { $0.isAutomatic && $0.isLive(atMs: nowMs) }
            .sorted { ($0.priority, $1.id) > ($1.priority, $0.id) }
        for promotion in automatic where qualifies(promotion, sortedLines, currency: currency) == nil {
            if let line = discount(promotion, sortedLines, left: &left, shippingLeft: &shippingLeft) { outcome.discounts.append(line) }
        }
        guard let code else { return outcome }
        guard let promotion = promotions.first(where: { $0.code == code && $0.status != .retired }) else {
            outcome.codeRefusal = .unknown
            return outcome
        }
        if promotion.status != .active { outcome.codeRefusal = .inactive }
        else if let starts = promotion.startsMs, nowMs < starts { outcome.codeRefusal = .notStarted }
        else if let ends = promotion.endsMs, nowMs >= ends { outcome.codeRefusal = .expired }
        else if let refusal = qualifies(promotion, sortedLines, currency: currency) { outcome.codeRefusal = refusal }
        else if let line = discount(promotion, sortedLines, left: &left, shippingLeft: &shippingLeft) { outcome.discounts.append(line) }
        // Free shipping on an order that ships free already is no reason to refuse the code.
        else if promotion.kind != .freeShipping { outcome.codeRefusal = .noEligibleItems }
        return outcome
    }

    /// The promotion's code's promotion, if the code names one (retired codes name none).
    public static func promotion(code: String, in promotions: [Promotion]) -> Promotion? {
        promotions.first { $0.code == code && $0.status != .retired }
    }

    static func isEligible(_ line: PromotedLine, for promotion: Promotion) -> Bool {
        if promotion.products.isEmpty && promotion.categories.isEmpty { return true }
        return promotion.products.contains(line.line.productId) || line.categories.contains(where: promotion.categories.contains)
    }

    private static func qualifies(_ promotion: Promotion, _ lines: [PromotedLine], currency: String) -> CodeRefusal? {
        if let needed = promotion.currency, needed != currency { return .currency }
        let eligible = lines.filter { isEligible($0, for: promotion) }
        guard !eligible.isEmpty else { return .noEligibleItems }
        if let minimum = promotion.minSpend, eligible.reduce(Int64(0), { $0 + $1.line.amount }) < minimum { return .minimumSpend }
        return nil
    }

    /// The promotion's discount on what is left, taken off `left`; nil when it comes to nothing.
    private static func discount(_ promotion: Promotion, _ lines: [PromotedLine], left: inout [String: Int64], shippingLeft: inout Int64) -> DiscountLine? {
        let eligible = lines.filter { isEligible($0, for: promotion) }.map(\.line.sku)
        let eligibleLeft = eligible.reduce(Int64(0)) { $0 + (left[$1] ?? 0) }
        var parts: [String: Int64] = [:]
        var shippingOff: Int64 = 0
        switch promotion.kind {
        case .percentage:
            parts = spread(percent(of: eligibleLeft, basisPoints: promotion.percentBasisPoints ?? 0), over: eligible, left: left)
        case .fixedAmount:
            parts = spread(min(promotion.amount ?? 0, eligibleLeft), over: eligible, left: left)
        case .freeShipping:
            shippingOff = shippingLeft
        case .tieredSpend:
            let spend = lines.filter { isEligible($0, for: promotion) }.reduce(Int64(0)) { $0 + $1.line.amount }
            guard let tier = promotion.tiers.last(where: { $0.from <= spend }) else { return nil }
            let off = tier.percentBasisPoints.map { percent(of: eligibleLeft, basisPoints: $0) } ?? min(tier.amount ?? 0, eligibleLeft)
            parts = spread(off, over: eligible, left: left)
        case .buyXGetY:
            guard let buy = promotion.buy, let get = promotion.get, buy > 0, get > 0 else { return nil }
            // Every unit, dearest first; of each full group of buy + get, the last get are discounted.
            var units: [(sku: String, price: Int64)] = []
            for line in lines where isEligible(line, for: promotion) {
                units += repeatElement((sku: line.line.sku, price: line.line.unitPrice), count: Int(max(0, min(line.line.quantity, 10_000))))
            }
            units.sort { ($0.price, $1.sku) > ($1.price, $0.sku) }
            let group = Int(buy + get)
            var index = 0
            while index + group <= units.count {
                for unit in units[(index + Int(buy))..<(index + group)] {
                    parts[unit.sku, default: 0] += percent(of: unit.price, basisPoints: promotion.percentBasisPoints ?? 10_000)
                }
                index += group
            }
            for (sku, off) in parts { parts[sku] = min(off, left[sku] ?? 0) }
        }
        parts = parts.filter { $0.value > 0 }
        for (sku, off) in parts { left[sku, default: 0] -= off }
        shippingLeft -= shippingOff
        let goods = parts.values.reduce(0, +)
        guard goods + shippingOff > 0 else { return nil }
        return DiscountLine(promotion: promotion.id, name: promotion.name, code: promotion.code, amount: goods + shippingOff, shipping: shippingOff, lines: parts)
    }

    /// `basisPoints` of `amount`, rounded half up.
    static func percent(of amount: Int64, basisPoints: Int64) -> Int64 {
        let bp = min(max(basisPoints, 0), 10_000)
        let (high, low) = amount.multipliedFullWidth(by: bp)
        let (quotient, remainder) = Int64(10_000).dividingFullWidth((high, low))
        return quotient + (remainder * 2 >= 10_000 ? 1 : 0)
    }

    /// `total` over `skus` in proportion to what is left of each, exactly (largest remainders).
    static func spread(_ total: Int64, over skus: [String], left: [String: Int64]) -> [String: Int64] {
        let weights = skus.map { max(0, left[$0] ?? 0) }
        let sum = weights.reduce(0, +)
        guard total > 0, sum > 0 else { return [:] }
        let total = min(total, sum)
        var shares: [Int64] = []
        var remainders: [(remainder: Int64, index: Int)] = []
        for (index, weight) in weights.enumerated() {
            let (quotient, remainder) = sum.dividingFullWidth(weight.multipliedFullWidth(by: total))
            shares.append(quotient)
            remainders.append((remainder, index))
        }
        var rest = total - shares.reduce(0, +)
        for (_, index) in remainders.sorted(by: { ($0.remainder, $1.index) > ($1.remainder, $0.index) }) where rest > 0 {
            shares[index] += 1
            rest -= 1
        }
        return Dictionary(zip(skus, shares).filter { $0.1 > 0 }, uniquingKeysWith: +)
    }
}

/// Who used which promotion (`promotion_redemptions`): kept with each order's status, for a
/// customer's per-promotion limit and the redemptions an admin sees. Every method runs in the
/// caller's transaction or read.
public struct PromotionRedemptions {
    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// An order's use of a promotion, cancelled with the order.
    public func record(promotion: String, order: String, code: String?, customer: String?, node: String, amount: Int64, placedMs: Int64,
                       cancelled: Bool) throws {
        try database.execute("""
            INSERT INTO promotion_redemptions(promotion, order_id, code, customer, node, amount, placed_ms, cancelled) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(promotion, order_id) DO UPDATE SET cancelled = excluded.cancelled
            """, [promotion, order, code, customer, node, amount, placedMs, cancelled ? 1 : 0])
    }

    /// A customer's uses of a promotion not cancelled.
    public func uses(promotion: String, customer: String) throws -> Int64 {
        try database.queryOne("SELECT count(*) AS n FROM promotion_redemptions WHERE promotion = ? AND customer = ? AND cancelled = 0",
                              [promotion, customer]) { $0.int64("n") } ?? 0
    }

    /// Uses not cancelled, per node that placed the order.
    public func usesByNode(promotion: String) throws -> [(node: String, uses: Int64)] {
        try database.query("""
            SELECT node, count(*) AS n FROM promotion_redemptions WHERE promotion = ? AND cancelled = 0 GROUP BY node ORDER BY node
            """, [promotion]) { ($0.string("node"), $0.int64("n")) }
    }
}
