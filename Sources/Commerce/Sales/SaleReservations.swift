import Persistence
import Platform
import Replication

/// The connected nodes that may hold stock rights (or a capped code's redemptions) this node
/// lacks: asked once, their grant arrives by sync.
public protocol StockRightsPeers: AnyObject {
    /// Whether a connected node holds rights at `key` of `collection` to ask for.
    func holdsRights(key: String, in collection: String) -> Bool
    /// Asks the connected node holding most for `units` (answered by a grant over sync).
    func askForRights(key: String, in collection: String, units: UInt64)
}

/// The one path by which a sale, a shopper's checkout or a till's, takes what it sells before
/// any card is charged: the stock from this node's rights, a capped code's redemption, the
/// order's ids and each payment as created; and the one path that gives them back when the sale
/// does not stand (declined, refused offline, cut short by a crash). Every method runs inside the
/// caller's group-commit transaction and takes the time from it, so a sale is all there or none.
/// A sale's own record, written in its reservation's commit.
public enum SaleRecord: Equatable {
    /// A checkout's row by cart and Idempotency-Key, `authorizing` until answered.
    case checkout(cart: String, key: String, requestHash: String)
    /// A till sale, open → completing, with the basket and shift its receipt is printed from.
    case tillSale(id: String, requestHash: String, basket: String, shift: String)
}

public struct SaleReservations {
    /// What a sale asks to reserve.
    public struct Sale {
        public enum Kind: Equatable {
            case checkout
            /// A till's sale (its id): each tender is its own payment, named by its position.
            case tillSale(String)
        }

        public var kind: Kind
        public var lines: [(sku: String, units: Int64)]
        /// The capped promotion whose redemption the sale takes.
        public var redemption: Promotion?
        /// Per payment (one per tender at a till): its amount and who takes the money.
        public var payments: [(amount: Int64, acquirer: String)]
        public var currency: String
        /// Who sells: the customer (or "guest"), or the cashier.
        public var actor: String
        /// A checkout run again after a crash keeps the order it had (id and number).
        public var reusing: (orderId: String, number: String)?

        public init(kind: Kind, lines: [(sku: String, units: Int64)], redemption: Promotion?, payments: [(amount: Int64, acquirer: String)],
                    currency: String, actor: String, reusing: (orderId: String, number: String)? = nil) {
            self.kind = kind
            self.lines = lines
            self.redemption = redemption
            self.payments = payments
            self.currency = currency
            self.actor = actor
            self.reusing = reusing
        }
    }

    /// What a sale holds until it is answered: given back by `release` if it does not stand.
    public struct Hold: Equatable {
        public var orderId: String
        public var allocations: [StockAllocation]
        /// The capped promotion whose redemption it took.
        public var redemption: String?

        public init(orderId: String, allocations: [StockAllocation], redemption: String?) {
            self.orderId = orderId
            self.allocations = allocations
            self.redemption = redemption
        }
    }

    /// A sale reserved: its order's ids, what it holds, and each payment's `created` event (the
    /// answer folds it with the acquirer's outcome without reading the payment back).
    public struct Reservation {
        public var hold: Hold
        public var number: String
        public var payments: [(id: String, created: PaymentEvent)]
        public var orderId: String { hold.orderId }
        public var paymentIds: [String] { payments.map(\.id) }
    }

    public let replica: NodeReplica
    private let database: Database
    private let catalog: CatalogIndex
    /// This node, and the stock location it sells from first.
    public let node: String
    public let location: String
    private let region: String
    private let peers: (any StockRightsPeers)?

    public init(replica: NodeReplica, database: Database, catalog: CatalogIndex, node: String, location: String, region: String, peers: (any StockRightsPeers)?) {
        self.replica = replica
        self.database = database
        self.catalog = catalog
        self.node = node
        self.location = location
        self.region = region
        self.peers = peers
    }

    private var journal: StockJournal { StockJournal(database: database) }

    // MARK: The reservation

    /// Takes the sale's stock and redemption, makes its order's ids and records each payment as
    /// created. `askPeers`: on the first attempt only, a node holding rights this one lacks is
    /// asked for them (the refusal then `mayPassAfterGrant`).
    public func reserve(_ sale: Sale, askPeers: Bool, nowMs: Int64) throws -> Reservation {
        let plans = try planStock(sale.lines, askPeers: askPeers)
        if let promotion = sale.redemption { try takeRedemption(promotion, askPeers: askPeers, nowMs: nowMs) }
        let at = replica.tick(wallMs: nowMs)
        let stamp = Self.stamp(node: node, at)
        let orderId = sale.reusing?.orderId ?? "o-" + stamp
        let number = try sale.reusing?.number ?? nextOrderNumber()
        let allocations = try sell(plans, reference: orderId, actor: sale.actor, nowMs: nowMs)
        var payments: [(id: String, created: PaymentEvent)] = []
        for (index, payment) in sale.payments.enumerated() {
            var created = paymentCreated(order: orderId, amount: payment.amount, currency: sale.currency, acquirer: payment.acquirer, atMs: at.physicalMs)
            let id: String
            switch sale.kind {
            case .checkout: id = "p-" + stamp
            case .tillSale(let saleId):
                created.sale = saleId
                id = "p-\(stamp)-\(index + 1)"
            }
            try addEvents([created.text], key: id, in: Collections.payments, nowMs: nowMs)
            payments.append((id, created))
        }
        return Reservation(hold: Hold(orderId: orderId, allocations: allocations, redemption: sale.redemption?.id), number: number, payments: payments)
    }

    /// `reserve`, and the sale's own record beside it in the same commit: the row the recovery
    /// of unanswered sales finds if the node stops before the sale is answered.
    public func reserve(_ sale: Sale, recordedAs record: SaleRecord, askPeers: Bool, nowMs: Int64) throws -> Reservation {
        if case .tillSale(let id, _, _, _) = record, try TillSaleBook(database: database).sale(id)?.state != .open {
            throw TillSaleRefusal.state(.completing, detail: "this sale is being completed; retry to get its receipt")
        }
        let reserved = try reserve(sale, askPeers: askPeers, nowMs: nowMs)
        let allocations = StockAllocation.text(of: reserved.hold.allocations)
        switch record {
        case let .checkout(cart, key, requestHash):
            try CheckoutBook(database: database).reserved(cart: cart, key: key, requestHash: requestHash, orderId: reserved.orderId, number: reserved.number,
                                                          paymentId: reserved.paymentIds[0], allocations: allocations, redemption: sale.redemption?.id,
                                                          atMs: nowMs)
        case let .tillSale(id, requestHash, basket, shift):
            try TillSaleBook(database: database).beginCompletion(id, TillSaleBook.Completion(
                requestHash: requestHash, orderId: reserved.orderId, number: reserved.number, payments: reserved.paymentIds, allocations: allocations,
                basket: basket, shift: shift))
        }
        return reserved
    }

    /// Gives back what a sale held (its stock, as rights here again, and its redemption) and
    /// closes its payments with `closing` (voided, or declined with the acquirer's reason).
    public func release(_ hold: Hold, closing payments: [(id: String, event: PaymentEvent)], actor: String, nowMs: Int64) throws {
        try putBack(hold.allocations, reason: .released, reference: hold.orderId, actor: actor, nowMs: nowMs)
        try releaseRedemption(hold.redemption, nowMs: nowMs)
        for (id, event) in payments { try addEvents([event.text], key: id, in: Collections.payments, nowMs: nowMs) }
    }

    /// A payment's first event: the order it pays (nil: a refund without a receipt), its amount,
    /// and who takes the money (an acquirer's name, or cash).
    public func paymentCreated(order: String?, amount: Int64, currency: String, acquirer: String, atMs: Int64) -> PaymentEvent {
        var created = PaymentEvent(kind: .created, atMs: atMs, node: node)
        created.order = order
        created.amount = amount
        created.currency = currency
        created.region = region
        created.acquirer = acquirer
        return created
    }

    /// A payment's closing event for `release`: voided, or declined for `reason`.
    public func closing(_ kind: PaymentEvent.Kind, order: String, reason: String? = nil, nowMs: Int64) -> PaymentEvent {
        var event = PaymentEvent(kind: kind, atMs: nowMs, node: node)
        event.order = order
        event.code = reason
        return event
    }

    // MARK: After the sale

    /// What `followUp` did for an order.
    public enum FollowUp: Equatable {
        case nothing
        /// Cancelled: its units and its redemption given back, once.
        case released
        /// A shipment raced its cancellation: its units taken again as far as this node's rights
        /// go (`short`: the units per SKU they did not cover), and its redemption if one is held
        /// here (`redemptionShort`: none was).
        case retaken(short: [String: Int64], redemptionShort: Bool)
    }

    /// The note on units taken again because a shipment raced their order's cancellation (how
    /// `followUp` knows it did so once).
    public static let racedShipmentNote = "shipment raced a cancellation"

    /// The node that placed an order owns its stock: it gives the units back once when the order
    /// is cancelled (whichever node cancelled it), and takes them again if a shipment recorded
    /// elsewhere raced that cancellation. Each at most once, told by the stock journal.
    public func followUp(order: String, state: OrderState, nowMs: Int64) throws -> FollowUp {
        guard let placed = state.placed, let allocations = placed.allocations else { return .nothing }
        let released = try journal.count(reference: order, reason: .released)
        let retaken = try journal.count(reference: order, reason: .sold, note: Self.racedShipmentNote)
        if state.status == .cancelled && released == 0 {
            try putBack(allocations, reason: .released, reference: order, actor: "cancellation", nowMs: nowMs)
            try releaseRedemption(placed.redemption, nowMs: nowMs)
            return .released
        }
        guard state.cancellationRaced && released > 0 && retaken == 0 else { return .nothing }
        var short: [String: Int64] = [:]
        for allocation in allocations {
            let held = replica.state(at: allocation.stockKey, in: Collections.inventory)?.rights(of: node) ?? 0
            let units = min(allocation.units, max(0, held))
            if units > 0 { try change(allocation.stockKey, in: Collections.inventory, nowMs: nowMs) { [node] in try $0.decrement(by: UInt64(units), replica: node) } }
            var taken = allocation
            taken.units = units
            try journal.record([taken], sign: -1, reason: .sold, reference: order, note: Self.racedShipmentNote, actor: "reconciliation", atMs: nowMs)
            if units < allocation.units { short[allocation.sku, default: 0] += allocation.units - units }
        }
        var redemptionShort = false
        if let promotion = placed.redemption {
            // The order was redeemed after all: a cap short by one is reported, never oversold further.
            let counter = replica.state(at: promotion, in: Collections.redemptions) ?? BoundedCounter()
            if counter.rights(of: node) >= 1 {
                try change(promotion, in: Collections.redemptions, nowMs: nowMs) { [node] in try $0.decrement(by: 1, replica: node) }
            } else {
                redemptionShort = true
            }
        }
        return .retaken(short: short, redemptionShort: redemptionShort)
    }

    // MARK: Stock

    /// Where every line's units come from, planned before anything changes: a line short of
    /// stock refuses the lot. When another node holds the rights, the connected one holding
    /// most, at the location with most stock (rights are per location), is asked for them (once,
    /// with `askPeers`).
    public func planStock(_ lines: [(sku: String, units: Int64)], askPeers: Bool) throws -> [(key: String, units: Int64)] {
        var plans: [(key: String, units: Int64)] = []
        for line in lines {
            let (plan, counters) = try stockPlan(sku: line.sku, units: line.units)
            guard let plan else {
                let here = counters.reduce(Int64(0)) { $0 + max(0, $1.counter.rights(of: node)) }
                let fleet = try catalog.stock(sku: line.sku).available
                var grantAsked = false
                // The richest location some connected peer holds rights at: where this node holds
                // them all itself there is nobody to ask.
                if fleet >= line.units, let peers, let key = try catalog.locationsWithStock(sku: line.sku)
                    .lazy.map({ StockKey.make(sku: line.sku, location: $0) }).first(where: { peers.holdsRights(key: $0, in: Collections.inventory.name) }) {
                    if askPeers { peers.askForRights(key: key, in: Collections.inventory.name, units: UInt64(line.units - here)) }
                    grantAsked = true
                }
                throw SaleRefusal.insufficientStock(sku: line.sku, asked: line.units, here: here, fleet: fleet, grantAsked: grantAsked)
            }
            plans += plan
        }
        return plans
    }

    /// Where this node would take `units` of `sku` from within its own rights (its own location
    /// first, then the location where it holds most); nil plan: its rights do not cover them.
    public func stockPlan(sku: String, units: Int64) throws -> (plan: [(key: String, units: Int64)]?, counters: [(key: String, counter: BoundedCounter)]) {
        let counters = try catalog.locationsWithRights(sku: sku, mine: location).compactMap { location -> (key: String, counter: BoundedCounter)? in
            let key = StockKey.make(sku: sku, location: location)
            return replica.state(at: key, in: Collections.inventory).map { (key, $0) }
        }
        return (BoundedCounter.plan(units: units, from: counters, replica: node), counters)
    }

    /// Takes the planned units (within this node's rights) as sold for `reference`, each with
    /// its stock movement; returns where they came from.
    public func sell(_ plans: [(key: String, units: Int64)], reference: String, actor: String, nowMs: Int64) throws -> [StockAllocation] {
        for (key, units) in plans { try change(key, in: Collections.inventory, nowMs: nowMs) { [node] in try $0.decrement(by: UInt64(units), replica: node) } }
        let allocations = plans.compactMap { plan in StockKey.parse(plan.key).map { StockAllocation(sku: $0.sku, location: $0.location, units: plan.units) } }
        try journal.record(allocations, sign: -1, reason: .sold, reference: reference, actor: actor, atMs: nowMs)
        return allocations
    }

    /// Units back into the counters at their locations (an increment by this node: rights
    /// here), each with its stock movement.
    public func putBack(_ allocations: [StockAllocation], reason: StockMovementReason, reference: String, actor: String, nowMs: Int64) throws {
        for allocation in allocations where allocation.units > 0 {
            try change(allocation.stockKey, in: Collections.inventory, nowMs: nowMs) { [node] in try $0.increment(by: UInt64(allocation.units), replica: node) }
        }
        try journal.record(allocations, sign: 1, reason: reason, reference: reference, actor: actor, atMs: nowMs)
    }

    // MARK: Redemptions of capped codes

    /// Takes one redemption of a capped promotion from this node's rights. Short of them, asks
    /// the connected node holding most, once, in a batch (so the next shoppers here do not each
    /// wait for a grant).
    public func takeRedemption(_ promotion: Promotion, askPeers: Bool, nowMs: Int64) throws {
        let counter = replica.state(at: promotion.id, in: Collections.redemptions) ?? BoundedCounter()
        if counter.rights(of: node) >= 1 {
            return try change(promotion.id, in: Collections.redemptions, nowMs: nowMs) { [node] in try $0.decrement(by: 1, replica: node) }
        }
        let code = promotion.code ?? promotion.id
        guard counter.value > 0 else { throw SaleRefusal.codeExhausted(code: code, why: .usedUp) }
        guard let peers, peers.holdsRights(key: promotion.id, in: Collections.redemptions.name) else {
            throw SaleRefusal.codeExhausted(code: code, why: .noneHere)
        }
        if askPeers {
            let batch = UInt64(min(counter.value, max(1, (promotion.usageCap ?? 1) / 20)))
            peers.askForRights(key: promotion.id, in: Collections.redemptions.name, units: batch)
        }
        throw SaleRefusal.codeExhausted(code: code, why: .asked)
    }

    /// Gives an order's redemption back (an increment by this node: a right here again).
    public func releaseRedemption(_ promotionId: String?, nowMs: Int64) throws {
        guard let promotionId else { return }
        try change(promotionId, in: Collections.redemptions, nowMs: nowMs) { [node] in try $0.increment(by: 1, replica: node) }
    }

    // MARK: The pieces every sale writes

    /// One change to a bounded counter (stock, or a capped code's redemptions). `change` mutates
    /// the counter and returns the delta (the counter's mutators do both).
    public func change(_ key: String, in collection: ReplicatedCollection<BoundedCounter>, nowMs: Int64,
                       _ change: (inout BoundedCounter) throws -> BoundedCounter) throws {
        var counter = replica.state(at: key, in: collection) ?? BoundedCounter()
        let delta = try change(&counter)
        _ = try replica.commit(delta, key: key, in: collection, at: replica.tick(wallMs: nowMs))
    }

    /// Adds events to a grow-only key of `orders` or `payments`.
    public func addEvents(_ texts: [String], key: String, in collection: ReplicatedCollection<GSet<String>>, nowMs: Int64) throws {
        _ = try replica.commit(GSet(Set(texts)), key: key, in: collection, at: replica.tick(wallMs: nowMs))
    }

    /// The next order number of this node: its id in capitals and a gapless-per-node sequence,
    /// unique across the fleet without asking anyone (node ids are).
    public func nextOrderNumber() throws -> String {
        let digits = String(try NodeMeta(database: database).next(.orderSequence))
        return node.uppercased() + "-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// A fleet-unique part of an id, made here without asking anyone: the node's id and a
    /// reading of its clock (`<node>-<ms in base 36>-<logical in base 36>`).
    public static func stamp(node: String, _ at: HLCTimestamp) -> String {
        "\(node)-\(String(at.physicalMs, radix: 36))-\(String(at.logical, radix: 36))"
    }
}
