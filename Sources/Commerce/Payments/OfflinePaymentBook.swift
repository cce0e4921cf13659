import Platform

/// A node's card payments taken offline (store-and-forward) that the hub has not answered yet:
/// what they add up to is the node's exposure, held against the offline policy's cap. Owns the
/// `offline_payments` table; every method runs in the caller's transaction or read.
///
///     taken ──the hub authorizes, declines or the store voids──▶ answered (with its outcome)
public struct OfflinePaymentBook {
    public struct Open: Equatable, Sendable {
        public var payment: String
        public var order: String
        public var amount: Int64
        public var currency: String
        public var takenMs: Int64
        public var deadlineMs: Int64

        public init(payment: String, order: String, amount: Int64, currency: String, takenMs: Int64, deadlineMs: Int64) {
            self.payment = payment
            self.order = order
            self.amount = amount
            self.currency = currency
            self.takenMs = takenMs
            self.deadlineMs = deadlineMs
        }
    }

    public enum Outcome: String, Sendable {
        case authorized, declined, voided
    }

    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// A payment taken offline, to be answered by `deadlineMs`.
    public func record(payment: String, order: String, currency: String, amount: Int64, takenMs: Int64, deadlineMs: Int64) throws {
        try database.execute("""
            INSERT INTO offline_payments(payment_id, order_id, currency, amount, taken_ms, deadline_ms) VALUES (?, ?, ?, ?, ?, ?)
            """, [payment, order, currency, amount, takenMs, deadlineMs])
    }

    /// What the unanswered payments add up to. Throws when it cannot be read: a cap that cannot
    /// be checked is not passed.
    public func exposure() throws -> Int64 {
        try database.queryOne("SELECT coalesce(sum(amount), 0) AS held FROM offline_payments WHERE answered_ms IS NULL") { $0.int64("held") } ?? 0
    }

    /// How many are unanswered, what they add up to, and how many are past their deadline.
    public func summary(nowMs: Int64) throws -> (open: Int, exposure: Int64, overdue: Int) {
        try database.queryOne("""
            SELECT count(*) AS open, coalesce(sum(amount), 0) AS exposure, coalesce(sum(deadline_ms < ?), 0) AS overdue
            FROM offline_payments WHERE answered_ms IS NULL
            """, [nowMs]) { ($0.int("open"), $0.int64("exposure"), $0.int("overdue")) } ?? (0, 0, 0)
    }

    public func isUnanswered(_ payment: String) throws -> Bool {
        try database.queryOne("SELECT 1 FROM offline_payments WHERE payment_id = ? AND answered_ms IS NULL", [payment]) { $0.int(0) } != nil
    }

    /// The hub's answer (or the store's void) reached this node: the payment no longer counts.
    public func answered(_ payment: String, outcome: Outcome, atMs: Int64) throws {
        try database.execute("UPDATE offline_payments SET answered_ms = ?, outcome = ? WHERE payment_id = ?", [atMs, outcome.rawValue, payment])
    }

    /// Unanswered payments, soonest deadline first, `limit` after (deadline, payment).
    public func open(limit: Int, after: (deadlineMs: Int64, payment: String)?) throws -> [Open] {
        try database.query("""
            SELECT payment_id, order_id, amount, currency, taken_ms, deadline_ms FROM offline_payments WHERE answered_ms IS NULL
            \(after == nil ? "" : "AND (deadline_ms > ? OR (deadline_ms = ? AND payment_id > ?))") ORDER BY deadline_ms, payment_id LIMIT ?
            """, (after.map { [$0.deadlineMs, $0.deadlineMs, $0.payment] as [any SQLBindable] } ?? []) + [limit]) {
            Open(payment: $0.string("payment_id"), order: $0.string("order_id"), amount: $0.int64("amount"), currency: $0.string("currency"),
                 takenMs: $0.int64("taken_ms"), deadlineMs: $0.int64("deadline_ms"))
        }
    }
}
