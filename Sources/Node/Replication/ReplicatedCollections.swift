import Replication

/// The replicated collections of a node and their CRDT shapes (sync/PROTOCOL.md §5).
public enum ReplicatedCollections {
    public typealias Product = ORMap<String, LWWRegister<FieldValue>>
    public typealias Cart = ORMap<String, LWWRegister<Int64>>
    public typealias Stock = BoundedCounter
    public typealias Events = GSet<String>

    /// History: they grow with every order, so a node keeps them on disk and reads a key on
    /// first use (NodeReplica.makeResident); the rest are read whole at start.
    public static let pagedIn: Set<String> = ["carts", "customers", "orders", "payments"]

    public static let names = ["carts", "catalog", "customers", "inventory", "ledger", "orders", "payments", "redemptions", "tills"]

    static func make() -> [any AnyReplicatedCollection] {
        [
            KeyedCollection<Product>(name: "catalog", scope: .global),
            KeyedCollection<Cart>(name: "carts", scope: .region),
            // Accounts, the email index and sign-in sessions: personal data stays in its region.
            KeyedCollection<Product>(name: "customers", scope: .region),
            KeyedCollection<Stock>(name: "inventory", scope: .global),
            // Per hub and day, the hub's signed checkpoints of its journal's head: every node keeps
            // them, so a rewrite of the hub's books cannot hide from its stores (docs/ledger.md).
            KeyedCollection<Events>(name: "ledger", scope: .global),
            KeyedCollection<Events>(name: "orders", scope: .global),
            KeyedCollection<Events>(name: "payments", scope: .global),
            // Per capped promotion, its redemptions left: rights to redeem, held and moved like stock.
            KeyedCollection<Stock>(name: "redemptions", scope: .global),
            // Per till (node/device), its Z-reports: hash-chained, anchored in the hub's ledger.
            KeyedCollection<Events>(name: "tills", scope: .global),
        ]
    }
}
