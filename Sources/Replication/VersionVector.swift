/// One event of one replica: its `counter`-th. Identifies a delta and the elements it added.
public struct Dot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let replica: ReplicaID
    /// 1, 2, 3... per replica, without gaps.
    public let counter: UInt64

    public init(replica: ReplicaID, counter: UInt64) {
        precondition(counter > 0, "dots count from 1")
        self.replica = replica
        self.counter = counter
    }

    public static func < (a: Dot, b: Dot) -> Bool {
        a.replica == b.replica ? a.counter < b.counter : a.replica.utf8.lexicographicallyPrecedes(b.replica.utf8)
    }

    public var description: String { "\(replica):\(counter)" }
}

extension Dot: CanonicalEncodable {
    public func encode(to writer: inout CanonicalWriter) {
        writer.string(replica)
        writer.unsigned(counter)
    }
}

/// How two version vectors relate.
public enum CausalOrder: Sendable, Equatable {
    case equal, before, after, concurrent
}

/// For each replica, how many of its events are known: all dots up to that counter.
public struct VersionVector: Equatable, Sendable, CustomStringConvertible {
    /// Replica -> highest contiguous counter seen. Zero entries are never stored.
    public private(set) var counters: [ReplicaID: UInt64]

    public init(_ counters: [ReplicaID: UInt64] = [:]) {
        self.counters = counters.filter { $0.value > 0 }
    }

    public subscript(replica: ReplicaID) -> UInt64 { counters[replica] ?? 0 }

    public func contains(_ dot: Dot) -> Bool { dot.counter <= self[dot.replica] }

    /// The next dot of `replica`, recorded as seen.
    public mutating func next(for replica: ReplicaID) -> Dot {
        let dot = Dot(replica: replica, counter: self[replica] + 1)
        counters[replica] = dot.counter
        return dot
    }

    /// Raises the replica's counter to `counter` if it is higher.
    public mutating func raise(_ replica: ReplicaID, to counter: UInt64) {
        if counter > self[replica] { counters[replica] = counter }
    }

    /// Pointwise maximum.
    public mutating func merge(_ other: VersionVector) {
        for (replica, counter) in other.counters { raise(replica, to: counter) }
    }

    public func compare(_ other: VersionVector) -> CausalOrder {
        var less = false, greater = false
        for replica in Set(counters.keys).union(other.counters.keys) {
            let mine = self[replica], theirs = other[replica]
            if mine < theirs { less = true }
            if mine > theirs { greater = true }
        }
        switch (less, greater) {
        case (false, false): return .equal
        case (true, false): return .before
        case (false, true): return .after
        case (true, true): return .concurrent
        }
    }

    /// Events known here and not in `other`, per replica: (replica, first missing, last known).
    public func missing(from other: VersionVector) -> [(replica: ReplicaID, from: UInt64, through: UInt64)] {
        counters.compactMap { replica, counter in
            counter > other[replica] ? (replica, other[replica] + 1, counter) : nil
        }.sorted { $0.replica.utf8.lexicographicallyPrecedes($1.replica.utf8) }
    }

    public var description: String {
        "[" + counters.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ", ") + "]"
    }
}

extension VersionVector: CanonicalEncodable {
    public func encode(to writer: inout CanonicalWriter) {
        writer.sortedMap(counters) { $0.unsigned($1) }
    }
}

/// What a replica has seen: a version vector plus the dots seen out of order beyond it (the dot
/// cloud). Kept normalised, so two contexts that saw the same dots are equal.
public struct CausalContext: Equatable, Sendable {
    /// Every dot up to these counters has been seen.
    public private(set) var compact: VersionVector
    /// Dots seen beyond `compact`, none contiguous with it.
    public private(set) var cloud: Set<Dot>

    public init(compact: VersionVector = VersionVector(), cloud: Set<Dot> = []) {
        self.compact = compact
        self.cloud = cloud
        normalize()
    }

    public init(dots: some Sequence<Dot>) {
        self.init(compact: VersionVector(), cloud: Set(dots))
    }

    public func contains(_ dot: Dot) -> Bool { compact.contains(dot) || cloud.contains(dot) }

    public var isEmpty: Bool { compact.counters.isEmpty && cloud.isEmpty }

    /// The dot `replica` will use for its next event, not yet recorded: merging the delta that
    /// carries it records it. (Recording it first would make the merge treat the new dot as seen
    /// and already removed.) Only the replica itself makes its dots, so they are contiguous.
    public func nextDot(for replica: ReplicaID) -> Dot {
        precondition(!cloud.contains { $0.replica == replica }, "a replica's own dots are contiguous")
        return Dot(replica: replica, counter: compact[replica] + 1)
    }

    public mutating func insert(_ dot: Dot) {
        cloud.insert(dot)
        normalize()
    }

    public mutating func merge(_ other: CausalContext) {
        compact.merge(other.compact)
        cloud.formUnion(other.cloud)
        normalize()
    }

    /// Moves dots contiguous with the compact vector into it and drops those it covers: one
    /// sorted pass per replica.
    ///
    /// - Complexity: O(k log k) for k dots in the cloud.
    private mutating func normalize() {
        guard !cloud.isEmpty else { return }
        var remaining = Set<Dot>()
        for (replica, dots) in Dictionary(grouping: cloud, by: \.replica) {
            var top = compact[replica]
            for counter in dots.map(\.counter).sorted() where counter > top {
                if counter == top + 1 {
                    top = counter
                } else {
                    remaining.insert(Dot(replica: replica, counter: counter))
                }
            }
            compact.raise(replica, to: top)
        }
        cloud = remaining
    }

    public func checkInvariants() {
        for dot in cloud {
            precondition(dot.counter > compact[dot.replica] + 1, "dot \(dot) should have been compacted")
        }
    }
}

extension CausalContext: CanonicalEncodable {
    public func encode(to writer: inout CanonicalWriter) {
        compact.encode(to: &writer)
        writer.sorted(cloud)
    }
}
