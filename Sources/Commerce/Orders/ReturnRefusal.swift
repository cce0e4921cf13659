/// Why a return (or one of its steps) is refused; nothing of it is recorded. Node maps each to
/// its problem type (`RuleRefusals+Problem.swift`).
public enum ReturnRefusal: Error, Equatable {
    /// The return cannot be asked for: `reason` is window_closed, not_returnable,
    /// exchange_unavailable or exchange_price_differs; `detail` says which line and why.
    case refused(reason: String, detail: String)
    /// The return's status does not allow the step (requested → approved or rejected →
    /// received → refunded, docs/returns.md).
    case transition(status: String, step: String)
    /// This node may not sell the units an exchange swaps in now: refund the return instead, or
    /// take it back where the replacement is in stock.
    case replacementOutOfStock(sku: String, units: Int64)
}
