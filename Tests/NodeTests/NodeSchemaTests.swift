@testable import Node
import NodeTesting
import Platform
import XCTest

/// A shipped migration never changes: every node that applied it stored its checksum and refuses
/// to start on a database whose migrations differ from the binary's.
final class NodeSchemaTests: XCTestCase {
    /// SHA-256 of each migration's SQL as it shipped. A new migration adds a line here; an edit
    /// to a shipped one fails this test before it fails a store's start.
    static let shipped: [Int: String] = [
        1: "c1c4d5cc2ff81a166493b93f88cc282edd6b745389d604881414cbb31e31f554",
        2: "775fb2ffc8e2cd190de47722433d61788669486610717cca898bb1b1e78a21e5",
        3: "4f7960d6bcc795d89c7987a123c1b5b4ebc447e05bf3b48b477a1bf65c86b772",
        4: "739782eac4c262655997ced9bcb7ab60fe6691a7906a6769c0c17058d49bb65b",
        5: "1d8d809ed58a19a41d88ddc5475843589aa87e9c478a262fbbb295f140cd469d",
        6: "4acbcc204922627e1fea3e6f4f385a918a2ee672579363ac92c5bae9901d5c7f",
        7: "4f0071814c189933b4e0fa7715a79a5a37ebfccbe50aecc1f45598b67ec503f5",
        8: "25aa58758f774dd53d2998a6d660a6450cc3547ecb4f15d69b132bd163747d9d",
        9: "a06c8f6ef1dafed81452dfd631bf6d2327a2332747f357eb483d6c3341f87f23",
        10: "97df169167c62b576c7e482ee5f02dda2782d481ff1f0bd0c48bce444fcbebf9",
        11: "d780807f96b2fc38fb09550a577f32b199192a3850e3133bb74d73b6d0d6629c",
        12: "f762f3064e2a311e03962f441f0242f0b0643d3b0d51d1c87745852cebd522f4",
        13: "d680fa9eac0c12a9bf91511051cf2f49133b659c83e4ba0a164839c1d995129e",
        14: "a9efc60e654d53adf0a771ea4e9f55f98f33e56aa516b7d9004eb8fa5029d90d",
        15: "1f9ea5e0ac19ce00cb9a8fcb6ec5a15b547b8759315c849113af5e4ba6d7cb81",
        16: "a0cce9b0d78ce8320aa8ccffe2d7da278edec01e6c358fe1a0d87a21372b963f",
        17: "1e9db6412bca9abd90197299231f4a21b0767ca55f58fa513f21fc37ec8f59e6",
        18: "3b8f19ec133875daebe2985cb8dab4598b3e495d0a2ba5ff45202ed411f66f1d",
        19: "d461f75b30470832df7f73d1a124e9509934ea187052ab315c4e0e22a315ca3c",
    ]

    func testNoShippedMigrationChanges() {
        XCTAssertEqual(NodeSchema.migrations.map(\.version), Array(1...NodeSchema.migrations.count), "versions run 1, 2, 3… without gaps")
        for migration in NodeSchema.migrations {
            XCTAssertEqual(SHA256.hex(migration.sql), Self.shipped[migration.version], "migration \(migration.version) (\(migration.name)) changed, or is new: add it here")
        }
    }

    /// What the migrations make is what the code reads: a fresh database takes every migration.
    func testAFreshDatabaseTakesEveryMigration() throws {
        let dir = TemporaryDirectory()
        let database = try Database(path: dir.file("node.sqlite"))
        let applied = try Migrator.apply(NodeSchema.migrations, to: database, now: "t")
        XCTAssertEqual(applied, Array(1...NodeSchema.migrations.count))
        XCTAssertNotNil(try database.queryOne("SELECT count(*) FROM sandbox_settlements") { $0.int(0) })
        XCTAssertNotNil(try database.queryOne("SELECT count(*) FROM ledger_journal") { $0.int(0) })
    }

    /// The backup archive captures changes by primary key (SQLite sessions skip a table without
    /// one): a table added without a key would be missing from every point-in-time restore.
    func testEveryTableHasAPrimaryKeySoTheBackupArchiveCapturesIt() throws {
        let dir = TemporaryDirectory()
        let database = try Database(path: dir.file("node.sqlite"))
        _ = try Migrator.apply(NodeSchema.migrations, to: database, now: "t")
        let tables = try database.query("SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE 'sqlite_%'") { $0.string(0) }
        XCTAssertGreaterThan(tables.count, 30)
        for table in tables {
            let keyed = try database.query("SELECT pk FROM pragma_table_info(?)", [table]) { $0.int(0) }.contains { $0 > 0 }
            XCTAssertTrue(keyed, "\(table) has no PRIMARY KEY")
        }
    }
}
