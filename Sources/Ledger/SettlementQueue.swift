import Platform

/// Hub: the payments whose events changed since settlement last looked at them (the
/// `settlement_queue` table). A change queues its payment in the change's own transaction; a
/// settlement pass takes what is due and either removes it or puts it back for later.
///
///     queued ──a pass settles it──▶ removed
///        ▲  └─no answer yet, order not here──▶ due again after 1 s, doubling to 5 min
///        └────────── a newer change (a higher generation: that pass leaves it) ──┘
public struct SettlementQueue {
    public struct Due: Equatable, Sendable {
        public var payment: String
        public var attempts: Int
        /// Which change queued it: a pass removes or delays only the generation it read.
        public var generation: Int64
    }

    /// A payment the acquirer did not answer for, or whose order has not arrived, is looked at
    /// again after this, doubling per attempt, at most `retryMaxMs`.
    public static let retryMs: Int64 = 1_000
    public static let retryMaxMs: Int64 = 300_000

    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Due now, with the generation that queued it.
    public func queue(_ payment: String, dueMs: Int64, generation: Int64) throws {
        try database.execute("""
            INSERT INTO settlement_queue(payment_id, due_ms, generation) VALUES (?, ?, ?)
            ON CONFLICT(payment_id) DO UPDATE SET due_ms = excluded.due_ms, generation = excluded.generation, attempts = 0
            """, [payment, dueMs, generation])
    }

    /// The highest generation queued (the next change's starts after it).
    public func lastGeneration() throws -> Int64 {
        try database.queryOne("SELECT coalesce(max(generation), 0) AS g FROM settlement_queue") { $0.int64("g") } ?? 0
    }

    public func due(nowMs: Int64, limit: Int) throws -> [Due] {
        try database.query("SELECT payment_id, attempts, generation FROM settlement_queue WHERE due_ms <= ? ORDER BY due_ms LIMIT ?", [nowMs, limit]) {
            Due(payment: $0.string("payment_id"), attempts: $0.int("attempts"), generation: $0.int64("generation"))
        }
    }

    /// Settled: out of the queue (unless a newer change queued it again meanwhile).
    public func remove(_ payment: String, generation: Int64) throws {
        try database.execute("DELETE FROM settlement_queue WHERE payment_id = ? AND generation = ?", [payment, generation])
    }

    /// Not settled yet: due again later, with why.
    public func delay(_ item: Due, why: String, nowMs: Int64) throws {
        let tries = item.attempts + 1
        let wait = min(Self.retryMaxMs, Self.retryMs << min(tries - 1, 20))
        try database.execute("UPDATE settlement_queue SET due_ms = ?, attempts = ?, last_error = ? WHERE payment_id = ? AND generation = ?",
                             [nowMs + wait, tries, why, item.payment, item.generation])
    }

    public func count() throws -> Int {
        try database.queryOne("SELECT count(*) AS n FROM settlement_queue") { $0.int("n") } ?? 0
    }
}

extension SettlementQueue.Due {
    /// A payment looked at for the first time, not read from the queue.
    public init(firstLookAt payment: String) { self.init(payment: payment, attempts: 0, generation: 0) }
}
