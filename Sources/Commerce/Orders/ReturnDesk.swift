import Platform

/// Returns and exchanges, the same for the web and the till: which units may come back, what an
/// exchange may be swapped for, what becomes of the units that came back, and the exchange's own
/// order. The writes (`restock`, `placeExchange`) run inside the order desk's commit of the
/// return's event (its `alongside`), so restocked units and an exchange order exist exactly
/// when the return says so, and a refused commit leaves neither.
public struct ReturnDesk {
    /// What a SKU sells for here now, by the catalog: nil when it does not sell here. A catalog
    /// that cannot be read throws, which is its error and not an exchange that is unavailable.
    public typealias Offer = (productId: String, name: String, price: Price)

    private let reservations: SaleReservations
    private let policy: ReturnPolicy
    private let terms: CheckoutTerms
    private let offer: (String) throws -> Offer?

    public init(reservations: SaleReservations, policy: ReturnPolicy, terms: CheckoutTerms, offer: @escaping (String) throws -> Offer?) {
        self.reservations = reservations
        self.policy = policy
        self.terms = terms
        self.offer = offer
    }

    // MARK: Checks

    /// A shopper's own request must come within the window after the last parcel left; staff
    /// taking it for them in the store may go past it.
    public func checkWindow(_ state: OrderState, nowMs: Int64) throws(ReturnRefusal) {
        guard let shippedMs = state.lastShipmentMs, nowMs > shippedMs + policy.windowDays * 86_400_000 else { return }
        throw .refused(reason: "window_closed",
                       detail: "returns close \(policy.windowDays) days after the last parcel left (\(WallClock.iso8601(ms: shippedMs)))")
    }

    /// Each SKU asked back at most as many times as the order shipped it and other returns did
    /// not already ask for it. `source` names where the units came from in the refusal.
    public func checkReturnable(_ items: [OrderItem], of state: OrderState, source: String) throws(ReturnRefusal) {
        let returnable = state.returnable
        let asked = items.reduce(into: [String: Int64]()) { $0[$1.sku, default: 0] += $1.quantity }
        for (sku, units) in asked.sorted(by: { $0.key < $1.key }) where units > (returnable[sku] ?? 0) {
            throw .refused(reason: "not_returnable", detail: "\(units) of \(sku) asked back; \(returnable[sku] ?? 0) \(source) and not yet returned")
        }
    }

    /// An exchange is for another variant of the same product, sold here now at the price that
    /// was paid; anything else is a return and a new purchase.
    public func checkExchange(_ line: PricedLine, for other: String) throws {
        guard let offer = try offer(other), offer.productId == line.productId else {
            throw ReturnRefusal.refused(reason: "exchange_unavailable", detail: "\(other) is not a variant of \(line.name) sold here now")
        }
        guard offer.price.amount == line.unitPrice else {
            throw ReturnRefusal.refused(reason: "exchange_price_differs",
                                        detail: "\(other) costs \(offer.price.amount) now; \(line.unitPrice) was paid: return it and order the other")
        }
    }

    /// Every exchange line of `items` checked against the order's lines, and the replacements
    /// this node's stock rights must cover.
    public func checkExchanges(_ items: [OrderItem], of placed: OrderEvent) throws -> [String: Int64] {
        var replacements: [String: Int64] = [:]
        for item in items {
            guard let other = item.exchangeSku, let line = placed.lines?.first(where: { $0.sku == item.sku }) else { continue }
            try checkExchange(line, for: other)
            replacements[other, default: 0] += item.quantity
        }
        return replacements
    }

    /// Refuses when this node may not sell the replacements now (read before the shopper hands
    /// the goods over at a till; a web return is checked again when it is received).
    public func checkReplacementsInStock(_ replacements: [String: Int64]) throws {
        for (sku, units) in replacements.sorted(by: { $0.key < $1.key }) where try reservations.stockPlan(sku: sku, units: units).plan == nil {
            throw ReturnRefusal.replacementOutOfStock(sku: sku, units: units)
        }
    }

    // MARK: Writes beside the received event

    /// Restocked units become stock again: an increment of the counter at their location by this
    /// node (rights here), replicated like any receipt; written-off units only leave a record.
    public func restock(_ items: [OrderItem], order: String, actor: String, nowMs: Int64) throws {
        let back = items.filter { $0.disposition == .restock }.compactMap { item in
            item.location.map { StockAllocation(sku: item.sku, location: $0, units: item.quantity) }
        }
        try reservations.putBack(back, reason: .returned, reference: order, actor: actor, nowMs: nowMs)
    }

    /// The exchange's new order: the replacement SKUs at the price paid for what came back, paid
    /// in full by the return (a discount line of the whole amount), shipped as the original; at a
    /// till (`handedOver`) the shopper leaves with it, so it is shipped and delivered at once.
    /// `sealContact` seals the original's contact under a key of the new order (nil: none kept).
    /// Returns the new order's lines.
    @discardableResult
    public func placeExchange(_ r: OrderReturn, of state: OrderState, originalId: String, exchangeId: String, handedOver: Bool, nowMs: Int64,
                              sealContact: () throws -> String?) throws -> [PricedLine] {
        guard let original = state.placed, let currency = original.totals?.currency else { return [] }
        var lines: [PricedLine] = [], plans: [(key: String, units: Int64)] = []
        for item in r.items {
            guard let sku = item.exchangeSku, let paid = original.lines?.first(where: { $0.sku == item.sku }) else { continue }
            guard let plan = try reservations.stockPlan(sku: sku, units: item.quantity).plan else {
                throw ReturnRefusal.replacementOutOfStock(sku: sku, units: item.quantity)
            }
            plans += plan
            let name = (try? offer(sku))?.map(\.name) ?? paid.name
            lines.append(PricedLine(sku: sku, productId: paid.productId, name: name, quantity: item.quantity, unitPrice: paid.unitPrice))
        }
        guard !lines.isEmpty else { return [] }
        let goods = lines.reduce(Int64(0)) { $0 + $1.amount }
        let credit = DiscountLine(promotion: DiscountLine.exchangePromotion, name: "Exchange for \(original.number ?? originalId)", code: nil, amount: goods, shipping: 0,
                                  lines: Dictionary(lines.map { ($0.sku, $0.amount) }, uniquingKeysWith: +))
        var placed = OrderEvent(kind: .placed, atMs: nowMs, node: reservations.node)
        placed.number = try reservations.nextOrderNumber()
        placed.customer = original.customer
        placed.lines = lines
        placed.discounts = [credit]
        placed.totals = OrderTotals(currency: currency, goods: goods, shipping: 0, discounts: [credit], terms: terms)
        placed.shipping = original.shipping
        placed.accessHash = original.accessHash
        placed.sealedContact = try sealContact()
        var paid = OrderEvent(kind: .paid, atMs: nowMs, node: reservations.node)
        paid.amount = 0
        placed.allocations = try reservations.sell(plans, reference: exchangeId, actor: "exchange", nowMs: nowMs)
        let events = [placed, paid] + (handedOver ? handedOverInStore(atMs: nowMs) : [])
        try reservations.addEvents(events.map(\.text), key: exchangeId, in: Collections.orders, nowMs: nowMs)
        return lines
    }

    /// Goods the shopper takes from the counter: shipped and delivered from this store at once,
    /// so the order is returnable like any delivered one.
    public func handedOverInStore(atMs: Int64) -> [OrderEvent] {
        var handed = OrderEvent(kind: .shipped, atMs: atMs, node: reservations.node)
        handed.location = reservations.location
        handed.carrier = "in_store"
        return [handed, OrderEvent(kind: .delivered, atMs: atMs, node: reservations.node)]
    }
}
