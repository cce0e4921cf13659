import Foundation
import Glibc
import NodeTesting
import Platform
import XCTest

final class FilesTests: XCTestCase {
    func testAtomicWritesSetExactlyTheModeAskedWhateverTheUmask() throws {
        let dir = TemporaryDirectory()
        let old = umask(0o077)
        defer { umask(old) }
        try Files.writeAtomically(dir.file("public"), "x", mode: 0o644)
        try Files.writeAtomically(dir.file("secret"), "y", mode: 0o600)
        XCTAssertEqual(Files.permissions(dir.file("public")), 0o644)
        XCTAssertEqual(Files.permissions(dir.file("secret")), 0o600)
        XCTAssertEqual(try Files.readString(dir.file("secret")), "y")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.contains(".tmp-") }, "no temp file left")
    }

    func testCreateDirectoryMakesParents() throws {
        let dir = TemporaryDirectory()
        try Files.createDirectory(dir.file("a/b/c"))
        XCTAssertTrue(Files.isDirectory(dir.file("a/b/c")))
        try Files.createDirectory(dir.file("a/b/c"))  // again: nothing to do
    }

    func testReadingAMissingFileSaysWhichFile() {
        XCTAssertThrowsError(try Files.readBytes("/nonexistent/outpost")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/outpost"))
        }
    }

    func testAbsolutePathsDropTheLeadingDot() {
        XCTAssertFalse(Files.absolute("./data").contains("/./"))
        XCTAssertTrue(Files.absolute("./data").hasSuffix("/data"))
        XCTAssertEqual(Files.absolute("/srv/x"), "/srv/x")
    }
}

final class FileLockTests: XCTestCase {
    func testASecondHolderIsRefusedUntilTheFirstReleases() throws {
        let dir = TemporaryDirectory()
        let first = try FileLock(path: dir.file("lock"))
        // flock locks belong to open file descriptions: a second open in this process conflicts too.
        XCTAssertThrowsError(try FileLock(path: dir.file("lock"))) { error in
            XCTAssertEqual((error as? PlatformError)?.name, "EAGAIN")
        }
        first.release()
        XCTAssertNoThrow(try FileLock(path: dir.file("lock")))
    }
}

final class LogSinkTests: XCTestCase {
    func testLinesArriveWholeAndInOrderFromManyThreads() throws {
        let dir = TemporaryDirectory()
        let sink = try LogSink(path: dir.file("log"))
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for line in 0..<500 {
                let text = Array("thread \(thread) line \(line) \(String(repeating: "x", count: 100))".utf8)
                if line % 2 == 0 { sink.writeLine(text) } else { sink.bufferLine(text) }
            }
        }
        sink.flush()
        let lines = try Files.readString(dir.file("log")).split(separator: "\n")
        XCTAssertEqual(lines.count, 8 * 500)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("thread ") && $0.hasSuffix(String(repeating: "x", count: 100)) }, "no line is torn")
    }
}
