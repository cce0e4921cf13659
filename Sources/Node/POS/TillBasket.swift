import Commerce
import HTTP
import Platform

/// A till's basket as the terminal last sent it (PUT /pos/v1/sales/{id}), barcodes resolved
/// to SKUs, with the approvals its restricted parts got. Kept as JSON beside the sale and priced
/// again when the sale completes.
struct TillBasket: Equatable {
    struct Line: Equatable {
        var sku: String
        var quantity: Int64
        /// A price the cashier set instead of the catalog's (a manager approves it).
        var unitPrice: Int64?
        /// Minor units off the line, or a percentage of it.
        var discount: Int64?
        var discountPercent: Int64?
    }

    /// What a manager approved: the action, the SKU it was about (if any), and who.
    struct Approval: Equatable {
        var action: String
        var sku: String?
        var by: String

        var text: String { action.replacingOccurrences(of: "_", with: " ") + (sku.map { " on " + $0 } ?? "") + " by " + by }
    }

    var lines: [Line] = []
    var discount: Int64?
    var discountPercent: Int64?
    /// A customer's id, for their account's history and customer-only promotions.
    var customer: String?
    var code: String?
    var approvals: [Approval] = []

    static let linesMax = 200

    /// From the terminal's JSON, every bad field named; `barcode` stays to be resolved (as the
    /// SKU, prefixed `#`).
    init(_ members: [String: LooseJSON]) throws(ValidationFailure) {
        var fields = InputFields(members, known: ["lines", "discount", "customer", "code", "approval"], what: "sale")
        if case .array(let list)? = members["lines"], list.count <= Self.linesMax {
            for (index, item) in list.enumerated() {
                let at = "lines[\(index)]"
                guard case .object(let line) = item else { fields.fail(at, "must be an object"); continue }
                var entry = InputFields(line, known: ["sku", "barcode", "quantity", "unit_price", "discount", "discount_percent"], what: "sale line")
                let sku = entry.text("sku"), barcode = entry.text("barcode")
                let quantity = entry.count("quantity", 1...10_000)
                let unitPrice = entry.count("unit_price", 0...100_000_000_000)
                let discount = entry.count("discount", 0...100_000_000_000), percent = entry.count("discount_percent", 0...100)
                if (sku == nil) == (barcode == nil) { entry.fail("sku", "give a sku or a barcode (one of them)") }
                if quantity == nil && entry.errors.allSatisfy({ $0.field != "quantity" }) { entry.fail("quantity", "is required (1 to 10000)") }
                if discount != nil && percent != nil { entry.fail("discount", "give discount or discount_percent, not both") }
                for error in entry.errors { fields.fail(at + "." + error.field, error.reason) }
                if entry.errors.isEmpty, let quantity {
                    lines.append(Line(sku: sku ?? "#" + (barcode ?? ""), quantity: quantity, unitPrice: unitPrice, discount: discount, discountPercent: percent))
                }
            }
        } else if members["lines"] != nil {
            fields.fail("lines", "must be an array of at most \(Self.linesMax) lines")
        }
        switch members["discount"] {
        case nil, .null?: break
        case .object(let basket)?:
            var entry = InputFields(basket, known: ["amount", "percent"], what: "basket discount")
            discount = entry.count("amount", 0...100_000_000_000)
            discountPercent = entry.count("percent", 0...100)
            if discount != nil && discountPercent != nil { entry.fail("amount", "give amount or percent, not both") }
            for error in entry.errors { fields.fail("discount." + error.field, error.reason) }
        default: fields.fail("discount", "must be {amount} or {percent}")
        }
        customer = fields.text("customer")
        code = fields.text("code").map { $0.uppercased() }
        try fields.check()
    }

    init() {}

    /// The stored form: resolved lines and the approvals.
    var json: JSONValue {
        var members: [JSONMember] = [JSONMember("lines", .array(lines.map { line in
            var fields = [JSONMember("sku", .string(line.sku)), JSONMember("quantity", .int(line.quantity))]
            if let price = line.unitPrice { fields.append(JSONMember("unit_price", .int(price))) }
            if let discount = line.discount { fields.append(JSONMember("discount", .int(discount))) }
            if let percent = line.discountPercent { fields.append(JSONMember("discount_percent", .int(percent))) }
            return .object(fields)
        }))]
        if discount != nil || discountPercent != nil {
            members.append(JSONMember("discount", .object(discount.map { [JSONMember("amount", .int($0))] } ?? [JSONMember("percent", .int(discountPercent ?? 0))])))
        }
        if let customer { members.append(JSONMember("customer", .string(customer))) }
        if let code { members.append(JSONMember("code", .string(code))) }
        members.append(JSONMember("approvals", .array(approvals.map { a in
            .object([JSONMember("action", .string(a.action)), JSONMember("sku", a.sku.map { .string($0) } ?? .null), JSONMember("approved_by", .string(a.by))])
        })))
        return .object(members)
    }

    /// Back from the stored form.
    static func stored(_ text: String) -> TillBasket {
        guard case .object(var members)? = LooseJSON.parse(Array(text.utf8)) else { return TillBasket() }
        let approvals = members.removeValue(forKey: "approvals")
        var basket = (try? TillBasket(members)) ?? TillBasket()
        if case .array(let list)? = approvals {
            basket.approvals = list.compactMap { item in
                guard case .object(let a) = item, case .string(let action)? = a["action"], case .string(let by)? = a["approved_by"] else { return nil }
                let sku: String? = if case .string(let s)? = a["sku"] { s } else { nil }
                return Approval(action: action, sku: sku, by: by)
            }
        }
        return basket
    }

    func approved(_ action: String, sku: String? = nil) -> Approval? {
        approvals.first { $0.action == action && $0.sku == sku }
    }
}

/// A basket priced: catalog prices (or approved overrides), hand discounts, the promotions that
/// apply, tax, in one currency.
struct PricedBasket {
    var lines: [PricedLine]
    /// Per SKU, the catalog price where an override replaced it.
    var listPrices: [String: Int64] = [:]
    /// Per SKU, what hand discounts took off the line.
    var lineDiscounts: [String: Int64] = [:]
    var discounts: [DiscountLine]
    var totals: OrderTotals
    /// The capped promotion (code) whose redemption the sale takes.
    var redemption: Promotion?
}

extension JSONValue {
    /// A parsed document back as one to send (members in key order).
    init(loose: LooseJSON) {
        switch loose {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .integer(let number): self = .int(number)
        case .number(let number): self = .double(number)
        case .string(let text): self = .string(text)
        case .array(let items): self = .array(items.map(JSONValue.init(loose:)))
        case .object(let members): self = .object(members.sorted { $0.key < $1.key }.map { JSONMember($0.key, JSONValue(loose: $0.value)) })
        }
    }

    var encodedString: String { String(decoding: encoded(), as: UTF8.self) }
}
