import Persistence
import Platform
import Replication

/// The catalog as SQL: what lists, lookups, facets and search read. Written by `project` inside
/// the transaction that changes the replicated data; read on the loop.
///
/// Only active products are searchable; lists filter on status. The category tree lives in
/// memory (it is small) and decides "a category and its descendants".
public final class CatalogIndex {
    let database: Database
    /// This node's region: whose prices sort and filter.
    public let region: String
    public let defaultLocale: String
    public private(set) var categories: [String: Category] = [:]
    /// Bumped by every change: a cheap validator for caches and ETags.
    public private(set) var generation: UInt64 = 0
    /// Per product, the generation of its last change (its fields or its stock); a product not
    /// changed since the start has none.
    public private(set) var productVersions: [String: UInt64] = [:]

    /// What a cached rendering of product `id` must have been made at.
    public func version(of id: String) -> UInt64 { productVersions[id] ?? 0 }
    /// Each reviewed product's rating over its approved reviews (`ReviewBook`), kept here so
    /// product JSON and pages read it without a query.
    public private(set) var ratings: [String: ReviewBook.Rating] = [:]

    /// A product's rating changed: cached renderings of it are stale.
    public func noteRating(product: String, _ rating: ReviewBook.Rating?) {
        ratings[product] = rating
        generation &+= 1
        productVersions[product] = generation
    }

    /// The ratings as stored (at start).
    public func loadRatings(_ all: [String: ReviewBook.Rating]) {
        ratings = all
        generation &+= 1
    }
    var vocabulary: SearchVocabulary?
    /// The catalog generation the vocabulary was read at: part of a cached search's key.
    public internal(set) var vocabularyGeneration: UInt64 = 0
    var vocabularyBuiltMs: Int64 = 0
    /// Search's words and the searchable products' facts in memory, read from the tables.
    private let postings = SearchPostings()
    /// Names alone: what suggestions match as the shopper types.
    private let namePostings = SearchPostings()
    private let facts = SearchableFacts()
    private var searchLoaded = false
    /// Products written since search last read them (their rowids).
    private var staleSearch: Set<UInt32> = []

    public init(database: Database, region: String, defaultLocale: String) {
        self.database = database
        self.region = region
        self.defaultLocale = defaultLocale
    }

    // MARK: Writing (inside the transaction of the change)

    public func project(productId id: String, _ product: Product?) throws {
        try project(products: [(id, product)])
    }

    /// Writes the tables of many products (nil: removed) with as few statements as it can: rows
    /// of many products go in one statement (a statement costs microseconds whatever it writes).
    ///
    /// The search index above all: FTS5 flushes its pending terms to a new segment at every
    /// statement that may roll back once it has been written in a transaction, so a search row
    /// written between each product's other rows made one segment per product (and merging
    /// them made a big import quadratic). It is written last.
    public func project(products: [(id: String, product: Product?)]) throws {
        var current: [String: Int64] = [:]
        try queryInChunks("SELECT id, rowid FROM catalog_products WHERE id IN (", row: "?", ")", products.map { [$0.id] }) { row in
            current[row.string(0)] = row.int64(1)
        }
        // What the products had goes first: their variants, attributes and search rows, and
        // the rows of products removed.
        let replaced = products.compactMap { current[$0.id] }.map { [$0] as [any SQLBindable] }
        try executeInChunks("DELETE FROM catalog_variants WHERE product IN (", row: "?", ")", replaced)
        try executeInChunks("DELETE FROM catalog_attributes WHERE product IN (", row: "?", ")", replaced)
        try executeInChunks("DELETE FROM catalog_search WHERE rowid IN (", row: "?", ")", replaced)
        try executeInChunks("DELETE FROM catalog_products WHERE rowid IN (", row: "?", ")",
                            products.filter { $0.product == nil }.compactMap { current[$0.id] }.map { [$0] })
        var variants: [[any SQLBindable]] = [], attributes: [[any SQLBindable]] = [], search: [[any SQLBindable]] = []
        for (id, product) in products {
            generation &+= 1
            productVersions[id] = generation
            if let rowid = current[id] { staleSearch.insert(UInt32(truncatingIfNeeded: rowid)) }
            guard let product else { continue }
            let row = try writeRow(id, product, rowid: current[id])
            // A SKU another product claims (two hubs' concurrent writes) goes to the later write.
            variants += product.variants.map { [$0.sku, row, $0.barcode.map(Barcode.normalized)] }
            let facets = product.facetAttributes
            attributes += facets.map { [$0.name, $0.value, row] }
            guard product.status == .active else { continue }
            staleSearch.insert(UInt32(truncatingIfNeeded: row))
            let codes = product.variants.flatMap { [$0.sku] + ($0.barcode.map { [$0] } ?? []) }
            search.append([
                row, product.names.sorted { $0.key < $1.key }.map(\.value).joined(separator: " \u{2029} "),
                product.descriptions.sorted { $0.key < $1.key }.map(\.value).joined(separator: " \u{2029} "),
                codes.joined(separator: " "), facets.map(\.value).joined(separator: " "),
            ])
        }
        try executeInChunks("INSERT OR REPLACE INTO catalog_variants(sku, product, barcode) VALUES ", row: "(?, ?, ?)", "", variants)
        try executeInChunks("INSERT OR IGNORE INTO catalog_attributes(name, value, product) VALUES ", row: "(?, ?, ?)", "", attributes)
        try executeInChunks("INSERT INTO catalog_search(rowid, name, description, codes, attributes) VALUES ", row: "(?, ?, ?, ?, ?)", "", search)
    }

    /// The product's own row; returns its rowid (kept when it had one).
    private func writeRow(_ id: String, _ product: Product, rowid: Int64?) throws -> Int64 {
        let name = Product.localized(product.names, defaultLocale, fallback: defaultLocale) ?? product.id
        let cheapest = product.variants.flatMap { $0.prices(in: region) }.min { ($0.amount, $0.currency) < ($1.amount, $1.currency) }
        let written = try database.queryOne("""
            INSERT INTO catalog_products(rowid, id, status, category, featured, created_ms, sort_name, price, currency)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET status = excluded.status, category = excluded.category, featured = excluded.featured,
                created_ms = excluded.created_ms, sort_name = excluded.sort_name, price = excluded.price, currency = excluded.currency
            RETURNING rowid
            """, [rowid, id, product.status.rawValue, product.category, product.featured, product.createdMs, SearchText.fold(name),
                  cheapest?.amount, cheapest?.currency]) { $0.int64(0) }
        guard let row = written else { throw StorageError(.io, message: "the catalog row of \(id) was not written") }
        return row
    }

    private static let chunkSizes = [256, 64, 16, 4, 1]

    /// Runs `prefix` + `row`, `row`, ... + `suffix` over `rows` in statements of 256, 64, 16, 4
    /// or 1 rows: few statements, and few distinct ones to keep prepared.
    private func executeInChunks(_ prefix: String, row: String, _ suffix: String, _ rows: [[any SQLBindable]]) throws {
        try queryInChunks(prefix, row: row, suffix, rows) { _ in }
    }

    private func queryInChunks(_ prefix: String, row: String, _ suffix: String, _ rows: [[any SQLBindable]], _ each: (Row) throws -> Void) throws {
        var start = 0
        for size in Self.chunkSizes {
            let sql = prefix + Array(repeating: row, count: size).joined(separator: ", ") + suffix
            while rows.count - start >= size {
                _ = try database.query(sql, Array(rows[start..<start + size].joined()), each)
                start += size
            }
        }
    }


    public func project(categoryId id: String, _ category: Category?) {
        generation &+= 1
        categories[id] = category
    }

    /// The stock view (`stock_levels`) of changed inventory keys, from the replica's counters:
    /// the projection of the `inventory` collection, for the node and the seeded simulation.
    public func projectStock(_ keys: [String], from replica: NodeReplica, node: ReplicaID) throws {
        for key in keys { try project(stockKey: key, replica.state(at: key, in: Collections.inventory), node: node) }
    }

    /// Units available at one `sku@location` as the stock view holds them (nil: none recorded).
    /// Stock at `location` (nil: every location) at or below `mark` units, the emptiest first.
    public func lowStock(location: String?, mark: Int64, limit: Int) throws -> [(sku: String, location: String, available: Int64, rightsHere: Int64)] {
        try database.query("""
            SELECT sku, location, available, rights_here FROM stock_levels WHERE (? IS NULL OR location = ?) AND available <= ?
            ORDER BY available, sku, location LIMIT ?
            """, [location, location, mark, limit]) { ($0.string("sku"), $0.string("location"), $0.int64("available"), $0.int64("rights_here")) }
    }

    public func stockAvailable(stockKey key: String) throws -> Int64? {
        guard let at = key.lastIndex(of: "@") else { return nil }
        return try database.queryOne("SELECT available FROM stock_levels WHERE sku = ? AND location = ?",
                                     [String(key[..<at]), String(key[key.index(after: at)...])]) { $0.int64(0) }
    }

    /// Inventory keys are `sku@location`.
    public func project(stockKey key: String, _ counter: BoundedCounter?, node: ReplicaID) throws {
        generation &+= 1
        guard let at = key.lastIndex(of: "@") else { return }
        let sku = String(key[..<at]), location = String(key[key.index(after: at)...])
        if let product = try productId(sku: sku) { productVersions[product] = generation }
        if let counter {
            try database.execute("""
                INSERT INTO stock_levels(sku, location, available, rights_here) VALUES (?, ?, ?, ?)
                ON CONFLICT(sku, location) DO UPDATE SET available = excluded.available, rights_here = excluded.rights_here
                """, [sku, location, counter.value, max(0, counter.rights(of: node))])
        } else {
            try database.execute("DELETE FROM stock_levels WHERE sku = ? AND location = ?", [sku, location])
        }
    }

    // MARK: Lookups

    /// Search's postings and facts, with every product written since they last looked read
    /// again as now committed (a write that rolled back reads as it was before). Writes to most
    /// of the catalog (an import) reload them whole.
    func searchState() throws -> (postings: SearchPostings, names: SearchPostings, facts: SearchableFacts) {
        let columns = "name, description, codes, attributes"
        // Re-reading a product costs about what loading it does; past half the catalog, load all.
        if !searchLoaded || staleSearch.count > max(5_000, postings.documentCount / 2) {
            postings.removeAll()
            namePostings.removeAll()
            facts.removeAll()
            _ = try database.query("SELECT rowid, \(columns) FROM catalog_search") { [postings, namePostings] row in
                let rowid = UInt32(truncatingIfNeeded: row.int64(0)), texts = (1...4).map { row.string($0) }
                postings.set(rowid, columns: texts)
                namePostings.set(rowid, columns: [texts[0]])
            }
            var attributes: [Int64: [(name: String, value: String)]] = [:]
            _ = try database.query("SELECT product, name, value FROM catalog_attributes") { row in
                attributes[row.int64(0), default: []].append((row.string(1), row.string(2)))
            }
            _ = try database.query("SELECT rowid, category, price FROM catalog_products WHERE status = 'active'") { [facts] row in
                facts.set(UInt32(truncatingIfNeeded: row.int64(0)), category: row.optionalString(1), price: row.optionalInt64(2),
                          attributes: attributes[row.int64(0)] ?? [])
            }
            searchLoaded = true
        } else {
            // One read transaction for them all: a statement on its own takes and drops the WAL
            // read lock every time.
            try database.reading { try refreshStaleSearch(columns: columns) }
        }
        staleSearch.removeAll()
        return (postings, namePostings, facts)
    }

    private func refreshStaleSearch(columns: String) throws {
        for rowid in staleSearch {
            if let texts = try database.queryOne("SELECT \(columns) FROM catalog_search WHERE rowid = ?", [Int64(rowid)], { row in
                (0...3).map { row.string($0) }
            }), let (category, price) = try database.queryOne("""
                SELECT category, price FROM catalog_products WHERE rowid = ? AND status = 'active'
                """, [Int64(rowid)], { ($0.optionalString(0), $0.optionalInt64(1)) }) {
                postings.set(rowid, columns: texts)
                namePostings.set(rowid, columns: [texts[0]])
                facts.set(rowid, category: category, price: price, attributes: try database.query("""
                    SELECT name, value FROM catalog_attributes WHERE product = ?
                    """, [Int64(rowid)]) { (name: $0.string(0), value: $0.string(1)) })
            } else {
                postings.remove(rowid)
                namePostings.remove(rowid)
                facts.remove(rowid)
            }
        }
    }

    public func productId(sku: String) throws -> String? {
        try database.queryOne("SELECT p.id FROM catalog_variants v JOIN catalog_products p ON p.rowid = v.product WHERE v.sku = ?", [sku]) { $0.string(0) }
    }

    public func productId(barcode: String) throws -> String? {
        try database.queryOne("""
            SELECT p.id FROM catalog_variants v JOIN catalog_products p ON p.rowid = v.product WHERE v.barcode = ?
            """, [Barcode.normalized(barcode)]) { $0.string(0) }
    }

    public func productExists(_ id: String) throws -> Bool {
        try database.queryOne("SELECT 1 FROM catalog_products WHERE id = ?", [id]) { _ in true } ?? false
    }

    /// For validation: who holds a SKU or barcode now.
    public var lookup: CatalogLookup {
        CatalogLookup(skuOwner: { [unowned self] in try? productId(sku: $0) },
                      barcodeOwner: { [unowned self] in try? productId(barcode: $0) },
                      categoryExists: { [unowned self] in categories[$0] != nil })
    }

    /// Stock of one SKU across locations: units in the fleet, and units this node may sell.
    public func stock(sku: String) throws -> (available: Int64, here: Int64) {
        try database.queryOne("SELECT coalesce(sum(available), 0), coalesce(sum(rights_here), 0) FROM stock_levels WHERE sku = ?", [sku]) {
            ($0.int64(0), $0.int64(1))
        } ?? (0, 0)
    }

    /// Locations where this node holds rights to `sku`: `mine` first, then the most held.
    public func locationsWithRights(sku: String, mine: String) throws -> [String] {
        try database.query("""
            SELECT location FROM stock_levels WHERE sku = ? AND rights_here > 0 ORDER BY location = ? DESC, rights_here DESC, location
            """, [sku, mine]) { $0.string("location") }
    }

    /// Locations that have `sku` anywhere in the fleet, the fullest first.
    public func locationsWithStock(sku: String) throws -> [String] {
        try database.query("SELECT location FROM stock_levels WHERE sku = ? AND available > 0 ORDER BY available DESC, location", [sku]) {
            $0.string("location")
        }
    }

    /// The currency most of the region's active products are priced in (nil: none is priced yet).
    public func commonCurrency() throws -> String? {
        try database.queryOne("""
            SELECT currency FROM catalog_products WHERE status = 'active' AND currency IS NOT NULL
            GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1
            """) { $0.string("currency") }
    }

    // MARK: Categories

    /// `id` and every category below it.
    public func descendants(of id: String) -> [String] {
        var children: [String: [String]] = [:]
        for category in categories.values { if let parent = category.parent { children[parent, default: []].append(category.id) } }
        var out: [String] = [], queue = [id], seen = Set<String>()
        while let next = queue.popLast() {
            guard seen.insert(next).inserted else { continue }  // a cycle from concurrent edits ends here
            out.append(next)
            queue += children[next] ?? []
        }
        return out.sorted()
    }

    /// Active products per category, counting those of its descendants too.
    /// Products shoppers can see.
    public func activeProductCount() throws -> Int {
        try database.queryOne("SELECT count(*) FROM catalog_products WHERE status = 'active'") { $0.int(0) } ?? 0
    }

    public func categoryCounts() throws -> [String: Int] {
        var direct: [String: Int] = [:]
        for (category, count) in try database.query("""
            SELECT category, count(*) FROM catalog_products WHERE status = 'active' AND category IS NOT NULL GROUP BY category
            """, [], { ($0.string(0), $0.int(1)) }) { direct[category] = count }
        var total: [String: Int] = [:]
        for id in categories.keys { total[id] = descendants(of: id).reduce(0) { $0 + (direct[$1] ?? 0) } }
        return total
    }
}
