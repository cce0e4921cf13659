import Logging
@testable import Node
import NodeTesting
import Persistence
import Platform
import XCTest

/// An update whose migrations the release before it cannot run on takes a full backup first
/// (firmware-image/README.md, "Data across updates"): a box rolled back restores it.
final class BackupBeforeMigratingTests: XCTestCase {
    func testOnlyMigrationsOlderReleasesCannotRunOnTakeAFullBackupFirst() throws {
        let scratch = TemporaryDirectory()
        let keyFile = scratch.file("backup.key")
        try BackupKey.create(keyFile)
        var config = NodeConfig()
        config.backup.directory = scratch.file("backups")
        config.backup.keyFile = keyFile
        let logger = Logger(label: "test")

        func database(atVersion version: Int, in directory: String) throws -> Database {
            try Files.createDirectory(directory, mode: 0o700)
            let database = try Database(path: directory + "/" + OutpostNode.databaseFile)
            _ = try Migrator.apply(Array(NodeSchema.migrations.prefix(version)), to: database, now: "t")
            try NodeMeta(database: database).set(.nodeId, "store-1")
            return database
        }

        // Schema 5 to today: migration 6 rebuilds tables, and the release of schema 5 cannot run on the result.
        let old = try database(atVersion: 5, in: scratch.file("old"))
        try OutpostNode.backUpBeforeMigrating(old, config: config, dataDirectory: scratch.file("old"), logger: logger)
        let catalog = try BackupCatalog.read(scratch.file("backups/store-1"))
        XCTAssertEqual(catalog.fulls.map(\.header.schemaVersion), [5], "a full of the schema before the update")

        // Restored, it is the database as it was before the update.
        let restored = try BackupRestore.restore(catalog, key: try BackupKey.load(keyFile), to: scratch.file("restored"), atMs: nil)
        XCTAssertEqual(restored.changesReplayed, 0)
        let back = try Database(path: scratch.file("restored/" + OutpostNode.databaseFile))
        XCTAssertEqual(try Migrator.currentVersion(of: back), 5)

        // Schema 12 to 13 only adds a key the release before runs on: no full.
        let recent = try database(atVersion: 12, in: scratch.file("recent"))
        try OutpostNode.backUpBeforeMigrating(recent, config: config, dataDirectory: scratch.file("recent"), logger: logger)
        XCTAssertEqual(try BackupCatalog.read(scratch.file("backups/store-1")).fulls.count, 1)
    }
}

/// The archive's buffer cuts changes into records a backup file takes (at most 8 MiB each): a
/// commit larger than that, such as a catalog import, goes over several and reads back whole.
final class PendingChangesTests: XCTestCase {
    func testChangesOfAnySizeGoIntoRecordsTheFileTakesAndReadBackInOrder() throws {
        var pending = PendingChanges()
        let changes = [
            BackupRecord.Change(seq: 1, ms: 10, changeset: [1, 2, 3]),
            BackupRecord.Change(seq: 2, ms: 11, changeset: [UInt8](repeating: 7, count: 9 << 20)),
            BackupRecord.Change(seq: 3, ms: 12, changeset: [UInt8](repeating: 8, count: 3 << 20)),
            BackupRecord.Change(seq: 4, ms: 12, changeset: [UInt8](repeating: 9, count: 3 << 20)),
        ]
        for change in changes { pending.add(change) }
        let taken = pending.take()
        XCTAssertEqual(taken.first, 1)
        XCTAssertEqual(taken.through, 4)
        XCTAssertTrue(pending.isEmpty)
        XCTAssertTrue(taken.records.allSatisfy { $0.count <= BackupFile.payloadBytesMax }, "\(taken.records.map(\.count))")
        var reader = BackupRecord.ChangeReader()
        let read = try taken.records.flatMap { try reader.changes(in: $0) }
        XCTAssertEqual(read.map(\.seq), [1, 2, 3, 4])
        XCTAssertEqual(read.map(\.changeset), changes.map(\.changeset))

        // A failed job's records go back in front of what came since.
        pending.add(BackupRecord.Change(seq: 5, ms: 13, changeset: [5]))
        pending.putBack(taken)
        let again = pending.take()
        XCTAssertEqual(again.first, 1)
        XCTAssertEqual(again.through, 5)
        var rereader = BackupRecord.ChangeReader()
        XCTAssertEqual(try again.records.flatMap { try rereader.changes(in: $0) }.map(\.seq), [1, 2, 3, 4, 5])
    }
}

/// Retention: what `prune` and the node remove, and what they keep.
final class BackupRetentionTests: XCTestCase {
    private func entry(_ name: String, kind: String, chain: String, createdMs: Int64, modifiedMs: Int64? = nil) -> BackupCatalog.Entry {
        BackupCatalog.Entry(name: name, path: "/x/" + name,
                            header: BackupHeader(kind: kind, node: "n", region: "eu", role: "store", chain: chain, schemaVersion: 13,
                                                 createdAt: "", createdMs: createdMs, afterSeq: 0),
                            bytes: 1, modifiedMs: modifiedMs ?? createdMs)
    }

    func testOldFullsGoButTheNewestStaysAndAKeptFullKeepsItsArchive() {
        let day: Int64 = 86_400_000, now = 100 * day
        let catalog = BackupCatalog(directory: "/x", fulls: [
            entry("full-old", kind: "full", chain: "a", createdMs: now - 40 * day),
            entry("full-kept", kind: "full", chain: "b", createdMs: now - 10 * day),
        ], archives: [
            entry("archive-a", kind: "archive", chain: "a", createdMs: now - 40 * day, modifiedMs: now - 39 * day),
            entry("archive-b", kind: "archive", chain: "b", createdMs: now - 10 * day, modifiedMs: now - 35 * day),
            entry("archive-a-late", kind: "archive", chain: "a", createdMs: now - 40 * day, modifiedMs: now - 5 * day),
        ], ignored: [])
        XCTAssertEqual(Set(catalog.expired(nowMs: now, retentionMs: 30 * day).map(\.name)), ["full-old", "archive-a"],
                       "a chain without a kept full goes once written before the oldest kept full; a kept full's chain stays")
        // Everything past retention: the newest full stays all the same.
        XCTAssertEqual(Set(catalog.expired(nowMs: now, retentionMs: day).map(\.name)), ["full-old", "archive-a"])
    }
}
