import Persistence
import Platform
import Replication

/// Why staff's change of stock is refused; nothing of it is recorded.
public enum StockRefusal: Error, Equatable {
    /// Units to take out of a location (`key`: its counter, when known) beyond the rights this
    /// node holds there.
    case insufficientRights(key: String?, available: Int64, requested: UInt64)
}

/// Stock booked in, corrected and moved by staff: each a change of a location's counter by this
/// node and its lines in the stock journal, in the caller's transaction, so the journal and the
/// replicated counters never disagree. What a sale takes and gives back is `SaleReservations`'.
public struct StockDesk {
    private let reservations: SaleReservations
    private let journal: StockJournal

    public init(reservations: SaleReservations, journal: StockJournal) {
        self.reservations = reservations
        self.journal = journal
    }

    /// Goods booked in at `location`; this node holds the rights to sell them.
    public func receive(sku: String, units: Int64, at location: String, note: String?, actor: String, nowMs: Int64) throws {
        try reservations.change(StockKey.make(sku: sku, location: location), in: Collections.inventory, nowMs: nowMs) {
            try $0.increment(by: UInt64(units), replica: reservations.node)
        }
        try journal.record([StockAllocation(sku: sku, location: location, units: units)], sign: 1, reason: .received, reference: nil, note: note,
                           actor: actor, atMs: nowMs)
    }

    /// A correction with its reason: units added, or (negative) taken out within this node's
    /// rights at the location.
    public func adjust(sku: String, units: Int64, reason: StockMovementReason, at location: String, note: String?, actor: String, nowMs: Int64) throws {
        let key = StockKey.make(sku: sku, location: location)
        if units < 0 { try requireRights(key, units: UInt64(-units)) }
        try reservations.change(key, in: Collections.inventory, nowMs: nowMs) { stock in
            units > 0 ? try stock.increment(by: UInt64(units), replica: reservations.node) : try stock.decrement(by: UInt64(-units), replica: reservations.node)
        }
        try journal.record([StockAllocation(sku: sku, location: location, units: units)], sign: 1, reason: reason, reference: nil, note: note,
                           actor: actor, atMs: nowMs)
    }

    /// Units moved out of `from` (within this node's rights there) into `to`; when `seller` (the
    /// node selling from `to`) is another node, the rights to the units go to it.
    public func transfer(sku: String, units: Int64, from: String, to: String, seller: String?, note: String?, actor: String, nowMs: Int64) throws {
        let me = reservations.node
        let source = StockKey.make(sku: sku, location: from)
        try requireRights(source, units: UInt64(units))
        try reservations.change(source, in: Collections.inventory, nowMs: nowMs) { try $0.decrement(by: UInt64(units), replica: me) }
        try reservations.change(StockKey.make(sku: sku, location: to), in: Collections.inventory, nowMs: nowMs) { into in
            let received = try into.increment(by: UInt64(units), replica: me)
            // Counter deltas are whole states: the transfer's includes the increment.
            guard let seller, seller != me else { return received }
            return try into.transfer(UInt64(units), from: me, to: seller)
        }
        try journal.record([StockAllocation(sku: sku, location: from, units: units)], sign: -1, reason: .transferOut, reference: to, note: note,
                           actor: actor, atMs: nowMs)
        try journal.record([StockAllocation(sku: sku, location: to, units: units)], sign: 1, reason: .transferIn, reference: from, note: note,
                           actor: actor, atMs: nowMs)
    }

    private func requireRights(_ key: String, units: UInt64) throws(StockRefusal) {
        let held = reservations.replica.state(at: key, in: Collections.inventory)?.rights(of: reservations.node) ?? 0
        guard held >= 0, units <= UInt64(held) else { throw .insufficientRights(key: key, available: max(0, held), requested: units) }
    }
}
