/// Why a till sale (or a step of it) is refused; nothing of it is recorded. Node maps each to
/// its problem type (`RuleRefusals+Problem.swift`).
public enum TillSaleRefusal: Error, Equatable {
    /// The sale's state does not allow the step; a completing one is being answered (its
    /// retry gets the receipt).
    case state(TillSaleState, detail: String)
    /// Sales, returns and cash movements belong to a shift: none is open on this till.
    case noOpenShift
}
