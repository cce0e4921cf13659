import Platform

/// Where a checkout (one Idempotency-Key of a cart) stands:
///
///     (none) ──reserve──▶ authorizing ──answer committed──▶ answered (its answer replayed)
///                            │ a crash, or an answer the disk refused
///                            ▼
///                         abandoned (stock back, payment voided) ──the same request again──▶ authorizing
public enum CheckoutState: String, Sendable {
    case authorizing, answered, abandoned
}

/// The record of each checkout by cart and Idempotency-Key (`checkouts`): the ids made before
/// the acquirer was called, the stock taken, and once answered what the answer was. Every
/// method runs in the caller's transaction or read.
public struct CheckoutBook {
    public struct Record: Equatable, Sendable {
        public var requestHash: String
        public var orderId: String
        public var number: String
        public var paymentId: String
        public var state: CheckoutState
        /// The stock taken, as text (StockAllocation.text).
        public var allocations: String
        public var status: Int?
        /// An error answer's body, replayed as is.
        public var response: [UInt8]?
        public var orderToken: String?
    }

    /// A checkout left authorizing, to release.
    public struct Abandoned: Equatable, Sendable {
        public var cart: String
        public var key: String
        public var orderId: String
        public var paymentId: String
        public var allocations: String
        public var redemption: String?
    }

    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// A state this version does not know (a newer binary's) reads as authorizing: never
    /// replayed or redone.
    public func record(cart: String, key: String) throws -> Record? {
        try database.queryOne("""
            SELECT request_hash, order_id, number, payment_id, state, allocations, status, response, order_token FROM checkouts
            WHERE cart = ? AND idempotency_key = ?
            """, [cart, key]) {
            Record(requestHash: $0.string("request_hash"), orderId: $0.string("order_id"), number: $0.string("number"), paymentId: $0.string("payment_id"),
                   state: CheckoutState(rawValue: $0.string("state")) ?? .authorizing, allocations: $0.string("allocations"),
                   status: $0.isNull("status") ? nil : $0.int("status"), response: $0.isNull("response") ? nil : $0.blob("response"),
                   orderToken: $0.optionalString("order_token"))
        }
    }

    /// Reserved: authorizing, with the ids and what it took (again after an abandonment).
    public func reserved(cart: String, key: String, requestHash: String, orderId: String, number: String, paymentId: String, allocations: String,
                         redemption: String?, atMs: Int64) throws {
        try database.execute("""
            INSERT INTO checkouts(cart, idempotency_key, request_hash, order_id, number, payment_id, state, allocations, redemption, created_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(cart, idempotency_key) DO UPDATE SET state = excluded.state, allocations = excluded.allocations, payment_id = excluded.payment_id,
                redemption = excluded.redemption
            """, [cart, key, requestHash, orderId, number, paymentId, CheckoutState.authorizing.rawValue, allocations, redemption, atMs])
    }

    /// Answered: the status, and an error's body (a success is rebuilt from the order).
    public func answered(cart: String, key: String, status: Int, errorBody: [UInt8]?, orderToken: String?) throws {
        try database.execute("UPDATE checkouts SET state = ?, status = ?, response = ?, order_token = ? WHERE cart = ? AND idempotency_key = ?",
                             [CheckoutState.answered.rawValue, status, errorBody, orderToken, cart, key])
    }

    public func authorizing() throws -> [Abandoned] {
        try database.query("SELECT cart, idempotency_key, order_id, payment_id, allocations, redemption FROM checkouts WHERE state = ?",
                           [CheckoutState.authorizing.rawValue]) {
            Abandoned(cart: $0.string("cart"), key: $0.string("idempotency_key"), orderId: $0.string("order_id"), paymentId: $0.string("payment_id"),
                      allocations: $0.string("allocations"), redemption: $0.optionalString("redemption"))
        }
    }

    public func abandoned(cart: String, key: String) throws {
        try database.execute("UPDATE checkouts SET state = ? WHERE cart = ? AND idempotency_key = ?", [CheckoutState.abandoned.rawValue, cart, key])
    }
}
