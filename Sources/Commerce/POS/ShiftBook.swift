import Platform

/// A store's till shifts: one open per till at a time, its float, the cash put in or taken out
/// and the drawer opened without a sale (`pos_cash_movements`), and once closed its count and
/// Z-report. Owns `pos_shifts` and `pos_cash_movements`; every method runs in the caller's
/// transaction or read.
///
///     open (with its float) ──closed with the counted cash──▶ closed (its Z-report kept, and
///                                                            replicated to the hub)
public struct ShiftBook {
    public struct Shift: Equatable, Sendable {
        public var id: String
        public var device: String
        public var openedBy: String
        public var openedMs: Int64
        public var currency: String
        public var float: Int64
        public var isClosed: Bool
        /// The Z-report's text, once closed.
        public var zReport: String?
    }

    /// A cash movement: `in`, `out`, or `no_sale` (the drawer opened, amount 0).
    public struct CashMovement: Equatable, Sendable {
        public var kind: String
        public var amount: Int64
        public var approvedBy: String?

        public init(kind: String, amount: Int64, approvedBy: String?) {
            self.kind = kind
            self.amount = amount
            self.approvedBy = approvedBy
        }
    }

    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func shift(_ id: String) throws -> Shift? {
        try database.queryOne("SELECT id, device, opened_by, opened_ms, currency, float, closed_ms, zreport FROM pos_shifts WHERE id = ?", [id]) {
            Shift(id: $0.string("id"), device: $0.string("device"), openedBy: $0.string("opened_by"), openedMs: $0.int64("opened_ms"),
                  currency: $0.string("currency"), float: $0.int64("float"), isClosed: !$0.isNull("closed_ms"), zReport: $0.optionalString("zreport"))
        }
    }

    /// The till's open shift, if it has one.
    public func openShift(device: String) throws -> (id: String, currency: String)? {
        try database.queryOne("SELECT id, currency FROM pos_shifts WHERE device = ? AND closed_ms IS NULL", [device]) { ($0.string("id"), $0.string("currency")) }
    }

    public func open(_ id: String, device: String, by staff: String, atMs: Int64, currency: String, float: Int64) throws {
        try database.execute("INSERT INTO pos_shifts(id, device, opened_by, opened_ms, currency, float) VALUES (?, ?, ?, ?, ?, ?)",
                             [id, device, staff, atMs, currency, float])
    }

    public func cashMovement(_ id: String) throws -> CashMovement? {
        try database.queryOne("SELECT kind, amount, approved_by FROM pos_cash_movements WHERE id = ?", [id]) {
            CashMovement(kind: $0.string("kind"), amount: $0.int64("amount"), approvedBy: $0.optionalString("approved_by"))
        }
    }

    public func recordCashMovement(_ id: String, shift: String, _ movement: CashMovement, reason: String?, staff: String, atMs: Int64) throws {
        try database.execute("INSERT INTO pos_cash_movements(id, shift, kind, amount, reason, staff, approved_by, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             [id, shift, movement.kind, movement.amount, reason, staff, movement.approvedBy, atMs])
    }

    /// A shift's cash movements by kind: how many, and what they add up to.
    public func cashMovements(shift: String) throws -> [String: (count: Int64, amount: Int64)] {
        var byKind: [String: (count: Int64, amount: Int64)] = [:]
        for (kind, count, amount) in try database.query("SELECT kind, count(*) AS n, sum(amount) AS total FROM pos_cash_movements WHERE shift = ? GROUP BY kind",
                                                        [shift], { ($0.string("kind"), $0.int64("n"), $0.int64("total")) }) {
            byKind[kind] = (count, amount)
        }
        return byKind
    }

    public func close(_ id: String, by staff: String, atMs: Int64, counted: Int64, zReport: String) throws {
        try database.execute("UPDATE pos_shifts SET closed_ms = ?, closed_by = ?, counted = ?, zreport = ? WHERE id = ?", [atMs, staff, counted, zReport, id])
    }
}
