import Platform

/// A promotion from the admin API's JSON, every bad field named (docs/promotions.md).
public enum PromotionInput {
    static let fieldNames: Set<String> = ["id", "name", "kind", "code", "percent_bp", "amount", "currency", "min_spend", "starts_at", "ends_at",
                                          "products", "categories", "per_customer_limit", "usage_cap", "buy", "get", "tiers", "priority"]

    public static func promotion(from members: [String: LooseJSON]) throws(ValidationFailure) -> Promotion {
        var input = InputFields(members, known: fieldNames, what: "promotion")
        func text(_ name: String) -> String? { input.text(name) }
        func count(_ name: String, _ range: ClosedRange<Int64>) -> Int64? { input.count(name, range) }
        func ids(_ name: String) -> [String] {
            switch members[name] {
            case nil, .null?: return []
            case .array(let items)? where items.count <= 500:
                let values = items.compactMap { if case .string(let id) = $0, ProductInput.isProductId(id) { id } else { nil } }
                if values.count != items.count { input.fail(name, "must hold ids (lowercase letters, digits and '-')") }
                return Array(Set(values)).sorted()
            default: input.fail(name, "must be an array of at most 500 ids"); return []
            }
        }
        func instant(_ name: String) -> Int64? {
            guard let value = text(name) else { return nil }
            guard let ms = WallClock.parseISO8601(value) else { input.fail(name, "must be a UTC ISO 8601 time such as 2026-12-01T00:00:00Z"); return nil }
            return ms
        }
        let money: ClosedRange<Int64> = 1...1_000_000_000_000

        let id = text("id") ?? ""
        if !ProductInput.isProductId(id) { input.fail("id", "is required: 1 to 64 lowercase letters, digits and '-'") }
        let name = (text("name") ?? "").trimmingWhitespace()
        if !(1...100).contains(name.count) { input.fail("name", "is required: 1 to 100 characters") }
        let kindText = text("kind")
        let kind = kindText.flatMap(Promotion.Kind.init(rawValue:))
        if kind == nil {
            input.fail("kind", "must be one of \(Promotion.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var promotion = Promotion(id: id, name: name, kind: kind ?? .percentage)
        if let code = text("code") {
            if let normalized = Promotion.normalizedCode(code) { promotion.code = normalized }
            else { input.fail("code", "must be 3 to 32 letters, digits, '-' or '_'") }
        }
        promotion.percentBasisPoints = count("percent_bp", 1...10_000)
        promotion.amount = count("amount", money)
        promotion.currency = text("currency")
        if let currency = promotion.currency, !ProductInput.isCurrency(currency) { input.fail("currency", "must be an ISO 4217 code such as EUR") }
        promotion.minSpend = count("min_spend", money)
        promotion.startsMs = instant("starts_at")
        promotion.endsMs = instant("ends_at")
        if let starts = promotion.startsMs, let ends = promotion.endsMs, ends <= starts { input.fail("ends_at", "must be after starts_at") }
        promotion.products = ids("products")
        promotion.categories = ids("categories")
        promotion.perCustomerLimit = count("per_customer_limit", 1...1_000_000)
        promotion.usageCap = count("usage_cap", 1...1_000_000_000)
        promotion.buy = count("buy", 1...100)
        promotion.get = count("get", 1...100)
        promotion.priority = count("priority", -1000...1000) ?? 0
        promotion.tiers = tiers(members["tiers"], money: money, input: &input)
        checkKind(promotion, kind: kind, input: &input)
        try input.check()
        return promotion
    }

    /// A tiered spend's tiers, sorted by the spend each starts at.
    static func tiers(_ value: LooseJSON?, money: ClosedRange<Int64>, input: inout InputFields) -> [Promotion.Tier] {
        var tiers: [Promotion.Tier] = []
        switch value {
        case nil, .null?: break
        case .array(let items)? where (1...20).contains(items.count):
            for (index, item) in items.enumerated() {
                guard case .object(let tier) = item, case .integer(let from)? = tier["from"], money.contains(from) else {
                    input.fail("tiers[\(index)]", "needs \"from\": the spend (minor units) it starts at"); continue
                }
                switch (tier["percent_bp"], tier["amount"]) {
                case (.integer(let bp)?, nil) where (1...10_000).contains(bp): tiers.append(Promotion.Tier(from: from, percentBasisPoints: bp))
                case (nil, .integer(let amount)?) where money.contains(amount): tiers.append(Promotion.Tier(from: from, amount: amount))
                default: input.fail("tiers[\(index)]", "needs exactly one of percent_bp (1 to 10000) or amount (minor units)")
                }
            }
            if Set(tiers.map(\.from)).count != tiers.count { input.fail("tiers", "two tiers start at the same spend") }
            tiers.sort { $0.from < $1.from }
        default: input.fail("tiers", "must be an array of 1 to 20 tiers")
        }
        return tiers
    }

    /// What each kind needs, and what it cannot have.
    static func checkKind(_ promotion: Promotion, kind: Promotion.Kind?, input: inout InputFields) {
        func require(_ present: Bool, _ field: String, _ reason: String) { if !present { input.fail(field, reason) } }
        switch kind {
        case .percentage?: require(promotion.percentBasisPoints != nil, "percent_bp", "is required for a percentage (1000 = 10 %)")
        case .fixedAmount?: require(promotion.amount != nil, "amount", "is required for a fixed amount (minor units)")
        case .buyXGetY?:
            require(promotion.buy != nil, "buy", "is required for buy X get Y")
            require(promotion.get != nil, "get", "is required for buy X get Y")
        case .tieredSpend?: require(!promotion.tiers.isEmpty, "tiers", "are required for a tiered spend")
        case .freeShipping?, nil: break
        }
        if kind != .fixedAmount && promotion.amount != nil { input.fail("amount", "applies to fixed_amount only") }
        if kind != .percentage && kind != .buyXGetY && promotion.percentBasisPoints != nil { input.fail("percent_bp", "applies to percentage and buy_x_get_y only") }
        if kind != .buyXGetY && (promotion.buy != nil || promotion.get != nil) { input.fail("buy", "buy and get apply to buy_x_get_y only") }
        if kind != .tieredSpend && !promotion.tiers.isEmpty { input.fail("tiers", "apply to tiered_spend only") }
        let needsCurrency = promotion.amount != nil || promotion.minSpend != nil || !promotion.tiers.isEmpty
        if needsCurrency && promotion.currency == nil { input.fail("currency", "is required with an amount, a minimum spend or tiers") }
        if promotion.code == nil && promotion.perCustomerLimit != nil { input.fail("per_customer_limit", "needs a code (automatic promotions have no limit per customer)") }
        if promotion.code == nil && promotion.usageCap != nil { input.fail("usage_cap", "needs a code (automatic promotions have no usage cap)") }
    }
}
