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
}

extension CRDT {
    public func merging(_ other: Self) -> Self {
        var copy = self
        copy.merge(other)
        return copy
    }

    /// A digest input: the canonical encoding of the state.
    public var isBottom: Bool { self == Self() }
}
