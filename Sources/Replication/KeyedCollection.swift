/// Who may receive a collection (sync/PROTOCOL.md §5).
public enum Scope: String, Sendable, Equatable, CaseIterable {
    /// Every peer.
    case global
    /// Only peers of the same region: personal data stays in its region.
    case region
    /// Never leaves the node.
    case node
}

/// What one call changed in a collection: the deltas newly applied (to append to the op log)
/// and the keys whose state changed (to write back; a key may appear more than once).
public struct CollectionChange: Sendable {
    public var deltas: [WireDelta] = []
    public var keys: [String] = []
    public init() {}
}

/// One replicated collection in memory: key -> CRDT state, what has been applied per origin,
/// and the op log of deltas not yet folded away.
///
/// The shapes the node's collections use are specialised here (`@_specialize`): a node reaches
/// its collections through `any AnyReplicatedCollection`, which would otherwise run this generic
/// code unspecialised, looking up type metadata on every delta.
///
/// Pure and synchronous. Node persists what each call changed (the `Applied` it returns) in
/// the same SQLite transaction; the simulator keeps it as is.
public struct KeyedCollection<State: CRDT>: Sendable {
    public let name: String
    public let scope: Scope
    /// Key -> state. Keys whose state is bottom are not stored.
    public private(set) var states: [String: State] = [:]
    /// Per origin, every delta up to this counter is applied (contiguous).
    public private(set) var applied = VersionVector()
    /// Per origin, deltas up to this counter have been folded into `states` and dropped from the log.
    public private(set) var compactedThrough = VersionVector()
    /// Per origin, the deltas after `compactedThrough` through `applied`, in counter order.
    public private(set) var log: [ReplicaID: [WireDelta]] = [:]
    /// False while only some keys are in `states`: a node keeps a history collection (orders,
    /// payments) on disk and reads a key the first time it is used (`pageIn`), so that its start
    /// does not read the whole history. Whoever changes a key, or reads the whole state, makes
    /// it resident first (NodeReplica does); the simulator's collections are always whole.
    public private(set) var isFullyResident = true
    /// Keys merged down to bottom while not fully resident: their rows on disk are stale until
    /// write-back deletes them, so they are never paged in.
    private var emptied: Set<String> = []

    public init(name: String, scope: Scope) {
        self.name = name
        self.scope = scope
    }

    public typealias Applied = CollectionChange

    /// Records a local change made by `origin` (this node) and returns its delta.
    @_specialize(where State == GSet<String>)
    @_specialize(where State == BoundedCounter)
    @_specialize(where State == ORMap<String, LWWRegister<Int64>>)
    @_specialize(where State == ORMap<String, LWWRegister<FieldValue>>)
    public mutating func commitLocal(key: String, delta: State, origin: ReplicaID, timestamp: HLCTimestamp) -> WireDelta {
        let dot = Dot(replica: origin, counter: applied[origin] + 1)
        let wire = WireDelta(dot: dot, timestamp: timestamp, key: key, payload: delta.canonicalBytes)
        merge(delta, into: key)
        applied.raise(origin, to: dot.counter)
        log[origin, default: []].append(wire)
        return wire
    }

    /// Applies deltas from a peer: per origin in counter order, skipping those already applied
    /// and stopping an origin at its first gap. A delta that does not decode throws before
    /// anything is applied.
    @_specialize(where State == GSet<String>)
    @_specialize(where State == BoundedCounter)
    @_specialize(where State == ORMap<String, LWWRegister<Int64>>)
    @_specialize(where State == ORMap<String, LWWRegister<FieldValue>>)
    public mutating func apply(_ deltas: [WireDelta]) throws(WireError) -> Applied {
        var decoded: [(WireDelta, State)] = []
        decoded.reserveCapacity(deltas.count)
        for delta in deltas {
            let state = try State(canonicalBytes: delta.payload)
            if let problem = state.validityProblem() { throw .invalid("delta \(delta.dot.replica):\(delta.dot.counter) of \(delta.key): \(problem)") }
            decoded.append((delta, state))
        }
        if State.mergeCanInvalidate { try checkMerges(decoded) }
        var result = Applied()
        var blocked = Set<ReplicaID>()
        for (wire, delta) in decoded {
            let origin = wire.dot.replica
            guard !blocked.contains(origin) else { continue }
            if wire.dot.counter <= applied[origin] { continue }  // applied before: harmless
            guard wire.dot.counter == applied[origin] + 1 else {
                blocked.insert(origin)  // a gap: the sender resends from our ACK
                continue
            }
            merge(delta, into: wire.key)
            applied.raise(origin, to: wire.dot.counter)
            log[origin, default: []].append(wire)
            result.deltas.append(wire)
            result.keys.append(wire.key)
        }
        return result
    }

    /// For CRDTs whose merges can break validity: merges each delta that `apply` would apply
    /// into copies of the states it touches, in the same order, and throws at the first merged
    /// state that is invalid, before anything changed.
    private func checkMerges(_ decoded: [(WireDelta, State)]) throws(WireError) {
        var scratch: [String: State] = [:]
        var next = applied
        var blocked = Set<ReplicaID>()
        for (wire, delta) in decoded {
            let origin = wire.dot.replica
            guard !blocked.contains(origin), wire.dot.counter > next[origin] else { continue }
            guard wire.dot.counter == next[origin] + 1 else {
                blocked.insert(origin)
                continue
            }
            var state = scratch[wire.key] ?? states[wire.key] ?? State()
            state.merge(delta)
            if let problem = state.validityProblem() {
                throw .invalid("delta \(origin):\(wire.dot.counter) of \(wire.key) would leave it invalid: \(problem)")
            }
            scratch[wire.key] = state
            next.raise(origin, to: wire.dot.counter)
        }
    }

    /// Merges in place: one hash of the key, and no copy of the state; a state merged down to
    /// bottom is removed after.
    private mutating func merge(_ delta: State, into key: String) {
        guard states[key] != nil else {
            // Bottom is the identity of every join: a new key's state is the delta itself, with
            // no walk through it (an import creates a hundred thousand keys).
            delta.checkInvariants()
            if !delta.isBottom { states[key] = delta }
            return
        }
        if Self.merge(delta, into: &states[key, default: State()]) {
            states[key] = nil
            if !isFullyResident { emptied.insert(key) }
        }
    }

    /// Whether `key`'s state in memory is its whole state (it may have none).
    public func isResident(_ key: String) -> Bool { isFullyResident || states[key] != nil || emptied.contains(key) }

    /// A key's state read from disk, for a key not resident yet (its row is its whole state:
    /// every change since it was written made it resident first).
    @_specialize(where State == GSet<String>)
    @_specialize(where State == ORMap<String, LWWRegister<Int64>>)
    @_specialize(where State == ORMap<String, LWWRegister<FieldValue>>)
    public mutating func pageIn(_ key: String, encoded: [UInt8]) throws(WireError) {
        guard !isResident(key) else { return }
        let state = try State(canonicalBytes: encoded)
        if !state.isBottom { states[key] = state }
    }

    /// Drops the states of `keys` (whose rows on disk are current: the caller knows) from memory;
    /// the collection is then only partly resident, and a key is read again on its next use.
    public mutating func evict(_ keys: [String]) -> Int {
        var dropped = 0
        for key in keys where states.removeValue(forKey: key) != nil {
            dropped += 1
            isFullyResident = false
            // Its row is current: read it, not a bottom left from before it had a state again.
            emptied.remove(key)
        }
        return dropped
    }

    public func residentKeys(withPrefix prefix: String) -> [String] {
        states.keys.filter { $0.hasPrefix(prefix) }
    }

    /// Every key is in memory now (they were all paged in).
    public mutating func markFullyResident() {
        isFullyResident = true
        emptied = []
    }

    /// Returns whether the state is bottom afterwards.
    private static func merge(_ delta: State, into state: inout State) -> Bool {
        state.merge(delta)
        state.checkInvariants()
        return state.isBottom
    }

    /// Deltas after `known`, per origin in counter order, at most `limit`. Nil if some origin's
    /// missing deltas were compacted away: the peer needs a snapshot.
    @_specialize(where State == GSet<String>)
    @_specialize(where State == BoundedCounter)
    @_specialize(where State == ORMap<String, LWWRegister<Int64>>)
    @_specialize(where State == ORMap<String, LWWRegister<FieldValue>>)
    public func deltas(after known: VersionVector, limit: Int) -> [WireDelta]? {
        var out: [WireDelta] = []
        for (origin, from, _) in applied.missing(from: known) {
            guard from > compactedThrough[origin] else { return nil }
            guard let entries = log[origin] else { continue }
            let firstInLog = compactedThrough[origin] + 1
            for wire in entries[Int(from - firstInLog)...] {
                if out.count >= limit { return out }
                out.append(wire)
            }
        }
        return out
    }

    /// The whole state, canonically encoded, and the deltas it covers.
    public var snapshot: (covers: VersionVector, state: [UInt8]) {
        precondition(isFullyResident, "\(name): page every key in before reading the whole state")
        return (applied, encodedStates())
    }

    @_specialize(where State == GSet<String>)
    @_specialize(where State == BoundedCounter)
    @_specialize(where State == ORMap<String, LWWRegister<Int64>>)
    @_specialize(where State == ORMap<String, LWWRegister<FieldValue>>)
    func encodedStates() -> [UInt8] {
        var writer = CanonicalWriter()
        writer.sortedMap(states) { $1.encode(to: &$0) }
        return writer.bytes
    }

    /// The canonical encoding of the state: what digests are computed over.
    public var canonicalState: [UInt8] { snapshot.state }

    /// Merges a snapshot that covers `covers` (merge, not replace). Afterwards `applied` is the
    /// join of both vectors; the log restarts after it, so this node serves later deltas only.
    @_specialize(where State == GSet<String>)
    @_specialize(where State == BoundedCounter)
    @_specialize(where State == ORMap<String, LWWRegister<Int64>>)
    @_specialize(where State == ORMap<String, LWWRegister<FieldValue>>)
    public mutating func mergeSnapshot(_ bytes: [UInt8], covers: VersionVector) throws(WireError) -> Applied {
        precondition(isFullyResident, "\(name): page every key in before merging a snapshot")
        var reader = CanonicalReader(bytes)
        let incoming = try reader.sortedMap(keys: String.self) { (r: inout CanonicalReader) throws(WireError) in try State(from: &r) }
        try reader.finish()
        for (key, state) in incoming {
            if let problem = state.validityProblem() { throw .invalid("the snapshot's \(key): \(problem)") }
            if State.mergeCanInvalidate, let current = states[key], let problem = current.merging(state).validityProblem() {
                throw .invalid("the snapshot's \(key) would leave it invalid: \(problem)")
            }
        }
        var result = Applied()
        for (key, state) in incoming {
            let before = states[key]
            merge(state, into: key)
            if states[key] != before { result.keys.append(key) }
        }
        // Where the snapshot covers more than was applied here, the deltas in between were never
        // seen: the log can only serve from the snapshot's point on.
        let before = applied
        applied.merge(covers)
        for (origin, counter) in covers.counters where counter > before[origin] {
            compactedThrough.raise(origin, to: counter)
            log[origin] = nil  // every logged delta of this origin is at or below `counter`
        }
        return result
    }

    /// Folds log entries every peer has acknowledged into state (they are already merged there):
    /// drops them and raises `compactedThrough`.
    ///
    /// Dropping a prefix moves the rest of the log, so it waits until the prefix is at least a
    /// quarter of the log (then at most three entries move per entry dropped): acknowledgements
    /// arrive per frame, and compacting on each would make a long catch-up quadratic. Compacting
    /// later is always safe.
    ///
    /// - Complexity: amortised O(1) per acknowledged delta.
    public mutating func compact(acknowledgedByAll: VersionVector) {
        for (origin, counter) in acknowledgedByAll.counters {
            let through = min(counter, applied[origin])
            guard through > compactedThrough[origin], let entries = log[origin] else { continue }
            let droppable = Int(through - compactedThrough[origin])
            guard droppable * 4 >= entries.count else { continue }
            if droppable == entries.count {
                log[origin] = nil
            } else {
                log[origin]?.removeFirst(droppable)  // entries are in counter order from compactedThrough + 1
            }
            compactedThrough.raise(origin, to: through)
        }
    }

    /// Restores a collection saved by a node: states, the op log and the vectors.
    ///
    /// The saved states may lag the log (a node writes states behind its log, see NodeReplica):
    /// every logged delta is merged into them again, which changes nothing where a state already
    /// has it. Entries at or below `compactedThrough` are dropped; the rest must run without gaps
    /// up to `applied`. `complete` false: `states` holds only some keys (at least every key the
    /// log names), the rest are paged in on use.
    @_specialize(where State == GSet<String>)
    @_specialize(where State == BoundedCounter)
    @_specialize(where State == ORMap<String, LWWRegister<Int64>>)
    @_specialize(where State == ORMap<String, LWWRegister<FieldValue>>)
    public mutating func load(states encoded: [(key: String, state: [UInt8])], log saved: [WireDelta],
                              applied: VersionVector, compactedThrough: VersionVector, complete: Bool = true) throws(WireError) {
        states = [:]
        isFullyResident = complete
        emptied = []
        for (key, bytes) in encoded { states[key] = try State(canonicalBytes: bytes) }
        self.applied = applied
        self.compactedThrough = compactedThrough
        log = [:]
        for (origin, entries) in Dictionary(grouping: saved, by: \.dot.replica) {
            var kept: [WireDelta] = []
            kept.reserveCapacity(entries.count)
            for wire in entries.sorted(by: { $0.dot.counter < $1.dot.counter }) where wire.dot.counter > compactedThrough[origin] {
                if wire.dot.counter == kept.last?.dot.counter { continue }
                guard wire.dot.counter == compactedThrough[origin] + UInt64(kept.count) + 1, wire.dot.counter <= applied[origin] else {
                    throw .invalid("the saved log of \(origin) does not run from \(compactedThrough[origin] + 1) to \(applied[origin])")
                }
                merge(try State(canonicalBytes: wire.payload), into: wire.key)
                kept.append(wire)
            }
            if !kept.isEmpty { log[origin] = kept }
        }
        for (origin, counter) in applied.counters where UInt64(log[origin]?.count ?? 0) != counter - compactedThrough[origin] {
            throw .invalid("the saved log of \(origin) ends before \(counter)")
        }
    }

    public func checkInvariants() {
        for (origin, counter) in applied.counters {
            precondition(compactedThrough[origin] <= counter, "compacted past what is applied")
            let entries = log[origin] ?? []
            precondition(UInt64(entries.count) == counter - compactedThrough[origin], "the log of \(origin) has gaps")
            for (index, wire) in entries.enumerated() {
                precondition(wire.dot.counter == compactedThrough[origin] + UInt64(index) + 1, "the log of \(origin) is out of order")
            }
        }
        for (_, state) in states { state.checkInvariants() }
    }
}
