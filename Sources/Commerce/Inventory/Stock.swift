import Platform
import Replication

/// Keys of the `inventory` collection: one bounded counter per SKU per location, `sku@location`.
public enum StockKey {
    public static func make(sku: String, location: String) -> String { sku + "@" + location }

    /// The SKU and location of a key; SKUs may hold '@', location ids never do.
    public static func parse(_ key: String) -> (sku: String, location: String)? {
        guard let at = key.lastIndex(of: "@") else { return nil }
        let sku = String(key[..<at]), location = String(key[key.index(after: at)...])
        guard !sku.isEmpty, !location.isEmpty else { return nil }
        return (sku, location)
    }
}

/// A place that holds stock: a store's shop floor or a warehouse. Replicated fleet-wide in the
/// catalog collection (`location:<id>`), so a transfer can name any of them.
public struct StockLocation: Equatable, Sendable, Codable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case store, warehouse }

    public var id: String
    public var name: String
    public var kind: Kind
    /// The node that sells from this location: a transfer into it hands that node the rights.
    public var node: String?

    public init(id: String, name: String, kind: Kind, node: String?) {
        self.id = id
        self.name = name
        self.kind = kind
        self.node = node
    }

    public static let keyPrefix = "location:"
    public static func isKey(_ key: String) -> Bool { key.hasPrefix(keyPrefix) }

    public var fields: [String: FieldValue] {
        var fields: [String: FieldValue] = ["name": .text(name), "kind": .text(kind.rawValue)]
        if let node { fields["node"] = .text(node) }
        return fields
    }

    public init?(id: String, fields: [String: FieldValue]) {
        guard case .text(let name)? = fields["name"], case .text(let kindText)? = fields["kind"], let kind = Kind(rawValue: kindText) else { return nil }
        var node: String?
        if case .text(let value)? = fields["node"] { node = value }
        self.init(id: id, name: name, kind: kind, node: node)
    }
}

/// Why stock changed, as the movement journal records it.
public enum StockMovementReason: String, Sendable, CaseIterable {
    /// Goods arrived (a delivery, a return to stock).
    case received
    /// Adjustments, each with its cause.
    case counted, damaged, lost, found, expired
    /// Moved between locations.
    case transferOut = "transfer_out", transferIn = "transfer_in"
    /// Taken by an order; given back by its cancellation or an expired reservation.
    case sold, released
    /// Back from a shopper's return, restocked.
    case returned

    /// The reasons an operator may give for an adjustment.
    public static let adjustments: [StockMovementReason] = [.counted, .damaged, .lost, .found, .expired]
}

extension BoundedCounter {
    /// Plans taking `units` from this node's rights across `keys` (in order of preference):
    /// (key, units) pairs, or nil if the rights here do not cover it.
    public static func plan(units: Int64, from counters: [(key: String, counter: BoundedCounter)], replica: ReplicaID) -> [(key: String, units: Int64)]? {
        var left = units, plan: [(key: String, units: Int64)] = []
        for (key, counter) in counters where left > 0 {
            let take = min(left, max(0, counter.rights(of: replica)))
            if take > 0 {
                plan.append((key, take))
                left -= take
            }
        }
        return left == 0 ? plan : nil
    }
}

/// This node's journal of stock changes (`stock_movements`): every receipt, adjustment, transfer,
/// sale, release and return, with its reason, reference and who made it. The audit trail of the
/// counters; every method runs in the caller's transaction or read.
public struct StockJournal {
    public struct Movement: Equatable, Sendable {
        /// The journal's own row, which orders movements made in the same millisecond.
        public var row: Int64
        public var atMs: Int64
        public var location: String
        /// Signed: + in, - out.
        public var units: Int64
        public var reason: String
        public var reference: String?
        public var note: String?
        public var actor: String
    }

    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// The units of each allocation moved in (`sign` 1) or out (-1), for one reason.
    public func record(_ allocations: [StockAllocation], sign: Int64, reason: StockMovementReason, reference: String?, note: String? = nil,
                       actor: String, atMs: Int64) throws {
        for allocation in allocations {
            try database.execute("INSERT INTO stock_movements(at_ms, sku, location, units, reason, reference, note, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 [atMs, allocation.sku, allocation.location, sign * allocation.units, reason.rawValue, reference, note, actor])
        }
    }

    /// How many movements of `reason` name `reference` (and `note`, when given).
    public func count(reference: String, reason: StockMovementReason, note: String? = nil) throws -> Int {
        try database.queryOne("""
            SELECT count(*) AS n FROM stock_movements WHERE reference = ? AND reason = ? \(note == nil ? "" : "AND note = ?")
            """, [reference, reason.rawValue] + (note.map { [$0] } ?? [])) { $0.int("n") } ?? 0
    }

    /// A SKU's movements, newest first, `limit` before (time, row): the (sku, at_ms) index.
    public func movements(sku: String, limit: Int, before: (atMs: Int64, row: Int64)?) throws -> [Movement] {
        let position = before ?? (Int64.max, 0)
        return try database.query("""
            SELECT id, at_ms, location, units, reason, reference, note, actor FROM stock_movements
            WHERE sku = ? AND (at_ms < ? OR (at_ms = ? AND id < ?)) ORDER BY at_ms DESC, id DESC LIMIT ?
            """, [sku, position.atMs, position.atMs, position.row, limit]) {
            Movement(row: $0.int64("id"), atMs: $0.int64("at_ms"), location: $0.string("location"), units: $0.int64("units"),
                     reason: $0.string("reason"), reference: $0.optionalString("reference"), note: $0.optionalString("note"), actor: $0.string("actor"))
        }
    }
}
