/// A state-based CRDT with delta mutators: every mutator changes the state and returns a delta,
/// itself a (small) state of the same type, that other replicas merge.
///
/// Laws, checked by property tests over random histories: `merge` is commutative, associative
/// and idempotent; merging the deltas of a history in any order, with duplicates, gives the same
/// state as merging the full states.
public protocol CRDT: Equatable, Sendable, CanonicalEncodable, CanonicalDecodable {
    /// The bottom state: merging it changes nothing.
    init()
    /// Join with another state of the same object.
    mutating func merge(_ other: Self)
    /// Crashes if an internal invariant is broken. Cheap enough to call after every operation
    /// in tests; the replication layer calls it in debug builds.
    func checkInvariants()
    /// Why a state that came off the wire must be refused (a value out of its range, a broken
    /// invariant), or nil if it may be merged. What passes never trips `checkInvariants`.
    func validityProblem() -> String?
    /// Whether merging two states that each pass `validityProblem` can give one that does not
    /// (a bounded counter's sums); then the receiver checks the merged state before keeping it.
    static var mergeCanInvalidate: Bool { get }
}

extension CRDT {
    public func merging(_ other: Self) -> Self {
        var copy = self
        copy.merge(other)
        return copy
    }

    /// A digest input: the canonical encoding of the state.
    public var isBottom: Bool { self == Self() }

    /// Registers, sets and maps of them hold no sums: any decoded state may be merged.
    public func validityProblem() -> String? { nil }
    public static var mergeCanInvalidate: Bool { false }
}
