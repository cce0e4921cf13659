// Durable transfers per second posted through the hub's Ledger (hash chain and balances
// included), beside a plain SQLite insert loop, both in WAL with synchronous=FULL on the same
// disk, in the same run, with the same batch size per commit (what group commit gives the hub).
//
//   ledger-bench [SECONDS] [BATCH]
import Foundation
import Ledger
import Platform

let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 3 : 3
let batch = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 1000 : 1000
let directory = NSTemporaryDirectory() + "outpost-ledger-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }

func elapsed(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// Rows per second: `body` writes one batch per transaction until `seconds` pass.
func measure(_ database: Database, _ body: (Int) throws -> Void) throws -> Double {
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
let plainRate = try measure(plain) { first in
    for n in first..<(first + batch) { _ = try plain.execute("INSERT INTO rows(id, body) VALUES (?, ?)", ["row-\(n)", body]) }
}

// The ledger: settlement transfers from 8 stores' clearing accounts to sales, each its own id.
let books = try Database(path: directory + "/ledger.sqlite", options: .init(synchronous: .full))
try books.executeScript(Ledger.schema)
let ledger = Ledger(database: books)
try books.transaction {
    try ledger.open(LedgerAccount(id: "eu:EUR:sales", kind: .revenue, currency: "EUR"))
    for store in 0..<8 { try ledger.open(LedgerAccount(id: "store-\(store):EUR:acquirer_clearing", kind: .asset, currency: "EUR")) }
}
let ledgerRate = try measure(books) { first in
    let requests = (first..<(first + batch)).map { n in
        TransferRequest(id: "settle:p-\(n)", debit: "store-\(n % 8):EUR:acquirer_clearing", credit: "eu:EUR:sales", amount: Int64(100 + n % 5000),
                        code: "settlement", reference: "p-\(n)")
    }
    let results = try ledger.create(requests, atMs: 1_795_000_000_000 + Int64(first))
    precondition(results.allSatisfy(\.isOK), "every transfer recorded")
}
let verified = try ledger.verify()
precondition(verified.isValid, "the books verify after the run: \(verified.problems)")

print(String(format: "%-44@ %12@ %8@", "durable writes, WAL" as NSString, "rows/s" as NSString, "ratio" as NSString))
print(String(format: "%-44@ %12.0f %8@", "SQLite insert loop, \(batch)/commit, FULL" as NSString, plainRate, "1.00" as NSString))
print(String(format: "%-44@ %12.0f %8.2f", "Ledger transfers, \(batch)/commit, FULL" as NSString, ledgerRate, ledgerRate / plainRate))
print("journal verified: \(verified.entries) entries, head \(verified.head.prefix(16))…")
