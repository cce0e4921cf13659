
/// Units of one SKU taken from one stock location's counter for an order: what a cancellation
/// gives back.
public struct StockAllocation: Equatable, Sendable, Codable {
    public var sku: String
    public var location: String
    public var units: Int64

    public init(sku: String, location: String, units: Int64) {
        self.sku = sku
        self.location = location
        self.units = units
    }

    /// The inventory collection's key for this stock.
    public var stockKey: String { StockKey.make(sku: sku, location: location) }

    /// A list as JSON text (a checkout's record of what it took).
    public static func text(of list: [StockAllocation]) -> String {
        var json = EventJSONWriter()
        json.objects("a", list, write)
        return json.text
    }

    public static func list(from text: String) -> [StockAllocation] {
        EventJSONReader(text)?.objects("a")?.compactMap(read) ?? []
    }

    /// One allocation's members, as the checkout record and the placed event both hold them.
    static func write(_ json: inout EventJSONWriter, _ a: StockAllocation) {
        json.string("location", a.location); json.string("sku", a.sku); json.int("units", a.units)
    }

    static func read(_ a: EventJSONReader) -> StockAllocation? {
        guard let sku = a.string("sku"), let location = a.string("location"), let units = a.int("units") else { return nil }
        return StockAllocation(sku: sku, location: location, units: units)
    }
}

/// One immutable fact about an order. An order is the grow-only set of its events (the `orders`
/// collection holds each as its canonical JSON text), so the same event made twice is one event,
/// and no node ever edits or deletes one.
public struct OrderEvent: Equatable, Sendable, Codable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case placed, paid, fulfilled, shipped, delivered, cancelled, refunded
    }

    public var kind: Kind
    /// Hybrid-clock milliseconds of the node that recorded it.
    public var atMs: Int64
    public var node: String

    // placed
    public var number: String?
    /// The customer's id (a pseudonym: the account's personal data stays in its region); nil for a guest.
    public var customer: String?
    public var lines: [PricedLine]?
    public var totals: OrderTotals?
    public var allocations: [StockAllocation]?
    /// The promotions that took money off, as the receipt shows them.
    public var discounts: [DiscountLine]?
    /// The capped promotion whose redemption the order holds (given back if it is cancelled).
    public var redemption: String?
    /// The shipping address and contact email, sealed with the region's data key (base64url):
    /// orders replicate fleet-wide, personal data in clear does not.
    public var sealedContact: String?
    public var payment: String?
    /// An order placed before its payment was confirmed holds its stock until then.
    public var reservedUntilMs: Int64?
    /// SHA-256 (hex) of the secret a guest uses to look at the order.
    public var accessHash: String?

    // paid, refunded
    public var amount: Int64?
    // shipped
    public var carrier: String?
    public var tracking: String?
    // cancelled, refunded
    public var reason: String?

    public init(kind: Kind, atMs: Int64, node: String) {
        self.kind = kind
        self.atMs = atMs
        self.node = node
    }

    /// The text the orders collection holds: keys sorted, so one event is one string everywhere.
    public var text: String {
        var json = EventJSONWriter()
        json.string("access_hash", accessHash)
        json.objects("allocations", allocations, StockAllocation.write)
        json.int("amount", amount)
        json.int("at_ms", atMs)
        json.string("carrier", carrier)
        json.string("customer", customer)
        json.objects("discounts", discounts) { json, d in
            json.int("amount", d.amount); json.string("code", d.code)
            json.objects("lines", d.lines.sorted { $0.key < $1.key }) { json, part in json.int("amount", part.value); json.string("sku", part.key) }
            json.string("name", d.name); json.string("promotion", d.promotion); json.int("shipping", d.shipping)
        }
        json.string("kind", kind.rawValue)
        json.objects("lines", lines) { json, line in
            json.string("name", line.name); json.string("product_id", line.productId); json.int("quantity", line.quantity)
            json.string("sku", line.sku); json.int("unit_price", line.unitPrice)
        }
        json.string("node", node)
        json.string("number", number)
        json.string("payment", payment)
        json.string("reason", reason)
        json.string("redemption", redemption)
        json.int("reserved_until_ms", reservedUntilMs)
        json.string("sealed_contact", sealedContact)
        json.object("totals", totals.map { totals in { json in
            json.string("currency", totals.currency); json.int("discount", totals.discount == 0 ? nil : totals.discount)
            json.int("shipping", totals.shipping); json.int("subtotal", totals.subtotal)
            json.int("tax", totals.tax); json.bool("tax_included", totals.taxIncluded); json.int("total", totals.total)
        } })
        json.string("tracking", tracking)
        return json.text
    }

    /// An event from its text; nil for anything that is not one (a peer's newer kind, garbage).
    public init?(text: String) {
        guard let json = EventJSONReader(text), let kind = json.string("kind").flatMap(Kind.init(rawValue:)), let atMs = json.int("at_ms"),
              let node = json.string("node") else { return nil }
        self.init(kind: kind, atMs: atMs, node: node)
        accessHash = json.string("access_hash")
        allocations = json.objects("allocations")?.compactMap(StockAllocation.read)
        amount = json.int("amount")
        carrier = json.string("carrier")
        customer = json.string("customer")
        discounts = json.objects("discounts")?.compactMap { d in
            guard let promotion = d.string("promotion"), let amount = d.int("amount") else { return nil }
            let parts = (d.objects("lines") ?? []).compactMap { part in part.string("sku").flatMap { sku in part.int("amount").map { (sku, $0) } } }
            return DiscountLine(promotion: promotion, name: d.string("name") ?? promotion, code: d.string("code"), amount: amount,
                                shipping: d.int("shipping") ?? 0, lines: Dictionary(parts, uniquingKeysWith: +))
        }
        lines = json.objects("lines")?.compactMap { line in
            guard let sku = line.string("sku"), let quantity = line.int("quantity"), let unitPrice = line.int("unit_price") else { return nil }
            return PricedLine(sku: sku, productId: line.string("product_id") ?? "", name: line.string("name") ?? sku, quantity: quantity, unitPrice: unitPrice)
        }
        number = json.string("number")
        payment = json.string("payment")
        reason = json.string("reason")
        redemption = json.string("redemption")
        reservedUntilMs = json.int("reserved_until_ms")
        sealedContact = json.string("sealed_contact")
        if let t = json.object("totals"), let currency = t.string("currency"), let subtotal = t.int("subtotal"), let shipping = t.int("shipping"),
           let tax = t.int("tax"), let total = t.int("total") {
            totals = OrderTotals(currency: currency, subtotal: subtotal, discount: t.int("discount") ?? 0, shipping: shipping, tax: tax, total: total,
                                 taxIncluded: t.bool("tax_included") ?? true)
        }
        tracking = json.string("tracking")
    }
}

/// What an order is now: a deterministic fold of its events, so every node that holds the same
/// events shows the same status whichever it saw first.
///
/// Precedence, highest first (docs/orders.md):
/// 1. refunded: refunds add up to what was paid;
/// 2. delivered, then shipped: goods that left cannot be un-shipped, so a shipment beats a
///    cancellation made concurrently on another node (`cancellationRaced` says it happened);
/// 3. cancelled;
/// 4. fulfilled, paid, placed.
public struct OrderState: Equatable, Sendable {
    public enum Status: String, Sendable, CaseIterable {
        case placed, paid, fulfilled, shipped, delivered, cancelled, refunded
    }

    public private(set) var placed: OrderEvent?
    public private(set) var events: [OrderEvent]
    public private(set) var status: Status
    public private(set) var paidAmount: Int64 = 0
    public private(set) var refundedAmount: Int64 = 0
    /// A cancellation and a shipment were both recorded: the goods left, the order stands.
    public private(set) var cancellationRaced = false

    public init(texts: some Sequence<String>) {
        self.init(pairs: texts.compactMap { text in OrderEvent(text: text).map { ($0, text) } })
    }

    /// The same fold, with each text parsed at most once while `memo` remembers it.
    public init(texts: some Sequence<String>, memo: inout OrderEventMemo) {
        self.init(pairs: texts.compactMap { text in memo.event(text).map { ($0, text) } })
    }

    public init(events unordered: [OrderEvent]) {
        self.init(pairs: unordered.map { ($0, $0.text) })
    }

    private init(pairs: [(OrderEvent, String)]) {
        // One event once (a set's elements are), sorted by time, then text: the same list on every node.
        var seen = Set<String>()
        events = pairs.filter { seen.insert($0.1).inserted }.sorted { ($0.0.atMs, $0.1) < ($1.0.atMs, $1.1) }.map(\.0)
        var kinds = Set<OrderEvent.Kind>()
        for event in events {
            kinds.insert(event.kind)
            switch event.kind {
            case .placed: placed = placed ?? event
            case .paid: paidAmount = max(paidAmount, event.amount ?? 0)
            case .refunded: refundedAmount += event.amount ?? 0
            default: break
            }
        }
        let shippedOrLater = kinds.contains(.shipped) || kinds.contains(.delivered)
        cancellationRaced = shippedOrLater && kinds.contains(.cancelled)
        if paidAmount > 0 && refundedAmount >= paidAmount {
            status = .refunded
        } else if kinds.contains(.delivered) {
            status = .delivered
        } else if kinds.contains(.shipped) {
            status = .shipped
        } else if kinds.contains(.cancelled) {
            status = .cancelled
        } else if kinds.contains(.fulfilled) {
            status = .fulfilled
        } else if kinds.contains(.paid) {
            status = .paid
        } else {
            status = .placed
        }
    }

    /// Statuses from which an event of `kind` may be recorded; anything else is refused (409).
    public static func allowedFrom(_ kind: OrderEvent.Kind) -> Set<Status> {
        switch kind {
        case .placed: []
        case .paid: [.placed]
        case .fulfilled: [.paid]
        case .shipped: [.paid, .fulfilled]
        case .delivered: [.shipped]
        case .cancelled: [.placed, .paid, .fulfilled]
        case .refunded: [.shipped, .delivered]
        }
    }

    public func allows(_ kind: OrderEvent.Kind) -> Bool { Self.allowedFrom(kind).contains(status) }

    /// Money that may still be refunded: paid (captured at shipment) less refunds.
    public var refundable: Int64 { max(0, paidAmount - refundedAmount) }

    /// When an unpaid order's stock goes back, if it is still unpaid.
    public var reservationExpiresMs: Int64? { status == .placed ? placed?.reservedUntilMs : nil }
}

/// Order events by their text, parsed once. An order's events are folded again on every change
/// to it (the projection), every read and every transition check; finding a text in a table
/// costs a fraction of parsing it. Bounded: past `capacity` it starts again empty.
public struct OrderEventMemo: Sendable {
    private var parsed: [String: OrderEvent] = [:]
    private let capacity: Int

    public init(capacity: Int = 8192) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public mutating func event(_ text: String) -> OrderEvent? {
        if let hit = parsed[text] { return hit }
        guard let event = OrderEvent(text: text) else { return nil }
        remember(event, text: text)
        return event
    }

    /// An event made here, remembered under the text it is stored as.
    public mutating func remember(_ event: OrderEvent, text: String) {
        if parsed.count >= capacity { parsed.removeAll(keepingCapacity: true) }
        parsed[text] = event
    }
}
