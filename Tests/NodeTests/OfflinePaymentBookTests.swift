import Commerce
@testable import Node
import NodeTesting
import Platform
import XCTest

/// The book of payments taken offline, on the node's own tables (its migrations).
final class OfflinePaymentBookTests: XCTestCase {
    func testExposureCountsWhatTheHubHasNotAnsweredAndPagesBySoonestDeadline() throws {
        let dir = TemporaryDirectory()
        let database = try Database(path: dir.file("node.sqlite"))
        try Migrator.apply(NodeSchema.migrations, to: database, now: "t")
        let book = OfflinePaymentBook(database: database)
        XCTAssertEqual(try book.exposure(), 0)
        try book.record(payment: "p-1", order: "o-1", currency: "EUR", amount: 5_000, takenMs: 1_000, deadlineMs: 90_000)
        try book.record(payment: "p-2", order: "o-2", currency: "EUR", amount: 2_500, takenMs: 2_000, deadlineMs: 50_000)
        XCTAssertEqual(try book.exposure(), 7_500)
        let summary = try book.summary(nowMs: 60_000)
        XCTAssertEqual(summary.open, 2)
        XCTAssertEqual(summary.overdue, 1, "p-2's deadline passed")
        let first = try book.open(limit: 1, after: nil)
        XCTAssertEqual(first.map(\.payment), ["p-2"], "soonest deadline first")
        XCTAssertEqual(try book.open(limit: 1, after: (first[0].deadlineMs, first[0].payment)).map(\.payment), ["p-1"])
        try book.answered("p-2", outcome: .declined, atMs: 61_000)
        XCTAssertFalse(try book.isUnanswered("p-2"))
        XCTAssertEqual(try book.exposure(), 5_000, "an answered payment no longer counts")
        XCTAssertEqual(try database.queryOne("SELECT outcome FROM offline_payments WHERE payment_id = 'p-2'") { $0.string(0) }, "declined")
        try database.execute("DROP TABLE offline_payments")
        XCTAssertThrowsError(try book.exposure(), "unreadable, it throws rather than reading 0")
    }
}
