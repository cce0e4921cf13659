import Platform

/// Where a till sale stands:
///
///     open (its basket) ──completion reserves──▶ completing ──receipt committed──▶ completed
///       │  ▲                                        │ a card declined, a crash, a refused commit
///       │  └────────────── reopened (stock back, payments voided) ◀┘
///       └──voided (by the cashier, or with its shift)──▶ voided
public enum TillSaleState: String, Sendable {
    case open, completing, completed, voided
}

/// A store's till sales and returns: baskets, completions and their receipts (`pos_sales`),
/// and returns with their slips (`pos_returns`). Every method runs in the caller's transaction
/// or read.
public struct TillSaleBook {
    public struct Sale: Equatable, Sendable {
        public var id: String
        public var device: String
        public var shift: String
        public var staff: String
        public var state: TillSaleState
        /// The basket as JSON text (TillBasket).
        public var basket: String
        public var requestHash: String?
        public var orderId: String?
        public var number: String?
        public var receipt: String?
    }

    /// A completion under way, as written when it reserved.
    public struct Completion: Equatable, Sendable {
        public var requestHash: String
        public var orderId: String
        public var number: String
        public var payments: [String]
        /// The stock it took, as text (StockAllocation.text).
        public var allocations: String
        public var basket: String
        public var shift: String

        public init(requestHash: String, orderId: String, number: String, payments: [String], allocations: String, basket: String, shift: String) {
            self.requestHash = requestHash
            self.orderId = orderId
            self.number = number
            self.payments = payments
            self.allocations = allocations
            self.basket = basket
            self.shift = shift
        }
    }

    /// What a completed sale's receipt says, in figures (a Z-report sums them).
    public struct Figures: Equatable, Sendable {
        public var currency: String
        public var total: Int64
        public var tax: Int64
        public var discount: Int64
        public var rounding: Int64
        public var cash: Int64
        public var card: Int64

        public init(currency: String, total: Int64, tax: Int64, discount: Int64, rounding: Int64, cash: Int64, card: Int64) {
            self.currency = currency
            self.total = total
            self.tax = tax
            self.discount = discount
            self.rounding = rounding
            self.cash = cash
            self.card = card
        }
    }

    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    // MARK: Sales

    /// A sale; a state this version does not know (a newer binary's) reads as completing, which
    /// nothing changes.
    public func sale(_ id: String) throws -> Sale? {
        try database.queryOne("SELECT id, device, shift, staff, state, basket, request_hash, order_id, number, receipt FROM pos_sales WHERE id = ?", [id]) {
            Sale(id: $0.string("id"), device: $0.string("device"), shift: $0.string("shift"), staff: $0.string("staff"),
                 state: TillSaleState(rawValue: $0.string("state")) ?? .completing, basket: $0.string("basket"), requestHash: $0.optionalString("request_hash"),
                 orderId: $0.optionalString("order_id"), number: $0.optionalString("number"), receipt: $0.optionalString("receipt"))
        }
    }

    /// An open sale's basket, made or changed.
    public func saveBasket(_ id: String, device: String, shift: String, staff: String, basket: String, atMs: Int64) throws {
        try database.execute("""
            INSERT INTO pos_sales(id, device, shift, staff, state, basket, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET basket = excluded.basket, staff = excluded.staff
            """, [id, device, shift, staff, TillSaleState.open.rawValue, basket, atMs])
    }

    /// Open → voided (a voided one stays so).
    public func void(_ id: String, atMs: Int64) throws {
        try database.execute("UPDATE pos_sales SET state = ?, completed_ms = ? WHERE id = ? AND state = ?",
                             [TillSaleState.voided.rawValue, atMs, id, TillSaleState.open.rawValue])
    }

    public func countReprint(_ id: String) throws {
        try database.execute("UPDATE pos_sales SET reprints = reprints + 1 WHERE id = ?", [id])
    }

    /// Open → completing: what the completion reserved, for its recovery.
    public func beginCompletion(_ id: String, _ c: Completion) throws {
        try database.execute("""
            UPDATE pos_sales SET state = ?, request_hash = ?, order_id = ?, number = ?, payments = ?, allocations = ?, basket = ?, shift = ? WHERE id = ?
            """, [TillSaleState.completing.rawValue, c.requestHash, c.orderId, c.number, c.payments.joined(separator: ","), c.allocations, c.basket, c.shift, id])
    }

    /// Completing → completed, with its receipt.
    public func complete(_ id: String, receipt: String, figures f: Figures, atMs: Int64) throws {
        try database.execute("""
            UPDATE pos_sales SET state = ?, receipt = ?, currency = ?, total = ?, tax = ?, discount = ?, rounding = ?, cash = ?, card = ?, completed_ms = ?
            WHERE id = ?
            """, [TillSaleState.completed.rawValue, receipt, f.currency, f.total, f.tax, f.discount, f.rounding, f.cash, f.card, atMs, id])
    }

    /// Completing → open again, with nothing of the completion kept.
    public func reopen(_ id: String) throws {
        try database.execute("UPDATE pos_sales SET state = ?, order_id = NULL, number = NULL, payments = NULL, allocations = NULL, request_hash = NULL WHERE id = ?",
                             [TillSaleState.open.rawValue, id])
    }

    /// Completions left completing (a crash, a refused commit), with what they reserved.
    public func interrupted() throws -> [(sale: String, completion: Completion, staff: String)] {
        try database.query("SELECT id, order_id, number, payments, allocations, basket, staff, shift, request_hash FROM pos_sales WHERE state = ?",
                           [TillSaleState.completing.rawValue]) {
            ($0.string("id"), Completion(requestHash: $0.optionalString("request_hash") ?? "", orderId: $0.optionalString("order_id") ?? "",
                                         number: $0.optionalString("number") ?? "",
                                         payments: ($0.optionalString("payments") ?? "").split(separator: ",").map(String.init),
                                         allocations: $0.optionalString("allocations") ?? "", basket: $0.string("basket"), shift: $0.string("shift")),
             $0.string("staff"))
        }
    }

    /// The completed sale behind a receipt number.
    public func completed(number: String) throws -> (sale: String, orderId: String, receipt: String, payments: [String])? {
        try database.queryOne("SELECT id, order_id, receipt, payments FROM pos_sales WHERE number = ? AND state = ?", [number, TillSaleState.completed.rawValue]) {
            ($0.string("id"), $0.string("order_id"), $0.string("receipt"), $0.string("payments").split(separator: ",").map(String.init))
        }
    }

    // MARK: A shift's sales

    public func hasCompletion(inShift shift: String) throws -> Bool {
        try database.queryOne("SELECT 1 FROM pos_sales WHERE shift = ? AND state = ?", [shift, TillSaleState.completing.rawValue], { _ in true }) != nil
    }

    /// Sales left open end with their shift: voided.
    public func voidOpen(inShift shift: String, atMs: Int64) throws {
        try database.execute("UPDATE pos_sales SET state = ?, completed_ms = ? WHERE shift = ? AND state = ?",
                             [TillSaleState.voided.rawValue, atMs, shift, TillSaleState.open.rawValue])
    }

    /// A shift's completed sales summed, and how many were voided.
    public func totals(shift: String) throws -> (sales: Int64, cash: Int64, card: Int64, discount: Int64, tax: Int64, rounding: Int64, voided: Int64) {
        let sums = try database.queryOne("""
            SELECT count(*) AS n, coalesce(sum(cash), 0) AS cash, coalesce(sum(card), 0) AS card, coalesce(sum(discount), 0) AS discount,
                coalesce(sum(tax), 0) AS tax, coalesce(sum(rounding), 0) AS rounding
            FROM pos_sales WHERE shift = ? AND state = ?
            """, [shift, TillSaleState.completed.rawValue]) {
            ($0.int64("n"), $0.int64("cash"), $0.int64("card"), $0.int64("discount"), $0.int64("tax"), $0.int64("rounding"))
        } ?? (0, 0, 0, 0, 0, 0)
        let voided = try database.queryOne("SELECT count(*) AS n FROM pos_sales WHERE shift = ? AND state = ?", [shift, TillSaleState.voided.rawValue]) {
            $0.int64("n")
        } ?? 0
        return (sums.0, sums.1, sums.2, sums.3, sums.4, sums.5, voided)
    }

    // MARK: Returns

    /// A return already taken: the hash of its request and its slip.
    public func returnSlip(_ id: String) throws -> (requestHash: String, receipt: String)? {
        try database.queryOne("SELECT request_hash, receipt FROM pos_returns WHERE id = ?", [id]) { ($0.string("request_hash"), $0.string("receipt")) }
    }

    /// Returns taken on one order at this node (the next slip is numbered after them).
    public func returns(ofOrder order: String) throws -> Int {
        try database.queryOne("SELECT count(*) AS n FROM pos_returns WHERE order_id = ?", [order]) { $0.int("n") } ?? 0
    }

    public func recordReturn(_ id: String, device: String, shift: String, staff: String, approvedBy: String?, order: String?, requestHash: String,
                             currency: String, amount: Int64, tax: Int64, cash: Int64, card: Int64, receipt: String, atMs: Int64) throws {
        try database.execute("""
            INSERT INTO pos_returns(id, device, shift, staff, approved_by, order_id, request_hash, currency, amount, tax, cash, card, receipt, at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [id, device, shift, staff, approvedBy, order, requestHash, currency, amount, tax, cash, card, receipt, atMs])
    }

    /// A shift's returns summed; `overpaid` is what cash refunds paid beyond what was due (their rounding).
    public func returnTotals(shift: String) throws -> (returns: Int64, cash: Int64, card: Int64, tax: Int64, overpaid: Int64) {
        try database.queryOne("""
            SELECT count(*) AS n, coalesce(sum(cash), 0) AS cash, coalesce(sum(card), 0) AS card, coalesce(sum(tax), 0) AS tax,
                coalesce(sum(cash + card - amount), 0) AS overpaid
            FROM pos_returns WHERE shift = ?
            """, [shift]) { ($0.int64("n"), $0.int64("cash"), $0.int64("card"), $0.int64("tax"), $0.int64("overpaid")) } ?? (0, 0, 0, 0, 0)
    }
}
