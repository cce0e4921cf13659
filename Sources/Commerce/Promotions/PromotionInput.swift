import Platform

/// A promotion from the admin API's JSON, every bad field named (docs/promotions.md).
public enum PromotionInput {
    static let fieldNames: Set<String> = ["id", "name", "kind", "code", "percent_bp", "amount", "currency", "min_spend", "starts_at", "ends_at",
                                          "products", "categories", "per_customer_limit", "usage_cap", "buy", "get", "tiers", "priority"]

    public static func promotion(from members: [String: LooseJSON]) throws(ValidationFailure) -> Promotion {
        var errors: [FieldError] = []
        for name in members.keys.sorted() where !fieldNames.contains(name) {
            errors.append(FieldError(name, "is not a promotion field"))
        }
        func text(_ name: String) -> String? {
            switch members[name] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            default: errors.append(FieldError(name, "must be a string")); return nil
            }
        }
        func count(_ name: String, _ range: ClosedRange<Int64>) -> Int64? {
            switch members[name] {
            case nil, .null?: return nil
            case .integer(let value)? where range.contains(value): return value
            default: errors.append(FieldError(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")); return nil
            }
        }
        func ids(_ name: String) -> [String] {
            switch members[name] {
            case nil, .null?: return []
            case .array(let items)? where items.count <= 500:
                let values = items.compactMap { if case .string(let id) = $0, ProductInput.isProductId(id) { id } else { nil } }
                if values.count != items.count { errors.append(FieldError(name, "must hold ids (lowercase letters, digits and '-')")) }
                return Array(Set(values)).sorted()
            default: errors.append(FieldError(name, "must be an array of at most 500 ids")); return []
            }
        }
        func instant(_ name: String) -> Int64? {
            guard let value = text(name) else { return nil }
            guard let ms = WallClock.parseISO8601(value) else { errors.append(FieldError(name, "must be a UTC ISO 8601 time such as 2026-12-01T00:00:00Z")); return nil }
            return ms
        }
        let money: ClosedRange<Int64> = 1...1_000_000_000_000

        let id = text("id") ?? ""
        if !ProductInput.isProductId(id) { errors.append(FieldError("id", "is required: 1 to 64 lowercase letters, digits and '-'")) }
        let name = (text("name") ?? "").trimmingWhitespace()
        if !(1...100).contains(name.count) { errors.append(FieldError("name", "is required: 1 to 100 characters")) }
        let kindText = text("kind")
        let kind = kindText.flatMap(Promotion.Kind.init(rawValue:))
        if kind == nil {
            errors.append(FieldError("kind", "must be one of \(Promotion.Kind.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        var promotion = Promotion(id: id, name: name, kind: kind ?? .percentage)
        if let code = text("code") {
            if let normalized = Promotion.normalizedCode(code) { promotion.code = normalized }
            else { errors.append(FieldError("code", "must be 3 to 32 letters, digits, '-' or '_'")) }
        }
        promotion.percentBasisPoints = count("percent_bp", 1...10_000)
        promotion.amount = count("amount", money)
        promotion.currency = text("currency")
        if let currency = promotion.currency, !ProductInput.isCurrency(currency) { errors.append(FieldError("currency", "must be an ISO 4217 code such as EUR")) }
        promotion.minSpend = count("min_spend", money)
        promotion.startsMs = instant("starts_at")
        promotion.endsMs = instant("ends_at")
        if let starts = promotion.startsMs, let ends = promotion.endsMs, ends <= starts { errors.append(FieldError("ends_at", "must be after starts_at")) }
        promotion.products = ids("products")
        promotion.categories = ids("categories")
        promotion.perCustomerLimit = count("per_customer_limit", 1...1_000_000)
        promotion.usageCap = count("usage_cap", 1...1_000_000_000)
        promotion.buy = count("buy", 1...100)
        promotion.get = count("get", 1...100)
        promotion.priority = count("priority", -1000...1000) ?? 0
        switch members["tiers"] {
        case nil, .null?: break
        case .array(let items)? where (1...20).contains(items.count):
            for (index, item) in items.enumerated() {
                guard case .object(let tier) = item, case .integer(let from)? = tier["from"], money.contains(from) else {
                    errors.append(FieldError("tiers[\(index)]", "needs \"from\": the spend (minor units) it starts at")); continue
                }
                switch (tier["percent_bp"], tier["amount"]) {
                case (.integer(let bp)?, nil) where (1...10_000).contains(bp): promotion.tiers.append(Promotion.Tier(from: from, percentBasisPoints: bp))
                case (nil, .integer(let amount)?) where money.contains(amount): promotion.tiers.append(Promotion.Tier(from: from, amount: amount))
                default: errors.append(FieldError("tiers[\(index)]", "needs exactly one of percent_bp (1 to 10000) or amount (minor units)"))
                }
            }
            if Set(promotion.tiers.map(\.from)).count != promotion.tiers.count { errors.append(FieldError("tiers", "two tiers start at the same spend")) }
            promotion.tiers.sort { $0.from < $1.from }
        default: errors.append(FieldError("tiers", "must be an array of 1 to 20 tiers"))
        }

        // What each kind needs, and what it cannot have.
        func require(_ present: Bool, _ field: String, _ reason: String) { if !present { errors.append(FieldError(field, reason)) } }
        switch kind {
        case .percentage?: require(promotion.percentBasisPoints != nil, "percent_bp", "is required for a percentage (1000 = 10 %)")
        case .fixedAmount?: require(promotion.amount != nil, "amount", "is required for a fixed amount (minor units)")
        case .buyXGetY?:
            require(promotion.buy != nil, "buy", "is required for buy X get Y")
            require(promotion.get != nil, "get", "is required for buy X get Y")
        case .tieredSpend?: require(!promotion.tiers.isEmpty, "tiers", "are required for a tiered spend")
        case .freeShipping?, nil: break
        }
        if kind != .fixedAmount && promotion.amount != nil { errors.append(FieldError("amount", "applies to fixed_amount only")) }
        if kind != .percentage && kind != .buyXGetY && promotion.percentBasisPoints != nil { errors.append(FieldError("percent_bp", "applies to percentage and buy_x_get_y only")) }
        if kind != .buyXGetY && (promotion.buy != nil || promotion.get != nil) { errors.append(FieldError("buy", "buy and get apply to buy_x_get_y only")) }
        if kind != .tieredSpend && !promotion.tiers.isEmpty { errors.append(FieldError("tiers", "apply to tiered_spend only")) }
        let needsCurrency = promotion.amount != nil || promotion.minSpend != nil || !promotion.tiers.isEmpty
        if needsCurrency && promotion.currency == nil { errors.append(FieldError("currency", "is required with an amount, a minimum spend or tiers")) }
        if promotion.code == nil && promotion.perCustomerLimit != nil { errors.append(FieldError("per_customer_limit", "needs a code (automatic promotions have no limit per customer)")) }
        if promotion.code == nil && promotion.usageCap != nil { errors.append(FieldError("usage_cap", "needs a code (automatic promotions have no usage cap)")) }
        guard errors.isEmpty else { throw ValidationFailure(errors) }
        return promotion
    }
}
