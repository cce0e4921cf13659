import Platform

/// What a shopper asks of the catalog: filters, a sort, a page.
public struct CatalogQuery: Sendable, Equatable {
    public enum Sort: String, Sendable, CaseIterable {
        case relevance, price, priceDescending = "-price", newest, name
        /// Best rated first (the average over approved reviews; unrated last).
        case rating
    }

    /// Search words; empty for a plain list.
    public var text = ""
    /// A category id: it and its descendants.
    public var category: String?
    /// Minor units, in this region's prices.
    public var minPrice: Int64?
    public var maxPrice: Int64?
    /// Attribute name -> accepted values (any of them).
    public var attributes: [String: [String]] = [:]
    public var inStock = false
    public var sort = Sort.relevance
    public var limit = 24
    /// From the previous page's `next`.
    public var cursor: String?

    public init() {}
}

/// One page of results.
public struct CatalogPage: Sendable, Equatable {
    public var productIds: [String]
    /// Pass as `cursor` for the next page; nil on the last.
    public var next: String?
    /// The words searched after typo correction, when they differ from the query's.
    public var corrected: String?
    public var facets: Facets?
}

/// Counts for narrowing the current results, over at most `CatalogIndex.facetCandidates` matches.
public struct Facets: Sendable, Equatable {
    public var categories: [(id: String, count: Int)]
    public var attributes: [(name: String, value: String, count: Int)]
    /// Price bands in minor units: [from, to) with a count; the last band has no upper bound.
    public var prices: [(from: Int64, to: Int64?, count: Int)]

    public static func == (a: Facets, b: Facets) -> Bool {
        a.categories.elementsEqual(b.categories) { $0 == $1 } && a.attributes.elementsEqual(b.attributes) { $0 == $1 }
            && a.prices.elementsEqual(b.prices) { $0.from == $1.from && $0.to == $1.to && $0.count == $1.count }
    }
}

/// Why a query cannot run.
public struct CatalogQueryError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var reason: String
    public var description: String { "\(field): \(reason)" }
}

extension CatalogIndex {
    /// Search ranks and filters every match in memory; other sorts, the in-stock filter (SQL
    /// rows) and facets see at most this many of the best matches.
    public static let searchCandidates = 500
    public static let facetCandidates = 5_000
    static let priceBands: [Int64] = [0, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000]

    /// A page of active products: matches of `text` (ranked), or the catalog filtered.
    public func find(_ query: CatalogQuery, withFacets: Bool, nowMs: Int64) throws -> CatalogPage {
        var (filters, arguments) = sqlFilters(query)
        let limit = max(1, min(query.limit, 100))
        var page = CatalogPage(productIds: [], next: nil, corrected: nil, facets: nil)

        var cursor: Cursor?
        if let text = query.cursor {
            guard let decoded = Cursor(text) else { throw CatalogQueryError(field: "cursor", reason: "is not one this node gave out") }
            if case .after = decoded, query.sort == .relevance { throw CatalogQueryError(field: "cursor", reason: "is not one for this sort") }
            cursor = decoded
        }
        var offset = 0
        if case .offset(let n) = cursor { offset = n }
        let pageStart = offset

        // The candidate rows: search matches with their score, or every product.
        var source = "catalog_products p"
        var sourceArguments: [any SQLBindable] = []
        var scored = false
        let words = SearchText.terms(query.text)
        if !words.isEmpty {
            guard let search = searchPhrases(words, nowMs: nowMs) else { return page }
            if search.words != words { page.corrected = search.words.joined(separator: " ") }
            let (postings, _, facts) = try searchState()
            // Every filter but stock is tested in memory on every match, before the best are
            // taken; then SQL needs only the page's rows, unless it sorts or tests stock.
            let inMemory = !query.inStock
            var filter = SearchableFacts.Filter()
            if inMemory {
                filter.categories = query.category.map { Set(descendants(of: $0)) }
                filter.minPrice = query.minPrice
                filter.maxPrice = query.maxPrice
                filter.attributes = query.attributes.filter { !$0.value.isEmpty }
                filters = ["p.status = 'active'"]
                arguments = []
            }
            let pageOnly = inMemory && query.sort == .relevance
            let wanted = pageOnly && !withFacets ? min(offset + limit + 1, Self.searchCandidates) : Self.searchCandidates
            let best = postings.search(search.phrases, limit: wanted, filter: inMemory ? facts.predicate(filter) : nil).rowids
            if withFacets && inMemory { page.facets = facts.facets(of: best, priceBands: Self.priceBands) }
            var ranked = best[...]
            if pageOnly {
                ranked = ranked.dropFirst(offset).prefix(limit + 1)
                offset = 0
            }
            if ranked.isEmpty { return page }
            // CROSS JOIN fixes the order: json_each has no statistics, and the planner would
            // otherwise scan a whole table from the other side (measured: 200 ms against 3 ms).
            source = "json_each(?) h CROSS JOIN catalog_products p ON p.rowid = h.value"
            sourceArguments = ["[" + ranked.map(String.init).joined(separator: ",") + "]"]
            scored = true
        }
        let (order, key) = Self.ordering(query.sort, scored: scored)
        var keyset = ""
        var cursorArguments: [any SQLBindable] = []
        if case let .after(value, rowid) = cursor {
            keyset = " AND (\(key.expression), p.rowid) \(key.descending ? "<" : ">") (?, ?)"
            cursorArguments = [value, rowid]
        }
        let sql = "SELECT p.id, p.rowid, \(key.expression) FROM \(source) WHERE \(filters.joined(separator: " AND "))\(keyset) ORDER BY \(order) LIMIT ? OFFSET ?"
        let rows = try database.query(sql, sourceArguments + arguments + cursorArguments + [limit + 1, offset]) { row in
            (row.string(0), row.int64(1), row.value(2))
        }
        page.productIds = rows.prefix(limit).map(\.0)
        if rows.count > limit, let last = rows.prefix(limit).last {
            page.next = scored || query.sort == .relevance ? Cursor.offset(pageStart + limit).text : Cursor.after(last.2, last.1).text
        }
        if withFacets && page.facets == nil {
            let candidates = scored ? source : "(SELECT rowid AS hit FROM catalog_products WHERE status = 'active' LIMIT \(Self.facetCandidates)) h JOIN catalog_products p ON p.rowid = h.hit"
            page.facets = try facets(from: candidates, where: filters.joined(separator: " AND "), sourceArguments + arguments)
        }
        return page
    }

    /// The query's filters as SQL over `catalog_products p`, with their arguments.
    private func sqlFilters(_ query: CatalogQuery) -> (filters: [String], arguments: [any SQLBindable]) {
        var filters: [String] = ["p.status = 'active'"]
        var arguments: [any SQLBindable] = []
        if let category = query.category {
            let ids = descendants(of: category)
            filters.append("p.category IN (\(Array(repeating: "?", count: ids.count).joined(separator: ",")))")
            arguments += ids
        }
        if let min = query.minPrice { filters.append("p.price >= ?"); arguments.append(min) }
        if let max = query.maxPrice { filters.append("p.price <= ?"); arguments.append(max) }
        for (name, values) in query.attributes.sorted(by: { $0.key < $1.key }) where !values.isEmpty {
            filters.append("EXISTS (SELECT 1 FROM catalog_attributes a WHERE a.product = p.rowid AND a.name = ? AND a.value IN (\(Array(repeating: "?", count: values.count).joined(separator: ","))))")
            arguments.append(name)
            arguments += values
        }
        if query.inStock {
            filters.append("EXISTS (SELECT 1 FROM catalog_variants v JOIN stock_levels s ON s.sku = v.sku WHERE v.product = p.rowid AND s.available > 0)")
        }
        return (filters, arguments)
    }

    private static func ordering(_ sort: CatalogQuery.Sort, scored: Bool) -> (order: String, key: (expression: String, descending: Bool)) {
        switch sort {
        case .relevance where scored: return ("h.key", ("h.key", false))
        case .relevance: return ("p.featured DESC, p.created_ms DESC, p.rowid DESC", ("p.created_ms", true))
        case .price: return ("coalesce(p.price, 9223372036854775807), p.rowid", ("coalesce(p.price, 9223372036854775807)", false))
        case .priceDescending: return ("coalesce(p.price, -1) DESC, p.rowid DESC", ("coalesce(p.price, -1)", true))
        case .newest: return ("p.created_ms DESC, p.rowid DESC", ("p.created_ms", true))
        case .name: return ("p.sort_name, p.rowid", ("p.sort_name", false))
        case .rating:
            // Tenths of a star, so the keyset cursor compares integers; unrated sorts as -1.
            let average = "coalesce((SELECT (r.stars_total * 10 + r.reviews / 2) / r.reviews FROM product_ratings r WHERE r.product = p.id), -1)"
            return ("\(average) DESC, p.rowid DESC", (average, true))
        }
    }

    private func facets(from source: String, where filters: String, _ arguments: [any SQLBindable]) throws -> Facets {
        let categories = try database.query("""
            SELECT p.category, count(*) FROM \(source) WHERE \(filters) AND p.category IS NOT NULL GROUP BY p.category ORDER BY count(*) DESC, p.category
            """, arguments) { (id: $0.string(0), count: $0.int(1)) }
        let attributes = try database.query("""
            SELECT a.name, a.value, count(*) FROM \(source) CROSS JOIN catalog_attributes a ON a.product = p.rowid WHERE \(filters)
            GROUP BY a.name, a.value ORDER BY a.name, count(*) DESC, a.value
            """, arguments) { (name: $0.string(0), value: $0.string(1), count: $0.int(2)) }
        let bands = Self.priceBands
        let band = "CASE " + bands.indices.reversed().map { "WHEN p.price >= \(bands[$0]) THEN \($0)" }.joined(separator: " ") + " END"
        let prices = try database.query("""
            SELECT \(band) AS band, count(*) FROM \(source) WHERE \(filters) AND p.price IS NOT NULL GROUP BY band ORDER BY band
            """, arguments) { row -> (from: Int64, to: Int64?, count: Int) in
            let index = row.int(0)
            return (bands[index], index + 1 < bands.count ? bands[index + 1] : nil, row.int(1))
        }
        return Facets(categories: categories, attributes: attributes, prices: prices)
    }

    /// The words as the index is asked for them: each a whole term, or a prefix when the
    /// index has it only as the start of longer terms; after correcting words it does not
    /// hold at all. Nil if some word can match nothing.
    func searchPhrases(_ words: [String], nowMs: Int64) -> (phrases: [SearchPostings.Phrase], words: [String])? {
        if let found = searchPhrases(words, vocabulary: currentVocabulary(nowMs: nowMs)) { return found }
        // A word an older vocabulary lacks may be in the index now: look again before giving up.
        guard vocabularyGeneration != generation else { return nil }
        return searchPhrases(words, vocabulary: currentVocabulary(nowMs: nowMs, force: true))
    }

    private func searchPhrases(_ words: [String], vocabulary: SearchVocabulary) -> (phrases: [SearchPostings.Phrase], words: [String])? {
        var corrected: [String] = []
        for word in words.prefix(12) {
            if word.contains(where: \.isNumber) || vocabulary.hasPrefix(word) {  // codes and sizes are taken as typed
                corrected.append(word)
            } else if let fix = vocabulary.correction(for: word) {
                corrected.append(fix)
            } else {
                return nil
            }
        }
        // A whole word is looked up as itself; a code, or a word the vocabulary has only inside
        // longer ones, as the start of any term ("4000000" finds the barcode it begins).
        let phrases = corrected.map { SearchPostings.Phrase(term: $0, prefix: !vocabulary.contains($0)) }
        return (phrases, corrected)
    }

    /// What is typed with its last word completed, commonest completion first.
    public func completions(_ text: String, limit: Int, nowMs: Int64) -> [String] {
        let words = SearchText.terms(text)
        guard let last = words.last, last.count >= 2 else { return [] }
        return Self.completed(words, with: currentVocabulary(nowMs: nowMs).completions(of: last, limit: limit))
    }

    /// The words with the last one replaced by each ending.
    private static func completed(_ words: [String], with endings: [String]) -> [String] {
        let head = words.dropLast().joined(separator: " ")
        return endings.map { head.isEmpty ? $0 : head + " " + $0 }
    }

    /// The terms a typed prefix reads at most when suggesting: the commonest it starts.
    static let suggestTermsMax = 16

    /// Completions of the last word and the products whose names match what is typed, best
    /// first (the last word as typed is the start of a name's word).
    public func suggest(_ text: String, limit: Int, nowMs: Int64) throws -> (terms: [String], productIds: [String]) {
        let words = SearchText.terms(text)
        guard let last = words.last, last.count >= 2 else { return ([], []) }
        let vocabulary = currentVocabulary(nowMs: nowMs)
        let terms = Self.completed(words, with: vocabulary.completions(of: last, limit: limit))
        let phrases = words.dropLast().map { SearchPostings.Phrase(term: $0, prefix: !vocabulary.contains($0)) }
            + [SearchPostings.Phrase(term: last, prefix: true)]
        let rowids = try searchState().names.search(phrases, limit: limit, prefixTermsMax: Self.suggestTermsMax).rowids
        guard !rowids.isEmpty else { return (terms, []) }
        let ids = try database.query("""
            SELECT h.key, p.id FROM json_each(?) h CROSS JOIN catalog_products p ON p.rowid = h.value
            """, ["[" + rowids.map(String.init).joined(separator: ",") + "]"]) { ($0.int(0), $0.string(1)) }
        return (terms, ids.sorted { $0.0 < $1.0 }.map(\.1))
    }

    /// Reads search's words into memory (otherwise the first search does); returns how many
    /// products are searchable.
    @discardableResult
    public func prepareSearch(nowMs: Int64) throws -> Int {
        let postings = try searchState().postings
        _ = currentVocabulary(nowMs: nowMs, force: true)
        return postings.documentCount
    }

    /// The vocabulary, rebuilt when the catalog changed, at most every 10 s under steady writes
    /// (a correction from a slightly older vocabulary is still a good one).
    func currentVocabulary(nowMs: Int64, force: Bool = false) -> SearchVocabulary {
        if let vocabulary, vocabularyGeneration == generation || (!force && nowMs - vocabularyBuiltMs < 10_000) { return vocabulary }
        // Words only: SKUs, barcodes and sizes add hundreds of thousands of numeric terms that
        // no typo should turn into, and would make every correction scan them.
        let rows = ((try? searchState().postings.vocabulary) ?? []).filter { !$0.0.contains(where: \.isNumber) }
        let fresh = SearchVocabulary(rows)
        vocabulary = fresh
        vocabularyGeneration = generation
        vocabularyBuiltMs = nowMs
        return fresh
    }
}

/// A position in a result list, opaque to clients: after a sort key and row, or an offset
/// (ranked search results).
enum Cursor {
    case after(SQLValue, Int64)
    case offset(Int)

    var text: String {
        switch self {
        case .offset(let n): return "o\(n)"
        case let .after(.integer(value), rowid): return "i\(value)_\(rowid)"
        case let .after(.text(value), rowid): return "t\(rowid)_" + Hex.encode(Array(value.utf8))
        case let .after(_, rowid): return "i0_\(rowid)"
        }
    }

    init?(_ text: String) {
        guard let kind = text.first else { return nil }
        let rest = text.dropFirst()
        switch kind {
        case "o":
            guard let n = Int(rest), (0...100_000).contains(n) else { return nil }
            self = .offset(n)
        case "i":
            let parts = rest.split(separator: "_")
            guard parts.count == 2, let value = Int64(parts[0]), let rowid = Int64(parts[1]) else { return nil }
            self = .after(.integer(value), rowid)
        case "t":
            let parts = rest.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, let rowid = Int64(parts[0]), let bytes = Hex.decode(String(parts[1])),
                  let value = String(validating: bytes, as: UTF8.self) else { return nil }
            self = .after(.text(value), rowid)
        default:
            return nil
        }
    }
}

