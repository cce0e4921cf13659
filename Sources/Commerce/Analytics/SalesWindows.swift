import Platform

/// The sales figures this node holds (`sales_windows`, `product_sales`): 5-minute windows per
/// channel, store, region and currency, and per product in its category, kept current in the
/// transaction of every change to an order. Each order's contribution is kept beside them
/// (`sales_contributions`), so a changed order takes its old figures out before it puts the new
/// ones in, and every node that holds the same events holds the same windows. Every method runs
/// in the caller's transaction or read.
public struct SalesWindows {
    /// What a report breaks its figures down by.
    public enum Breakdown: String, Sendable, CaseIterable {
        case total, channel, store, region

        var column: String {
            switch self {
            case .total: "''"
            case .channel: "channel"
            case .store: "store"
            case .region: "region"
            }
        }
    }

    /// What a product report ranks.
    public enum ProductBreakdown: String, Sendable, CaseIterable {
        case product, category
    }

    /// Which figures a report reads: a time range (window starts in [fromMs, toMs)) and optional filters.
    public struct Scope: Sendable {
        public var fromMs: Int64
        public var toMs: Int64
        public var channel: SalesChannel?
        public var store: String?
        public var region: String?
        public var currency: String?

        public init(fromMs: Int64, toMs: Int64, channel: SalesChannel? = nil, store: String? = nil, region: String? = nil, currency: String? = nil) {
            self.fromMs = fromMs
            self.toMs = toMs
            self.channel = channel
            self.store = store
            self.region = region
            self.currency = currency
        }

        fileprivate var condition: (sql: String, values: [any SQLBindable]) {
            var sql = "window_ms >= ? AND window_ms < ?", values: [any SQLBindable] = [fromMs, toMs]
            if let channel { sql += " AND channel = ?"; values.append(channel.rawValue) }
            if let store { sql += " AND store = ?"; values.append(store) }
            if let region { sql += " AND region = ?"; values.append(region) }
            if let currency { sql += " AND currency = ?"; values.append(currency) }
            return (sql, values)
        }
    }

    /// One window's figures for one value of the breakdown, in one currency.
    public struct WindowRow: Equatable, Sendable {
        public var startMs: Int64
        /// The channel, store or region ("" for a total).
        public var key: String
        public var currency: String
        public var figures: SalesContribution.Figures
    }

    /// A product's or a category's figures over the scope, in one currency.
    public struct ProductRow: Equatable, Sendable {
        /// The product's id, or the category's ("" for products in none).
        public var key: String
        public var currency: String
        public var figures: SalesContribution.ProductFigures
    }

    private let database: Database
    private static let figureColumns = ["orders", "units", "gross", "discounts", "tax", "refunds", "returned_units", "cash", "card", "card_offline"]
    private static let productColumns = ["units", "revenue", "returned_units"]

    public init(database: Database) {
        self.database = database
    }

    // MARK: Keeping the windows

    /// Puts an order's contribution in place of the one it last made. An unchanged contribution
    /// (most changes: packed, shipped) costs one read; an order placed in this transaction
    /// (`isNew`) has none to read.
    public func fold(order: String, _ contribution: SalesContribution, isNew: Bool = false) throws {
        let text = contribution.isEmpty ? nil : contribution.text
        let stored = isNew ? nil : try database.queryOne("SELECT figures FROM sales_contributions WHERE order_id = ?", [order]) { $0.string("figures") }
        guard stored != text else { return }
        if let stored {
            // Written by this code from an event fold: only a bug or a hand-edited table leaves it unreadable.
            guard let old = SalesContribution(text: stored) else { throw StorageError(.other, message: "the sales contribution of order \(order) is unreadable") }
            try add(old, sign: -1)
        }
        try add(contribution, sign: 1)
        if let text {
            try database.execute(Self.keepContribution, [order, text])
        } else {
            try database.execute("DELETE FROM sales_contributions WHERE order_id = ?", [order])
        }
    }

    // Made once: a checkout runs them, and building the text each time showed in its profile.
    private static let keepContribution =
        "INSERT INTO sales_contributions(order_id, figures) VALUES (?, ?) ON CONFLICT(order_id) DO UPDATE SET figures = excluded.figures"
    private static let addWindow = """
        INSERT INTO sales_windows(window_ms, channel, store, region, currency, \(figureColumns.joined(separator: ", ")))
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(window_ms, channel, store, region, currency) DO UPDATE SET \(figureColumns.map { "\($0) = \($0) + excluded.\($0)" }.joined(separator: ", "))
        """
    private static let addProduct = """
        INSERT INTO product_sales(window_ms, channel, store, region, currency, product, category, \(productColumns.joined(separator: ", ")))
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(window_ms, product, category, channel, store, region, currency) DO UPDATE SET \(productColumns.map { "\($0) = \($0) + excluded.\($0)" }.joined(separator: ", "))
        """

    private func add(_ contribution: SalesContribution, sign: Int64) throws {
        for (place, figures) in contribution.windows {
            try database.execute(Self.addWindow, Self.placeValues(place) + figures.values.map { $0 * sign })
        }
        for (place, figures) in contribution.products {
            try database.execute(Self.addProduct, Self.placeValues(place.place) + [place.product, place.category] + figures.values.map { $0 * sign })
        }
    }

    private static func placeValues(_ place: SalesContribution.Place) -> [any SQLBindable] {
        [place.windowStartMs, place.channel.rawValue, place.store, place.region, place.currency]
    }

    /// Whether any order has been folded in (a node from before the windows fills them once).
    public func isEmpty() throws -> Bool {
        try database.queryOne("SELECT 1 AS one FROM sales_contributions LIMIT 1") { $0.int("one") } == nil
    }

    // MARK: Reports

    /// Figures per window of `windowMs` (a multiple of 5 minutes; UTC-aligned), broken down by
    /// `by`, oldest first. Windows with nothing in them are left out.
    public func windows(_ scope: Scope, windowMs: Int64, by: Breakdown) throws -> [WindowRow] {
        precondition(windowMs > 0 && windowMs % SalesContribution.windowMs == 0, "windows are made of 5-minute windows")
        let (condition, values) = scope.condition
        let sums = Self.figureColumns.map { "sum(\($0)) AS \($0)" }.joined(separator: ", ")
        return try database.query("""
            SELECT (window_ms / ?) * ? AS start, \(by.column) AS key, currency, \(sums) FROM sales_windows WHERE \(condition)
            GROUP BY start, key, currency
            HAVING sum(orders) != 0 OR sum(refunds) != 0 OR sum(returned_units) != 0
            ORDER BY start, key, currency
            """, [windowMs, windowMs] + values) { row in
            WindowRow(startMs: row.int64("start"), key: row.string("key"), currency: row.string("currency"), figures: Self.figures(row))
        }
    }

    /// Figures over the whole scope, broken down by `by`, largest net first.
    public func totals(_ scope: Scope, by: Breakdown) throws -> [WindowRow] {
        let (condition, values) = scope.condition
        let sums = Self.figureColumns.map { "sum(\($0)) AS \($0)" }.joined(separator: ", ")
        return try database.query("""
            SELECT \(by.column) AS key, currency, \(sums) FROM sales_windows WHERE \(condition)
            GROUP BY key, currency
            HAVING sum(orders) != 0 OR sum(refunds) != 0 OR sum(returned_units) != 0
            ORDER BY sum(gross) - sum(discounts) - sum(refunds) DESC, key, currency
            """, values) { row in
            WindowRow(startMs: scope.fromMs, key: row.string("key"), currency: row.string("currency"), figures: Self.figures(row))
        }
    }

    /// The best-selling products (or categories) by revenue over the scope, at most `limit`.
    public func top(_ scope: Scope, by: ProductBreakdown, limit: Int) throws -> [ProductRow] {
        let (condition, values) = scope.condition
        let key = by == .product ? "product" : "category"
        return try database.query("""
            SELECT \(key) AS key, currency, sum(units) AS units, sum(revenue) AS revenue, sum(returned_units) AS returned_units
            FROM product_sales WHERE \(condition)
            GROUP BY key, currency HAVING sum(units) != 0 OR sum(returned_units) != 0
            ORDER BY sum(revenue) DESC, sum(units) DESC, key LIMIT ?
            """, values + [limit]) { row in
            ProductRow(key: row.string("key"), currency: row.string("currency"),
                       figures: .init(units: row.int64("units"), revenue: row.int64("revenue"), returnedUnits: row.int64("returned_units")))
        }
    }

    private static func figures(_ row: Row) -> SalesContribution.Figures {
        SalesContribution.Figures(values: figureColumns.map { row.int64($0) }) ?? SalesContribution.Figures()
    }
}
