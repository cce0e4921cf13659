import Platform
import Replication

/// The node's replicated data: the in-memory collections (the model the sync sessions read) and
/// their SQLite tables, kept in step. Every change is written in the same transaction as its op
/// log entry; an applied delta is acknowledged only after that transaction committed.
///
/// Used on the loop thread only.
final class NodeReplica: ReplicaStore {
    private(set) var memory: MemoryReplica
    let database: Database
    private(set) var clock: HybridLogicalClock
    /// Per collection and origin, the (applied, compacted) pair last written to
    /// replication_progress: only pairs that moved are written again.
    private var persistedProgress: [String: [ReplicaID: (applied: UInt64, compacted: UInt64)]] = [:]

    var nodeId: ReplicaID { memory.nodeId }
    var region: String { memory.region }

    init(database: Database, nodeId: ReplicaID, region: String, peers: [ReplicaID: String], maxDriftMs: Int64 = 60_000) throws {
        self.database = database
        memory = MemoryReplica(nodeId: nodeId, region: region, collections: ReplicatedCollections.make(),
                               compactionPeers: peers, digest: { SHA256.hash($0) })
        let saved = try database.queryOne("SELECT value FROM node_meta WHERE key = 'hlc'") { $0.string(0) }
        clock = HybridLogicalClock(replica: nodeId, maxDriftMs: maxDriftMs, last: saved.flatMap(Self.parseClock).map {
            HLCTimestamp(physicalMs: $0.0, logical: $0.1, replica: nodeId)
        })
        for name in memory.collections.keys.sorted() { try load(name) }
        var acks: [ReplicaID: [String: VersionVector]] = [:]
        for (peer, collection, origin, counter) in try database.query("SELECT peer, collection, origin, counter FROM peer_acks", [], {
            ($0.string(0), $0.string(1), $0.string(2), UInt64($0.int64(3)))
        }) {
            acks[peer, default: [:]][collection, default: VersionVector()].raise(origin, to: counter)
        }
        memory.restoreAcknowledged(acks)
        memory.checkInvariants()
    }

    private func load(_ name: String) throws {
        let states = try database.query("SELECT key, state FROM replicated_state WHERE collection = ?", [name]) { ($0.string(0), $0.blob(1)) }
        let log = try database.query("""
            SELECT origin, counter, hlc_ms, hlc_logical, hlc_node, key, delta FROM op_log WHERE collection = ? ORDER BY origin, counter
            """, [name]) { row in
            WireDelta(dot: Dot(replica: row.string(0), counter: UInt64(row.int64(1))),
                      timestamp: HLCTimestamp(physicalMs: row.int64(2), logical: UInt32(truncatingIfNeeded: row.int64(3)), replica: row.string(4)),
                      key: row.string(5), payload: row.blob(6))
        }
        var applied = VersionVector(), compacted = VersionVector()
        var progress: [ReplicaID: (applied: UInt64, compacted: UInt64)] = [:]
        for (origin, appliedCounter, compactedCounter) in try database.query(
            "SELECT origin, applied, compacted FROM replication_progress WHERE collection = ?", [name], { ($0.string(0), UInt64($0.int64(1)), UInt64($0.int64(2))) }) {
            applied.raise(origin, to: appliedCounter)
            compacted.raise(origin, to: compactedCounter)
            progress[origin] = (appliedCounter, compactedCounter)
        }
        persistedProgress[name] = progress
        guard var collection = memory.collections[name] else { return }
        do {
            try collection.load(states: states.map { (key: $0.0, state: $0.1) }, log: log, applied: applied, compactedThrough: compacted)
        } catch {
            throw StorageError(.io, message: "replicated collection \(name) does not decode from the database: \(error)")
        }
        memory.collections[name] = collection
    }

    // MARK: Transactions

    /// True between `beginBatch()` and `commitBatch()`: changes join that one transaction.
    private(set) var isBatching = false

    /// Starts one transaction for everything applied until `commitBatch()`: a sync link applies
    /// every frame of one read in it, so one fsync covers them all.
    func beginBatch() throws {
        precondition(!isBatching && !database.isInTransaction, "batches do not nest")
        try database.execute("BEGIN IMMEDIATE")
        isBatching = true
    }

    /// Commits the batch. On failure nothing of it is kept: memory is reloaded from disk.
    func commitBatch() throws {
        precondition(isBatching, "commit without a batch")
        isBatching = false
        do {
            try database.execute("COMMIT")
        } catch {
            _ = try? database.execute("ROLLBACK")
            for name in memory.collections.keys { try? load(name) }
            throw error
        }
    }

    /// After a failed commit of a group of local writes: memory holds changes the disk does not,
    /// so every collection is read back from the database.
    func reloadAfterFailedCommit() {
        for name in memory.collections.keys { try? load(name) }
    }

    /// Runs `body` in the open batch, else in its own transaction.
    func inTransaction<T>(_ body: () throws -> T) throws -> T {
        if isBatching || database.isInTransaction { return try body() }
        return try database.transaction(.immediate, body)
    }

    // MARK: Local changes

    /// Commits a change made on this node. Call inside a transaction (a group-commit write): the
    /// state, the op log and the clock are written there. On failure the collection is reloaded
    /// from the database so memory never runs ahead of disk.
    func commit<State: CRDT>(_ delta: State, key: String, in collection: String, at: HLCTimestamp) throws -> WireDelta {
        precondition(at == clock.last, "commit with the reading just taken from tick(wallMs:)")
        guard let wire = memory.commit(delta, key: key, in: collection, as: State.self, at: at) else {
            preconditionFailure("\(collection) does not hold \(State.self)")  // a bug in a route
        }
        var change = CollectionChange()
        change.deltas = [wire]
        change.keys = [key]
        do {
            try persist(change, in: collection)
            try saveClock()
        } catch {
            try? load(collection)
            throw error
        }
        return wire
    }

    /// A clock reading for a local change; pass it to `commit` (and to registers in the delta).
    func tick(wallMs: Int64) -> HLCTimestamp {
        clock.tick(wallMs: wallMs)
    }

    /// Peers whose acknowledgements hold compaction back (id -> region).
    func setCompactionPeers(_ peers: [ReplicaID: String]) {
        guard peers != memory.compactionPeers else { return }
        memory.compactionPeers = peers
    }

    func state<State: CRDT>(at key: String, in collection: String, as type: State.Type) -> State? {
        memory.state(at: key, in: collection, as: type)
    }

    // MARK: ReplicaStore

    func collectionNames(sharedWithRegion region: String) -> [String] { memory.collectionNames(sharedWithRegion: region) }

    /// Digests by collection, valid while the applied vector is the one they were computed at:
    /// a collection's state is the join of the deltas it applied, so it changes only with it.
    private var digests: [String: (applied: VersionVector, digest: [UInt8])] = [:]

    func summary(of collection: String) -> (applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])? {
        guard let c = memory.collections[collection] else { return nil }
        if let cached = digests[collection], cached.applied == c.applied {
            return (c.applied, c.compactedThrough, cached.digest)
        }
        guard let fresh = memory.summary(of: collection) else { return nil }
        digests[collection] = (fresh.applied, fresh.digest)
        return fresh
    }

    func deltas(of collection: String, after known: VersionVector, limit: Int) -> [WireDelta]? {
        memory.deltas(of: collection, after: known, limit: limit)
    }

    func snapshot(of collection: String) -> (covers: VersionVector, state: [UInt8])? { memory.snapshot(of: collection) }

    func apply(_ deltas: [WireDelta], to collection: String) throws(ApplyFailure) -> (applied: VersionVector, count: Int) {
        // The clock moves past every reading it receives, so this node's next changes order after
        // what it has seen (last-writer-wins stays causal); readings too far ahead are refused.
        if let latest = deltas.lazy.map({ $0.timestamp }).max() {
            var clock = self.clock
            do { _ = try clock.observe(latest, wallMs: WallClock.nowMs()) } catch { throw .clockSkew("\(error)") }
            self.clock = clock
        }
        let change: CollectionChange
        do { change = try memory.applyReturningChange(deltas, to: collection) } catch { throw .malformed(error) }
        try durably(change, in: collection)
        return (memory.collections[collection]?.applied ?? VersionVector(), change.deltas.count)
    }

    func mergeSnapshot(_ state: [UInt8], covers: VersionVector, into collection: String) throws(ApplyFailure) -> VersionVector {
        let change: CollectionChange
        do { change = try memory.mergeSnapshotReturningChange(state, covers: covers, into: collection) } catch { throw .malformed(error) }
        try durably(change, in: collection)
        return memory.collections[collection]?.applied ?? VersionVector()
    }

    func peer(_ peer: ReplicaID, acknowledged applied: VersionVector, of collection: String) {
        memory.peer(peer, acknowledged: applied, of: collection)
        // Losing an acknowledgement only delays compaction, so it is best effort; but if it fails,
        // memory (compaction, the progress record) is read back from the database.
        do {
            try inTransaction {
                for (origin, counter) in applied.counters {
                    try database.execute("""
                        INSERT INTO peer_acks(peer, collection, origin, counter) VALUES (?, ?, ?, ?)
                        ON CONFLICT(peer, collection, origin) DO UPDATE SET counter = max(counter, excluded.counter)
                        """, [peer, collection, origin, Int64(counter)])
                }
                try persist(CollectionChange(), in: collection)
            }
        } catch {
            try? load(collection)
        }
    }

    private func durably(_ change: CollectionChange, in collection: String) throws(ApplyFailure) {
        do {
            try inTransaction { try persist(change, in: collection) }
        } catch {
            try? load(collection)
            throw .storage("\(error)")
        }
    }

    /// Writes what changed: states of the changed keys, new op-log entries, the progress of the
    /// origins that moved, and the log entries compaction folded away since the last write.
    private func persist(_ change: CollectionChange, in name: String) throws {
        guard let collection = memory.collections[name] else { return }
        for key in change.keys {
            if let state = collection.encodedState(of: key) {
                try database.execute("""
                    INSERT INTO replicated_state(collection, key, state) VALUES (?, ?, ?)
                    ON CONFLICT(collection, key) DO UPDATE SET state = excluded.state
                    """, [name, key, state])
            } else {
                try database.execute("DELETE FROM replicated_state WHERE collection = ? AND key = ?", [name, key])
            }
        }
        for delta in change.deltas {
            try database.execute("""
                INSERT OR IGNORE INTO op_log(collection, origin, counter, hlc_ms, hlc_logical, hlc_node, key, delta)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [name, delta.dot.replica, Int64(delta.dot.counter), delta.timestamp.physicalMs, Int64(delta.timestamp.logical),
                      delta.timestamp.replica, delta.key, delta.payload])
        }
        var progress = persistedProgress[name] ?? [:]
        for (origin, applied) in collection.applied.counters {
            let compacted = collection.compactedThrough[origin]
            let before = progress[origin]
            guard before?.applied != applied || before?.compacted != compacted else { continue }
            try database.execute("""
                INSERT INTO replication_progress(collection, origin, applied, compacted) VALUES (?, ?, ?, ?)
                ON CONFLICT(collection, origin) DO UPDATE SET applied = excluded.applied, compacted = excluded.compacted
                """, [name, origin, Int64(applied), Int64(compacted)])
            if compacted > (before?.compacted ?? 0) {
                try database.execute("DELETE FROM op_log WHERE collection = ? AND origin = ? AND counter <= ?", [name, origin, Int64(compacted)])
            }
            progress[origin] = (applied, compacted)
        }
        // Recorded now; a rollback reloads the collection, and with it this record.
        persistedProgress[name] = progress
    }

    private func saveClock() throws {
        try database.execute("""
            INSERT INTO node_meta(key, value) VALUES ('hlc', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value
            """, ["\(clock.last.physicalMs).\(clock.last.logical)"])
    }

    private static func parseClock(_ text: String) -> (Int64, UInt32)? {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let physical = Int64(parts[0]), let logical = UInt32(parts[1]) else { return nil }
        return (physical, logical)
    }
}
