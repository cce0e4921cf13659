import Foundation
import NodeTesting
import Platform
import XCTest

/// The backup file format (docs/backups.md, "Files") and the change capture the continuous
/// archive is made of.
final class BackupFileTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private let key = SecureRandom.bytes(32)

    override func setUp() { directory = TemporaryDirectory() }
    override func tearDown() { directory = nil }

    private func write(_ name: String, records: [[UInt8]], sealed: Bool = true) throws -> String {
        let path = directory.file(name)
        let writer = try BackupFileWriter(path: path, header: Array(#"{"kind":"test"}"#.utf8), masterKey: key)
        for record in records { try writer.append(record) }
        if sealed { try writer.seal() } else { try writer.sync() }
        return path
    }

    private func readAll(_ path: String, key: [UInt8]) throws -> [[UInt8]] {
        let reader = try BackupFileReader(path: path, masterKey: key)
        var records: [[UInt8]] = []
        while let record = try reader.next() { records.append(record) }
        XCTAssertTrue(reader.isSealed)
        return records
    }

    func testRecordsComeBackOnlyWithTheKeyAndOnlyAsWritten() throws {
        let records = [Array("first".utf8), [UInt8](repeating: 7, count: 1 << 20), []]
        let path = try write("full.obk", records: records)
        XCTAssertEqual(try readAll(path, key: key), records)
        XCTAssertEqual(try BackupFileReader.header(of: path), Array(#"{"kind":"test"}"#.utf8), "the header reads without the key")
        XCTAssertFalse(try Data(contentsOf: URL(fileURLWithPath: path)).range(of: Data("first".utf8)) != nil, "nothing is in the clear")

        XCTAssertThrowsError(try BackupFileReader(path: path, masterKey: SecureRandom.bytes(32))) {
            XCTAssertEqual($0 as? BackupFileError, .wrongKey(path))
        }

        // Any byte changed past the header: the record holding it does not open.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for offset in [bytes.count - 3, bytes.count / 2, 80] {
            var altered = bytes
            altered[offset] ^= 0x01
            let copy = directory.file("altered-\(offset).obk")
            try altered.write(to: URL(fileURLWithPath: copy))
            XCTAssertThrowsError(try readAll(copy, key: key), "byte \(offset)") { error in
                guard case .altered = error as? BackupFileError else { return XCTFail("byte \(offset): \(error)") }
            }
        }
        // Cut short, or its header changed: refused.
        let cut = directory.file("cut.obk")
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try readAll(cut, key: key)) { XCTAssertEqual($0 as? BackupFileError, .truncated(cut, records: 3)) }
        var renamed = bytes
        renamed[50] ^= 0x20  // inside the JSON header
        let header = directory.file("header.obk")
        try renamed.write(to: URL(fileURLWithPath: header))
        XCTAssertThrowsError(try readAll(header, key: key)) { XCTAssertEqual($0 as? BackupFileError, .altered(header, record: 0)) }
        let text = directory.file("text.obk")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        XCTAssertThrowsError(try BackupFileReader(path: text, masterKey: key)) { XCTAssertEqual($0 as? BackupFileError, .notABackup(text)) }
    }

    /// A file still being appended to reads up to its last whole record.
    func testAnUnsealedFileReadsUpToItsLastWholeRecord() throws {
        let path = try write("archive.obk", records: [[1], [2, 2]], sealed: false)
        let reader = try BackupFileReader(path: path, masterKey: key)
        XCTAssertEqual(try reader.next(), [1])
        XCTAssertEqual(try reader.next(), [2, 2])
        XCTAssertThrowsError(try reader.next()) { XCTAssertEqual($0 as? BackupFileError, .truncated(path, records: 2)) }
    }

    /// What a connection commits comes out as changesets that replay it exactly; what it rolls
    /// back does not.
    func testCommittedChangesReplayOntoACopyAndRolledBackOnesAreNotCaptured() throws {
        let source = try Database(path: directory.file("source.sqlite"))
        try source.executeScript("CREATE TABLE item (id TEXT PRIMARY KEY, units INTEGER NOT NULL)")
        let copyPath = directory.file("copy.sqlite")
        try source.execute("VACUUM INTO '\(copyPath)'")
        var changesets: [[UInt8]] = []
        let capture = try source.captureChanges { changesets.append($0) }

        try source.execute("INSERT INTO item VALUES ('a', 1)")  // autocommit
        try source.transaction {
            try source.execute("INSERT INTO item VALUES ('b', 2)")
            try source.execute("UPDATE item SET units = 5 WHERE id = 'a'")
        }
        XCTAssertThrowsError(try source.transaction {
            try source.execute("INSERT INTO item VALUES ('c', 3)")
            throw BackupFileError.io("rolled back")
        })
        try source.transaction {
            _ = try? source.savepoint { try source.execute("DELETE FROM item WHERE id = 'b'"); throw BackupFileError.io("undone") }
            try source.execute("DELETE FROM item WHERE id = 'a'")
        }
        XCTAssertEqual(changesets.count, 3, "three commits changed something")
        XCTAssertEqual(capture.changesets, 3)

        let copy = try Database(path: copyPath)
        for changeset in changesets { try copy.apply(changeset: changeset, conflicts: .refuse) }
        let rows = try copy.query("SELECT id, units FROM item ORDER BY id") { "\($0.string(0))=\($0.int(1))" }
        XCTAssertEqual(rows, ["b=2"])

        // Replayed again onto a state that holds them already: refused strictly, harmless when overwriting.
        XCTAssertThrowsError(try copy.apply(changeset: changesets[2], conflicts: .refuse), "a is gone already")
        for changeset in changesets { try copy.apply(changeset: changeset, conflicts: .overwrite) }
        XCTAssertEqual(try copy.query("SELECT id, units FROM item ORDER BY id") { "\($0.string(0))=\($0.int(1))" }, ["b=2"])
    }
}
