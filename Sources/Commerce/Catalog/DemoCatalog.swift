import Platform

/// A generated catalog for demos and benchmarks: the same products for the same seed and size,
/// with believable names (in English and German), categories, attributes, prices in this
/// shop's regions and valid EAN-13 barcodes.
public struct DemoCatalog {
    public let categories: [Category]
    public let products: [Product]

    struct Kind {
        let category: String
        let noun: (en: String, de: String)
        let models: [String]
        let attributes: [(name: String, values: [String])]
        /// Price range in cents.
        let price: ClosedRange<Int64>
        let blurb: String
    }

    static let tree: [(id: String, parent: String?, en: String, de: String)] = [
        ("electronics", nil, "Electronics", "Elektronik"), ("laptops", "electronics", "Laptops", "Laptops"),
        ("phones", "electronics", "Phones", "Telefone"), ("headphones", "electronics", "Headphones", "Kopfhörer"),
        ("cameras", "electronics", "Cameras", "Kameras"),
        ("home", nil, "Home", "Wohnen"), ("kitchen", "home", "Kitchen", "Küche"), ("lighting", "home", "Lighting", "Beleuchtung"),
        ("furniture", "home", "Furniture", "Möbel"),
        ("fashion", nil, "Fashion", "Mode"), ("shoes", "fashion", "Shoes", "Schuhe"), ("jackets", "fashion", "Jackets", "Jacken"),
        ("shirts", "fashion", "Shirts", "Hemden"),
        ("sports", nil, "Sports", "Sport"), ("running", "sports", "Running", "Laufen"), ("cycling", "sports", "Cycling", "Radsport"),
        ("outdoor", "sports", "Outdoor", "Outdoor"),
    ]

    static let kinds: [Kind] = [
        Kind(category: "laptops", noun: ("Laptop", "Laptop"), models: ["Air", "Pro", "Book", "Swift", "Zen", "Edge", "Flex"],
             attributes: [("colour", ["silver", "black", "blue"]), ("screen", ["13 in", "14 in", "15 in", "16 in"]), ("memory", ["8 GB", "16 GB", "32 GB"])],
             price: 49_900...299_900, blurb: "A light laptop with a bright screen and a battery that lasts the working day."),
        Kind(category: "phones", noun: ("Smartphone", "Smartphone"), models: ["One", "Nova", "Pixel", "Lite", "Max", "Mini"],
             attributes: [("colour", ["black", "white", "green", "blue"]), ("storage", ["128 GB", "256 GB", "512 GB"])],
             price: 19_900...149_900, blurb: "A fast phone with a sharp camera and all-day battery."),
        Kind(category: "headphones", noun: ("Headphones", "Kopfhörer"), models: ["Quiet", "Bass", "Studio", "Go", "Air"],
             attributes: [("colour", ["black", "white", "red"]), ("type", ["over-ear", "in-ear", "on-ear"])],
             price: 2_900...39_900, blurb: "Wireless headphones with noise cancelling and clear calls."),
        Kind(category: "cameras", noun: ("Camera", "Kamera"), models: ["Snap", "Vision", "Shot", "Frame"],
             attributes: [("colour", ["black", "silver"]), ("sensor", ["APS-C", "full frame", "1 in"])],
             price: 29_900...249_900, blurb: "A compact camera with a fast lens for travel and street photography."),
        Kind(category: "kitchen", noun: ("Coffee Maker", "Kaffeemaschine"), models: ["Barista", "Brew", "Crème", "Café", "Espresso"],
             attributes: [("colour", ["black", "steel", "red"]), ("capacity", ["1 l", "1.5 l", "2 l"])],
             price: 3_900...89_900, blurb: "Fresh coffee at the touch of a button, with a milk frother for crème."),
        Kind(category: "lighting", noun: ("Lamp", "Lampe"), models: ["Lumen", "Glow", "Arc", "Halo", "Nordic"],
             attributes: [("colour", ["white", "black", "brass"]), ("fitting", ["E27", "E14", "LED"])],
             price: 1_900...29_900, blurb: "A warm light for reading corners, dimmable and energy saving."),
        Kind(category: "furniture", noun: ("Chair", "Stuhl"), models: ["Oslo", "Bergen", "Malmö", "Turku", "Aarhus"],
             attributes: [("colour", ["oak", "walnut", "black", "grey"]), ("material", ["wood", "steel", "fabric"])],
             price: 4_900...59_900, blurb: "A sturdy chair in a clean Scandinavian design."),
        Kind(category: "shoes", noun: ("Sneaker", "Sneaker"), models: ["Street", "Classic", "Court", "Flow"],
             attributes: [("colour", ["white", "black", "navy", "red"]), ("size", ["38", "39", "40", "41", "42", "43", "44", "45"])],
             price: 4_900...18_900, blurb: "Comfortable everyday sneakers with a cushioned sole."),
        Kind(category: "jackets", noun: ("Jacket", "Jacke"), models: ["Storm", "Alpine", "City", "Parka", "Trail"],
             attributes: [("colour", ["black", "olive", "navy", "sand"]), ("size", ["XS", "S", "M", "L", "XL"])],
             price: 7_900...39_900, blurb: "A waterproof jacket that breathes, for rain and wind."),
        Kind(category: "shirts", noun: ("Shirt", "Hemd"), models: ["Oxford", "Linen", "Flannel", "Polo"],
             attributes: [("colour", ["white", "blue", "grey", "green"]), ("size", ["S", "M", "L", "XL"])],
             price: 2_900...9_900, blurb: "A soft cotton shirt that keeps its shape wash after wash."),
        Kind(category: "running", noun: ("Running Shoe", "Laufschuh"), models: ["Pace", "Tempo", "Sprint", "Ultra"],
             attributes: [("colour", ["neon", "black", "blue"]), ("size", ["39", "40", "41", "42", "43", "44"])],
             price: 7_900...21_900, blurb: "A responsive running shoe for long runs and race day."),
        Kind(category: "cycling", noun: ("Bike Helmet", "Fahrradhelm"), models: ["Aero", "Commute", "Trail", "Road"],
             attributes: [("colour", ["white", "black", "orange"]), ("size", ["S", "M", "L"])],
             price: 3_900...24_900, blurb: "A light helmet with good ventilation and a rear light."),
        Kind(category: "outdoor", noun: ("Tent", "Zelt"), models: ["Summit", "Basecamp", "Trek", "Dome"],
             attributes: [("colour", ["green", "orange", "grey"]), ("capacity", ["1 person", "2 persons", "4 persons"])],
             price: 9_900...69_900, blurb: "A tent that pitches in minutes and stands up to mountain weather."),
    ]

    static let brands = ["Acme", "Nordwind", "Solis", "Kestrel", "Orbit", "Vela", "Tundra", "Lumo", "Brisa", "Falk", "Mistral", "Quill"]

    /// The demo's currency of a region: eu EUR, uk GBP, others USD.
    public static func currency(region: String) -> String { region == "eu" ? "EUR" : region == "uk" ? "GBP" : "USD" }

    /// `count` products in `regions` (each priced in its currency: eu EUR, uk GBP, others USD).
    public init(products count: Int, seed: UInt64 = 1, regions: [String] = ["eu"]) {
        categories = Self.tree.enumerated().map { index, entry in
            Category(id: entry.id, parent: entry.parent, names: ["en": entry.en, "de": entry.de], position: Int64(index))
        }
        var random = SplitMix64(seed: seed)
        var products: [Product] = []
        products.reserveCapacity(count)
        for n in 0..<count {
            let kind = Self.kinds[Int(random.next() % UInt64(Self.kinds.count))]
            let brand = Self.brands[Int(random.next() % UInt64(Self.brands.count))]
            let model = kind.models[Int(random.next() % UInt64(kind.models.count))]
            let number = 2 + random.next() % 98
            let id = "\(kind.category)-\(n + 1)"
            let span = UInt64(kind.price.upperBound - kind.price.lowerBound) / 100
            let basePrice = kind.price.lowerBound + Int64(random.next() % (span + 1)) * 100 - 1  // ...99
            var attributes: [String: String] = ["brand": brand]
            let varying = kind.attributes[0]  // colour: one variant each
            let fixed = kind.attributes.dropFirst().map { ($0.name, $0.values[Int(random.next() % UInt64($0.values.count))]) }
            for (name, value) in fixed { attributes[name] = value }
            let variantCount = 1 + Int(random.next() % UInt64(min(3, varying.values.count)))
            var variants: [Variant] = []
            for v in 0..<variantCount {
                let colour = varying.values[(n + v) % varying.values.count]
                let sku = "\(kind.category.prefix(3).uppercased())-\(n + 1)-\(colour.prefix(3).uppercased())\(v)"
                let prices = regions.map { region in
                    Price(region: region, currency: Self.currency(region: region), amount: basePrice + Int64(v) * 1_000)
                }
                variants.append(Variant(sku: sku, barcode: Self.ean13(400_000_000_000 + UInt64(n) * 10 + UInt64(v)),
                                        attributes: [varying.name: colour], prices: prices))
            }
            products.append(Product(
                id: id, status: .active, category: kind.category, featured: n % 20 == 0,
                names: ["en": "\(brand) \(model) \(number) \(kind.noun.en)", "de": "\(brand) \(model) \(number) \(kind.noun.de)"],
                descriptions: ["en": "\(kind.blurb) By \(brand)."], attributes: attributes, images: ["/images/\(kind.category).svg"],
                variants: variants.sorted { $0.sku < $1.sku }, createdMs: 1_763_000_000_000 + Int64(n) * 60_000))
        }
        self.products = products
    }

    /// Units a demo store receives: most of the catalog, so a first search finds things to buy,
    /// and every stock state still shows (about one variant in eight none, one in eight low).
    /// The same for the same store on every run.
    public func stock(store: String) -> [(sku: String, units: Int64)] {
        var random = SplitMix64(seed: FNV1a.hash(store.utf8))
        var out: [(String, Int64)] = []
        for product in products {
            for variant in product.variants {
                switch random.next() % 8 {
                case 0: continue
                case 1: out.append((variant.sku, Int64(1 + random.next() % 4)))
                default: out.append((variant.sku, Int64(10 + random.next() % 40)))
                }
            }
        }
        return out
    }

    /// A 12-digit number with its check digit.
    static func ean13(_ number: UInt64) -> String {
        let digits = String(number % 1_000_000_000_000).leftPadded(to: 12)
        return digits + String(Barcode.checkDigit(ArraySlice(digits.utf8.map { Int($0) - 48 })))
    }
}

/// A small, fast, seedable generator (Vigna's SplitMix64): the same sequence everywhere.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String {
    func leftPadded(to length: Int) -> String { count >= length ? self : String(repeating: "0", count: length - count) + self }
}
