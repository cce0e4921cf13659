// Durable transfers per second posted through the hub's Ledger (hash chain and balances
// included), beside a plain SQLite insert loop, both in WAL with synchronous=FULL on the same
// disk, in the same run, with the same batch size per commit (what group commit gives the hub).
//
// Then the same on a private PostgreSQL cluster (fsync on, synchronous_commit on): the ledger on
// PostgresBooks beside a plain insert of the same number of ~200-byte rows per transaction, in
// one statement each (INSERT … SELECT FROM unnest), as the ledger's batches are written.
//
//   ledger-bench [SECONDS] [BATCH] [ROUNDS]
import Foundation
import Ledger
import Node
import NodeTesting
import Platform

let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 3 : 3
let batch = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 1000 : 1000
let roundCount = max(1, CommandLine.arguments.count > 3 ? Int(CommandLine.arguments[3]) ?? 3 : 3)
let directory = NSTemporaryDirectory() + "outpost-ledger-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }

func elapsed(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// Rows per second: `body` writes one batch per transaction until `seconds` pass.
@MainActor func measure(_ database: Database, _ body: (Int) throws -> Void) throws -> Double {
    var rows = 0
    let start = ContinuousClock.now
    while elapsed(since: start) < seconds {
        let first = rows
        try database.transaction { try body(first) }
        rows += batch
    }
    return Double(rows) / elapsed(since: start)
}

// The reference: one ~200-byte row per insert, as many rows per commit.
let plain = try Database(path: directory + "/plain.sqlite", options: .init(synchronous: .full))
try plain.executeScript("CREATE TABLE rows(id TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT")
let body = String(repeating: "x", count: 200)
var plainRows = 0
@MainActor func plainRound() throws -> Double {
    try measure(plain) { _ in
        for _ in 0..<batch {
            _ = try plain.execute("INSERT INTO rows(id, body) VALUES (?, ?)", ["row-\(plainRows)", body])
            plainRows += 1
        }
    }
}

// The ledger: settlement transfers from 8 stores' clearing accounts to sales, each its own id.
let books = try Database(path: directory + "/ledger.sqlite", options: .init(synchronous: .full))
_ = try Migrator.apply(NodeSchema.migrations, to: books, now: "bench")
let ledger = Ledger(database: books)
try books.transaction {
    try ledger.open(LedgerAccount(id: "eu:EUR:sales", kind: .revenue, currency: "EUR"))
    for store in 0..<8 { try ledger.open(LedgerAccount(id: "store-\(store):EUR:acquirer_clearing", kind: .asset, currency: "EUR")) }
}
/// The workload both ledgers post: one batch of settlement transfers, numbered from `first`.
func postSettlements(_ ledger: Ledger, first: Int) throws {
    let requests = (first..<(first + batch)).map { n in
        TransferRequest(id: "settle:p-\(n)", debit: "store-\(n % 8):EUR:acquirer_clearing", credit: "eu:EUR:sales", amount: Int64(100 + n % 5000),
                        code: "settlement", reference: "p-\(n)")
    }
    let results = try ledger.create(requests, atMs: 1_795_000_000_000 + Int64(first))
    precondition(results.allSatisfy(\.isOK), "every transfer recorded")
}

var transfers = 0
@MainActor func ledgerRound() throws -> Double {
    try measure(books) { _ in
        try postSettlements(ledger, first: transfers)
        transfers += batch
    }
}

// Rounds alternate which goes first, so neither always runs while the disk still flushes the
// other's writes; the ratio is taken per round, from the two measured side by side.
@MainActor func alternating(_ plain: () throws -> Double, _ ledger: () throws -> Double) throws -> [(plain: Double, ledger: Double)] {
    try (0..<roundCount).map { round in
        if round % 2 == 0 {
            let p = try plain()
            return (p, try ledger())
        }
        let l = try ledger()
        return (try plain(), l)
    }
}
let rounds = try alternating(plainRound, ledgerRound)
let verified = try ledger.verify()
precondition(verified.isValid, "the books verify after the run: \(verified.problems)")

func median(_ values: [Double]) -> Double { let sorted = values.sorted(); return sorted[sorted.count / 2] }
func cell(_ values: [Double], _ format: String) -> String {
    String(format: format, median(values)) + " (" + String(format: format, values.min() ?? 0) + "-" + String(format: format, values.max() ?? 0) + ")"
}
print("\n| durable writes, WAL, synchronous=FULL, \(batch) per commit | median (range) over \(roundCount) rounds of \(Int(seconds)) s |")
print("|---|---|")
print("| SQLite insert loop, rows/s | \(cell(rounds.map(\.plain), "%.0f")) |")
print("| Ledger transfers (hash chain, balances), transfers/s | \(cell(rounds.map(\.ledger), "%.0f")) |")
print("| ratio, per round | \(cell(rounds.map { $0.ledger / $0.plain }, "%.2f")) |")
print("journal verified: \(verified.entries) entries, head \(verified.head.prefix(16))…")

// PostgreSQL: the same workload, one transaction per batch, on a private cluster.
guard PostgresCluster.isInstalled else {
    print("PostgreSQL is not installed (bash .ci/setup): no PostgreSQL figures")
    exit(0)
}
let cluster = try PostgresCluster.start()
let pgPlain = try PostgresConnection(cluster.conninfo)
try pgPlain.execute("CREATE TABLE rows(id TEXT PRIMARY KEY, body TEXT NOT NULL)")
let pgBooks = PostgresBooks(connection: try PostgresConnection(cluster.conninfo))
try pgBooks.createSchema()
let pgLedger = Ledger(books: pgBooks)
try pgBooks.transaction {
    try pgLedger.open(LedgerAccount(id: "eu:EUR:sales", kind: .revenue, currency: "EUR"))
    for store in 0..<8 { try pgLedger.open(LedgerAccount(id: "store-\(store):EUR:acquirer_clearing", kind: .asset, currency: "EUR")) }
}

/// Rows per second on PostgreSQL: `oneBatch` writes one batch in its own transaction, until
/// `seconds` pass.
@MainActor func measurePostgres(_ oneBatch: () throws -> Void) throws -> Double {
    var rows = 0
    let start = ContinuousClock.now
    while elapsed(since: start) < seconds {
        try oneBatch()
        rows += batch
    }
    return Double(rows) / elapsed(since: start)
}

var pgPlainRows = 0
@MainActor func pgPlainRound() throws -> Double {
    try measurePostgres {
        try pgPlain.transaction {
        var ids = PostgresArrayLiteral(reservingBytes: batch * 16), bodies = PostgresArrayLiteral(reservingBytes: batch * 210)
        for n in pgPlainRows..<(pgPlainRows + batch) {
            ids.append("row-\(n)")
            bodies.append(body)
        }
        pgPlainRows += batch
        try pgPlain.execute(prepared: "rows", "INSERT INTO rows(id, body) SELECT * FROM unnest($1::text[], $2::text[])", [ids.text, bodies.text])
        }
    }
}

// The same rows as the journal's, with its indexes, written by the same statement, without the
// ledger's work (no lookups, no chain, no balances): what the ledger costs beyond its rows.
try pgPlain.execute("CREATE TABLE journal_rows (LIKE ledger_journal INCLUDING ALL)")
var pgJournalRows = 0
@MainActor func pgJournalRowsRound() throws -> Double {
    try measurePostgres {
        try pgPlain.transaction {
            var columns = Array(repeating: PostgresArrayLiteral(reservingBytes: batch * 16), count: 13)
            for n in pgJournalRows..<(pgJournalRows + batch) {
                columns[0].append(Int64(n + 1))
                columns[1].append("settle:p-\(n)")
                columns[2].append("posted")
                columns[3].append("store-\(n % 8):EUR:acquirer_clearing")
                columns[4].append("eu:EUR:sales")
                columns[5].append(Int64(100 + n % 5000))
                columns[6].append("EUR")
                columns[7].append(nil as String?)
                columns[8].append(nil as Int64?)
                columns[9].append("settlement")
                columns[10].append("p-\(n)")
                columns[11].append(Int64(1_795_000_000_000 + n))
                columns[12].append(bytea: SHA256.hash(Array("\(n)".utf8)))
            }
            pgJournalRows += batch
            try pgPlain.execute(prepared: "journal_rows", """
                INSERT INTO journal_rows SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
                    $8::text[], $9::bigint[], $10::text[], $11::text[], $12::bigint[], $13::bytea[])
                """, columns.map(\.text))
        }
    }
}

var pgTransfers = 0
@MainActor func pgLedgerRound() throws -> Double {
    try measurePostgres {
        try pgBooks.transaction { try postSettlements(pgLedger, first: pgTransfers) }
        pgTransfers += batch
    }
}

let pgRounds = try alternating(pgPlainRound, pgLedgerRound)
let journalRounds = try alternating(pgJournalRowsRound, pgLedgerRound)
let pgVerified = try pgLedger.verify()
precondition(pgVerified.isValid, "the PostgreSQL books verify after the run: \(pgVerified.problems)")
print("\n| durable writes on PostgreSQL 15, fsync and synchronous_commit on, \(batch) per transaction | median (range) over \(roundCount) rounds of \(Int(seconds)) s |")
print("|---|---|")
print("| PostgreSQL insert of \(batch) rows per statement, rows/s | \(cell(pgRounds.map(\.plain), "%.0f")) |")
print("| Ledger transfers on PostgreSQL (hash chain, balances), transfers/s | \(cell(pgRounds.map(\.ledger), "%.0f")) |")
print("| ratio, per round (target 0.5) | \(cell(pgRounds.map { $0.ledger / $0.plain }, "%.2f")) |")
print("| insert of the journal's own rows (13 columns, its indexes, no ledger work), rows/s | \(cell(journalRounds.map(\.plain), "%.0f")) |")
print("| Ledger transfers on PostgreSQL, rounds alternated with those, transfers/s | \(cell(journalRounds.map(\.ledger), "%.0f")) |")
print("| ratio to the journal's own rows, per round | \(cell(journalRounds.map { $0.ledger / $0.plain }, "%.2f")) |")
print("| the SQLite ledger, same run, transfers/s | \(cell(rounds.map(\.ledger), "%.0f")) |")
print("journal verified: \(pgVerified.entries) entries")
