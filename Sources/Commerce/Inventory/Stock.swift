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
