import NodeTesting
import Platform
import XCTest

final class DatabaseTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory() }
    // XCTest keeps every test case object until the process ends, and deinit would never run.
    override func tearDown() { directory = nil }

    private func open(_ options: Database.Options = .init()) throws -> Database {
        try Database(path: directory.file("test.sqlite"), options: options)
    }

    func testOpensInWALWithForeignKeysAndTheChosenSynchronousLevel() throws {
        let full = try open(.init(synchronous: .full))
        XCTAssertEqual(try full.queryOne("PRAGMA journal_mode") { $0.string(0) }, "wal")
        XCTAssertEqual(try full.queryOne("PRAGMA foreign_keys") { $0.int(0) }, 1)
        XCTAssertEqual(try full.synchronousLevel(), 2)
        full.close()
        let normal = try open(.init(synchronous: .normal))
        XCTAssertEqual(try normal.synchronousLevel(), 1)
    }

    func testBindsAndReadsEveryType() throws {
        let db = try open()
        try db.executeScript("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
        let blob: [UInt8] = [0, 1, 2, 255]
        try db.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [Int64.min, 2.5, "Grüße, 東京 🛒", blob, SQLValue.null])
        let row = try XCTUnwrap(db.queryOne("SELECT i, r, s, b, n FROM t") { ($0.int64(0), $0.double(1), $0.string(2), $0.blob(3), $0.optionalString(4)) })
        XCTAssertEqual(row.0, Int64.min)
        XCTAssertEqual(row.1, 2.5)
        XCTAssertEqual(row.2, "Grüße, 東京 🛒")
        XCTAssertEqual(row.3, blob)
        XCTAssertNil(row.4)
    }

    func testPreparedStatementsAreCachedBySQL() throws {
        let db = try open()
        let first = try db.statement("SELECT 1")
        let second = try db.statement("SELECT 1")
        XCTAssertTrue(first === second)
    }

    func testTransactionRollsBackWhenTheBodyThrows() throws {
        let db = try open()
        try db.executeScript("CREATE TABLE t (x INTEGER)")
        struct Boom: Error {}
        XCTAssertThrowsError(try db.transaction {
            try db.execute("INSERT INTO t VALUES (1)")
            throw Boom()
        })
        XCTAssertEqual(try db.queryOne("SELECT count(*) FROM t") { $0.int(0) }, 0)
        XCTAssertFalse(db.isInTransaction)
    }

    func testConstraintErrorsNameTheSQLButNeverTheBoundValues() throws {
        let db = try open()
        try db.executeScript("CREATE TABLE customer (email TEXT PRIMARY KEY)")
        try db.execute("INSERT INTO customer VALUES (?)", ["alice@example.com"])
        XCTAssertThrowsError(try db.execute("INSERT INTO customer VALUES (?)", ["alice@example.com"])) { error in
            let storage = error as? StorageError
            XCTAssertEqual(storage?.code, .constraint)
            XCTAssertEqual(storage?.sql, "INSERT INTO customer VALUES (?)")
            XCTAssertFalse("\(error)".contains("alice"), "bound values stay out of errors: \(error)")
        }
    }

    func testBadSQLIsReportedAsSQLError() throws {
        let db = try open()
        XCTAssertThrowsError(try db.execute("SELEC nonsense")) { error in
            XCTAssertEqual((error as? StorageError)?.code, .sql)
        }
    }

    func testOpeningSomethingThatIsNotADatabaseFails() throws {
        let path = directory.file("junk.sqlite")
        try Files.writeAtomically(path, String(repeating: "not a database ", count: 100))
        XCTAssertThrowsError(try Database(path: path))
    }

    func testIntegrityCheckAndCheckpoint() throws {
        let db = try open()
        try db.executeScript("CREATE TABLE t (x); INSERT INTO t VALUES (1)")
        XCTAssertEqual(try db.integrityCheck(), ["ok"])
        try db.checkpoint()
        XCTAssertEqual(Files.size(directory.file("test.sqlite-wal")), 0, "a TRUNCATE checkpoint empties the WAL")
    }

    func testReadsHeldForATurnNeverHideAWriteAndEndWithTheTurn() throws {
        let db = try open()
        try db.executeScript("CREATE TABLE t (x)")
        let loop = try EventLoop()
        try db.holdReadsUntilTurnEnd(on: loop)
        let observer = try open()
        let count = { try db.queryOne("SELECT count(*) FROM t") { $0.int(0) } }
        XCTAssertEqual(try count(), 0)
        XCTAssertFalse(db.isInTransaction, "the held read is not a transaction of the caller's")
        // A write ends the held read and commits at once: another connection sees it.
        try db.execute("INSERT INTO t VALUES (1)")
        XCTAssertEqual(try observer.queryOne("SELECT count(*) FROM t") { $0.int(0) }, 1)
        XCTAssertEqual(try count(), 1)
        // A transaction opens in the same turn, after a read.
        _ = try db.transaction { try db.execute("INSERT INTO t VALUES (2)") }
        XCTAssertEqual(try count(), 2)
        // Before the loop waits, the read is let go: another connection's checkpoint empties the WAL.
        loop.runOnce()
        XCTAssertEqual(try observer.queryOne("PRAGMA wal_checkpoint(TRUNCATE)") { $0.int(0) }, 0, "not busy")
        XCTAssertEqual(Files.size(directory.file("test.sqlite-wal")), 0)
        db.close()
        loop.run()
        loop.close()
    }
}

final class MigratorTests: XCTestCase {
    private let v1 = Migration(version: 1, name: "products", sql: "CREATE TABLE product (sku TEXT PRIMARY KEY)")
    private let v2 = Migration(version: 2, name: "prices", sql: "ALTER TABLE product ADD COLUMN price_minor INTEGER")

    func testAppliesInOrderOnceAndRecordsEach() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.file("m.sqlite"))
        XCTAssertEqual(try Migrator.apply([v1], to: db, now: "t0"), [1])
        XCTAssertEqual(try Migrator.apply([v1, v2], to: db, now: "t1"), [2])
        XCTAssertEqual(try Migrator.apply([v1, v2], to: db, now: "t2"), [], "applying again changes nothing")
        XCTAssertEqual(try Migrator.currentVersion(of: db), 2)
        try db.execute("INSERT INTO product VALUES ('A', 100)")
    }

    func testRefusesAShippedMigrationThatWasEdited() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.file("m.sqlite"))
        try Migrator.apply([v1], to: db, now: "t0")
        let edited = Migration(version: 1, name: "products", sql: "CREATE TABLE product (sku TEXT PRIMARY KEY, name TEXT)")
        XCTAssertThrowsError(try Migrator.apply([edited], to: db, now: "t1")) { error in
            XCTAssertEqual((error as? StorageError)?.code, .migration)
            XCTAssertTrue("\(error)".contains("never be edited"))
        }
    }

    func testRefusesADatabaseFromANewerRelease() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.file("m.sqlite"))
        try Migrator.apply([v1, v2], to: db, now: "t0")
        XCTAssertThrowsError(try Migrator.apply([v1], to: db, now: "t1")) { error in
            XCTAssertTrue("\(error)".contains("newer than this binary"))
        }
    }

    /// A box rolled back after an update: the older release runs on a database the newer one
    /// migrated when every migration it does not know declared it additive, and refuses otherwise.
    func testAnOlderReleaseRunsOnlyOnAdditiveMigrationsItDoesNotKnow() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.file("m.sqlite"))
        let additive = Migration(version: 2, name: "prices", sql: "ALTER TABLE product ADD COLUMN price_minor INTEGER NOT NULL DEFAULT 0",
                                 olderReleasesCanRun: true)
        XCTAssertEqual(try Migrator.apply([v1, additive], to: db, now: "t0"), [1, 2])
        try db.execute("INSERT INTO product(sku) VALUES ('A')")
        XCTAssertEqual(try Migrator.apply([v1], to: db, now: "t1"), [], "the older release starts and applies nothing")
        XCTAssertEqual(try db.queryOne("SELECT count(*) FROM product") { $0.int(0) }, 1, "and reads what it knows")

        let renaming = Migration(version: 3, name: "rename", sql: "ALTER TABLE product RENAME COLUMN sku TO code")
        XCTAssertEqual(try Migrator.apply([v1, additive, renaming], to: db, now: "t2"), [3])
        XCTAssertThrowsError(try Migrator.apply([v1], to: db, now: "t3")) { error in
            XCTAssertTrue("\(error)".contains("migration 3 changed what this release reads"), "\(error)")
        }
        XCTAssertThrowsError(try Migrator.apply([v1, additive], to: db, now: "t3"), "one version back, across the rename, refuses too")
    }

    func testAFailingMigrationLeavesNoTrace() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.file("m.sqlite"))
        let broken = Migration(version: 2, name: "broken", sql: "CREATE TABLE a (x); CREATE TABLE a (x)")
        XCTAssertThrowsError(try Migrator.apply([v1, broken], to: db, now: "t0"))
        XCTAssertEqual(try Migrator.currentVersion(of: db), 1)
        XCTAssertNil(try db.queryOne("SELECT name FROM sqlite_master WHERE name = 'a'") { $0.string(0) })
    }
}

final class GroupCommitTests: XCTestCase {
    func testWritesOfOneTurnCommitTogetherAndAreAnsweredAfterTheCommit() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("g.sqlite")
        let db = try Database(path: path)
        try db.executeScript("CREATE TABLE orders (id TEXT PRIMARY KEY)")
        let loop = try EventLoop()
        let writer = try GroupCommit(database: db, loop: loop)
        let observer = try Database(path: path)
        var answered: [String] = []
        for id in ["o1", "o2", "o3"] {
            writer.submit({ db in try db.execute("INSERT INTO orders VALUES (?)", [id]) }) { result in
                if case .failure(let error) = result { XCTFail("write failed: \(error)") }
                // Another connection sees the row: the commit happened before this reply.
                let visible = try? observer.queryOne("SELECT count(*) FROM orders WHERE id = ?", [id]) { $0.int(0) }
                XCTAssertEqual(visible, 1)
                answered.append(id)
            }
        }
        XCTAssertEqual(writer.pendingCount, 3)
        let stop = try LoopTimer(loop: loop)
        stop.start(afterMs: 5) { writer.close(); stop.close() }
        loop.run()
        XCTAssertEqual(answered, ["o1", "o2", "o3"])
        XCTAssertEqual(writer.commits, 1, "three writes, one transaction")
        XCTAssertEqual(writer.writesCommitted, 3)
        loop.close()
    }

    func testAFailingWriteFailsAloneAndTheOthersCommit() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.file("g.sqlite"))
        try db.executeScript("CREATE TABLE orders (id TEXT PRIMARY KEY)")
        let loop = try EventLoop()
        let writer = try GroupCommit(database: db, loop: loop)
        var outcomes: [String: Bool] = [:]
        for id in ["a", "a", "b"] {
            writer.submit({ db in try db.execute("INSERT INTO orders VALUES (?)", [id]) }) { result in
                outcomes[id, default: true] = outcomes[id, default: true] && ((try? result.get()) != nil)
            }
        }
        writer.close()
        XCTAssertEqual(outcomes["a"], false, "the duplicate failed")
        XCTAssertEqual(outcomes["b"], true)
        XCTAssertEqual(try db.query("SELECT id FROM orders ORDER BY id") { $0.string(0) }, ["a", "b"])
        loop.close()
    }

    func testAFailedCommitIsReportedAndFailsEveryWriteOfTheBatch() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.file("g.sqlite"))
        try db.executeScript("CREATE TABLE orders (id TEXT PRIMARY KEY)")
        let loop = try EventLoop()
        let writer = try GroupCommit(database: db, loop: loop)
        var reported = 0
        writer.onCommitFailed = { _ in reported += 1 }
        var outcomes: [Bool] = []
        writer.submit({ db in try db.execute("INSERT INTO orders VALUES ('a')") }) { outcomes.append((try? $0.get()) != nil) }
        // A write that ends the transaction under the batch's feet: the COMMIT then fails.
        writer.submit({ db in try db.execute("ROLLBACK") }) { outcomes.append((try? $0.get()) != nil) }
        writer.close()
        XCTAssertEqual(reported, 1)
        XCTAssertEqual(outcomes, [false, false], "nothing of a failed batch is acknowledged")
        XCTAssertEqual(try db.queryOne("SELECT count(*) FROM orders") { $0.int(0) }, 0)
        loop.close()
    }
}
