/// What one order adds to the sales figures: a pure fold of the order's events, so every node
/// that holds the same events computes the same contribution, whichever it saw first.
///
/// The figures (docs/back-office.md):
/// - An order counts as a sale once it is paid or some unit has left, unless it was cancelled
///   before anything left; exchange orders (the replacement goods of a return) are not sales.
/// - Its sale falls in the 5-minute window of its placing; each refund in the window of the
///   refund, each received return in the window of its receipt. So a store back from offline
///   fills the past windows its sales belong to.
/// - gross = what the shopper paid plus every discount; net = paid less refunds.
///
/// A contribution is kept per order (`SalesWindows`): when the order changes, the old one is
/// taken out of the windows and the new one put in.
public struct SalesContribution: Equatable, Sendable {
    /// The finest window; hourly and daily windows are sums of these.
    public static let windowMs: Int64 = 300_000

    /// Where figures land: a window of one store's channel in one currency.
    public struct Place: Hashable, Comparable, Sendable {
        /// Start of the 5-minute window (Unix ms, UTC).
        public var windowStartMs: Int64
        public var channel: SalesChannel
        /// The node that placed the order.
        public var store: String
        public var region: String
        public var currency: String

        public init(windowStartMs: Int64, channel: SalesChannel, store: String, region: String, currency: String) {
            self.windowStartMs = windowStartMs
            self.channel = channel
            self.store = store
            self.region = region
            self.currency = currency
        }

        public static func < (a: Place, b: Place) -> Bool {
            (a.windowStartMs, a.channel.rawValue, a.store, a.region, a.currency) < (b.windowStartMs, b.channel.rawValue, b.store, b.region, b.currency)
        }
    }

    /// A window's figures; every member adds up across orders. Money in minor units.
    public struct Figures: Equatable, Sendable {
        public var orders: Int64 = 0
        public var units: Int64 = 0
        public var gross: Int64 = 0
        public var discounts: Int64 = 0
        public var tax: Int64 = 0
        public var refunds: Int64 = 0
        public var returnedUnits: Int64 = 0
        public var cash: Int64 = 0
        public var card: Int64 = 0
        public var cardOffline: Int64 = 0

        public init() {}

        /// Members in the order the windows table and the contribution's text hold them.
        public var values: [Int64] { [orders, units, gross, discounts, tax, refunds, returnedUnits, cash, card, cardOffline] }

        public init?(values: [Int64]) {
            guard values.count == 10 else { return nil }
            (orders, units, gross, discounts, tax, refunds) = (values[0], values[1], values[2], values[3], values[4], values[5])
            (returnedUnits, cash, card, cardOffline) = (values[6], values[7], values[8], values[9])
        }

        public static func + (a: Figures, b: Figures) -> Figures {
            Figures(values: zip(a.values, b.values).map { $0 + $1 }) ?? a
        }

        /// What was paid, before refunds.
        public var paid: Int64 { gross - discounts }
        public var net: Int64 { gross - discounts - refunds }
    }

    /// Where a product's figures land: a place and the product in its category.
    public struct ProductPlace: Hashable, Comparable, Sendable {
        public var place: Place
        public var product: String
        /// The category the line sold in ("" for none).
        public var category: String

        public init(place: Place, product: String, category: String) {
            self.place = place
            self.product = product
            self.category = category
        }

        public static func < (a: ProductPlace, b: ProductPlace) -> Bool {
            (a.place, a.product, a.category) < (b.place, b.product, b.category)
        }
    }

    public struct ProductFigures: Equatable, Sendable {
        public var units: Int64 = 0
        /// The lines' amounts less the discounts on them.
        public var revenue: Int64 = 0
        public var returnedUnits: Int64 = 0

        public init(units: Int64 = 0, revenue: Int64 = 0, returnedUnits: Int64 = 0) {
            self.units = units
            self.revenue = revenue
            self.returnedUnits = returnedUnits
        }

        public var values: [Int64] { [units, revenue, returnedUnits] }

        public static func + (a: ProductFigures, b: ProductFigures) -> ProductFigures {
            ProductFigures(units: a.units + b.units, revenue: a.revenue + b.revenue, returnedUnits: a.returnedUnits + b.returnedUnits)
        }
    }

    public private(set) var windows: [Place: Figures] = [:]
    public private(set) var products: [ProductPlace: ProductFigures] = [:]

    public init() {}

    public var isEmpty: Bool { windows.isEmpty && products.isEmpty }

    public static func windowStart(_ atMs: Int64) -> Int64 {
        let ms = max(0, atMs)
        return ms - ms % windowMs
    }

    /// Whether an order's state is a sale the figures count.
    public static func counts(_ state: OrderState) -> Bool {
        guard let placed = state.placed, placed.totals != nil else { return false }
        if placed.discounts?.contains(where: { $0.promotion == DiscountLine.exchangePromotion }) == true { return false }
        let paid = state.events.contains { $0.kind == .paid }
        return (paid || state.anyShipped) && state.status != .cancelled
    }

    public init(_ state: OrderState) {
        guard Self.counts(state), let placed = state.placed, let totals = placed.totals else { return }
        let channel = SalesChannel.of(placed)
        func place(_ atMs: Int64) -> Place {
            Place(windowStartMs: Self.windowStart(atMs), channel: channel, store: placed.node, region: placed.region ?? "", currency: totals.currency)
        }
        let sold = place(placed.atMs)
        let lines = placed.lines ?? []
        var sale = Figures()
        sale.orders = 1
        sale.units = lines.reduce(0) { $0 + max(0, $1.quantity) }
        sale.discounts = max(0, totals.discount)
        sale.gross = max(0, totals.total) + sale.discounts
        sale.tax = max(0, totals.tax)
        for tender in placed.tenders ?? [SaleTender(method: .card, amount: max(0, totals.total))] {
            switch tender.method {
            case .cash: sale.cash += max(0, tender.amount)
            case .card: sale.card += max(0, tender.amount)
            case .cardOffline: sale.cardOffline += max(0, tender.amount)
            }
        }
        add(sale, at: sold)

        var lineDiscount: [String: Int64] = [:]
        for discount in placed.discounts ?? [] {
            for (sku, amount) in discount.lines { lineDiscount[sku, default: 0] += max(0, amount) }
        }
        var productOfSku: [String: (product: String, category: String)] = [:]
        for line in lines {
            let product = line.productId.isEmpty ? line.sku : line.productId, category = line.category ?? ""
            productOfSku[line.sku] = (product, category)
            // A SKU's discount goes with its first line (a till may list one SKU at two prices).
            let off = lineDiscount.removeValue(forKey: line.sku) ?? 0
            add(ProductFigures(units: max(0, line.quantity), revenue: max(0, max(0, line.amount) - off)),
                at: ProductPlace(place: sold, product: product, category: category))
        }

        for refund in state.events where refund.kind == .refunded {
            var figures = Figures()
            figures.refunds = max(0, refund.amount ?? 0)
            add(figures, at: place(refund.atMs))
        }
        for r in state.returns where r.status == .received || r.status == .refunded {
            guard let received = state.events.first(where: { $0.kind == .returnReceived && $0.returnId == r.id }) else { continue }
            let at = place(received.atMs)
            var figures = Figures()
            for item in r.items {
                let units = max(0, item.quantity)
                figures.returnedUnits += units
                let (product, category) = productOfSku[item.sku] ?? (item.sku, "")
                add(ProductFigures(returnedUnits: units), at: ProductPlace(place: at, product: product, category: category))
            }
            add(figures, at: at)
        }
    }

    private mutating func add(_ figures: Figures, at place: Place) {
        windows[place] = (windows[place] ?? Figures()) + figures
    }

    private mutating func add(_ figures: ProductFigures, at place: ProductPlace) {
        products[place] = (products[place] ?? ProductFigures()) + figures
    }

    // MARK: Text

    /// The contribution as `SalesWindows` keeps it per order: places sorted, so one state is one
    /// text and an unchanged order is found unchanged by comparing texts.
    public var text: String {
        var json = EventJSONWriter()
        json.objects("p", products.sorted { $0.key < $1.key }) { json, entry in
            Self.write(&json, entry.key.place)
            json.string("g", entry.key.category); json.string("i", entry.key.product)
            json.string("v", Self.joined(entry.value.values))
        }
        json.objects("w", windows.sorted { $0.key < $1.key }) { json, entry in
            Self.write(&json, entry.key)
            json.string("v", Self.joined(entry.value.values))
        }
        return json.text
    }

    private static func write(_ json: inout EventJSONWriter, _ place: Place) {
        json.string("$", place.currency); json.string("c", place.channel.rawValue); json.string("r", place.region)
        json.string("s", place.store); json.int("t", place.windowStartMs)
    }

    private static func place(_ json: EventJSONReader) -> Place? {
        guard let currency = json.string("$"), let channel = json.string("c").flatMap(SalesChannel.init(rawValue:)), let region = json.string("r"),
              let store = json.string("s"), let start = json.int("t") else { return nil }
        return Place(windowStartMs: start, channel: channel, store: store, region: region, currency: currency)
    }

    private static func joined(_ values: [Int64]) -> String {
        values.map(String.init).joined(separator: ",")
    }

    private static func values(_ json: EventJSONReader) -> [Int64]? {
        guard let text = json.string("v") else { return nil }
        let values = text.split(separator: ",").compactMap { Int64($0) }
        return values.count == text.split(separator: ",").count ? values : nil
    }

    /// A contribution from its text; nil for text this version did not write.
    public init?(text: String) {
        guard let json = EventJSONReader(text) else { return nil }
        for entry in json.objects("w") ?? [] {
            guard let place = Self.place(entry), let figures = Self.values(entry).flatMap(Figures.init(values:)) else { return nil }
            windows[place] = figures
        }
        for entry in json.objects("p") ?? [] {
            guard let place = Self.place(entry), let product = entry.string("i"), let category = entry.string("g"),
                  let v = Self.values(entry), v.count == 3 else { return nil }
            products[ProductPlace(place: place, product: product, category: category)] = ProductFigures(units: v[0], revenue: v[1], returnedUnits: v[2])
        }
    }
}
