import Platform

/// The reviews this node holds (`reviews_view`) and each product's rating over its approved ones
/// (`product_ratings`): projections of the replicated reviews, kept current in the transaction of
/// every change. Every method runs in the caller's transaction or read.
public struct ReviewBook {
    /// A product's approved reviews: how many, and their stars added up.
    public struct Rating: Equatable, Sendable {
        public var count: Int64
        public var starsTotal: Int64

        public init(count: Int64, starsTotal: Int64) {
            self.count = count
            self.starsTotal = starsTotal
        }

        /// The average to one decimal, as shoppers read it (4.3).
        public var average: Double { count == 0 ? 0 : Double((starsTotal * 10 + count / 2) / count) / 10 }
    }

    private let database: Database
    private static let columns = "key, product, customer, rating, title, body, author, status, reply, written_ms, node, moderated_by, moderated_ms"

    public init(database: Database) {
        self.database = database
    }

    /// Puts a review's row in place (nil: none, or not a valid one) and its product's rating
    /// with it; returns the product whose rating was recomputed.
    public func project(key: String, _ review: Review?) throws -> String? {
        let before = try database.queryOne("SELECT product FROM reviews_view WHERE key = ?", [key]) { $0.string("product") }
        if let review {
            try database.execute("""
                INSERT INTO reviews_view(\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET rating = excluded.rating, title = excluded.title, body = excluded.body, author = excluded.author,
                    status = excluded.status, reply = excluded.reply, written_ms = excluded.written_ms, node = excluded.node,
                    moderated_by = excluded.moderated_by, moderated_ms = excluded.moderated_ms
                """, [key, review.product, review.customer, review.rating, review.title, review.text, review.author, review.status.rawValue, review.reply,
                      review.writtenMs, review.node, review.moderatedBy, review.moderatedMs])
        } else {
            try database.execute("DELETE FROM reviews_view WHERE key = ?", [key])
        }
        guard let product = review?.product ?? before else { return nil }
        try database.execute("DELETE FROM product_ratings WHERE product = ?", [product])
        try database.execute("""
            INSERT INTO product_ratings(product, reviews, stars_total)
            SELECT product, count(*), sum(rating) FROM reviews_view WHERE product = ? AND status = 'approved' GROUP BY product
            """, [product])
        return product
    }

    public func rating(of product: String) throws -> Rating? {
        try database.queryOne("SELECT reviews, stars_total FROM product_ratings WHERE product = ?", [product]) {
            Rating(count: $0.int64("reviews"), starsTotal: $0.int64("stars_total"))
        }
    }

    /// Every product's rating (read at start: the catalog keeps them in memory).
    public func ratings() throws -> [String: Rating] {
        Dictionary(try database.query("SELECT product, reviews, stars_total FROM product_ratings") {
            ($0.string("product"), Rating(count: $0.int64("reviews"), starsTotal: $0.int64("stars_total")))
        }, uniquingKeysWith: { a, _ in a })
    }

    private static func review(_ row: Row) -> Review {
        var review = Review(product: row.string("product"), customer: row.string("customer"), rating: row.int64("rating"), title: row.optionalString("title"),
                            text: row.string("body"), author: row.string("author"), status: Review.Status(rawValue: row.string("status")) ?? .pending,
                            reply: row.optionalString("reply"), writtenMs: row.int64("written_ms"), node: row.string("node"))
        review.moderatedBy = row.optionalString("moderated_by")
        review.moderatedMs = row.optionalInt64("moderated_ms")
        return review
    }

    public func review(key: String) throws -> Review? {
        try database.queryOne("SELECT \(Self.columns) FROM reviews_view WHERE key = ?", [key], Self.review)
    }

    /// A product's approved reviews, newest first, `limit` written before `beforeMs`.
    public func approved(product: String, beforeMs: Int64 = .max, limit: Int) throws -> [Review] {
        try database.query("""
            SELECT \(Self.columns) FROM reviews_view WHERE product = ? AND status = 'approved' AND written_ms < ? ORDER BY written_ms DESC LIMIT ?
            """, [product, beforeMs, limit], Self.review)
    }

    /// A customer's reviews held here (for an erasure).
    public func keys(ofCustomer customer: String) throws -> [String] {
        try database.query("SELECT key FROM reviews_view WHERE customer = ?", [customer]) { $0.string("key") }
    }

    /// Reviews in `status`, the oldest first (the moderation queue), at most `limit`.
    public func inStatus(_ status: Review.Status, limit: Int) throws -> [Review] {
        try database.query("SELECT \(Self.columns) FROM reviews_view WHERE status = ? ORDER BY written_ms LIMIT ?", [status.rawValue, limit], Self.review)
    }
}
