/// A field of an admin request that is not acceptable, and why. Paths look like
/// `variants[1].barcode` or `name.de`.
public struct FieldError: Sendable, Equatable, Codable, CustomStringConvertible {
    public var field: String
    public var reason: String

    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }
}

/// Every bad field of one request.
public struct ValidationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [FieldError]
    public init(_ errors: [FieldError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "; ") }
}

/// What validation needs to know about the rest of the catalog.
public struct CatalogLookup {
    /// The product holding a SKU, if any.
    public var skuOwner: (String) -> String?
    /// The product holding a barcode (normalised to 13 digits), if any.
    public var barcodeOwner: (String) -> String?
    public var categoryExists: (String) -> Bool

    public init(skuOwner: @escaping (String) -> String?, barcodeOwner: @escaping (String) -> String?, categoryExists: @escaping (String) -> Bool) {
        self.skuOwner = skuOwner
        self.barcodeOwner = barcodeOwner
        self.categoryExists = categoryExists
    }
}

/// Turns admin JSON into a product: a whole one (create, import) or changes to one (update).
/// Every bad field is reported, not just the first.
///
/// On update, members present replace the product's: `name` and `description` merge per locale
/// (a locale set to null is removed), `attributes` and `variants` and `images` are replaced
/// whole, `category` null removes it.
public enum ProductInput {
    public static let members: Set<String> = ["id", "status", "category", "featured", "name", "description", "attributes", "images", "variants"]
    static let imagesMax = 20
    static let variantsMax = 100

    public static func create(_ json: LooseJSON, createdMs: Int64, lookup: CatalogLookup) -> Result<Product, ValidationFailure> {
        guard case .object(let members) = json else { return .failure(ValidationFailure([FieldError("", "must be a JSON object")])) }
        var errors: [FieldError] = []
        var id = ""
        switch members["id"] {
        case .string(let value) where isProductId(value): id = value
        case .string: errors.append(FieldError("id", "must be 1 to 64 of a-z, 0-9 and -, starting with a letter or digit"))
        case nil: errors.append(FieldError("id", "is required"))
        case let other?: errors.append(FieldError("id", "must be a string, not \(other.kind)"))
        }
        var product = Product(id: id, createdMs: createdMs)
        apply(members, to: &product, errors: &errors, lookup: lookup, isCreate: true)
        return errors.isEmpty ? .success(product) : .failure(ValidationFailure(errors))
    }

    public static func update(_ product: Product, with json: LooseJSON, lookup: CatalogLookup) -> Result<Product, ValidationFailure> {
        guard case .object(let members) = json else { return .failure(ValidationFailure([FieldError("", "must be a JSON object")])) }
        var errors: [FieldError] = []
        if let id = members["id"], id != .string(product.id) { errors.append(FieldError("id", "cannot change (it is \(product.id))")) }
        var updated = product
        apply(members, to: &updated, errors: &errors, lookup: lookup, isCreate: false)
        return errors.isEmpty ? .success(updated) : .failure(ValidationFailure(errors))
    }

    private static func apply(_ members: [String: LooseJSON], to product: inout Product, errors: inout [FieldError], lookup: CatalogLookup, isCreate: Bool) {
        for name in members.keys.sorted() where !Self.members.contains(name) {
            errors.append(FieldError(name, "is not a product field (fields: \(Self.members.sorted().joined(separator: ", ")))"))
        }
        if let value = members["status"] {
            if case .string(let text) = value, let status = ProductStatus(rawValue: text) { product.status = status } else {
                errors.append(FieldError("status", "must be one of draft, active, archived"))
            }
        }
        if let value = members["category"] {
            switch value {
            case .null: product.category = nil
            case .string(let id) where isProductId(id) && lookup.categoryExists(id): product.category = id
            case .string(let id) where isProductId(id): errors.append(FieldError("category", "no category \"\(id)\" (create it first)"))
            default: errors.append(FieldError("category", "must be a category id or null"))
            }
        }
        if let value = members["featured"] {
            if case .bool(let flag) = value { product.featured = flag } else { errors.append(FieldError("featured", "must be true or false")) }
        }
        if let value = members["name"] { texts(value, "name", maxLength: 200, into: &product.names, errors: &errors) }
        if let value = members["description"] { texts(value, "description", maxLength: 10_000, into: &product.descriptions, errors: &errors) }
        if product.names.isEmpty && !errors.contains(where: { $0.field.hasPrefix("name") }) {
            errors.append(FieldError("name", "at least one locale's name is required"))
        }
        if let value = members["attributes"] { product.attributes = attributes(value, "attributes", errors: &errors) }
        if let value = members["images"] { product.images = images(value, errors: &errors) }
        if let value = members["variants"] {
            product.variants = variants(value, productId: product.id, errors: &errors, lookup: lookup)
        } else if isCreate {
            errors.append(FieldError("variants", "at least one variant is required"))
        }
    }

    private static func texts(_ value: LooseJSON, _ path: String, maxLength: Int, into texts: inout [String: String], errors: inout [FieldError]) {
        guard case .object(let byLocale) = value else { return errors.append(FieldError(path, "must be an object of locale -> text")) }
        for (locale, text) in byLocale.sorted(by: { $0.key < $1.key }) {
            guard isLocale(locale) else { errors.append(FieldError("\(path).\(locale)", "is not a locale (en, de, fr-CA, ...)")); continue }
            switch text {
            case .null: texts[locale] = nil
            case .string(let string) where !string.isEmpty && string.count <= maxLength: texts[locale] = string
            default: errors.append(FieldError("\(path).\(locale)", "must be text of 1 to \(maxLength) characters, or null to remove it"))
            }
        }
    }

    private static func attributes(_ value: LooseJSON, _ path: String, errors: inout [FieldError]) -> [String: String] {
        guard case .object(let members) = value else {
            errors.append(FieldError(path, "must be an object of name -> value"))
            return [:]
        }
        var out: [String: String] = [:]
        for (name, item) in members.sorted(by: { $0.key < $1.key }) {
            guard isAttributeName(name) else { errors.append(FieldError("\(path).\(name)", "names are 1 to 32 of a-z, 0-9 and _")); continue }
            guard case .string(let text) = item, !text.isEmpty, text.count <= 100 else {
                errors.append(FieldError("\(path).\(name)", "must be text of 1 to 100 characters"))
                continue
            }
            out[name] = text
        }
        return out
    }

    private static func images(_ value: LooseJSON, errors: inout [FieldError]) -> [String] {
        guard case .array(let items) = value, items.count <= imagesMax else {
            errors.append(FieldError("images", "must be an array of at most \(imagesMax) URLs"))
            return []
        }
        var out: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let url) = item, url.count <= 2_000, url.hasPrefix("https://") || url.hasPrefix("http://") || url.hasPrefix("/") else {
                errors.append(FieldError("images[\(index)]", "must be an http(s) URL or a path starting with /"))
                continue
            }
            out.append(url)
        }
        return out
    }

    private static func variants(_ value: LooseJSON, productId: String, errors: inout [FieldError], lookup: CatalogLookup) -> [Variant] {
        guard case .array(let items) = value, (1...variantsMax).contains(items.count) else {
            errors.append(FieldError("variants", "must be an array of 1 to \(variantsMax) variants"))
            return []
        }
        var out: [Variant] = []
        var skus = Set<String>(), barcodes = Set<String>()
        for (index, item) in items.enumerated() {
            let path = "variants[\(index)]"
            guard case .object(let members) = item else { errors.append(FieldError(path, "must be an object")); continue }
            for name in members.keys.sorted() where !["sku", "barcode", "attributes", "prices"].contains(name) {
                errors.append(FieldError("\(path).\(name)", "is not a variant field (sku, barcode, attributes, prices)"))
            }
            var variant = Variant(sku: "")
            if case .string(let sku)? = members["sku"], isSKU(sku) {
                variant.sku = sku
                if !skus.insert(sku).inserted {
                    errors.append(FieldError("\(path).sku", "\(sku) appears twice"))
                } else if let owner = lookup.skuOwner(sku), owner != productId {
                    errors.append(FieldError("\(path).sku", "\(sku) belongs to product \(owner)"))
                }
            } else {
                errors.append(FieldError("\(path).sku", "is required: 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'"))
            }
            switch members["barcode"] {
            case nil, .null?: break
            case .string(let code)?:
                if let problem = Barcode.problem(with: code) {
                    errors.append(FieldError("\(path).barcode", problem))
                } else if !barcodes.insert(Barcode.normalized(code)).inserted {
                    errors.append(FieldError("\(path).barcode", "\(code) appears twice"))
                } else if let owner = lookup.barcodeOwner(Barcode.normalized(code)), owner != productId {
                    errors.append(FieldError("\(path).barcode", "\(code) belongs to product \(owner)"))
                } else {
                    variant.barcode = code
                }
            case let other?: errors.append(FieldError("\(path).barcode", "must be a string of digits, not \(other.kind)"))
            }
            if let attributes = members["attributes"] { variant.attributes = self.attributes(attributes, "\(path).attributes", errors: &errors) }
            variant.prices = prices(members["prices"], path: "\(path).prices", errors: &errors)
            out.append(variant)
        }
        return out.sorted { $0.sku < $1.sku }
    }

    private static func prices(_ value: LooseJSON?, path: String, errors: inout [FieldError]) -> [Price] {
        guard case .array(let items)? = value, !items.isEmpty else {
            errors.append(FieldError(path, "at least one price is required: [{\"region\": ..., \"currency\": ..., \"amount\": minor units}]"))
            return []
        }
        var out: [Price] = []
        var seen = Set<String>()
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard case .object(let members) = item else { errors.append(FieldError(itemPath, "must be an object")); continue }
            var ok = true
            var price = Price(region: "", currency: "", amount: 0)
            if case .string(let region)? = members["region"], isProductId(region) { price.region = region } else {
                errors.append(FieldError("\(itemPath).region", "must be a region name"))
                ok = false
            }
            if case .string(let currency)? = members["currency"], isCurrency(currency) { price.currency = currency } else {
                errors.append(FieldError("\(itemPath).currency", "must be an ISO 4217 code such as EUR"))
                ok = false
            }
            if case .integer(let amount)? = members["amount"], (0...Price.amountMax).contains(amount) { price.amount = amount } else {
                errors.append(FieldError("\(itemPath).amount", "must be a whole number of minor units (cents), 0 or more"))
                ok = false
            }
            if ok && !seen.insert(price.region + "/" + price.currency).inserted {
                errors.append(FieldError(itemPath, "a second \(price.currency) price for \(price.region)"))
                ok = false
            }
            if ok { out.append(price) }
        }
        return out.sorted { ($0.region, $0.currency) < ($1.region, $1.currency) }
    }

    // MARK: Shapes

    public static func isProductId(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard (1...64).contains(bytes.count), let first = bytes.first, isLowerAlnum(first) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    public static func isSKU(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        return (1...64).contains(bytes.count) && bytes.allSatisfy {
            isLowerAlnum($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
    }

    public static func isAttributeName(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        return (1...32).contains(bytes.count) && bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "_") }
    }

    /// "en", "de", "fr-CA".
    public static func isLocale(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        let lower = UInt8(ascii: "a")...UInt8(ascii: "z"), upper = UInt8(ascii: "A")...UInt8(ascii: "Z")
        if bytes.count == 2 { return bytes.allSatisfy { lower.contains($0) } }
        return bytes.count == 5 && lower.contains(bytes[0]) && lower.contains(bytes[1]) && bytes[2] == UInt8(ascii: "-")
            && upper.contains(bytes[3]) && upper.contains(bytes[4])
    }

    public static func isCurrency(_ s: String) -> Bool {
        s.utf8.count == 3 && s.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
    }

    private static func isLowerAlnum(_ b: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
    }
}
