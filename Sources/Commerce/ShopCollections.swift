import Persistence
import Replication

/// The replicated collections of a node and their CRDT shapes (sync/PROTOCOL.md §5).
public enum Collections {
    public typealias Fields = ORMap<String, LWWRegister<FieldValue>>
    // The shapes, for code that reaches a collection by the name a request gave.
    public typealias Product = Fields
    public typealias Cart = ORMap<String, LWWRegister<Int64>>
    public typealias Stock = BoundedCounter
    public typealias Events = GSet<String>

    /// Products and categories, and by key prefix: stock locations, promotions, shipping
    /// methods, offline payment policies. Kept on disk and read key by key: a large catalog's
    /// products leave memory once written (`catalogStaysResident`, docs/memory.md).
    public static let catalog = ReplicatedCollection<Fields>(name: "catalog", scope: .global, pagedIn: true)

    /// The catalog's configuration records (categories, stock locations, promotions, shipping
    /// methods, payment policies) stay in memory; products may leave it.
    public static func catalogStaysResident(_ key: String) -> Bool {
        [CatalogFields.categoryPrefix, StockLocation.keyPrefix, Promotion.keyPrefix, ShippingMethod.keyPrefix, OfflinePaymentPolicy.keyPrefix]
            .contains { key.hasPrefix($0) }
    }
    public static let carts = ReplicatedCollection<ORMap<String, LWWRegister<Int64>>>(name: "carts", scope: .region, pagedIn: true)
    /// Accounts, the email index, sign-in sessions and orders' contact keys: personal data stays in its region.
    public static let customers = ReplicatedCollection<Fields>(name: "customers", scope: .region, pagedIn: true)
    public static let inventory = ReplicatedCollection<BoundedCounter>(name: "inventory", scope: .global)
    /// Per hub and day, the hub's signed checkpoints of its journal's head: every node keeps
    /// them, so a rewrite of the hub's books cannot hide from its stores (docs/ledger.md).
    public static let ledger = ReplicatedCollection<GSet<String>>(name: "ledger", scope: .global)
    public static let orders = ReplicatedCollection<GSet<String>>(name: "orders", scope: .global, pagedIn: true)
    public static let payments = ReplicatedCollection<GSet<String>>(name: "payments", scope: .global, pagedIn: true)
    /// Per capped promotion, its redemptions left: rights to redeem, held and moved like stock.
    public static let redemptions = ReplicatedCollection<BoundedCounter>(name: "redemptions", scope: .global)
    /// Product reviews (`Review` fields per `rv:<product>:<customer>`), pending and moderated:
    /// in the region where they were written.
    public static let reviews = ReplicatedCollection<Fields>(name: "reviews", scope: .region, pagedIn: true)
    /// Approved reviews a region shares with the whole fleet (`[reviews] share = "fleet"`).
    public static let publishedReviews = ReplicatedCollection<Fields>(name: "published_reviews", scope: .global, pagedIn: true)
    /// Per till (node/device), its Z-reports: hash-chained, anchored in the hub's ledger.
    public static let tills = ReplicatedCollection<GSet<String>>(name: "tills", scope: .global)

    public static var all: [CollectionDescriptor] {
        [catalog.descriptor, carts.descriptor, customers.descriptor, inventory.descriptor, ledger.descriptor, orders.descriptor,
         payments.descriptor, publishedReviews.descriptor, redemptions.descriptor, reviews.descriptor, tills.descriptor]
    }

    public static var names: [String] { all.map(\.name).sorted() }
}
