/// Why a till sale (or a step of it) is refused; nothing of it is recorded. Node maps each to
/// its problem type (`RuleRefusals+Problem.swift`).
public enum TillSaleRefusal: Error, Equatable {
    /// The sale's state does not allow the step; a completing one is being answered (its
    /// retry gets the receipt).
    case state(TillSaleState, detail: String)
    /// Sales, returns and cash movements belong to a shift: none is open on this till.
    case noOpenShift
}

/// Why a shift's step is refused (opened twice, another till's, closed with another count, a
/// sale still completing); nothing of it is recorded.
public struct ShiftRefusal: Error, Equatable {
    public var detail: String
    /// The step may pass in a moment (a sale of the shift is being completed).
    public var retrySoon: Bool

    public init(_ detail: String, retrySoon: Bool = false) {
        self.detail = detail
        self.retrySoon = retrySoon
    }
}
