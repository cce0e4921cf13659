// The storage floor of a checkout: the SQLite statements noded runs for one checkout, replayed
// in-process through the same `Database` wrapper (prepared statements cached, WAL,
// synchronous=FULL), with nothing else: no HTTP, no JSON, no CRDT merge, no crypto. Whatever
// this reaches is the most noded could reach if all its other work were free.
//
//   checkout-floor NODE_DATABASE [SECONDS] [BATCH] [--log-only]
//
// NODE_DATABASE is a stopped noded's node.sqlite (the bench's own, after its rounds): it is
// copied, so the replay runs on the real schema and indexes with the bench's rows in place.
// BATCH checkouts share each group commit (the bench's 64 connections fill about that many).
//
// Per checkout, as the SQL trace of noded shows it (docs/checkout-performance.md):
// - before any transaction: the Idempotency-Key lookup and the SKU's product;
// - reservation, in its savepoint: the stock plan, the order number, the SKU's product again
//   (for the stock view), the stock view, the movement, the checkout row;
// - the acquirer's durable row (the sandbox), in its savepoint;
// - the answer, in its savepoint: the order's view row, the checkout row answered;
// - per group commit and collection: one op log segment (the deltas at their measured sizes)
//   and its progress, and the clock;
// - behind the log, 2,048 keys per transaction: every new key's state at its measured size.
// noded commits the three steps in separate group commits (the payment is durable before the
// acquirer hears of it, and the acquirer's row before the answer), and so does this.
//
// --log-only keeps only what replication itself writes (the op log segments, their progress,
// the clock and the states behind the log) in the same three group commits: the floor of any
// design that keeps DESIGN.md's op log and per-key states, with no view or checkout row at all.
import Foundation
import Platform

let logOnly = CommandLine.arguments.contains("--log-only")
let arguments = CommandLine.arguments.filter { $0 != "--log-only" }
guard arguments.count > 1 else {
    FileHandle.standardError.write(Data("usage: checkout-floor NODE_DATABASE [SECONDS] [BATCH] [--log-only]\n".utf8))
    exit(64)
}
let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 5 : 5
let batch = max(1, arguments.count > 3 ? Int(arguments[3]) ?? 64 : 64)
let directory = NSTemporaryDirectory() + "outpost-checkout-floor-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
let path = directory + "/node.sqlite"
try FileManager.default.copyItem(atPath: arguments[1], toPath: path)
if FileManager.default.fileExists(atPath: arguments[1] + "-wal") {
    try FileManager.default.copyItem(atPath: arguments[1] + "-wal", toPath: path + "-wal")
}
let database = try Database(path: path, options: .init(synchronous: .full))

func elapsed(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// The replay's database and counters.
final class CheckoutReplay {
    let database: Database
    /// Only what replication writes: no reads, views or checkout rows.
    let logOnly: Bool
    init(database: Database, logOnly: Bool) {
        self.database = database
        self.logOnly = logOnly
    }

    /// Bytes of one delta or state, per collection, as the trace of a one-line guest checkout
    /// measured them. The payment has a delta in the reservation's commit and the answer's.
    let deltaBytes: [(collection: String, bytes: Int)] = [("inventory", 55), ("payments", 195), ("customers", 197), ("orders", 914), ("carts", 140)]
    let stateBytes: [(collection: String, bytes: Int)] = [("payments", 258), ("customers", 146), ("orders", 872), ("carts", 79)]
    let sku = "BENCH-1", location = "floor", node = "floor"

    /// Random bytes cut from one pool, so the replay spends no time making them.
    let noise = SecureRandom.bytes(1 << 20)
    var noiseOffset = 0
    func blob(_ count: Int) -> [UInt8] {
        precondition(count <= noise.count, "a blob larger than the pool")
        if noiseOffset + count > noise.count { noiseOffset = 0 }
        defer { noiseOffset += count }
        return Array(noise[noiseOffset..<(noiseOffset + count)])
    }

    var sequence: Int64 = 0
    var counter: Int64 = 0
    var stock: Int64 = 1_000_000_000
    var statements = 0
    var unwritten: [(collection: String, key: String, bytes: Int)] = []

    func run(_ sql: String, _ values: [any SQLBindable]) throws {
        _ = try database.execute(sql, values)
        statements += 1
    }

    func read(_ sql: String, _ values: [any SQLBindable]) throws {
        _ = try database.query(sql, values) { _ in () }
        statements += 1
    }

    func savepoint(_ body: () throws -> Void) throws {
        try database.savepoint(body)
        statements += 2
    }

    /// One group commit: `body` per checkout in its savepoint, then the op log of `collections`.
    func groupCommit(_ ids: [Int64], logging collections: [String], _ body: (Int64) throws -> Void) throws {
        try database.transaction(.immediate) {
            if !logOnly { for id in ids { try savepoint { try body(id) } } }
            for (collection, bytes) in deltaBytes where collections.contains(collection) {
                let first = counter + 1
                counter += Int64(ids.count)
                try run("""
                    INSERT OR IGNORE INTO op_log_segments(collection, origin, first_counter, last_counter, deltas) VALUES (?, ?, ?, ?, ?)
                    """, [collection, node, first, counter, blob(bytes * ids.count)])
                try run("""
                    INSERT INTO replication_progress(collection, origin, applied, compacted) VALUES (?, ?, ?, ?)
                    ON CONFLICT(collection, origin) DO UPDATE SET applied = excluded.applied
                    """, [collection, node, counter, 0])
            }
            try run("INSERT INTO node_meta(key, value) VALUES ('hlc', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", ["\(counter).0"])
        }
        statements += 2
    }

    /// The reads a checkout makes before its transactions, in the read held for the loop turn.
    func beforeTransactions(_ ids: [Int64]) throws {
        try database.reading {
            for id in ids {
                try read("""
                    SELECT request_hash, order_id, number, payment_id, state, allocations, status, response, order_token FROM checkouts
                    WHERE cart = ? AND idempotency_key = ?
                    """, ["floor-cart-\(id)", "floor-\(id)"])
                try read("SELECT p.id FROM catalog_variants v JOIN catalog_products p ON p.rowid = v.product WHERE v.sku = ?", [sku])
            }
        }
        statements += 2
    }

    func checkouts(_ ids: [Int64]) throws {
        let nowMs = WallClock.nowMs()
        if !logOnly { try beforeTransactions(ids) }
        try groupCommit(ids, logging: ["inventory", "payments"]) { id in
            try read("""
                SELECT location FROM stock_levels WHERE sku = ? AND rights_here > 0 ORDER BY location = ? DESC, rights_here DESC, location
                """, [sku, location])
            stock -= 1
            try run("""
                INSERT INTO stock_levels(sku, location, available, rights_here) VALUES (?, ?, ?, ?)
                ON CONFLICT(sku, location) DO UPDATE SET available = excluded.available, rights_here = excluded.rights_here
                """, [sku, location, stock, stock])
            try run("INSERT INTO stock_movements(at_ms, sku, location, units, reason, reference, note, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [nowMs, sku, location, -1, "sold", "o-floor-\(id)", nil as String?, "guest"])
            try read("SELECT value FROM node_meta WHERE key = 'order_sequence'", [])
            sequence += 1
            try run("INSERT INTO node_meta(key, value) VALUES ('order_sequence', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [String(sequence)])
            try read("SELECT p.id FROM catalog_variants v JOIN catalog_products p ON p.rowid = v.product WHERE v.sku = ?", [sku])
            try run("""
                INSERT INTO checkouts(cart, idempotency_key, request_hash, order_id, number, payment_id, state, allocations, redemption, created_ms)
                VALUES (?, ?, ?, ?, ?, ?, 'authorizing', ?, ?, ?)
                ON CONFLICT(cart, idempotency_key) DO UPDATE SET state = 'authorizing', allocations = excluded.allocations, payment_id = excluded.payment_id,
                    redemption = excluded.redemption
                """, ["floor-cart-\(id)", "floor-\(id)", Hex.encode(blob(32)), "o-floor-\(id)", "FLOOR-\(sequence)", "p-floor-\(id)",
                      #"{"a":[{"location":"floor","sku":"BENCH-1","units":1}]}"#, nil as String?, nowMs])
        }
        try groupCommit(ids, logging: []) { id in
            try read("SELECT token, authorized, captured, refunded, state, code FROM sandbox_acquirer WHERE payment_id = ?", ["p-floor-\(id)"])
            try run("""
                INSERT INTO sandbox_acquirer(payment_id, token, currency, authorized, captured, refunded, state, code) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(payment_id) DO UPDATE SET token = excluded.token, authorized = excluded.authorized, captured = excluded.captured,
                    refunded = excluded.refunded, state = excluded.state, code = excluded.code
                """, ["p-floor-\(id)", "tok_visa", "EUR", 2874, 0, 0, "authorized", "A\(id)"])
        }
        try groupCommit(ids, logging: ["payments", "customers", "orders", "carts"]) { id in
            try run("""
                INSERT INTO orders_view(id, number, customer, node, status, placed_ms, total, currency, reserved_until_ms, cancellation_raced)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET number = excluded.number, customer = excluded.customer, node = excluded.node, status = excluded.status,
                    placed_ms = excluded.placed_ms, total = excluded.total, currency = excluded.currency,
                    reserved_until_ms = excluded.reserved_until_ms, cancellation_raced = excluded.cancellation_raced
                """, ["o-floor-\(id)", "FLOOR-\(id)", nil as String?, node, "paid", nowMs, 2874, "EUR", nil as Int64?, 0])
            try run("UPDATE checkouts SET state = 'answered', status = ?, response = ?, order_token = ? WHERE cart = ? AND idempotency_key = ?",
                    [201, nil as [UInt8]?, Hex.encode(blob(16)), "floor-cart-\(id)", "floor-\(id)"])
        }
        for id in ids {
            for (collection, bytes) in stateBytes { unwritten.append((collection, "\(collection)-floor-\(id)", bytes)) }
        }
        if unwritten.count >= 2_048 {
            // The stock counter, one key for every checkout, is written once per write-back.
            unwritten.append(("inventory", sku + "@" + location, 19))
            try database.transaction(.immediate) {
                for (collection, key, bytes) in unwritten {
                    try run("""
                        INSERT INTO replicated_state(collection, key, state) VALUES (?, ?, ?)
                        ON CONFLICT(collection, key) DO UPDATE SET state = excluded.state
                        """, [collection, key, blob(bytes)])
                }
            }
            statements += 2
            unwritten.removeAll(keepingCapacity: true)
        }
    }
}

let replay = CheckoutReplay(database: database, logOnly: logOnly)
var done = 0
let start = ContinuousClock.now
while elapsed(since: start) < seconds {
    try replay.checkouts((done..<(done + batch)).map(Int64.init))
    done += batch
}
let rate = Double(done) / elapsed(since: start)
print(String(format: "%.0f %.1f", rate, Double(replay.statements) / Double(done)))
