/// What filters and facets read of each searchable product, in memory beside search's postings
/// and refreshed with them: its category, its price here, its attribute values.
///
/// Counting facets for 500 ranked matches through SQL took ~5 ms (a join per table per match);
/// here it is a pass over 500 small records. Strings are interned: a product is three numbers
/// and a short list.
final class SearchableFacts {
    private struct Facts {
        var category: UInt32?
        var price: Int64?
        /// Where the product's (name, value) pair ids sit in `pool`, ascending: no array per
        /// product, so reading one costs no reference counting.
        var attributes: Range<Int>
    }

    /// By rowid (dense, like the rowids themselves).
    private var facts: [Facts?] = []
    private var pool: [UInt32] = []
    /// Pool entries no product points at any more (a changed product's old pairs).
    private var orphaned = 0
    private var categories = InternedStrings()
    /// Keys "name\0value".
    private var attributes = InternedStrings()

    /// A search's filters, as `CatalogQuery` states them.
    struct Filter {
        var categories: Set<String>?
        var minPrice: Int64?
        var maxPrice: Int64?
        /// Attribute name -> accepted values.
        var attributes: [String: [String]] = [:]

        var isEmpty: Bool { categories == nil && minPrice == nil && maxPrice == nil && attributes.isEmpty }
    }

    private static func key(_ name: String, _ value: String) -> String { name + "\u{0}" + value }

    func set(_ rowid: UInt32, category: String?, price: Int64?, attributes: [(name: String, value: String)]) {
        let category = category.map { categories.id($0) }
        let pairs = attributes.map { self.attributes.id(Self.key($0.name, $0.value)) }
        remove(rowid)
        if Int(rowid) >= facts.count { facts.append(contentsOf: repeatElement(nil, count: Int(rowid) + 1 - facts.count)) }
        let start = pool.count
        pool += pairs.sorted()
        facts[Int(rowid)] = Facts(category: category, price: price, attributes: start..<pool.count)
    }

    func remove(_ rowid: UInt32) {
        guard Int(rowid) < facts.count, let old = facts[Int(rowid)] else { return }
        facts[Int(rowid)] = nil
        orphaned += old.attributes.count
        if orphaned > pool.count / 2 && orphaned > 4_096 { compact() }
    }

    /// Copies the live pairs to a fresh pool, so changes cannot grow it without bound.
    private func compact() {
        var fresh: [UInt32] = []
        fresh.reserveCapacity(pool.count - orphaned)
        for index in facts.indices {
            guard let product = facts[index] else { continue }
            let start = fresh.count
            fresh += pool[product.attributes]
            facts[index]?.attributes = start..<fresh.count
        }
        pool = fresh
        orphaned = 0
    }

    private func product(_ rowid: UInt32) -> Facts? { Int(rowid) < facts.count ? facts[Int(rowid)] : nil }

    func removeAll() {
        facts = []
        pool = []
        orphaned = 0
        categories = InternedStrings()
        attributes = InternedStrings()
    }

    /// The filter as a test on rowids; nil when it accepts every product.
    func predicate(_ filter: Filter) -> ((UInt32) -> Bool)? {
        guard !filter.isEmpty else { return nil }
        let categories = filter.categories.map { Set($0.compactMap(self.categories.existing)) }
        // Per filtered attribute, the accepted pair ids: a product needs one of each set.
        let accepted: [Set<UInt32>] = filter.attributes.map { name, values in
            Set(values.compactMap { attributes.existing(Self.key(name, $0)) })
        }
        return { [facts, pool] rowid in
            guard Int(rowid) < facts.count, let product = facts[Int(rowid)] else { return false }
            if let categories {
                guard let category = product.category, categories.contains(category) else { return false }
            }
            if let min = filter.minPrice {
                guard let price = product.price, price >= min else { return false }
            }
            if let max = filter.maxPrice {
                guard let price = product.price, price <= max else { return false }
            }
            for set in accepted where !pool[product.attributes].contains(where: set.contains) { return false }
            return true
        }
    }

    /// Counts by category, attribute value and price band over `rowids`, in the order the
    /// shopper API lists them.
    func facets(of rowids: some Sequence<UInt32>, priceBands bands: [Int64]) -> Facets {
        // Counted in arrays indexed by interned id; `touched` lists the ids seen, so reading
        // the counts back costs what the matches hold, not the whole catalog's vocabulary.
        var categoryCounts = [Int32](repeating: 0, count: categories.count)
        var attributeCounts = [Int32](repeating: 0, count: attributes.count)
        var touchedCategories: [UInt32] = []
        var touchedAttributes: [UInt32] = []
        var prices = [Int](repeating: 0, count: bands.count)
        for rowid in rowids {
            guard let product = product(rowid) else { continue }
            if let category = product.category {
                if categoryCounts[Int(category)] == 0 { touchedCategories.append(category) }
                categoryCounts[Int(category)] += 1
            }
            for pair in pool[product.attributes] {
                if attributeCounts[Int(pair)] == 0 { touchedAttributes.append(pair) }
                attributeCounts[Int(pair)] += 1
            }
            if let price = product.price {
                var band = bands.count - 1
                while band > 0 && price < bands[band] { band -= 1 }
                if price >= bands[band] { prices[band] += 1 }
            }
        }
        return Facets(
            categories: touchedCategories.map { (id: categories[$0], count: Int(categoryCounts[Int($0)])) }
                .sorted { ($1.count, $0.id) < ($0.count, $1.id) },
            attributes: touchedAttributes.map { id in
                let pair = attributes[id].split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
                return (name: String(pair[0]), value: pair.count > 1 ? String(pair[1]) : "", count: Int(attributeCounts[Int(id)]))
            }
                .sorted { ($0.name, $1.count, $0.value) < ($1.name, $0.count, $1.value) },
            prices: prices.indices.filter { prices[$0] > 0 }.map { (from: bands[$0], to: $0 + 1 < bands.count ? bands[$0 + 1] : nil, count: prices[$0]) })
    }
}
