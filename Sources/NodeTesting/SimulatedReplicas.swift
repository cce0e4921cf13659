import Commerce
import Foundation
import Node
import Persistence
import Platform
import Replication

/// A replica the seeded simulation drives: the in-memory store, or the node's own replica on a
/// SQLite file with its projections. Sessions reach it through `ReplicaStore`; the simulation
/// writes, restarts and inspects it through the rest.
public protocol SimulatedReplica: ReplicaStore {
    /// A clock reading for a local event at simulated wall time `wallMs`.
    mutating func tick(wallMs: Int64) -> HLCTimestamp
    func state<State: CRDT>(at key: String, in collection: String, as type: State.Type) -> State?
    /// Commits a local change made at simulated time `wallMs`.
    mutating func commitLocal<State: CRDT>(_ delta: State, key: String, in collection: String, wallMs: Int64)
    /// Every key the collection holds (what is on disk only included).
    func keys(of collection: String) -> [String]
    func checkInvariants()
    /// A process restart: what was committed is read back; what was only in memory is gone.
    mutating func restart()
    /// Where a view built from the replicated data disagrees with it; empty when none does.
    func viewProblems() -> [String]
    /// Time passed with nothing to do: what the node does then (states written behind the log,
    /// the log compacted).
    mutating func idle(wallMs: Int64)
}

/// The collections the simulation writes: the node's own, with its key shapes.
enum SimulatedCollections {
    static let orders = "orders", carts = "carts", inventory = "inventory"
}

/// The in-memory store with its own clock.
public struct SimulatedMemoryReplica: SimulatedReplica {
    var store: MemoryReplica
    var clock: HybridLogicalClock

    public init(id: ReplicaID, region: String, compactionPeers: [ReplicaID: String], hubId: ReplicaID, relaysGlobal: Bool) {
        store = MemoryReplica(nodeId: id, region: region, collections: [
            KeyedCollection<GSet<String>>(name: SimulatedCollections.orders, scope: .global),
            KeyedCollection<ORMap<String, LWWRegister<Int64>>>(name: SimulatedCollections.carts, scope: .region),
            KeyedCollection<BoundedCounter>(name: SimulatedCollections.inventory, scope: .global),
        ], compactionPeers: compactionPeers, digest: { SHA256.hash($0) })
        store.hubId = hubId
        store.relaysGlobal = relaysGlobal
        clock = HybridLogicalClock(replica: id)
    }

    public mutating func tick(wallMs: Int64) -> HLCTimestamp { clock.tick(wallMs: wallMs) }

    public func state<State: CRDT>(at key: String, in collection: String, as type: State.Type) -> State? {
        store.state(at: key, in: collection, as: type)
    }

    public mutating func commitLocal<State: CRDT>(_ delta: State, key: String, in collection: String, wallMs: Int64) {
        let at = clock.tick(wallMs: wallMs)
        _ = store.commit(delta, key: key, in: collection, as: State.self, at: at)
    }

    public func keys(of collection: String) -> [String] {
        switch store.collections[collection] {
        case let c as KeyedCollection<GSet<String>>: Array(c.states.keys)
        case let c as KeyedCollection<ORMap<String, LWWRegister<Int64>>>: Array(c.states.keys)
        case let c as KeyedCollection<BoundedCounter>: Array(c.states.keys)
        default: []
        }
    }

    public func checkInvariants() { store.checkInvariants() }
    /// The store and the clock are durable; sessions are not.
    public mutating func restart() {}
    public func viewProblems() -> [String] { [] }
    public mutating func idle(wallMs: Int64) {}

    // ReplicaStore, by the store.
    public var nodeId: ReplicaID { store.nodeId }
    public var region: String { store.region }
    public func collectionNames(sharedWithRegion region: String) -> [String] { store.collectionNames(sharedWithRegion: region) }
    public func scope(of collection: String) -> Scope? { store.scope(of: collection) }
    public func applied(of collection: String) -> VersionVector? { store.applied(of: collection) }
    public func authorityProblem(in collection: String, delta: WireDelta, peer: ReplicaID, peerRole: String) -> String? {
        store.authorityProblem(in: collection, delta: delta, peer: peer, peerRole: peerRole)
    }
    public func summary(of collection: String) -> (applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])? { store.summary(of: collection) }
    public func deltas(of collection: String, after known: VersionVector, limit: Int) -> [WireDelta]? { store.deltas(of: collection, after: known, limit: limit) }
    public func snapshot(of collection: String) -> (covers: VersionVector, state: [UInt8])? { store.snapshot(of: collection) }
    public mutating func apply(_ deltas: [WireDelta], to collection: String) throws(ApplyFailure) -> (applied: VersionVector, count: Int) {
        try store.apply(deltas, to: collection)
    }
    public mutating func mergeSnapshot(_ state: [UInt8], covers: VersionVector, into collection: String) throws(ApplyFailure) -> VersionVector {
        try store.mergeSnapshot(state, covers: covers, into: collection)
    }
    public mutating func peer(_ peer: ReplicaID, acknowledged applied: VersionVector, of collection: String) {
        store.peer(peer, acknowledged: applied, of: collection)
    }
}

/// The node's replica on its own SQLite file, with the node's schema, collections (history ones
/// read key by key) and the stock view projected from the inventory as the node projects it. A
/// restart closes the database and opens the replica again from what was committed.
public final class SimulatedDiskReplica: SimulatedReplica {
    private let directory: TemporaryDirectory
    private let id: ReplicaID
    private let home: String
    private let compactionPeers: [ReplicaID: String]
    private let hubId: ReplicaID
    private let relaysGlobal: Bool
    /// The simulation's wall time, for the replica's skew check.
    private var wallMs: Int64 = 0
    private var database: Database
    private var replica: NodeReplica
    private var catalog: CatalogIndex

    public init(id: ReplicaID, region: String, compactionPeers: [ReplicaID: String], hubId: ReplicaID, relaysGlobal: Bool) throws {
        directory = TemporaryDirectory(prefix: "outpost-sim-\(id)")
        (self.id, home, self.compactionPeers, self.hubId, self.relaysGlobal) = (id, region, compactionPeers, hubId, relaysGlobal)
        (database, replica, catalog) = try Self.open(directory.file("node.sqlite"), id: id, region: region, compactionPeers: compactionPeers,
                                                     hubId: hubId, relaysGlobal: relaysGlobal)
        replica.wallClock = { [unowned self] in self.wallMs }
    }

    private static func open(_ path: String, id: ReplicaID, region: String, compactionPeers: [ReplicaID: String], hubId: ReplicaID,
                             relaysGlobal: Bool) throws -> (Database, NodeReplica, CatalogIndex) {
        // No fsync: a restart here reopens the file in the same process; what is committed is
        // in the WAL whatever the sync mode.
        let database = try Database(path: path, options: .init(synchronous: .off))
        try Migrator.apply(NodeSchema.migrations, to: database, now: "2026-01-01T00:00:00Z")
        let replica = try NodeReplica(database: database, nodeId: id, region: region, peers: compactionPeers, collections: Collections.all)
        replica.hubNodeId = hubId
        replica.relaysGlobal = relaysGlobal
        let catalog = CatalogIndex(database: database, region: region, defaultLocale: "en")
        replica.project(Collections.inventory) { [unowned replica] keys in try catalog.projectStock(keys, from: replica, node: id) }
        return (database, replica, catalog)
    }

    public func tick(wallMs: Int64) -> HLCTimestamp {
        self.wallMs = max(self.wallMs, wallMs)
        return replica.tick(wallMs: wallMs)
    }

    public func state<State: CRDT>(at key: String, in collection: String, as type: State.Type) -> State? {
        replica.state(at: key, in: collection, as: type)
    }

    public func commitLocal<State: CRDT>(_ delta: State, key: String, in collection: String, wallMs: Int64) {
        let at = tick(wallMs: wallMs)
        do {
            _ = try replica.inTransaction { try replica.commit(delta, key: key, in: collection, at: at) }
        } catch {
            preconditionFailure("a simulated local change did not commit: \(error)")
        }
    }

    public func keys(of collection: String) -> [String] {
        replica.makeFullyResident(collection)
        switch collection {
        case SimulatedCollections.orders: return replica.whole(Collections.orders).map { Array($0.states.keys) } ?? []
        case SimulatedCollections.carts: return replica.whole(Collections.carts).map { Array($0.states.keys) } ?? []
        case SimulatedCollections.inventory: return replica.whole(Collections.inventory).map { Array($0.states.keys) } ?? []
        default: return []
        }
    }

    public func checkInvariants() { replica.checkInvariants() }

    public func idle(wallMs: Int64) {
        self.wallMs = max(self.wallMs, wallMs)
        if let error = replica.writeBehind(nowMs: self.wallMs) { preconditionFailure("writing states behind the log failed: \(error)") }
    }

    public func restart() {
        database.close()
        do {
            (database, replica, catalog) = try Self.open(directory.file("node.sqlite"), id: id, region: home, compactionPeers: compactionPeers,
                                                         hubId: hubId, relaysGlobal: relaysGlobal)
        } catch {
            preconditionFailure("the replica did not open again: \(error)")
        }
        replica.wallClock = { [unowned self] in self.wallMs }
    }

    /// The stock view holds each counter's units and this node's rights, row for row.
    public func viewProblems() -> [String] {
        var problems: [String] = []
        let counters = keys(of: SimulatedCollections.inventory)
        var rows: [String: (available: Int64, here: Int64)] = [:]
        do {
            _ = try database.query("SELECT sku, location, available, rights_here FROM stock_levels", []) { row in
                rows[StockKey.make(sku: row.string(0), location: row.string(1))] = (row.int64(2), row.int64(3))
            }
        } catch {
            return ["\(id): the stock view does not read: \(error)"]
        }
        for key in counters {
            guard let counter = replica.state(at: key, in: Collections.inventory) else { continue }
            let expected = (counter.value, max(0, counter.rights(of: id)))
            if let row = rows[key], row == expected { continue }
            problems.append("\(id): stock view of \(key) is \(rows[key].map { "\($0)" } ?? "missing"), its counter says \(expected)")
        }
        for key in rows.keys where !counters.contains(key) { problems.append("\(id): stock view holds \(key), which has no counter") }
        return problems
    }

    // ReplicaStore, by the node's replica.
    public var nodeId: ReplicaID { replica.nodeId }
    public var region: String { replica.region }
    public func collectionNames(sharedWithRegion region: String) -> [String] {
        replica.collectionNames(sharedWithRegion: region).filter { [SimulatedCollections.orders, SimulatedCollections.carts, SimulatedCollections.inventory].contains($0) }
    }
    public func scope(of collection: String) -> Scope? { replica.scope(of: collection) }
    public func applied(of collection: String) -> VersionVector? { replica.applied(of: collection) }
    public func authorityProblem(in collection: String, delta: WireDelta, peer: ReplicaID, peerRole: String) -> String? {
        replica.authorityProblem(in: collection, delta: delta, peer: peer, peerRole: peerRole)
    }
    public func summary(of collection: String) -> (applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])? { replica.summary(of: collection) }
    public func summaryForPeers(of collection: String) -> (applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])? {
        replica.summaryForPeers(of: collection)
    }
    public func deltas(of collection: String, after known: VersionVector, limit: Int) -> [WireDelta]? { replica.deltas(of: collection, after: known, limit: limit) }
    public func snapshot(of collection: String) -> (covers: VersionVector, state: [UInt8])? { replica.snapshot(of: collection) }
    public func apply(_ deltas: [WireDelta], to collection: String) throws(ApplyFailure) -> (applied: VersionVector, count: Int) {
        try replica.apply(deltas, to: collection)
    }
    public func mergeSnapshot(_ state: [UInt8], covers: VersionVector, into collection: String) throws(ApplyFailure) -> VersionVector {
        try replica.mergeSnapshot(state, covers: covers, into: collection)
    }
    public func peer(_ peer: ReplicaID, acknowledged applied: VersionVector, of collection: String) {
        replica.peer(peer, acknowledged: applied, of: collection)
    }
}
