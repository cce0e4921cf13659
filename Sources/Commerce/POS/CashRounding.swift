/// How cash is rounded at a till, per currency: where the smallest coins are out of circulation
/// (Swiss 1 and 2 rappen, Canadian and Australian cents, Swedish öre) a cash total is rounded to
/// the nearest coin that exists, half up. Cards always pay the exact amount.
public struct CashRounding: Equatable, Sendable {
    /// Per currency, the smallest cash step in minor units; a currency not listed rounds to 1.
    public var steps: [String: Int64]

    /// The usual steps where the law or the coins make one (a store overrides them in `[pos]`).
    public static let usual = CashRounding(steps: ["AUD": 5, "CAD": 5, "CHF": 5, "DKK": 50, "NOK": 100, "NZD": 10, "SEK": 100])

    public init(steps: [String: Int64]) {
        self.steps = steps
    }

    public func step(_ currency: String) -> Int64 { max(1, steps[currency] ?? 1) }

    /// What a shopper pays in cash for `amount`: the nearest multiple of the step, halves up.
    public func cashDue(_ amount: Int64, currency: String) -> Int64 {
        let step = step(currency)
        guard step > 1, amount > 0 else { return amount }
        return (amount + step / 2) / step * step
    }
}
