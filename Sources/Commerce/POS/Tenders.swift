/// How a sale is paid at the till.
public enum TenderKind: String, Sendable, CaseIterable, Codable {
    case cash, card
}

/// A tender as the terminal sends it: cash with what the shopper handed over, or a card with
/// the reader's token and, when the card pays only part (a split tender), its amount.
public struct TenderInput: Equatable, Sendable {
    public var kind: TenderKind
    /// Card: the part it pays (nil: whatever is left). Cash: ignored; see `tendered`.
    public var amount: Int64?
    /// Cash: what the shopper handed over.
    public var tendered: Int64?
    /// Card: the acquirer's token from the card reader (never a card number).
    public var token: String?

    public init(kind: TenderKind, amount: Int64? = nil, tendered: Int64? = nil, token: String? = nil) {
        self.kind = kind
        self.amount = amount
        self.tendered = tendered
        self.token = token
    }
}

/// A tender as the sale takes it: what it pays towards the sale, and for cash what was handed
/// over and the change given back.
public struct PlannedTender: Equatable, Sendable {
    public var kind: TenderKind
    public var amount: Int64
    public var tendered: Int64
    public var change: Int64
    public var token: String?
}

/// Splits a sale's total over its tenders, in the order given. Cash that settles the rest is
/// rounded to the currency's smallest coin (`CashRounding`) and gives change; cash short of the
/// rest pays what it is; a card pays its amount exactly. The tenders must cover the total, and
/// nothing may follow the tender that covers it.
public enum TenderPlan {
    public struct Refusal: Error, Equatable, Sendable {
        public var field: String
        public var reason: String

        public init(field: String, reason: String) {
            self.field = field
            self.reason = reason
        }
    }

    public struct Outcome: Equatable, Sendable {
        public var tenders: [PlannedTender]
        /// What cash rounding added to (or took off) the total: the till takes total + rounding.
        public var rounding: Int64
        public var change: Int64 { tenders.reduce(0) { $0 + $1.change } }
    }

    public static func plan(total: Int64, currency: String, tenders: [TenderInput], rounding: CashRounding) -> Result<Outcome, Refusal> {
        guard !tenders.isEmpty else { return .failure(Refusal(field: "tenders", reason: "must hold at least one tender")) }
        var remaining = total, roundingDelta: Int64 = 0
        var planned: [PlannedTender] = []
        for (index, tender) in tenders.enumerated() {
            let field = "tenders[\(index)]"
            guard remaining > 0 || (total == 0 && index == 0) else {
                return .failure(Refusal(field: field, reason: "the tenders before it already pay the sale"))
            }
            switch tender.kind {
            case .card:
                let amount = tender.amount ?? remaining
                guard amount > 0 && amount <= remaining else {
                    return .failure(Refusal(field: field + ".amount", reason: "must be 1 to \(remaining) (what is left to pay)"))
                }
                guard let token = tender.token, PaymentRequest.isToken(token) else {
                    return .failure(Refusal(field: field + ".token", reason: "must be the card reader's acquirer token (tok_...)"))
                }
                planned.append(PlannedTender(kind: .card, amount: amount, tendered: amount, change: 0, token: token))
                remaining -= amount
            case .cash:
                guard let tendered = tender.tendered, tendered >= 0, tendered <= 100_000_000_000 else {
                    return .failure(Refusal(field: field + ".tendered", reason: "must say what the shopper handed over, in minor units"))
                }
                let due = rounding.cashDue(remaining, currency: currency)
                if tendered >= due {
                    planned.append(PlannedTender(kind: .cash, amount: due, tendered: tendered, change: tendered - due, token: nil))
                    roundingDelta = due - remaining
                    remaining = 0
                } else {
                    guard tendered > 0 else { return .failure(Refusal(field: field + ".tendered", reason: "must be more than 0")) }
                    planned.append(PlannedTender(kind: .cash, amount: tendered, tendered: tendered, change: 0, token: nil))
                    remaining -= tendered
                }
            }
        }
        guard remaining == 0 else {
            return .failure(Refusal(field: "tenders", reason: "pay \(total - remaining) of \(total); \(remaining) is left to pay"))
        }
        return .success(Outcome(tenders: planned, rounding: roundingDelta))
    }
}
