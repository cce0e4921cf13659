import Replication

/// Whether shoppers see a product.
public enum ProductStatus: String, Sendable, Codable, CaseIterable {
    case draft, active, archived
}

/// A price in minor units of its currency, for one region's price list.
public struct Price: Sendable, Equatable, Codable {
    public var region: String
    /// ISO 4217, upper case ("EUR").
    public var currency: String
    /// Minor units (cents), 0 through `amountMax`.
    public var amount: Int64

    /// The highest price a product may have: 10^12 minor units. A line of `CartContents.quantityMax`
    /// units at this price, times a cart's lines, stays far inside `Int64`.
    public static let amountMax: Int64 = 1_000_000_000_000

    public init(region: String, currency: String, amount: Int64) {
        self.region = region
        self.currency = currency
        self.amount = amount
    }

    /// Digits after the decimal point in `currency` (ISO 4217): 2 but for these.
    public static func minorUnitDigits(_ currency: String) -> Int {
        switch currency {
        case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF": 0
        case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND": 3
        default: 2
        }
    }
}

/// A sellable version of a product: what stock, carts and orders refer to, by SKU.
public struct Variant: Sendable, Equatable, Codable {
    public var sku: String
    /// EAN-13 or UPC-A, check digit valid.
    public var barcode: String?
    public var attributes: [String: String]
    public var prices: [Price]

    public init(sku: String, barcode: String? = nil, attributes: [String: String] = [:], prices: [Price] = []) {
        self.sku = sku
        self.barcode = barcode
        self.attributes = attributes
        self.prices = prices
    }

    /// This region's prices, cheapest first.
    public func prices(in region: String) -> [Price] {
        prices.filter { $0.region == region }.sorted { ($0.amount, $0.currency) < ($1.amount, $1.currency) }
    }
}

/// A product as the catalog holds it: every locale, every region's prices.
public struct Product: Sendable, Equatable {
    public var id: String
    public var status: ProductStatus
    public var category: String?
    public var featured: Bool
    /// Locale -> text.
    public var names: [String: String]
    public var descriptions: [String: String]
    public var attributes: [String: String]
    public var images: [String]
    /// Ordered by SKU.
    public var variants: [Variant]
    /// When it was first created (ms since the epoch; the authoring node's clock).
    public var createdMs: Int64

    public init(id: String, status: ProductStatus = .draft, category: String? = nil, featured: Bool = false, names: [String: String] = [:],
                descriptions: [String: String] = [:], attributes: [String: String] = [:], images: [String] = [], variants: [Variant] = [],
                createdMs: Int64 = 0) {
        self.id = id
        self.status = status
        self.category = category
        self.featured = featured
        self.names = names
        self.descriptions = descriptions
        self.attributes = attributes
        self.images = images
        self.variants = variants
        self.createdMs = createdMs
    }

    /// The text for `locale`, else the fallback locale's, else any (the first locale in order).
    public static func localized(_ texts: [String: String], _ locale: String, fallback: String) -> String? {
        texts[locale] ?? texts[String(locale.prefix(2))] ?? texts[fallback] ?? texts.keys.min().flatMap { texts[$0] }
    }

    /// Every attribute value shoppers can filter on: the product's and each variant's.
    public var facetAttributes: [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        // A product has a handful: a scan beats hashing joined strings.
        func add(_ attributes: [String: String]) {
            for (name, value) in attributes.sorted(by: { $0.key < $1.key }) where !out.contains(where: { $0.name == name && $0.value == value }) {
                out.append((name, value))
            }
        }
        add(attributes)
        for variant in variants { add(variant.attributes) }
        return out
    }
}

/// A node of the category tree.
public struct Category: Sendable, Equatable {
    public var id: String
    public var parent: String?
    public var names: [String: String]
    /// Order among siblings.
    public var position: Int64

    public init(id: String, parent: String? = nil, names: [String: String] = [:], position: Int64 = 0) {
        self.id = id
        self.parent = parent
        self.names = names
        self.position = position
    }
}
