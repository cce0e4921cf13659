import NodeTesting
import Platform
import XCTest

/// The libpq connection the hub's PostgreSQL ledger is built on, against private clusters:
/// statements with parameters, prepared statements, SQLSTATEs, transactions, and a failover
/// from a killed primary to its promoted synchronous standby through a multi-host connection
/// string.
final class PostgresTests: XCTestCase {
    func testStatementsPreparedStatementsErrorsAndTransactions() throws {
        try XCTSkipUnless(PostgresCluster.isInstalled, "PostgreSQL is installed by .ci/setup")
        let cluster = try PostgresCluster.start()
        let db = try PostgresConnection(cluster.conninfo)
        try db.execute("CREATE TABLE transfer (id TEXT PRIMARY KEY, amount BIGINT NOT NULL, hash BYTEA NOT NULL, note TEXT)")
        let hash: [UInt8] = [0, 1, 0xfe, 0xff]
        XCTAssertEqual(try db.execute("INSERT INTO transfer VALUES ($1, $2, $3, $4)", ["t-1", "1999", PostgresBytes.encode(hash), nil]).affected, 1)
        for n in 2...4 {
            try db.execute(prepared: "insert", "INSERT INTO transfer VALUES ($1, $2, $3, NULL)", ["t-\(n)", "\(n)", PostgresBytes.encode([UInt8(n)])])
        }
        let rows = try db.execute("SELECT id, amount, hash, note FROM transfer ORDER BY id")
        XCTAssertEqual(rows.rows.count, 4)
        XCTAssertEqual(rows.rows[0][1], "1999")
        XCTAssertEqual(rows.rows[0][2].flatMap(PostgresBytes.decode), hash)
        XCTAssertNil(rows.rows[0][3])
        XCTAssertEqual(try db.execute("SELECT sum(amount) FROM transfer").value(), "2008")

        XCTAssertThrowsError(try db.execute("INSERT INTO transfer VALUES ('t-1', 1, '\\x00', NULL)")) {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState, PostgresError.uniqueViolation)
        }
        // A transaction that throws leaves nothing.
        XCTAssertThrowsError(try db.transaction {
            try db.execute("INSERT INTO transfer VALUES ('t-9', 9, '\\x09', NULL)")
            try db.execute("INSERT INTO transfer VALUES ('t-1', 1, '\\x00', NULL)")
        })
        XCTAssertEqual(try db.execute("SELECT count(*) FROM transfer").value(), "4")
    }

    func testAfterThePrimaryDiesTheConnectionFindsThePromotedStandbyAndNothingCommittedIsLost() throws {
        try XCTSkipUnless(PostgresCluster.isInstalled, "PostgreSQL is installed by .ci/setup")
        let primary = try PostgresCluster.start()
        let standby = try primary.startStandby()
        let both = "host=127.0.0.1,127.0.0.1 port=\(primary.port),\(standby.port) dbname=postgres user=postgres target_session_attrs=read-write connect_timeout=5"
        let db = try PostgresConnection(both)
        try db.execute("CREATE TABLE settled (id TEXT PRIMARY KEY)")
        for n in 1...20 { try db.execute(prepared: "settle", "INSERT INTO settled VALUES ($1)", ["p-\(n)"]) }
        XCTAssertEqual(try PostgresConnection(standby.conninfo).execute("SELECT pg_is_in_recovery()").value(), "t", "the standby is a standby")

        try primary.kill()
        XCTAssertThrowsError(try db.execute("SELECT 1")) { XCTAssertEqual(($0 as? PostgresError)?.connectionLost, true) }
        XCTAssertThrowsError(try db.reconnect(), "no primary until the standby is promoted")
        try standby.promote()
        XCTAssertTrue(eventually { (try? db.reconnect()) != nil })
        XCTAssertEqual(try db.execute("SELECT count(*) FROM settled").value(), "20", "every commit acknowledged by the old primary is on the new one")
        try db.execute(prepared: "settle", "INSERT INTO settled VALUES ($1)", ["p-21"])
        XCTAssertEqual(try db.execute("SELECT count(*) FROM settled").value(), "21")
    }
}
