import Commerce
import Foundation
@testable import Node
import NodeTesting
@testable import Persistence
import Platform
import Replication
import XCTest

/// Replicated collections on a real SQLite file: what is applied survives a reopen byte for byte,
/// duplicates change nothing, malformed input changes nothing, compaction empties the op log.
final class NodeReplicaTests: XCTestCase {
    private func open(_ dir: TemporaryDirectory, id: String = "store-a", peers: [String: String] = [:]) throws -> (Database, NodeReplica) {
        let database = try Database(path: dir.file("node.sqlite"))
        try Migrator.apply(NodeSchema.migrations, to: database, now: "t")
        let replica = try NodeReplica(database: database, nodeId: id, region: "eu", peers: peers, collections: Collections.all)
        replica.hubOnly = HubOnlyRecords.problem
        return (database, replica)
    }

    /// Deltas another node ("hub") made, as they would arrive.
    private func hubOrders(_ count: Int) -> [WireDelta] {
        var hub = KeyedCollection<GSet<String>>(name: "orders", scope: .global)
        var clock = HybridLogicalClock(replica: "hub")
        return (1...count).map { n in
            hub.commitLocal(key: "o-\(n % 3)", delta: GSet(["order-\(n)"]), origin: "hub", timestamp: clock.tick(wallMs: Int64(n)))
        }
    }

    /// Issue 24, item 22: a reopened node reads only its history collections' log at start; a
    /// key is read on first use, and a change to a key still on disk joins its whole state.
    func testHistoryIsReadKeyByKeyOnFirstUseAndAChangeJoinsTheStateOnDisk() throws {
        let dir = TemporaryDirectory()
        do {
            let (database, replica) = try open(dir)
            replica.stopReplicating()  // no peer will read the log: write-back folds it
            _ = try replica.apply(hubOrders(9), to: "orders")  // o-0, o-1, o-2: three events each
            replica.writeBehind(nowMs: 0)
            replica.writeBehind(nowMs: 10_000)
            XCTAssertEqual(try database.queryOne("SELECT count(*) FROM op_log_segments WHERE collection = 'orders'") { $0.int(0) }, 0, "states on disk, no log")
            database.close()
        }
        let (database, reopened) = try open(dir)
        // Compaction left no log here (no peers), so nothing of the orders is in memory yet.
        let orders = try XCTUnwrap(reopened.memory.collections["orders"])
        XCTAssertFalse(orders.isFullyResident, "orders are not read whole at start")
        XCTAssertFalse(orders.isResident("o-1"))
        XCTAssertEqual(reopened.state(at: "o-1", in: "orders", as: GSet<String>.self)?.elements.count, 3, "read on first use")
        XCTAssertTrue(try XCTUnwrap(reopened.memory.collections["orders"]).isResident("o-1"))
        XCTAssertNil(reopened.state(at: "no-such-order", in: "orders", as: GSet<String>.self))
        // A local change to a key still on disk keeps what the disk holds.
        try database.transaction {
            _ = try reopened.commit(GSet(["mine"]), key: "o-2", in: "orders", at: reopened.tick(wallMs: 100))
        }
        XCTAssertEqual(reopened.state(at: "o-2", in: "orders", as: GSet<String>.self)?.elements.count, 4)
        try reopened.writeAllBehind()
        database.close()
        let (_, again) = try open(dir)
        XCTAssertEqual(again.state(at: "o-2", in: "orders", as: GSet<String>.self)?.elements.count, 4, "written back whole")
        XCTAssertEqual(again.keyCount(of: "orders"), 3)
        // A digest reads the collection whole, once.
        let digest = try XCTUnwrap(again.summary(of: "orders")?.digest)
        XCTAssertNotEqual(digest, NodeReplica.unknownDigest)
        XCTAssertTrue(try XCTUnwrap(again.memory.collections["orders"]).isFullyResident)
    }

    func testAppliedDeltasSurviveAReopenByteForByte() throws {
        let dir = TemporaryDirectory()
        let deltas = hubOrders(10)
        let digest: [UInt8]
        do {
            let (database, replica) = try open(dir)
            let (applied, count) = try replica.apply(deltas, to: "orders")
            XCTAssertEqual(count, 10)
            XCTAssertEqual(applied["hub"], 10)
            XCTAssertEqual(try replica.apply(deltas, to: "orders").count, 0, "applying again changes nothing")
            digest = try XCTUnwrap(replica.summary(of: "orders")?.digest)
            database.close()
        }
        let (_, reopened) = try open(dir)
        XCTAssertEqual(reopened.summary(of: "orders")?.digest, digest)
        XCTAssertEqual(reopened.summary(of: "orders")?.applied["hub"], 10)
        XCTAssertEqual(reopened.deltas(of: "orders", after: VersionVector(), limit: 100)?.count, 10, "the op log came back too")
    }

    func testAGapStopsThatOriginUntilTheMissingDeltaArrives() throws {
        let dir = TemporaryDirectory()
        let (_, replica) = try open(dir)
        let deltas = hubOrders(3)
        XCTAssertEqual(try replica.apply([deltas[0], deltas[2]], to: "orders").applied["hub"], 1)
        XCTAssertEqual(try replica.apply([deltas[1], deltas[2]], to: "orders").applied["hub"], 3)
    }

    func testMalformedDeltasChangeNothing() throws {
        let dir = TemporaryDirectory()
        let (_, replica) = try open(dir)
        var deltas = hubOrders(2)
        deltas[1] = WireDelta(dot: deltas[1].dot, timestamp: deltas[1].timestamp, key: deltas[1].key, payload: [0xFF, 0xFF])
        XCTAssertThrowsError(try replica.apply(deltas, to: "orders")) { error in
            guard case .malformed = error as? ApplyFailure else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(replica.summary(of: "orders")?.applied, VersionVector(), "not even the valid first delta was applied")
    }

    private func count(_ table: String, in database: Database) throws -> Int? {
        try database.queryOne("SELECT count(*) FROM \(table) WHERE collection = 'orders'") { $0.int(0) }
    }

    func testAcknowledgedDeltasAreCompactedOutOfTheLog() throws {
        let dir = TemporaryDirectory()
        let deltas = hubOrders(5)
        do {
            let (database, replica) = try open(dir, peers: ["store-b": "eu"])
            _ = try replica.apply(Array(deltas[0..<4]), to: "orders")
            _ = try replica.apply([deltas[4]], to: "orders")
            replica.peer("store-b", acknowledged: VersionVector(["hub": 4]), of: "orders")
            XCTAssertEqual(replica.summary(of: "orders")?.compactedThrough["hub"], 4)
            XCTAssertEqual(try count("op_log_segments", in: database), 2, "the log on disk goes only with a write-back")
            try replica.writeAllBehind()
            XCTAssertEqual(try count("op_log_segments", in: database), 1)
            XCTAssertNil(replica.deltas(of: "orders", after: VersionVector(["hub": 2]), limit: 10), "a peer behind compaction needs a snapshot")
            XCTAssertEqual(replica.deltas(of: "orders", after: VersionVector(["hub": 4]), limit: 10)?.count, 1)
            database.close()
        }
        let (_, reopened) = try open(dir, peers: ["store-b": "eu"])
        XCTAssertEqual(reopened.summary(of: "orders")?.compactedThrough["hub"], 4)
        XCTAssertEqual(reopened.deltas(of: "orders", after: VersionVector(["hub": 4]), limit: 10), [deltas[4]])
    }

    /// Issue 29: a large catalog's products leave memory once written; a product is read back on
    /// its next use, a change to one joins its state on disk, configuration records stay, and a
    /// reopen finds every product.
    func testWrittenProductsLeaveMemoryAndComeBackWhole() throws {
        let dir = TemporaryDirectory()
        let (database, replica) = try open(dir)
        replica.stopReplicating()
        replica.residentStatesMax = 10
        replica.evictable["catalog"] = { !Collections.catalogStaysResident($0) }
        func fields(_ values: [(String, FieldValue)], at: HLCTimestamp, key: String) -> CatalogFields.Entry {
            // As the node does: the delta from the product's state (read from disk if it left memory).
            var entry = replica.state(at: key, in: Collections.catalog) ?? CatalogFields.Entry()
            return entry.update(values.map { field, value in (key: field, mutate: { (register: inout LWWRegister<FieldValue>) in register.set(value, at: at) }) },
                                replica: "store-a")
        }
        try database.transaction {
            for n in 0..<30 {
                let at = replica.tick(wallMs: 1_000 + Int64(n))
                _ = try replica.commit(fields([("name", .text("Lamp \(n)")), ("status", .text("active"))], at: at, key: "p-\(n)"), key: "p-\(n)", in: "catalog", at: at)
            }
            let at = replica.tick(wallMs: 2_000)
            _ = try replica.commit(fields([("name", .text("Standard"))], at: at, key: ShippingMethod.keyPrefix + "std"), key: ShippingMethod.keyPrefix + "std", in: "catalog", at: at)
        }
        XCTAssertEqual(replica.memory.collections["catalog"]?.keyCount, 31)
        replica.writeBehind(nowMs: 0)
        replica.writeBehind(nowMs: 10_000)
        let catalog = try XCTUnwrap(replica.memory.collections["catalog"])
        XCTAssertEqual(catalog.keyCount, 1, "only the shipping method stays in memory")
        XCTAssertFalse(catalog.isResident("p-7"))
        XCTAssertEqual(replica.keyCount(of: "catalog"), 31)
        XCTAssertEqual(replica.keys(in: "catalog", withPrefix: ShippingMethod.keyPrefix), [ShippingMethod.keyPrefix + "std"])
        XCTAssertEqual(replica.state(at: "p-7", in: Collections.catalog).map(CatalogFields.values)?["name"], .text("Lamp 7"), "read back on use")

        // A change to a product on disk keeps its other fields.
        try database.transaction {
            let at = replica.tick(wallMs: 3_000)
            _ = try replica.commit(fields([("status", .text("archived"))], at: at, key: "p-8"), key: "p-8", in: "catalog", at: at)
        }
        let changed = try XCTUnwrap(replica.state(at: "p-8", in: Collections.catalog).map(CatalogFields.values))
        XCTAssertEqual(changed["name"], .text("Lamp 8"))
        XCTAssertEqual(changed["status"], .text("archived"))
        replica.writeBehind(nowMs: 20_000)
        replica.writeBehind(nowMs: 30_000)
        // Read back with nothing to write: it leaves again once a collection is over its bound.
        for n in 0..<12 { _ = replica.state(at: "p-\(n)", in: Collections.catalog) }
        XCTAssertEqual(replica.memory.collections["catalog"]?.keyCount, 13)
        replica.writeBehind(nowMs: 40_000)
        XCTAssertEqual(replica.memory.collections["catalog"]?.keyCount, 1, "evicted again")
        database.close()

        let (_, reopened) = try open(dir)
        XCTAssertEqual(reopened.state(at: "p-8", in: Collections.catalog).map(CatalogFields.values)?["status"], .text("archived"))
        XCTAssertEqual(reopened.whole(Collections.catalog)?.states.count, 31, "every product, read whole when asked")
    }

    func testStatesAreWrittenBehindTheLogAndAReopenReplaysIt() throws {
        let dir = TemporaryDirectory()
        let digest: [UInt8]
        do {
            let (database, replica) = try open(dir)
            _ = try replica.apply(hubOrders(10), to: "orders")
            digest = try XCTUnwrap(replica.summary(of: "orders")?.digest)
            XCTAssertEqual(try count("replicated_state", in: database), 0, "acknowledged with the log alone")
            database.close()
        }
        do {
            let (database, replica) = try open(dir)
            XCTAssertEqual(replica.summary(of: "orders")?.digest, digest, "the log was merged into the (missing) states")
            try replica.writeAllBehind()
            XCTAssertEqual(try count("replicated_state", in: database), 3)
            database.close()
        }
        let (_, reopened) = try open(dir)
        XCTAssertEqual(reopened.summary(of: "orders")?.digest, digest)
        XCTAssertEqual(reopened.summary(of: "orders")?.applied["hub"], 10)
    }

    func testWriteBehindWaitsForAQuietNodeButNotForever() throws {
        let dir = TemporaryDirectory()
        let (database, replica) = try open(dir)
        let deltas = hubOrders(30)
        _ = try replica.apply([deltas[0]], to: "orders")
        replica.writeBehind(nowMs: 0)
        XCTAssertEqual(try count("replicated_state", in: database), 0, "a change since the last look: not quiet")
        replica.writeBehind(nowMs: 100)
        XCTAssertEqual(try count("replicated_state", in: database), 1, "quiet: written")
        XCTAssertFalse(replica.hasWorkBehind)

        // Under steady load (a change before every look) states still go out after two seconds.
        for (n, delta) in deltas[1...].enumerated() {
            _ = try replica.apply([delta], to: "orders")
            replica.writeBehind(nowMs: 1_000 + Int64(n) * 100)
        }
        XCTAssertEqual(try count("replicated_state", in: database), 3)
    }

    func testANodeThatDoesNotReplicateFoldsItsWholeLog() throws {
        let dir = TemporaryDirectory()
        let (database, replica) = try open(dir)
        replica.stopReplicating()
        _ = try replica.apply(hubOrders(10), to: "orders")
        replica.writeBehind(nowMs: 0)
        replica.writeBehind(nowMs: 100)
        XCTAssertEqual(replica.summary(of: "orders")?.compactedThrough["hub"], 10)
        XCTAssertEqual(try count("op_log_segments", in: database), 0)
        XCTAssertEqual(try count("replicated_state", in: database), 3)
    }

    func testASnapshotIsWrittenAtOnce() throws {
        let dir = TemporaryDirectory()
        var hub = KeyedCollection<GSet<String>>(name: "orders", scope: .global)
        var clock = HybridLogicalClock(replica: "hub")
        for n in 1...4 { _ = hub.commitLocal(key: "o-\(n)", delta: GSet(["placed"]), origin: "hub", timestamp: clock.tick(wallMs: Int64(n))) }
        let (database, replica) = try open(dir)
        _ = try replica.mergeSnapshot(hub.snapshot.state, covers: hub.snapshot.covers, into: "orders")
        XCTAssertEqual(try count("replicated_state", in: database), 4, "no log will ever hold these deltas here")
        XCTAssertEqual(try database.queryOne("SELECT compacted FROM replication_progress WHERE collection = 'orders'") { $0.int(0) }, 4)
    }

    func testAnOpLogFromBeforeSegmentsMovesIntoSegments() throws {
        let dir = TemporaryDirectory()
        let deltas = hubOrders(3)
        do {
            let (database, _) = try open(dir)
            for delta in deltas {
                try database.execute("""
                    INSERT INTO op_log(collection, origin, counter, hlc_ms, hlc_logical, hlc_node, key, delta) VALUES ('orders', ?, ?, ?, ?, ?, ?, ?)
                    """, [delta.dot.replica, Int64(delta.dot.counter), delta.timestamp.physicalMs, Int64(delta.timestamp.logical),
                          delta.timestamp.replica, delta.key, delta.payload])
            }
            try database.execute("INSERT INTO replication_progress(collection, origin, applied, compacted) VALUES ('orders', 'hub', 3, 0)")
            database.close()
        }
        let (database, replica) = try open(dir)
        XCTAssertEqual(try count("op_log", in: database), 0)
        XCTAssertEqual(try count("op_log_segments", in: database), 1)
        XCTAssertEqual(replica.deltas(of: "orders", after: VersionVector(), limit: 10), deltas)
        XCTAssertEqual(replica.summary(of: "orders")?.applied["hub"], 3)
    }

    func testLocalCommitsPersistTheClock() throws {
        let dir = TemporaryDirectory()
        let reading: HLCTimestamp
        do {
            let (database, replica) = try open(dir)
            reading = replica.tick(wallMs: 5_000)
            _ = try database.transaction { try replica.commit(GSet(["placed"]), key: "o-1", in: "orders", at: reading) }
            database.close()
        }
        let (_, reopened) = try open(dir)
        XCTAssertEqual(reopened.clock.last.physicalMs, reading.physicalMs)
        XCTAssertGreaterThan(reopened.tick(wallMs: 1_000), reading, "after a restart with the wall clock behind, readings still increase")
    }

    func testAppliedDeltasMoveTheClockPastTheirStamps() throws {
        let dir = TemporaryDirectory()
        let (_, replica) = try open(dir)
        let ahead = WallClock.nowMs() + 10_000  // a peer whose clock runs 10 s fast: within the drift bound
        var hub = KeyedCollection<GSet<String>>(name: "orders", scope: .global)
        let delta = hub.commitLocal(key: "o-1", delta: GSet(["placed"]), origin: "hub",
                                    timestamp: HLCTimestamp(physicalMs: ahead, logical: 0, replica: "hub"))
        _ = try replica.apply([delta], to: "orders")
        XCTAssertGreaterThan(replica.tick(wallMs: WallClock.nowMs()), delta.timestamp, "this node's next change orders after what it has seen")
    }

    func testDeltasStampedTooFarAheadAreRefused() throws {
        let dir = TemporaryDirectory()
        let (_, replica) = try open(dir)
        var hub = KeyedCollection<GSet<String>>(name: "orders", scope: .global)
        let delta = hub.commitLocal(key: "o-1", delta: GSet(["placed"]), origin: "hub",
                                    timestamp: HLCTimestamp(physicalMs: WallClock.nowMs() + 600_000, logical: 0, replica: "hub"))
        XCTAssertThrowsError(try replica.apply([delta], to: "orders")) { error in
            guard case .clockSkew = error as? ApplyFailure else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(replica.summary(of: "orders")?.applied, VersionVector())
        XCTAssertLessThan(replica.clock.last.physicalMs, WallClock.nowMs() + 1_000, "the clock did not jump")
    }

    /// A group-commit write that changes replicated data and then fails leaves nothing behind,
    /// in memory either: the next write takes the same dot, and a reopen agrees.
    func testAFailedWriteOfAGroupCommitLeavesNoDeltaBehind() throws {
        struct Refused: Error {}
        let dir = TemporaryDirectory()
        let (database, replica) = try open(dir)
        let loop = try EventLoop()
        let writer = try GroupCommit(database: database, loop: loop)
        replica.attach(to: writer)
        func add(_ event: String, thenFail: Bool) {
            writer.submit({ _ in
                var orders = replica.state(at: "o-1", in: "orders", as: GSet<String>.self) ?? GSet()
                _ = try replica.commit(orders.insert(event), key: "o-1", in: "orders", at: replica.tick(wallMs: 1))
                if thenFail { throw Refused() }
            }, completion: { _ in })
        }
        add("kept-1", thenFail: false)
        add("undone", thenFail: true)
        add("kept-2", thenFail: false)
        let stop = try LoopTimer(loop: loop)
        stop.start(afterMs: 5) { writer.close(); stop.close() }
        loop.run()
        XCTAssertEqual(replica.state(at: "o-1", in: "orders", as: GSet<String>.self)?.elements, ["kept-1", "kept-2"])
        XCTAssertEqual(replica.summary(of: "orders")?.applied["store-a"], 2, "no dot was spent on the failed write")
        let digest = replica.summary(of: "orders")?.digest
        database.close()
        let (_, reopened) = try open(dir)
        XCTAssertEqual(reopened.summary(of: "orders")?.digest, digest)
    }

    /// Settlements and offline payment policies are the hub's alone: made by any other origin,
    /// even one relayed by the hub, they are refused; the hub's own are taken.
    func testRecordsOnlyTheHubMayWriteAreRefusedFromAnyoneElse() throws {
        let dir = TemporaryDirectory()
        let (_, replica) = try open(dir)
        replica.hubNodeId = "hub"
        let stamp = HLCTimestamp(physicalMs: 1_000, logical: 0, replica: "store-9")
        var settled = PaymentEvent(kind: .settled, atMs: 1_000, node: "store-9")
        settled.amount = 500
        let forgedSettlement = WireDelta(dot: Dot(replica: "store-9", counter: 1), timestamp: stamp, key: "p-x",
                                         payload: GSet([settled.text]).canonicalBytes)
        XCTAssertNotNil(replica.authorityProblem(in: "payments", delta: forgedSettlement, peer: "store-9", peerRole: "store"))
        XCTAssertNotNil(replica.authorityProblem(in: "payments", delta: forgedSettlement, peer: "hub", peerRole: "hub"),
                        "relayed by the hub, a store's settlement is still forged")
        let hubSettlement = WireDelta(dot: Dot(replica: "hub", counter: 1), timestamp: stamp, key: "p-x", payload: GSet([settled.text]).canonicalBytes)
        XCTAssertNil(replica.authorityProblem(in: "payments", delta: hubSettlement, peer: "store-2", peerRole: "store"), "the hub's own, however it came")
        let sale = PaymentEvent(kind: .authorized, atMs: 1_000, node: "store-9")
        let ownSale = WireDelta(dot: Dot(replica: "store-9", counter: 2), timestamp: stamp, key: "p-y", payload: GSet([sale.text]).canonicalBytes)
        XCTAssertNil(replica.authorityProblem(in: "payments", delta: ownSale, peer: "store-9", peerRole: "store"))

        var policy = ORMap<String, LWWRegister<FieldValue>>()
        let raise = policy.update("exposure_cap", replica: "store-9") { $0.set(.integer(1 << 40), at: stamp) }
        let forgedPolicy = WireDelta(dot: Dot(replica: "store-9", counter: 3), timestamp: stamp, key: "payment-policy:store-9", payload: raise.canonicalBytes)
        XCTAssertNotNil(replica.authorityProblem(in: "catalog", delta: forgedPolicy, peer: "store-9", peerRole: "store"))
        let product = WireDelta(dot: Dot(replica: "store-9", counter: 4), timestamp: stamp, key: "lamp", payload: raise.canonicalBytes)
        XCTAssertNil(replica.authorityProblem(in: "catalog", delta: product, peer: "store-9", peerRole: "store"))
    }
}
