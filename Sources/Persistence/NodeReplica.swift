import Platform
import Replication

/// The node's replicated data: the in-memory collections (the model the sync sessions read) and
/// their SQLite tables. A change is durable once its delta is in the op log: the log is written
/// in the transaction that makes the change (an applied delta is acknowledged only after it
/// committed), one `op_log_segments` row per origin and write, not per delta.
///
/// Per-key states are written behind the log (`writeBehind`), off the path that acknowledges
/// writes: a key's row may lag, and loading merges the logged deltas into it again (merging is
/// idempotent). A log prefix is deleted only by a write-back that wrote every key changed
/// before it started, so a state on disk plus the log on disk is always the whole state.
///
/// Used on the loop thread only.
public final class NodeReplica: ReplicaStore {
    public private(set) var memory: MemoryReplica
    public let database: Database
    public private(set) var clock: HybridLogicalClock
    /// Per collection and origin, the (applied, compacted) pair last written to
    /// replication_progress: only pairs that moved are written again.
    private var persistedProgress: [String: [ReplicaID: (applied: UInt64, compacted: UInt64)]] = [:]
    /// Per collection, what updates the tables that view it (catalog, stock, orders…) for keys
    /// that changed: called inside the transaction of the change, local or replicated, so a view
    /// never drifts from the data; if it throws, the change is not made.
    private var projections: [String: ([String]) throws -> Void] = [:]
    /// Per collection, keys whose state changed since a write-back last took them.
    private var unwritten: [String: Set<String>] = [:]
    /// A write-back under way: the keys it has left to write and, per collection, the compaction
    /// point it makes durable when they are all written.
    private var writeBack: (keys: [(collection: String, key: String)], compacted: [String: VersionVector])?
    /// Changes persisted so far, and when write-back last looked: an unchanged count means the
    /// node is quiet, the best time to write states.
    private var changeCount = 0
    private var changeCountSeen = 0
    private var unwrittenSinceMs: Int64?
    /// Whether no change was persisted between the last two `writeBehind` calls.
    public private(set) var wasQuiet = false
    /// Times memory was read back from disk after a failed commit (/metrics).
    public private(set) var reloads = 0
    /// Why the disk takes no writes now (nil: it does): a peer's changes are refused before
    /// they touch memory, and the link tries again later.
    public var storageRefusal: (() -> String?)?
    /// Wall time for the skew check of what peers send (a simulation's moves by hand).
    public var wallClock: () -> Int64 = { WallClock.nowMs() }
    /// Told when a replicated change or acknowledgement could not be written.
    public var storageFailed: ((any Error) -> Void)?

    public var nodeId: ReplicaID { memory.nodeId }
    public var region: String { memory.region }
    /// The fleet's hub, once this node knows it (a link whose certificate said hub, or this node
    /// itself): records only the hub may write must have it as their origin, and this node's own
    /// changes stay in its log until the hub has them.
    public var hubNodeId: ReplicaID? {
        get { memory.hubId }
        set { memory.hubId = newValue }
    }
    /// The fleet's other hubs, when its hubs share their books (docs/ledger.md): their records
    /// count as the hub's, whichever peer relays them.
    public var otherHubs: Set<ReplicaID> = []
    /// Set from the node's role: a hub or regional node relays the fleet's changes.
    public var relaysGlobal: Bool {
        get { memory.relaysGlobal }
        set { memory.relaysGlobal = newValue }
    }

    public func scope(of collection: String) -> Scope? { memory.scope(of: collection) }

    /// Every node whose changes this node holds (the origins of its collections), itself included.
    ///
    /// - Complexity: O(collections × origins).
    public var origins: Set<ReplicaID> {
        var all: Set<ReplicaID> = [nodeId]
        for collection in memory.collections.values { all.formUnion(collection.applied.counters.keys) }
        return all
    }
    public func applied(of collection: String) -> VersionVector? { memory.applied(of: collection) }

    /// Records only the hub may write (the node's rules: settlements, policies…): asked of
    /// every delta whose origin is not the hub; a reason refuses it (`not_authorized`).
    public var hubOnly: ((_ collection: String, _ delta: WireDelta, _ origin: ReplicaID) -> String?)?

    public func authorityProblem(in collection: String, delta: WireDelta, peer: ReplicaID, peerRole: String) -> String? {
        let origin = delta.dot.replica
        if (origin == peer && peerRole == "hub") || origin == hubNodeId || otherHubs.contains(origin) { return nil }
        return hubOnly?(collection, delta, origin)
    }

    /// Collections kept on disk and read key by key on first use (history).
    private let pagedIn: Set<String>

    public init(database: Database, nodeId: ReplicaID, region: String, peers: [ReplicaID: String], collections: [CollectionDescriptor],
                maxDriftMs: Int64 = 60_000) throws {
        self.database = database
        pagedIn = Set(collections.filter(\.pagedIn).map(\.name))
        memory = MemoryReplica(nodeId: nodeId, region: region, collections: collections.map { $0.make() },
                               compactionPeers: peers, digest: { SHA256.hash($0) })
        let saved = try NodeMeta(database: database).value(.clock)
        clock = HybridLogicalClock(replica: nodeId, maxDriftMs: maxDriftMs, last: saved.flatMap(Self.parseClock).map {
            HLCTimestamp(physicalMs: $0.0, logical: $0.1, replica: nodeId)
        })
        try Self.moveLegacyLog(database)
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
        let paged = pagedIn.contains(name)
        var log: [WireDelta] = []
        for bytes in try database.query("SELECT deltas FROM op_log_segments WHERE collection = ?", [name], { $0.blob(0) }) {
            do {
                var reader = CanonicalReader(bytes)
                log += try WireDelta.decodeList(from: &reader)
                try reader.finish()
            } catch {
                throw StorageError(.io, message: "an op log segment of \(name) does not decode: \(error)")
            }
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
        // A history collection starts with only the keys its log names (their rows may lag it);
        // the rest are read on first use, so a start does not read the history.
        let states: [(String, [UInt8])]
        if paged {
            states = try Set(log.map(\.key)).sorted().compactMap { key in
                try database.queryOne("SELECT state FROM replicated_state WHERE collection = ? AND key = ?", [name, key]) { (key, $0.blob(0)) }
            }
        } else {
            states = try database.query("SELECT key, state FROM replicated_state WHERE collection = ?", [name]) { ($0.string(0), $0.blob(1)) }
        }
        guard var collection = memory.collections[name] else { return }
        do {
            try collection.load(states: states.map { (key: $0.0, state: $0.1) }, log: log, applied: applied, compactedThrough: compacted, complete: !paged)
        } catch {
            throw StorageError(.io, message: "replicated collection \(name) does not decode from the database: \(error)")
        }
        memory.collections[name] = collection
        // Every logged delta may be missing from its key's row; a write-back under way no longer
        // knows what this collection's rows hold, so it leaves its compaction alone.
        unwritten[name] = Set(log.lazy.filter { $0.dot.counter > compacted[$0.dot.replica] }.map(\.key))
        writeBack?.compacted[name] = nil
    }

    /// Databases from before migration 4 kept one op_log row per delta: they move to segments once.
    private static func moveLegacyLog(_ database: Database) throws {
        let rows = try database.query("""
            SELECT collection, origin, counter, hlc_ms, hlc_logical, hlc_node, key, delta FROM op_log ORDER BY collection, origin, counter
            """, []) { row in
            (row.string(0), WireDelta(dot: Dot(replica: row.string(1), counter: UInt64(row.int64(2))),
                                      timestamp: HLCTimestamp(physicalMs: row.int64(3), logical: UInt32(truncatingIfNeeded: row.int64(4)), replica: row.string(5)),
                                      key: row.string(6), payload: row.blob(7)))
        }
        guard !rows.isEmpty else { return }
        try database.transaction(.immediate) {
            var run: [WireDelta] = []
            var runCollection = ""
            for (collection, delta) in rows {
                if let last = run.last, collection != runCollection || delta.dot.replica != last.dot.replica || delta.dot.counter != last.dot.counter + 1 {
                    try insertSegment(run, collection: runCollection, into: database)
                    run = []
                }
                runCollection = collection
                run.append(delta)
            }
            try insertSegment(run, collection: runCollection, into: database)
            try database.execute("DELETE FROM op_log")
        }
    }

    /// Deltas per op log row at most: a row is read whole, and a big import's deltas in one row
    /// would be hundreds of megabytes.
    public static let segmentDeltasMax = 512

    /// One origin's deltas with consecutive counters, as op log rows of `segmentDeltasMax` at most.
    private static func insertSegment(_ run: some RandomAccessCollection<WireDelta>, collection: String, into database: Database) throws {
        var start = run.startIndex
        while start != run.endIndex {
            let end = run.index(start, offsetBy: segmentDeltasMax, limitedBy: run.endIndex) ?? run.endIndex
            let segment = run[start..<end]
            start = end
            guard let first = segment.first, let last = segment.last else { continue }
            var writer = CanonicalWriter()
            WireDelta.encode(Array(segment), to: &writer)
            try database.execute("""
                INSERT OR IGNORE INTO op_log_segments(collection, origin, first_counter, last_counter, deltas) VALUES (?, ?, ?, ?, ?)
                """, [collection, first.dot.replica, Int64(first.dot.counter), Int64(last.dot.counter), writer.bytes])
        }
    }

    // MARK: Transactions

    /// True between `beginBatch()` and `commitBatch()`: changes join that one transaction.
    public private(set) var isBatching = false

    /// Starts one transaction for everything applied until `commitBatch()`: a sync link applies
    /// every frame of one read in it, so one fsync covers them all.
    public func beginBatch() throws {
        precondition(!isBatching && !database.isInTransaction, "batches do not nest")
        try database.execute("BEGIN IMMEDIATE")
        isBatching = true
    }

    /// Commits the batch. On failure nothing of it is kept: memory is reloaded from disk.
    public func commitBatch() throws {
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
    public func reloadAfterFailedCommit() {
        reloads += 1
        pendingLog.removeAll()
        isInGroupCommit = false
        clockUnsaved = false
        for name in memory.collections.keys { try? load(name) }
    }

    // MARK: Group commit

    /// Collections a group-commit write changed, so a write that fails after changing memory
    /// can be undone there too.
    private var touchedByWrite: Set<String> = []
    /// Inside a group commit the clock is saved once, before COMMIT, not after every change.
    private var isInGroupCommit = false
    private var clockUnsaved = false

    /// Local deltas of the group commit under way, per collection, not yet in the op log: the log
    /// is written once per batch (a segment per collection and origin, progress once), not once
    /// per change. A checkout makes seven changes.
    private var pendingLog: [String: [WireDelta]] = [:]
    /// How much of `pendingLog` was there when the current write began.
    private var pendingMark: [String: Int] = [:]

    /// Connects to the node's group commit: the op log and the clock are written once per batch,
    /// and a failed write's changes leave memory (the earlier writes' log is written, then the
    /// collections it touched are read back from the transaction, which no longer holds them).
    public func attach(to writer: GroupCommit) {
        writer.willRunWrite = { [unowned self] in
            isInGroupCommit = true
            touchedByWrite.removeAll(keepingCapacity: true)
            pendingMark = pendingLog.mapValues(\.count)
        }
        writer.writeFailed = { [unowned self] in
            for (name, deltas) in pendingLog { pendingLog[name] = Array(deltas.prefix(pendingMark[name] ?? 0)) }
            try? flushPendingLog()
            for name in touchedByWrite.sorted() { try? load(name) }
            touchedByWrite.removeAll(keepingCapacity: true)
        }
        writer.beforeCommit = { [unowned self] in
            isInGroupCommit = false
            try flushPendingLog()
            if clockUnsaved { try saveClock() }
            clockUnsaved = false
        }
    }

    /// Writes the batch's local deltas as op log segments, with each origin's progress.
    private func flushPendingLog() throws {
        for (name, deltas) in pendingLog.sorted(by: { $0.key < $1.key }) where !deltas.isEmpty {
            var runs: [ReplicaID: [WireDelta]] = [:]
            for delta in deltas { runs[delta.dot.replica, default: []].append(delta) }
            var progress = persistedProgress[name] ?? [:]
            for (origin, run) in runs.sorted(by: { $0.key < $1.key }) {
                try Self.insertSegment(run, collection: name, into: database)
                guard let last = run.last?.dot.counter else { continue }
                try recordApplied(name, origin: origin, through: last, in: &progress)
            }
            persistedProgress[name] = progress
        }
        pendingLog.removeAll(keepingCapacity: true)
    }

    /// Records that `origin`'s changes of `name` are applied through `counter`, keeping its
    /// compaction point.
    private func recordApplied(_ name: String, origin: ReplicaID, through counter: UInt64,
                               in progress: inout [ReplicaID: (applied: UInt64, compacted: UInt64)]) throws {
        let compacted = progress[origin]?.compacted ?? 0
        try database.execute("""
            INSERT INTO replication_progress(collection, origin, applied, compacted) VALUES (?, ?, ?, ?)
            ON CONFLICT(collection, origin) DO UPDATE SET applied = excluded.applied
            """, [name, origin, Int64(counter), Int64(compacted)])
        progress[origin] = (counter, compacted)
    }

    /// Runs `body` in the open batch, else in its own transaction.
    public func inTransaction<T>(_ body: () throws -> T) throws -> T {
        if isBatching || database.isInTransaction { return try body() }
        return try database.transaction(.immediate, body)
    }

    // MARK: Local changes

    /// Commits a change made on this node. Call inside a transaction (a group-commit write): the
    /// state, the op log and the clock are written there. On failure the collection is reloaded
    /// from the database so memory never runs ahead of disk.
    public func commit<State: CRDT>(_ delta: State, key: String, in collection: String, at: HLCTimestamp) throws -> WireDelta {
        precondition(at == clock.last, "commit with the reading just taken from tick(wallMs:)")
        return try commit([(key, delta, at)], in: collection)[0]
    }

    /// Commits many local changes at once (an import), as `commit` does one: one op log segment
    /// per `segmentDeltasMax` deltas, the progress and the clock written once. `project`, when
    /// given, updates the views of the changed keys instead of the collection's projection: for a caller that
    /// holds the new values already and need not decode them from the states.
    @discardableResult
    public func commit<State: CRDT>(_ changes: [(key: String, delta: State, at: HLCTimestamp)], in collection: String,
                             project: (([String]) throws -> Void)? = nil) throws -> [WireDelta] {
        precondition(zip(changes, changes.dropFirst()).allSatisfy { $0.at < $1.at } && (changes.last?.at ?? clock.last) <= clock.last,
                     "commit readings taken from tick(wallMs:), in order")
        try makeResident(changes.map(\.key), in: collection)
        guard let wires = memory.commit(changes, in: collection) else {
            preconditionFailure("\(collection) does not hold \(State.self)")  // a bug in a route
        }
        var change = CollectionChange()
        change.deltas = wires
        change.keys = changes.map(\.key)
        touchedByWrite.insert(collection)
        if isInGroupCommit {
            // The log waits for the batch's end; a failure here fails the write, which undoes it.
            pendingLog[collection, default: []] += wires
            try persistViews(change, in: collection, project: project)
            clockUnsaved = true
            return wires
        }
        do {
            try persist(change, in: collection, project: project)
            try saveClock()
        } catch {
            try? load(collection)
            throw error
        }
        return wires
    }

    /// A clock reading for a local change; pass it to `commit` (and to registers in the delta).
    public func tick(wallMs: Int64) -> HLCTimestamp {
        clock.tick(wallMs: wallMs)
    }

    /// Peers whose acknowledgements hold compaction back (id -> region).
    public func setCompactionPeers(_ peers: [ReplicaID: String]) {
        guard peers != memory.compactionPeers else { return }
        memory.compactionPeers = peers
    }

    /// For a node without sync: no peer will ever read the log, so write-back folds it whole.
    public func stopReplicating() {
        memory.replicates = false
    }

    // MARK: Typed collections (what the shop's code uses)

    /// Registers the projection of a collection's changes into its views (one per collection).
    public func project<State: CRDT>(_ collection: ReplicatedCollection<State>, _ update: @escaping ([String]) throws -> Void) {
        precondition(projections[collection.name] == nil, "\(collection.name) is projected once")
        projections[collection.name] = update
    }

    /// Projects `keys` of a collection now (a view built whole, once).
    public func projectViews<State: CRDT>(of collection: ReplicatedCollection<State>, keys: [String]) throws {
        try projections[collection.name]?(keys)
    }

    public func state<State: CRDT>(at key: String, in collection: ReplicatedCollection<State>) -> State? {
        state(at: key, in: collection.name, as: State.self)
    }

    public func commit<State: CRDT>(_ delta: State, key: String, in collection: ReplicatedCollection<State>, at: HLCTimestamp) throws -> WireDelta {
        try commit(delta, key: key, in: collection.name, at: at)
    }

    @discardableResult
    public func commit<State: CRDT>(_ changes: [(key: String, delta: State, at: HLCTimestamp)], in collection: ReplicatedCollection<State>,
                             project: (([String]) throws -> Void)? = nil) throws -> [WireDelta] {
        try commit(changes, in: collection.name, project: project)
    }

    /// Every key and state of a collection, read whole from disk first if it is kept there: for
    /// a report over all of it, not for a request's path.
    public func whole<State: CRDT>(_ collection: ReplicatedCollection<State>) -> KeyedCollection<State>? {
        makeFullyResident(collection.name)
        return memory.collections[collection.name] as? KeyedCollection<State>
    }

    // MARK: By name (a request that names the collection)

    /// Every collection's CRDT laws hold (tests and the seeded simulation).
    public func checkInvariants() { memory.checkInvariants() }

    public func state<State: CRDT>(at key: String, in collection: String, as type: State.Type) -> State? {
        do { try makeResident([key], in: collection) } catch {
            storageFailed?(error)
            return nil
        }
        return memory.state(at: key, in: collection, as: type)
    }

    // MARK: Keys on disk, read on first use

    /// Reads the keys of a history collection that are not in memory yet. A row that cannot be
    /// read or decoded throws a storage error: nothing may change a key without its whole state.
    public func makeResident(_ keys: some Collection<String>, in name: String) throws {
        guard let collection = memory.collections[name], !collection.isFullyResident else { return }
        let missing = keys.filter { !collection.isResident($0) }
        guard !missing.isEmpty, var taken = memory.collections.removeValue(forKey: name) else { return }
        defer { memory.collections[name] = taken }
        for key in Set(missing) {
            guard let row = try database.queryOne("SELECT state FROM replicated_state WHERE collection = ? AND key = ?", [name, key], { $0.blob(0) }) else { continue }
            do { try taken.pageIn(key, encoded: row) } catch {
                throw StorageError(.io, message: "the state of \(name)/\(key) does not decode from the database: \(error)")
            }
        }
    }

    /// Reads every key of a collection still on disk (before anything reads the whole state:
    /// a snapshot, a digest, a report over all payments). Costs a pass over the history once.
    public func makeFullyResident(_ name: String) {
        guard let collection = memory.collections[name], !collection.isFullyResident, var taken = memory.collections.removeValue(forKey: name) else { return }
        defer { memory.collections[name] = taken }
        do {
            for (key, row) in try database.query("SELECT key, state FROM replicated_state WHERE collection = ?", [name], { ($0.string(0), $0.blob(1)) }) {
                do { try taken.pageIn(key, encoded: row) } catch {
                    throw StorageError(.io, message: "the state of \(name)/\(key) does not decode from the database: \(error)")
                }
            }
            taken.markFullyResident()
        } catch {
            storageFailed?(error)
        }
    }

    /// How many keys a collection holds, counting those still on disk.
    public func keyCount(of name: String) -> Int {
        guard let collection = memory.collections[name] else { return 0 }
        guard !collection.isFullyResident else { return collection.keyCount }
        let onDisk = (try? database.queryOne("SELECT count(*) FROM replicated_state WHERE collection = ?", [name]) { $0.int(0) }) ?? 0
        // Keys made since the last write-back have no row yet.
        let unsaved = (unwritten[name] ?? []).filter { key in
            collection.encodedState(of: key) != nil
                && (try? database.queryOne("SELECT 1 FROM replicated_state WHERE collection = ? AND key = ?", [name, key]) { $0.int(0) }) == nil
        }
        return onDisk + unsaved.count
    }

    // MARK: ReplicaStore

    public func collectionNames(sharedWithRegion region: String) -> [String] { memory.collectionNames(sharedWithRegion: region) }

    /// Digests by collection, valid while the applied vector is the one they were computed at:
    /// a collection's state is the join of the deltas it applied, so it changes only with it.
    private var digests: [String: (applied: VersionVector, digest: [UInt8])] = [:]

    /// Collections whose digest is being computed on the thread pool.
    private var digestsInFlight: Set<String> = []

    /// Computes stale digests off the loop, so the SUMMARY a peer's HELLO asks for finds its
    /// digest ready instead of encoding the whole state there. Call when the node is quiet.
    ///
    /// The work holds a copy-on-write copy of the collection: free now, and one copy of its
    /// storage if the loop changes the collection before the work is done.
    public func refreshDigests(on loop: EventLoop) {
        // A history collection still partly on disk waits until something needs it whole.
        for (name, collection) in memory.collections where collection.isFullyResident && digests[name]?.applied != collection.applied
            && !digestsInFlight.contains(name) {
            digestsInFlight.insert(name)
            let snapshot = collection
            loop.queueWork({ SHA256.hash(snapshot.canonicalState) }, completion: { [weak self] result in
                guard let self else { return }
                digestsInFlight.remove(name)
                // Kept only if the collection has not moved on meanwhile.
                if case .success(let digest) = result, memory.collections[name]?.applied == snapshot.applied {
                    digests[name] = (snapshot.applied, digest)
                }
            })
        }
    }

    /// With its digest: a collection partly on disk is read whole first (an operator's status,
    /// a test comparing nodes).
    public func summary(of collection: String) -> (applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])? {
        guard let c = memory.collections[collection] else { return nil }
        if let cached = digests[collection], cached.applied == c.applied {
            return (c.applied, c.compactedThrough, cached.digest)
        }
        makeFullyResident(collection)
        guard let fresh = memory.summary(of: collection) else { return nil }
        digests[collection] = (fresh.applied, fresh.digest)
        return fresh
    }

    /// For a SUMMARY frame: a collection partly on disk is not read whole for it; its digest is
    /// the last one computed for the same applied vector, else unknown (zeros, PROTOCOL.md §6).
    public func summaryForPeers(of collection: String) -> (applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])? {
        guard let c = memory.collections[collection] else { return nil }
        if c.isFullyResident { return summary(of: collection) }
        let cached = digests[collection].flatMap { $0.applied == c.applied ? $0.digest : nil }
        return (c.applied, c.compactedThrough, cached ?? Self.unknownDigest)
    }

    /// A digest not computed (all zeros): no state hashes to it.
    public static let unknownDigest = [UInt8](repeating: 0, count: SyncMessage.digestBytes)

    public func deltas(of collection: String, after known: VersionVector, limit: Int) -> [WireDelta]? {
        memory.deltas(of: collection, after: known, limit: limit)
    }

    public func snapshot(of collection: String) -> (covers: VersionVector, state: [UInt8])? {
        makeFullyResident(collection)
        guard memory.collections[collection]?.isFullyResident == true else { return nil }
        return memory.snapshot(of: collection)
    }

    public func apply(_ deltas: [WireDelta], to collection: String) throws(ApplyFailure) -> (applied: VersionVector, count: Int) {
        if let refusal = storageRefusal?() { throw .storage(refusal) }
        // The clock moves past every reading it receives, so this node's next changes order after
        // what it has seen (last-writer-wins stays causal); readings too far ahead are refused.
        if let latest = deltas.lazy.map({ $0.timestamp }).max() {
            var clock = self.clock
            do { _ = try clock.observe(latest, wallMs: wallClock()) } catch { throw .clockSkew("\(error)") }
            self.clock = clock
        }
        do { try makeResident(deltas.map(\.key), in: collection) } catch { throw .storage("\(error)") }
        let change: CollectionChange
        do { change = try memory.applyReturningChange(deltas, to: collection) } catch { throw .malformed(error) }
        try durably(change, in: collection)
        return (memory.collections[collection]?.applied ?? VersionVector(), change.deltas.count)
    }

    public func mergeSnapshot(_ state: [UInt8], covers: VersionVector, into collection: String) throws(ApplyFailure) -> VersionVector {
        if let refusal = storageRefusal?() { throw .storage(refusal) }
        makeFullyResident(collection)
        guard memory.collections[collection]?.isFullyResident != false else { throw .storage("\(collection) could not be read from the database") }
        let change: CollectionChange
        do { change = try memory.mergeSnapshotReturningChange(state, covers: covers, into: collection) } catch { throw .malformed(error) }
        // The snapshot's deltas will never be in this node's log: states are written now.
        try durably(change, in: collection, writingStates: true)
        return memory.collections[collection]?.applied ?? VersionVector()
    }

    public func peer(_ peer: ReplicaID, acknowledged applied: VersionVector, of collection: String) {
        // Unwritten, an acknowledgement only delays compaction: it comes again with the next.
        guard storageRefusal?() == nil else { return }
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
            }
        } catch {
            try? load(collection)
            storageFailed?(error)
        }
    }

    private func durably(_ change: CollectionChange, in collection: String, writingStates: Bool = false) throws(ApplyFailure) {
        do {
            try inTransaction {
                try persist(change, in: collection)
                if writingStates { try writeAllStates() }
            }
        } catch {
            try? load(collection)
            storageFailed?(error)
            throw .storage("\(error)")
        }
    }

    /// Writes the change's new deltas to the op log (one segment per origin) and the applied
    /// counters that moved; its keys wait for write-back.
    private func persist(_ change: CollectionChange, in name: String, project: (([String]) throws -> Void)? = nil) throws {
        guard let collection = memory.collections[name] else { return }
        var runs: [ReplicaID: [WireDelta]] = [:]
        for delta in change.deltas { runs[delta.dot.replica, default: []].append(delta) }
        for run in runs.values { try Self.insertSegment(run, collection: name, into: database) }
        var progress = persistedProgress[name] ?? [:]
        // Origins that moved: those with new deltas, and those a snapshot raised.
        for (origin, applied) in collection.applied.counters where applied != progress[origin]?.applied {
            try recordApplied(name, origin: origin, through: applied, in: &progress)
        }
        // Recorded now; a rollback reloads the collection, and with it this record.
        persistedProgress[name] = progress
        try persistViews(change, in: name, project: project)
    }

    /// Marks the changed keys for write-back and updates their views.
    private func persistViews(_ change: CollectionChange, in name: String, project: (([String]) throws -> Void)?) throws {
        if !change.keys.isEmpty {
            unwritten[name, default: []].formUnion(change.keys)
            changeCount += 1
            if let views = project ?? projections[name] {
                var seen = Set<String>()
                try views(change.keys.filter { seen.insert($0).inserted })
            }
        }
    }

    // MARK: Write-back

    /// Keys a write-back writes per call: a few milliseconds of the loop at most.
    public static let writeBackKeysPerCall = 2_048

    /// Called every ~100 ms on the loop. Starts a write-back when the node has been quiet since
    /// the last call or states have waited two seconds (so steady load cannot starve it), and
    /// continues one under way. Nothing happens inside a transaction. Returns what the disk
    /// said when the write failed (the keys wait for the next write-back).
    @discardableResult
    public func writeBehind(nowMs: Int64) -> (any Error)? {
        guard !isBatching, !database.isInTransaction else { return nil }
        let quiet = changeCount == changeCountSeen
        changeCountSeen = changeCount
        wasQuiet = quiet
        if writeBack == nil {
            guard hasWorkBehind else {
                unwrittenSinceMs = nil
                // Nothing waits to be written: every resident state is current on disk. States
                // read back since (a product page, a cart) leave again, at most every 5 s.
                if nowMs - lastEvictionMs >= 5_000 {
                    lastEvictionMs = nowMs
                    evictWrittenStates()
                }
                return nil
            }
            let since = unwrittenSinceMs ?? nowMs
            unwrittenSinceMs = since
            guard quiet || nowMs - since >= 2_000 else { return nil }
            // Peers' acknowledgements fold the log as they come; a node that does not replicate folds it here.
            if !memory.replicates { for name in memory.collections.keys { memory.compact(name) } }
            startWriteBack()
            unwrittenSinceMs = nil
        }
        let progressBefore = persistedProgress, workBefore = writeBack
        do {
            try database.transaction(.immediate) { try continueWriteBack(limit: Self.writeBackKeysPerCall) }
            // Committed: every key written since is current on disk, unless changed again.
            if writeBack == nil { evictWrittenStates() }
            return nil
        } catch {
            // Nothing of this call was kept: its keys are unwritten again and the progress is what
            // the disk says. Memory is not read back (a full disk would make that a loop costing
            // seconds of CPU per try at 40k orders); the keys written by earlier calls are durable.
            persistedProgress = progressBefore
            for (name, key) in workBefore?.keys ?? [] { unwritten[name, default: []].insert(key) }
            writeBack = nil
            return error
        }
    }

    // MARK: States that leave memory

    /// Per collection kept on disk, which keys may leave memory once written (the catalog's
    /// products: a 100k-product catalog held whole took most of the node's memory, and only
    /// merges and snapshots read a product's replicated state; docs/memory.md).
    public var evictable: [String: @Sendable (String) -> Bool] = [:]
    /// A collection keeps its states in memory until it holds more than this many.
    public var residentStatesMax = 4_096
    private var lastEvictionMs: Int64 = 0
    /// States dropped from memory since start (/metrics).
    public private(set) var evictions = 0

    /// Drops the written, unchanged states of evictable keys from memory when a collection holds
    /// more than `residentStatesMax`. Only after a write-back committed: the rows are current.
    private func evictWrittenStates() {
        var evicted = 0
        for (name, mayLeave) in evictable {
            guard let collection = memory.collections[name], collection.keyCount > residentStatesMax else { continue }
            let dirty = unwritten[name] ?? []
            let keys = collection.residentKeys(withPrefix: "").filter { mayLeave($0) && !dirty.contains($0) }
            inPlace(name) { evicted += $0.evict(keys) }
        }
        // glibc keeps what was freed for reuse: a catalog's worth is given back.
        evictions += evicted
        if evicted >= 1_000 { ProcessStats.returnFreeMemory() }
    }

    /// Changes a collection taken out of the dictionary, so its storage is uniquely referenced
    /// and changed in place (through the dictionary's existential it could be copied whole).
    private func inPlace(_ name: String, _ change: (inout any AnyReplicatedCollection) -> Void) {
        guard var taken = memory.collections.removeValue(forKey: name) else { return }
        change(&taken)
        memory.collections[name] = taken
    }

    /// The keys of a collection starting with `prefix`, those only on disk included, without
    /// reading their states: the few configuration records (shipping methods, promotions) of a
    /// collection kept mostly on disk.
    public func keys(in name: String, withPrefix prefix: String) -> [String] {
        guard let collection = memory.collections[name] else { return [] }
        var keys = Set(collection.residentKeys(withPrefix: prefix))
        if !collection.isFullyResident {
            let rows = (try? database.query("SELECT key FROM replicated_state WHERE collection = ? AND key >= ? AND key < ?",
                                            [name, prefix, prefix + "\u{10FFFF}"], { $0.string(0) })) ?? []
            // A key resident without a state was emptied since its row was written.
            for key in rows where key.hasPrefix(prefix) && !collection.isResident(key) { keys.insert(key) }
        }
        return keys.sorted()
    }

    /// Writes every state behind the log now and makes compaction durable (stop, tests).
    public func writeAllBehind() throws {
        try inTransaction { try writeAllStates() }
    }

    /// True when states or compaction wait to be written.
    public var hasWorkBehind: Bool {
        writeBack != nil || unwritten.values.contains { !$0.isEmpty } || memory.collections.contains { name, collection in
            collection.compactedThrough.counters.contains { $0.value > (persistedProgress[name]?[$0.key]?.compacted ?? 0) }
        }
    }

    private func writeAllStates() throws {
        if writeBack == nil { startWriteBack() } else {
            // Whatever changed since it started must be written too before compaction moves.
            for (name, keys) in unwritten { writeBack?.keys += keys.map { (name, $0) } }
            unwritten = [:]
            for (name, collection) in memory.collections { writeBack?.compacted[name] = collection.compactedThrough }
        }
        try continueWriteBack(limit: .max)
    }

    private func startWriteBack() {
        var keys: [(collection: String, key: String)] = []
        for (name, set) in unwritten { keys += set.map { (name, $0) } }
        // In descending order, taken from the end: each call writes neighbours in the table's
        // key order, so a transaction rewrites a few adjacent pages rather than one per key.
        keys.sort { ($0.collection, $0.key) > ($1.collection, $1.key) }
        unwritten = [:]
        writeBack = (keys, memory.collections.mapValues(\.compactedThrough))
    }

    /// Writes up to `limit` keys of the write-back under way; when none are left, deletes the
    /// log its compaction point covers and records that point. Call inside a transaction.
    private func continueWriteBack(limit: Int) throws {
        guard var work = writeBack else { return }
        let count = min(limit, work.keys.count)
        for (name, key) in work.keys.suffix(count) {
            if let state = memory.collections[name]?.encodedState(of: key) {
                try database.execute("""
                    INSERT INTO replicated_state(collection, key, state) VALUES (?, ?, ?)
                    ON CONFLICT(collection, key) DO UPDATE SET state = excluded.state
                    """, [name, key, state])
            } else {
                try database.execute("DELETE FROM replicated_state WHERE collection = ? AND key = ?", [name, key])
            }
        }
        work.keys.removeLast(count)
        guard work.keys.isEmpty else { writeBack = work; return }
        for (name, compacted) in work.compacted {
            var progress = persistedProgress[name] ?? [:]
            for (origin, counter) in compacted.counters where counter > (progress[origin]?.compacted ?? 0) {
                try database.execute("DELETE FROM op_log_segments WHERE collection = ? AND origin = ? AND last_counter <= ?", [name, origin, Int64(counter)])
                let applied = progress[origin]?.applied ?? counter
                try database.execute("""
                    INSERT INTO replication_progress(collection, origin, applied, compacted) VALUES (?, ?, ?, ?)
                    ON CONFLICT(collection, origin) DO UPDATE SET compacted = excluded.compacted
                    """, [name, origin, Int64(applied), Int64(counter)])
                progress[origin] = (applied, counter)
            }
            persistedProgress[name] = progress
        }
        writeBack = nil
    }

    private func saveClock() throws {
        try NodeMeta(database: database).set(.clock, "\(clock.last.physicalMs).\(clock.last.logical)")
    }

    private static func parseClock(_ text: String) -> (Int64, UInt32)? {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let physical = Int64(parts[0]), let logical = UInt32(parts[1]) else { return nil }
        return (physical, logical)
    }
}
