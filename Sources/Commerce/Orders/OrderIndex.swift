import Platform

/// The orders this node knows of, one row each (`orders_view`): a projection of the replicated
/// `orders` collection, kept current in the transaction of every change, for the lists, the
/// pick list and the jobs that find orders by status or time. Every method runs in the
/// caller's transaction or read.
public struct OrderIndex {
    /// One order's row.
    public struct Summary: Equatable, Sendable {
        public var id: String
        public var number: String?
        public var customer: String?
        public var node: String?
        public var status: String
        public var placedMs: Int64?
        public var total: Int64?
        public var currency: String?
        public var reservedUntilMs: Int64?
        public var cancellationRaced: Bool
        /// Returns asked for and not yet refunded or rejected (the returns queue).
        public var returnsOpen: Int

        public init(id: String, number: String?, customer: String?, node: String?, status: String, placedMs: Int64?, total: Int64?, currency: String?,
                    reservedUntilMs: Int64?, cancellationRaced: Bool, returnsOpen: Int = 0) {
            self.id = id
            self.number = number
            self.customer = customer
            self.node = node
            self.status = status
            self.placedMs = placedMs
            self.total = total
            self.currency = currency
            self.reservedUntilMs = reservedUntilMs
            self.cancellationRaced = cancellationRaced
            self.returnsOpen = returnsOpen
        }
    }

    /// Which orders a list shows; nil members do not filter.
    public struct Filter: Sendable {
        public var status: String?
        public var placedFromMs: Int64?
        public var placedBeforeMs: Int64?
        public var customer: String?
        public var node: String?
        /// The order number, as printed on receipts and mails.
        public var number: String?

        public init(status: String? = nil, placedFromMs: Int64? = nil, placedBeforeMs: Int64? = nil, customer: String? = nil, node: String? = nil,
                    number: String? = nil) {
            self.number = number
            self.status = status
            self.placedFromMs = placedFromMs
            self.placedBeforeMs = placedBeforeMs
            self.customer = customer
            self.node = node
        }
    }

    /// A position in a list ordered by placing time (an order without one sorts as -1), then id.
    public typealias Position = (placedMs: Int64, id: String)

    private let database: Database
    private static let columns = "id, number, customer, node, status, placed_ms, total, currency, reserved_until_ms, cancellation_raced, returns_open"

    public init(database: Database) {
        self.database = database
    }

    public func project(_ row: Summary) throws {
        try database.execute("""
            INSERT INTO orders_view(\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET number = excluded.number, customer = excluded.customer, node = excluded.node, status = excluded.status,
                placed_ms = excluded.placed_ms, total = excluded.total, currency = excluded.currency,
                reserved_until_ms = excluded.reserved_until_ms, cancellation_raced = excluded.cancellation_raced, returns_open = excluded.returns_open
            """, [row.id, row.number, row.customer, row.node, row.status, row.placedMs, row.total, row.currency, row.reservedUntilMs,
                  row.cancellationRaced ? 1 : 0, row.returnsOpen])
    }

    private static func summary(_ row: Row) -> Summary {
        Summary(id: row.string("id"), number: row.optionalString("number"), customer: row.optionalString("customer"), node: row.optionalString("node"),
                status: row.string("status"), placedMs: row.optionalInt64("placed_ms"), total: row.optionalInt64("total"), currency: row.optionalString("currency"),
                reservedUntilMs: row.optionalInt64("reserved_until_ms"), cancellationRaced: row.bool("cancellation_raced"), returnsOpen: row.int("returns_open"))
    }

    /// Newest first, `limit` after `after`.
    public func list(_ filter: Filter, after: Position?, limit: Int) throws -> [Summary] {
        var conditions: [String] = [], values: [any SQLBindable] = []
        if let status = filter.status { conditions.append("status = ?"); values.append(status) }
        if let from = filter.placedFromMs { conditions.append("placed_ms >= ?"); values.append(from) }
        if let before = filter.placedBeforeMs { conditions.append("placed_ms < ?"); values.append(before) }
        if let customer = filter.customer { conditions.append("customer = ?"); values.append(customer) }
        if let node = filter.node { conditions.append("node = ?"); values.append(node) }
        if let number = filter.number { conditions.append("number = ?"); values.append(number) }
        if let after {
            conditions.append("(coalesce(placed_ms, -1) < ? OR (coalesce(placed_ms, -1) = ? AND id > ?))")
            values += [after.placedMs, after.placedMs, after.id]
        }
        return try database.query("""
            SELECT \(Self.columns) FROM orders_view \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY coalesce(placed_ms, -1) DESC, id LIMIT ?
            """, values + [limit], Self.summary)
    }

    /// A one-off fill of the returns queue (a node from before it).
    public func noteOpenReturns(_ id: String, count: Int) throws {
        try database.execute("UPDATE orders_view SET returns_open = ? WHERE id = ?", [count, id])
    }

    /// Orders with returns to act on, the oldest first, at most `limit`.
    public func withOpenReturns(limit: Int) throws -> [Summary] {
        try database.query("SELECT \(Self.columns) FROM orders_view WHERE returns_open > 0 ORDER BY placed_ms LIMIT ?", [limit], Self.summary)
    }

    /// Every order of a customer's (for an erasure).
    public func ids(ofCustomer customer: String) throws -> [String] {
        try database.query("SELECT id FROM orders_view WHERE customer = ?", [customer]) { $0.string("id") }
    }

    /// This node's unpaid orders whose hold ran out by `nowMs`, the oldest first.
    public func expired(node: String, nowMs: Int64, limit: Int) throws -> [String] {
        try database.query("""
            SELECT id FROM orders_view WHERE reserved_until_ms <= ? AND status = 'placed' AND node = ? ORDER BY reserved_until_ms LIMIT ?
            """, [nowMs, node, limit]) { $0.string("id") }
    }

    /// This node's orders owing a declined payment, the oldest first.
    public func owingPayment(node: String, limit: Int) throws -> [Summary] {
        try database.query("""
            SELECT \(Self.columns) FROM orders_view WHERE status = 'payment_failed' AND node = ? ORDER BY placed_ms LIMIT ?
            """, [node, limit], Self.summary)
    }

    public func owingPaymentCount(node: String) throws -> Int {
        try database.queryOne("SELECT count(*) AS n FROM orders_view WHERE status = 'payment_failed' AND node = ?", [node]) { $0.int("n") } ?? 0
    }

    /// Open orders (paid, packed or partly shipped), the oldest first, `limit` after `after`: by
    /// the partial index of open orders.
    public func open(after: Position?, limit: Int) throws -> [Position] {
        try database.query("""
            SELECT id, coalesce(placed_ms, -1) AS placed FROM orders_view WHERE status IN ('paid', 'fulfilled', 'partially_shipped')
            \(after == nil ? "" : "AND (coalesce(placed_ms, -1) > ? OR (coalesce(placed_ms, -1) = ? AND id > ?))")
            ORDER BY coalesce(placed_ms, -1), id LIMIT ?
            """, (after.map { [$0.placedMs, $0.placedMs, $0.id] as [any SQLBindable] } ?? []) + [limit]) { ($0.int64("placed"), $0.string("id")) }
    }
}
