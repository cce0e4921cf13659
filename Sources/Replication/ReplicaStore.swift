/// Why a store did not take what a peer sent.
public enum ApplyFailure: Error, Sendable, CustomStringConvertible {
    /// The peer's bytes are invalid: the link is closed as malformed.
    case malformed(WireError)
    /// This node could not store them (disk, database): the link is closed and retried later.
    case storage(String)
    /// A delta carries a clock reading too far ahead of this node's clock.
    case clockSkew(String)

    public var description: String {
        switch self {
        case .malformed(let error): return "\(error)"
        case .storage(let why): return "storage failed: \(why)"
        case .clockSkew(let why): return why
        }
    }
}

/// What a sync session needs from the node's data. Node implements it over SQLite; the simulator
/// over `MemoryReplica`.
public protocol ReplicaStore {
    var nodeId: ReplicaID { get }
    var region: String { get }
    /// Collections a peer of `region` may receive (scope), in a stable order.
    func collectionNames(sharedWithRegion region: String) -> [String]
    /// A collection's scope; nil if there is no such collection.
    func scope(of collection: String) -> Scope?
    /// What this node has applied of a collection, per origin.
    func applied(of collection: String) -> VersionVector?
    /// Why a delta from `peer` (of `peerRole`, as its certificate says) must be refused over
    /// what it writes rather than who made it: a record only the hub may write, made elsewhere.
    /// Nil to accept it.
    func authorityProblem(in collection: String, delta: WireDelta, peer: ReplicaID, peerRole: String) -> String?
    /// Applied and compacted vectors and the digest of a collection; nil if there is none.
    func summary(of collection: String) -> (applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])?
    /// The same for a SUMMARY frame: a store may send an unknown digest (32 zero bytes) rather
    /// than read a collection it keeps on disk whole to hash it (sync/PROTOCOL.md §6).
    func summaryForPeers(of collection: String) -> (applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])?
    /// Deltas after `known`, at most `limit`; nil if a snapshot is needed.
    func deltas(of collection: String, after known: VersionVector, limit: Int) -> [WireDelta]?
    func snapshot(of collection: String) -> (covers: VersionVector, state: [UInt8])?
    /// Applies deltas durably; returns the collection's applied vector afterwards.
    mutating func apply(_ deltas: [WireDelta], to collection: String) throws(ApplyFailure) -> (applied: VersionVector, count: Int)
    mutating func mergeSnapshot(_ state: [UInt8], covers: VersionVector, into collection: String) throws(ApplyFailure) -> VersionVector
    /// The peer holds everything up to `applied`.
    mutating func peer(_ peer: ReplicaID, acknowledged applied: VersionVector, of collection: String)
}

extension ReplicaStore {
    public func summaryForPeers(of collection: String) -> (applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])? {
        summary(of: collection)
    }
}

/// A collection behind a type-erased box, so one replica holds collections of different CRDTs.
public protocol AnyReplicatedCollection: Sendable {
    var name: String { get }
    var scope: Scope { get }
    var applied: VersionVector { get }
    var compactedThrough: VersionVector { get }
    var canonicalState: [UInt8] { get }
    var snapshot: (covers: VersionVector, state: [UInt8]) { get }
    func deltas(after known: VersionVector, limit: Int) -> [WireDelta]?
    mutating func apply(_ deltas: [WireDelta]) throws(WireError) -> CollectionChange
    mutating func mergeSnapshotBytes(_ bytes: [UInt8], covers: VersionVector) throws(WireError) -> CollectionChange
    /// The canonical encoding of one key's state, nil if it has none.
    func encodedState(of key: String) -> [UInt8]?
    var keyCount: Int { get }
    var logCount: Int { get }
    mutating func load(states: [(key: String, state: [UInt8])], log: [WireDelta], applied: VersionVector, compactedThrough: VersionVector,
                       complete: Bool) throws(WireError)
    var isFullyResident: Bool { get }
    func isResident(_ key: String) -> Bool
    mutating func pageIn(_ key: String, encoded: [UInt8]) throws(WireError)
    mutating func markFullyResident()
    /// Drops the states of `keys` from memory (their rows on disk are current): they are read
    /// again on next use. Returns how many were dropped.
    mutating func evict(_ keys: [String]) -> Int
    /// Resident keys with states, starting with `prefix`.
    func residentKeys(withPrefix prefix: String) -> [String]
    mutating func compact(acknowledgedByAll: VersionVector)
    func checkInvariants()
}

extension KeyedCollection: AnyReplicatedCollection {
    public mutating func mergeSnapshotBytes(_ bytes: [UInt8], covers: VersionVector) throws(WireError) -> CollectionChange {
        try mergeSnapshot(bytes, covers: covers)
    }

    @_specialize(where State == GSet<String>)
    @_specialize(where State == BoundedCounter)
    @_specialize(where State == ORMap<String, LWWRegister<Int64>>)
    @_specialize(where State == ORMap<String, LWWRegister<FieldValue>>)
    public func encodedState(of key: String) -> [UInt8]? { states[key]?.canonicalBytes }
    public var keyCount: Int { states.count }
    public var logCount: Int { log.values.reduce(0) { $0 + $1.count } }
}

/// A replica's data in memory: collections, and what each peer has acknowledged. For the
/// simulator and tests; compaction follows the same rule as a node's.
public struct MemoryReplica: ReplicaStore, Sendable {
    public let nodeId: ReplicaID
    public let region: String
    public var collections: [String: any AnyReplicatedCollection]
    /// Peer -> collection -> what it acknowledged.
    public private(set) var acknowledged: [ReplicaID: [String: VersionVector]] = [:]
    /// Peers (id -> region) whose acknowledgements hold compaction back, for the collections they
    /// may receive; a peer left out gets a snapshot when it returns.
    public var compactionPeers: [ReplicaID: String]
    /// False for a node without sync: nobody will ever read its log, so it folds it whole.
    public var replicates = true
    /// Whether this node relays other nodes' changes of global collections (a hub or regional
    /// node, `SyncSession.relays`). One that does not keeps its own changes until `hubId` has them.
    public var relaysGlobal = false
    /// The fleet's hub, once known.
    public var hubId: ReplicaID?
    private let digestFunction: @Sendable ([UInt8]) -> [UInt8]

    public init(nodeId: ReplicaID, region: String, collections: [any AnyReplicatedCollection], compactionPeers: [ReplicaID: String],
                digest: @escaping @Sendable ([UInt8]) -> [UInt8]) {
        self.nodeId = nodeId
        self.region = region
        self.collections = Dictionary(uniqueKeysWithValues: collections.map { ($0.name, $0) })
        self.compactionPeers = compactionPeers
        digestFunction = digest
    }

    public func collectionNames(sharedWithRegion peerRegion: String) -> [String] {
        collections.values.filter { $0.scope == .global || ($0.scope == .region && peerRegion == region) }.map(\.name).sorted()
    }

    public func scope(of collection: String) -> Scope? { collections[collection]?.scope }
    public func applied(of collection: String) -> VersionVector? { collections[collection]?.applied }
    /// The simulator's collections hold no hub-only records.
    public func authorityProblem(in collection: String, delta: WireDelta, peer: ReplicaID, peerRole: String) -> String? { nil }

    public func summary(of collection: String) -> (applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])? {
        guard let c = collections[collection] else { return nil }
        return (c.applied, c.compactedThrough, digestFunction(c.canonicalState))
    }

    public func digest(of collection: String) -> [UInt8]? {
        collections[collection].map { digestFunction($0.canonicalState) }
    }

    public func deltas(of collection: String, after known: VersionVector, limit: Int) -> [WireDelta]? {
        collections[collection]?.deltas(after: known, limit: limit)
    }

    public func snapshot(of collection: String) -> (covers: VersionVector, state: [UInt8])? {
        collections[collection]?.snapshot
    }

    public mutating func apply(_ deltas: [WireDelta], to collection: String) throws(ApplyFailure) -> (applied: VersionVector, count: Int) {
        let change: CollectionChange
        do { change = try applyReturningChange(deltas, to: collection) } catch { throw .malformed(error) }
        return (collections[collection]?.applied ?? VersionVector(), change.deltas.count)
    }

    /// Like `apply`, returning what changed (for a store that persists it).
    public mutating func applyReturningChange(_ deltas: [WireDelta], to collection: String) throws(WireError) -> CollectionChange {
        // Taken out while it changes: a copy left in the dictionary would make every mutation
        // copy the whole collection (copy-on-write), turning n writes into O(n²).
        guard var c = collections.removeValue(forKey: collection) else { throw .invalid("unknown collection \(collection)") }
        defer { collections[collection] = c }
        return try c.apply(deltas)
    }

    public mutating func mergeSnapshot(_ state: [UInt8], covers: VersionVector, into collection: String) throws(ApplyFailure) -> VersionVector {
        do { _ = try mergeSnapshotReturningChange(state, covers: covers, into: collection) } catch { throw .malformed(error) }
        return collections[collection]?.applied ?? VersionVector()
    }

    public mutating func mergeSnapshotReturningChange(_ state: [UInt8], covers: VersionVector, into collection: String) throws(WireError) -> CollectionChange {
        guard var c = collections.removeValue(forKey: collection) else { throw .invalid("unknown collection \(collection)") }
        defer { collections[collection] = c }
        return try c.mergeSnapshotBytes(state, covers: covers)
    }

    public mutating func peer(_ peer: ReplicaID, acknowledged applied: VersionVector, of collection: String) {
        acknowledged[peer, default: [:]][collection, default: VersionVector()].merge(applied)
        compact(collection)
    }

    /// Restores what peers acknowledged (a node's saved progress).
    public mutating func restoreAcknowledged(_ saved: [ReplicaID: [String: VersionVector]]) {
        acknowledged = saved
    }

    /// Folds what every compaction peer has acknowledged; on a node that does not replicate,
    /// everything.
    public mutating func compact(_ collection: String) {
        guard var c = collections.removeValue(forKey: collection) else { return }
        defer { collections[collection] = c }
        let peers: [ReplicaID] = c.scope == .node ? [] : Array(compactionPeers.filter { c.scope == .global || (c.scope == .region && $0.value == region) }.keys)
        // With no peer for it, a replica that replicates keeps its log for peers yet to come
        // (they catch up from it rather than by snapshot); one that never replicates folds all.
        guard !peers.isEmpty || !replicates else { return }
        var floor: [ReplicaID: UInt64] = c.applied.counters
        for peer in peers {
            let acked = acknowledged[peer]?[collection] ?? VersionVector()
            for origin in floor.keys { floor[origin] = min(floor[origin] ?? 0, acked[origin]) }
        }
        if c.scope == .global && !relaysGlobal {
            // Only this node can ever send its own changes to the hub (others do not relay them):
            // they stay in the log until the hub has them, whoever else acknowledged them.
            floor[nodeId] = min(floor[nodeId] ?? 0, hubId.flatMap { acknowledged[$0]?[collection]?[nodeId] } ?? 0)
        }
        c.compact(acknowledgedByAll: VersionVector(floor))
    }

    /// Commits a local change to a typed collection.
    public mutating func commit<State: CRDT>(_ delta: State, key: String, in collection: String, as type: State.Type, at timestamp: HLCTimestamp) -> WireDelta? {
        commit([(key, delta, timestamp)], in: collection)?.first
    }

    /// Commits local changes to a typed collection, in order; nil if it holds another type.
    public mutating func commit<State: CRDT>(_ changes: [(key: String, delta: State, at: HLCTimestamp)], in collection: String) -> [WireDelta]? {
        // The type is checked on a temporary; the removed value is cast in one expression so no
        // other reference to its storage outlives it, and the mutation below happens in place.
        guard collections[collection] is KeyedCollection<State> else { return nil }
        guard var c = collections.removeValue(forKey: collection) as? KeyedCollection<State> else { return nil }
        defer { collections[collection] = c }
        return changes.map { c.commitLocal(key: $0.key, delta: $0.delta, origin: nodeId, timestamp: $0.at) }
    }

    /// The current state at `key` of a typed collection.
    public func state<State: CRDT>(at key: String, in collection: String, as type: State.Type) -> State? {
        (collections[collection] as? KeyedCollection<State>)?.states[key]
    }

    public func checkInvariants() {
        for c in collections.values { c.checkInvariants() }
    }
}
