import Replication

/// How catalog entries sit in the replicated `catalog` collection: one key per product (its id)
/// or category (`category:<id>`), each an observed-remove map of field path -> last-writer-wins
/// value. Fields are merged one by one, so two admins editing different fields of a product
/// both win; the same field edited twice keeps the later write.
///
///     status                                  text: draft | active | archived
///     category, featured, created             text, flag, integer (ms)
///     name/<locale>, description/<locale>     text
///     attr/<name>, image/<nn>                 text
///     variant/<sku>                           flag (the variant exists)
///     variant/<sku>/barcode                   text
///     variant/<sku>/attr/<name>               text
///     variant/<sku>/price/<region>/<currency> integer, minor units
///
///     category:<id>  parent, position, name/<locale>
///
/// Decoding is lenient: a field this version does not know (a newer node wrote it) is ignored.
public enum CatalogFields {
    public typealias Entry = ORMap<String, LWWRegister<FieldValue>>

    public static let categoryPrefix = "category:"

    public static func isCategoryKey(_ key: String) -> Bool { key.hasPrefix(categoryPrefix) }
    public static func categoryKey(_ id: String) -> String { categoryPrefix + id }

    /// The fields of the current values in an entry.
    public static func values(of entry: Entry) -> [String: FieldValue] {
        var out: [String: FieldValue] = [:]
        for (field, item) in entry.entries where !item.dots.isEmpty {
            if let value = item.value.value { out[field] = value }
        }
        return out
    }

    public static func fields(of product: Product) -> [String: FieldValue] {
        var fields: [String: FieldValue] = ["status": .text(product.status.rawValue), "featured": .flag(product.featured),
                                            "created": .integer(product.createdMs)]
        if let category = product.category { fields["category"] = .text(category) }
        for (locale, text) in product.names { fields["name/" + locale] = .text(text) }
        for (locale, text) in product.descriptions { fields["description/" + locale] = .text(text) }
        for (name, value) in product.attributes { fields["attr/" + name] = .text(value) }
        for (index, url) in product.images.enumerated() { fields["image/" + twoDigits(index)] = .text(url) }
        for variant in product.variants {
            let base = "variant/" + variant.sku
            fields[base] = .flag(true)
            if let barcode = variant.barcode { fields[base + "/barcode"] = .text(barcode) }
            for (name, value) in variant.attributes { fields[base + "/attr/" + name] = .text(value) }
            for price in variant.prices { fields[base + "/price/" + price.region + "/" + price.currency] = .integer(price.amount) }
        }
        return fields
    }

    /// The product an entry holds; nil if it has no status (nothing, or removed).
    ///
    /// Every replicated product change is projected through this, so field paths are cut as
    /// substrings of the path rather than split into new strings.
    public static func product(id: String, from fields: [String: FieldValue]) -> Product? {
        guard case .text(let statusText)? = fields["status"], let status = ProductStatus(rawValue: statusText) else { return nil }
        var product = Product(id: id, status: status)
        if case .text(let category)? = fields["category"] { product.category = category }
        if case .flag(let featured)? = fields["featured"] { product.featured = featured }
        if case .integer(let created)? = fields["created"] { product.createdMs = created }
        var variants: [Substring: Variant] = [:]
        var variantFields: [(sku: Substring, path: Substring, value: FieldValue)] = []
        var images: [(Substring, String)] = []
        for (field, value) in fields {
            guard let (head, rest) = cut(field[...]) else { continue }
            switch (head, value) {
            case ("name", .text(let text)) where !rest.contains("/"): product.names[String(rest)] = text
            case ("description", .text(let text)) where !rest.contains("/"): product.descriptions[String(rest)] = text
            case ("attr", .text(let text)) where !rest.contains("/"): product.attributes[String(rest)] = text
            case ("image", .text(let url)) where !rest.contains("/"): images.append((rest, url))
            case ("variant", _):
                if let (sku, path) = cut(rest) {
                    variantFields.append((sku, path, value))
                } else if value == .flag(true) {
                    variants[rest] = Variant(sku: String(rest))
                }
            default: break
            }
        }
        // A variant removed: its leftover fields are ignored.
        for (sku, path, value) in variantFields where variants[sku] != nil {
            switch (cut(path), value) {
            case (nil, .text(let barcode)) where path == "barcode": variants[sku]?.barcode = barcode
            case (("attr", let name)?, .text(let text)) where !name.contains("/"): variants[sku]?.attributes[String(name)] = text
            case (("price", let rest)?, .integer(let amount)):
                // A replicated price out of range (a hostile peer's) is no price: not sold.
                if let (region, currency) = cut(rest), !currency.contains("/"), (0...Price.amountMax).contains(amount) {
                    variants[sku]?.prices.append(Price(region: String(region), currency: String(currency), amount: amount))
                }
            default: break
            }
        }
        product.images = images.sorted { $0.0 < $1.0 }.map(\.1)
        product.variants = variants.values.sorted { $0.sku < $1.sku }.map { variant in
            var sorted = variant
            sorted.prices.sort { ($0.region, $0.currency) < ($1.region, $1.currency) }
            return sorted
        }
        return product
    }

    /// A path cut at its first `/`.
    private static func cut(_ path: Substring) -> (Substring, Substring)? {
        guard let slash = path.utf8.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        return (path[..<slash], path[path.utf8.index(after: slash)...])
    }

    public static func fields(of category: Category) -> [String: FieldValue] {
        var fields: [String: FieldValue] = ["position": .integer(category.position)]
        if let parent = category.parent { fields["parent"] = .text(parent) }
        for (locale, text) in category.names { fields["name/" + locale] = .text(text) }
        return fields
    }

    public static func category(id: String, from fields: [String: FieldValue]) -> Category? {
        guard case .integer(let position)? = fields["position"] else { return nil }
        var category = Category(id: id, position: position)
        if case .text(let parent)? = fields["parent"] { category.parent = parent }
        for (field, value) in fields where field.hasPrefix("name/") {
            if case .text(let text) = value { category.names[String(field.dropFirst(5))] = text }
        }
        return category
    }

    /// One delta that takes `entry` from its current fields to `target`: sets what differs,
    /// removes what `target` lacks. Nil if nothing differs.
    public static func delta(from entry: inout Entry, to target: [String: FieldValue], replica: ReplicaID, at timestamp: HLCTimestamp) -> Entry? {
        let current = values(of: entry)
        let changes: [(key: String, mutate: (inout LWWRegister<FieldValue>) -> LWWRegister<FieldValue>)] =
            target.sorted { $0.key < $1.key }.filter { current[$0.key] != $0.value }.map { field, value in
                (field, { $0.set(value, at: timestamp) })
            }
        let removed = current.keys.sorted().filter { target[$0] == nil }
        guard !changes.isEmpty || !removed.isEmpty else { return nil }
        return entry.update(changes, removing: removed, replica: replica)
    }

    private static func twoDigits(_ index: Int) -> String { index < 10 ? "0\(index)" : "\(index)" }
}
