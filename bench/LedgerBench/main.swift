// Durable transfers per second posted through the hub's Ledger (hash chain and balances
// included), beside a plain SQLite insert loop, both in WAL with synchronous=FULL on the same
// disk, in the same run, with the same batch size per commit (what group commit gives the hub).
//
//   ledger-bench [SECONDS] [BATCH] [ROUNDS]
import Foundation
import Ledger
import Node
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
var transfers = 0
@MainActor func ledgerRound() throws -> Double {
    try measure(books) { _ in
        let first = transfers
        let requests = (first..<(first + batch)).map { n in
            TransferRequest(id: "settle:p-\(n)", debit: "store-\(n % 8):EUR:acquirer_clearing", credit: "eu:EUR:sales", amount: Int64(100 + n % 5000),
                            code: "settlement", reference: "p-\(n)")
        }
        let results = try ledger.create(requests, atMs: 1_795_000_000_000 + Int64(first))
        precondition(results.allSatisfy(\.isOK), "every transfer recorded")
        transfers += batch
    }
}

// Rounds alternate which goes first, so neither always runs while the disk still flushes the
// other's writes; the ratio is taken per round, from the two measured side by side.
var rounds: [(plain: Double, ledger: Double)] = []
for round in 0..<roundCount {
    if round % 2 == 0 {
        let p = try plainRound()
        rounds.append((p, try ledgerRound()))
    } else {
        let l = try ledgerRound()
        rounds.append((try plainRound(), l))
    }
}
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
