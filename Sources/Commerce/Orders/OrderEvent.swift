
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
        case returnRequested = "return_requested", returnApproved = "return_approved", returnRejected = "return_rejected"
        case returnReceived = "return_received"
        /// The hub's: a card taken offline was declined when it forwarded it (`payment`, `reason`).
        case paymentFailed = "payment_failed"

        /// The steps of one return, each naming it (`returnId`).
        public var isReturnStep: Bool { [.returnRequested, .returnApproved, .returnRejected, .returnReceived].contains(self) }
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
    /// The way to ship the shopper chose (nil: an order from before shipping methods, flat fee).
    public var shipping: ShippingChoice?
    public var payment: String?
    /// An order placed before its payment was confirmed holds its stock until then.
    public var reservedUntilMs: Int64?
    /// SHA-256 (hex) of the secret a guest uses to look at the order.
    public var accessHash: String?
    /// The shopper's language at checkout (`en`, `de`, `fr-CA`): the one mail to them is written in.
    public var locale: String?
    /// Where it was sold: the storefront or a store's till (nil in events from before it was
    /// recorded: `SalesChannel.of` tells them apart).
    public var channel: SalesChannel?
    /// The region of the node that placed it (sales by region).
    public var region: String?
    /// How it was paid, tender by tender (the payment mix); nil before it was recorded.
    public var tenders: [SaleTender]?

    // paid, refunded, payment_failed
    public var amount: Int64?
    /// paid: the declined payment this one replaces (another tender collected after a
    /// `payment_failed`).
    public var replaces: String?
    // shipped
    public var carrier: String?
    public var tracking: String?
    // cancelled, refunded, return_rejected
    public var reason: String?
    /// cancelled: what the customer or staff said, in their words (at most 500 characters).
    public var note: String?
    /// fulfilled, shipped, delivered: the units this step covers (nil: every unit left);
    /// return_requested: the units asked back, each with its reason; return_received: each unit's disposition.
    public var items: [OrderItem]?
    /// fulfilled, shipped: the stock location the parcel left from.
    public var location: String?
    /// The return this step belongs to (return steps, and the refund of a return).
    public var returnId: String?
    /// return_received: the order that sends the exchanged goods.
    public var exchangeOrder: String?

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
        json.string("channel", channel?.rawValue)
        json.string("customer", customer)
        json.objects("discounts", discounts) { json, d in
            json.int("amount", d.amount); json.string("code", d.code)
            json.objects("lines", d.lines.sorted { $0.key < $1.key }) { json, part in json.int("amount", part.value); json.string("sku", part.key) }
            json.string("name", d.name); json.string("promotion", d.promotion); json.int("shipping", d.shipping)
        }
        json.string("exchange_order", exchangeOrder)
        json.objects("items", items, OrderItem.write)
        json.string("kind", kind.rawValue)
        json.objects("lines", lines) { json, line in
            json.string("category", line.category); json.string("name", line.name); json.string("product_id", line.productId); json.int("quantity", line.quantity)
            json.string("sku", line.sku); json.int("unit_price", line.unitPrice)
        }
        json.string("locale", locale)
        json.string("location", location)
        json.string("node", node)
        json.string("note", note)
        json.string("number", number)
        json.string("payment", payment)
        json.string("reason", reason)
        json.string("redemption", redemption)
        json.string("region", region)
        json.string("replaces", replaces)
        json.int("reserved_until_ms", reservedUntilMs)
        json.string("return", returnId)
        json.string("sealed_contact", sealedContact)
        json.object("shipping", shipping.map { choice in { json in ShippingChoice.write(&json, choice) } })
        json.objects("tenders", tenders) { json, t in json.int("amount", t.amount); json.string("method", t.method.rawValue) }
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
        channel = json.string("channel").flatMap(SalesChannel.init(rawValue:))
        customer = json.string("customer")
        discounts = json.objects("discounts")?.compactMap { d in
            guard let promotion = d.string("promotion"), let amount = d.int("amount") else { return nil }
            let parts = (d.objects("lines") ?? []).compactMap { part in part.string("sku").flatMap { sku in part.int("amount").map { (sku, $0) } } }
            return DiscountLine(promotion: promotion, name: d.string("name") ?? promotion, code: d.string("code"), amount: amount,
                                shipping: d.int("shipping") ?? 0, lines: Dictionary(parts, uniquingKeysWith: +))
        }
        exchangeOrder = json.string("exchange_order")
        items = json.objects("items")?.compactMap(OrderItem.read)
        locale = json.string("locale")
        location = json.string("location")
        returnId = json.string("return")
        shipping = json.object("shipping").flatMap(ShippingChoice.read)
        lines = json.objects("lines")?.compactMap { line in
            guard let sku = line.string("sku"), let quantity = line.int("quantity"), let unitPrice = line.int("unit_price") else { return nil }
            return PricedLine(sku: sku, productId: line.string("product_id") ?? "", name: line.string("name") ?? sku, quantity: quantity, unitPrice: unitPrice,
                              category: line.string("category"))
        }
        number = json.string("number")
        note = json.string("note")
        payment = json.string("payment")
        reason = json.string("reason")
        redemption = json.string("redemption")
        region = json.string("region")
        replaces = json.string("replaces")
        reservedUntilMs = json.int("reserved_until_ms")
        sealedContact = json.string("sealed_contact")
        if let t = json.object("totals"), let currency = t.string("currency"), let subtotal = t.int("subtotal"), let shipping = t.int("shipping"),
           let tax = t.int("tax"), let total = t.int("total") {
            totals = OrderTotals(currency: currency, subtotal: subtotal, discount: t.int("discount") ?? 0, shipping: shipping, tax: tax, total: total,
                                 taxIncluded: t.bool("tax_included") ?? true)
        }
        tenders = json.objects("tenders")?.compactMap { t in
            guard let method = t.string("method").flatMap(SaleTender.Method.init(rawValue:)), let amount = t.int("amount") else { return nil }
            return SaleTender(method: method, amount: amount)
        }
        tracking = json.string("tracking")
    }
}

/// What an order is now: a deterministic fold of its events, so every node that holds the same
/// events shows the same status whichever it saw first.
///
/// Precedence, highest first (docs/orders.md):
/// 1. refunded: refunds add up to what was paid;
/// 1a. payment failed: a card taken offline was declined when the hub forwarded it and no other
///    tender replaced it; the order waits for one, or for its cancellation (before anything left);
/// 2. delivered (every unit), shipped (every unit), partially shipped: goods that left cannot
///    be un-shipped, so a shipment beats a cancellation made concurrently on another node
///    (`cancellationRaced` says it happened);
/// 3. cancelled;
/// 4. fulfilled, paid, placed.
/// Returns run beside the status, each with its own fold (`OrderReturn`).
public struct OrderState: Equatable, Sendable {
    public enum Status: String, Sendable, CaseIterable {
        case placed, paid, fulfilled
        case partiallyShipped = "partially_shipped"
        case shipped, delivered, cancelled, refunded
        case paymentFailed = "payment_failed"
    }

    public private(set) var placed: OrderEvent?
    public private(set) var events: [OrderEvent]
    public private(set) var status: Status
    public private(set) var paidAmount: Int64 = 0
    public private(set) var refundedAmount: Int64 = 0
    /// A cancellation and a shipment were both recorded: the goods left, the order stands.
    public private(set) var cancellationRaced = false
    /// Units per SKU: ordered, shipped and delivered (never more than ordered, in event order).
    public private(set) var ordered: [String: Int64] = [:]
    public private(set) var shipped: [String: Int64] = [:]
    public private(set) var delivered: [String: Int64] = [:]
    /// Returns by id, in the order they were asked for.
    public private(set) var returns: [OrderReturn] = []
    /// Declined payments (the hub's `payment_failed`) that no later tender has replaced.
    public private(set) var paymentsDue: [OrderEvent] = []
    /// The payment a shipment captures and a refund draws on: the last tender that replaced a
    /// declined one, else the one the order was placed with.
    public private(set) var paymentId: String?
    /// Some unit has left (shipped, handed over or delivered).
    public private(set) var anyShipped = false

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
        var returnSteps: [String: [OrderEvent]] = [:], returnOrder: [String] = []
        var failed: [OrderEvent] = [], replaced = Set<String>()
        for event in events {
            kinds.insert(event.kind)
            switch event.kind {
            case .placed:
                if placed == nil {
                    placed = event
                    for line in event.lines ?? [] { ordered[line.sku, default: 0] += line.quantity }
                }
            case .paid:
                paidAmount = max(paidAmount, event.amount ?? 0)
                if let declined = event.replaces {
                    replaced.insert(declined)
                    paymentId = event.payment
                }
            case .paymentFailed: failed.append(event)
            case .refunded: refundedAmount += event.amount ?? 0
            case .shipped: Self.count(event.items, into: &shipped, upTo: ordered)
            case .delivered: Self.count(event.items, into: &delivered, upTo: shipped)
            default: break
            }
            if let id = event.returnId, event.kind.isReturnStep || event.kind == .refunded {
                if returnSteps[id] == nil { returnOrder.append(id) }
                returnSteps[id, default: []].append(event)
            }
        }
        returns = returnOrder.compactMap { OrderReturn(id: $0, steps: returnSteps[$0] ?? []) }
        // Which replaced which, not the events' times: a store's clock behind the hub's still
        // settles the failure it answers.
        paymentsDue = failed.filter { !replaced.contains($0.payment ?? "") }
        if paymentId == nil { paymentId = placed?.payment }
        let units = ordered.values.reduce(0, +)
        let shippedUnits = shipped.values.reduce(0, +), deliveredUnits = delivered.values.reduce(0, +)
        anyShipped = kinds.contains(.shipped) || kinds.contains(.delivered)
        cancellationRaced = anyShipped && kinds.contains(.cancelled)
        if paidAmount > 0 && refundedAmount >= paidAmount {
            status = .refunded
        } else if !paymentsDue.isEmpty && (anyShipped || !kinds.contains(.cancelled)) {
            status = .paymentFailed
        } else if kinds.contains(.delivered) && deliveredUnits >= units {
            status = .delivered
        } else if anyShipped && shippedUnits >= units {
            status = .shipped
        } else if anyShipped {
            status = .partiallyShipped
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

    /// Adds a step's units (nil: every unit `limit` still allows) to `counted`, never past `limit`.
    private static func count(_ items: [OrderItem]?, into counted: inout [String: Int64], upTo limit: [String: Int64]) {
        let asked = items ?? limit.map { OrderItem(sku: $0.key, quantity: $0.value) }
        for item in asked {
            let room = max(0, (limit[item.sku] ?? 0) - (counted[item.sku] ?? 0))
            if room > 0 { counted[item.sku, default: 0] += min(room, item.quantity) }
        }
    }

    /// Statuses from which an event of `kind` may be recorded; anything else is refused (409).
    public static func allowedFrom(_ kind: OrderEvent.Kind) -> Set<Status> {
        switch kind {
        case .placed: []
        case .paid: [.placed, .paymentFailed]
        case .paymentFailed: [.placed, .paid, .fulfilled, .partiallyShipped, .shipped, .delivered, .paymentFailed]
        case .fulfilled: [.paid]
        case .shipped: [.paid, .fulfilled, .partiallyShipped]
        case .delivered: [.shipped, .partiallyShipped]
        case .cancelled: [.placed, .paid, .fulfilled, .paymentFailed]
        case .refunded, .returnRequested, .returnApproved, .returnRejected, .returnReceived: [.partiallyShipped, .shipped, .delivered]
        }
    }

    public func allows(_ kind: OrderEvent.Kind) -> Bool {
        // An unpaid order whose goods already left cannot be cancelled back onto the shelf: the
        // store collects another tender.
        if kind == .cancelled && status == .paymentFailed && anyShipped { return false }
        return Self.allowedFrom(kind).contains(status)
    }

    /// Money that may still be refunded: paid (captured at shipment) less refunds.
    public var refundable: Int64 { max(0, paidAmount - refundedAmount) }

    /// When an unpaid order's stock goes back, if it is still unpaid.
    public var reservationExpiresMs: Int64? { status == .placed ? placed?.reservedUntilMs : nil }

    /// Units per SKU still to ship.
    public var unshipped: [String: Int64] {
        Dictionary(uniqueKeysWithValues: ordered.compactMap { sku, units in
            let left = units - (shipped[sku] ?? 0)
            return left > 0 ? (sku, left) : nil
        })
    }

    /// Units per SKU a new return may ask for: shipped, less those in returns not rejected.
    public var returnable: [String: Int64] {
        var left = shipped
        for r in returns where r.status != .rejected {
            for item in r.items { left[item.sku, default: 0] -= item.quantity }
        }
        return left.filter { $0.value > 0 }
    }

    /// When the last parcel left (a return window runs from it).
    public var lastShipmentMs: Int64? { events.last { $0.kind == .shipped }?.atMs }

    public func findReturn(_ id: String) -> OrderReturn? { returns.first { $0.id == id } }

    /// What the refund of a return comes to: the goods at what was paid for them after
    /// discounts, shipping as `policy` says, tax in the same proportion as on the order; the
    /// return that leaves nothing kept refunds all that is left, so rounding never strands a
    /// minor unit. Exchanged units refund nothing (their replacement is the refund).
    public func refundAmount(for r: OrderReturn, policy: ReturnPolicy) -> Int64 {
        guard let placed, let totals = placed.totals else { return 0 }
        let lines = placed.lines ?? []
        var discountBySku: [String: Int64] = [:], shippingDiscount: Int64 = 0
        for discount in placed.discounts ?? [] {
            shippingDiscount += discount.shipping
            for (sku, amount) in discount.lines { discountBySku[sku, default: 0] += amount }
        }
        var goods: Int64 = 0
        for item in r.items where item.exchangeSku == nil {
            guard let line = lines.first(where: { $0.sku == item.sku }), line.quantity > 0 else { continue }
            let net = max(0, line.amount - (discountBySku[item.sku] ?? 0))
            goods += OrderTotals.divideRounding(net * min(item.quantity, line.quantity), by: line.quantity)
        }
        // Exchanged units are kept, in another size or colour: they never make the order all returned.
        let returnedAfter = returns.filter { $0.status != .rejected }.reduce(Int64(0)) { total, r in
            total + r.items.filter { $0.exchangeSku == nil }.reduce(0) { $0 + $1.quantity }
        }
        let everything = returnedAfter >= ordered.values.reduce(0, +)
        let shippingNet = max(0, totals.shipping - shippingDiscount)
        let shipping: Int64 = switch policy.refundShipping {
        case .always: r.id == returns.first(where: { $0.status != .rejected && !$0.isExchangeOnly })?.id ? shippingNet : 0
        case .fullReturn: everything ? shippingNet : 0
        case .never: 0
        }
        let othersSettled = returns.allSatisfy { $0.id == r.id || $0.status == .rejected || $0.status == .refunded || $0.isExchangeOnly }
        if everything && othersSettled && !r.items.contains(where: { $0.exchangeSku != nil }) && policy.refundShipping != .never { return refundable }
        let base = max(1, totals.subtotal - totals.discount + totals.shipping)
        return min(refundable, OrderTotals.divideRounding((goods + shipping) * totals.total, by: base))
    }
}

/// One return of an order: its steps folded. Precedence, highest first: refunded, received
/// (goods that came back count whatever a concurrent rejection said), rejected, approved,
/// requested.
public struct OrderReturn: Equatable, Sendable {
    public enum Status: String, Sendable, CaseIterable {
        case requested, approved, rejected, received, refunded
    }

    public var id: String
    public var items: [OrderItem]
    public var requestedMs: Int64
    /// Who asked: a customer id, or "store".
    public var requestedBy: String?
    public var status: Status
    /// What the store did with each unit (from return_received).
    public var dispositions: [OrderItem] = []
    public var refundedAmount: Int64 = 0
    public var exchangeOrder: String?
    public var rejection: String?

    init?(id: String, steps: [OrderEvent]) {
        guard let request = steps.first(where: { $0.kind == .returnRequested }), let items = request.items, !items.isEmpty else { return nil }
        self.id = id
        self.items = items
        requestedMs = request.atMs
        requestedBy = request.customer ?? "store"
        let kinds = Set(steps.map(\.kind))
        if let received = steps.first(where: { $0.kind == .returnReceived }) {
            dispositions = received.items ?? []
            exchangeOrder = received.exchangeOrder
        }
        rejection = steps.first { $0.kind == .returnRejected }?.reason
        refundedAmount = steps.filter { $0.kind == .refunded }.reduce(0) { $0 + ($1.amount ?? 0) }
        status = kinds.contains(.refunded) ? .refunded : kinds.contains(.returnReceived) ? .received : kinds.contains(.returnRejected) ? .rejected
            : kinds.contains(.returnApproved) ? .approved : .requested
    }

    /// Every unit is exchanged: nothing to refund.
    public var isExchangeOnly: Bool { items.allSatisfy { $0.exchangeSku != nil } }
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
