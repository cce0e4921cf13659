import Commerce
import HTTP
import Platform
import Replication

extension ProblemType {
    public static let productExists = ProblemType(slug: "product-exists", title: "Product exists", status: 409,
        explanation: "A product with this id exists already; change it with PATCH /admin/v1/catalog/products/{id}.")
}

extension OutpostNode {
    static let catalogCollection = "catalog"
    static let inventoryCollection = "inventory"

    /// Connects the catalog's tables to the replicated data: every change to `catalog` or
    /// `inventory`, local or from a peer, is projected in its own transaction. A database that
    /// predates the tables (or lost them) is projected whole, once.
    func setUpCatalogView() throws {
        let catalog = self.catalog, replica = self.replica, me = identity.nodeId
        let project: (String, [String]) throws -> Void = { [unowned self] collection, keys in
            switch collection {
            case Self.catalogCollection:
                var products: [(id: String, product: Product?)] = []
                for key in keys {
                    let fields = replica.state(at: key, in: collection, as: CatalogFields.Entry.self).map(CatalogFields.values) ?? [:]
                    if StockLocation.isKey(key) { continue }
                    if Promotion.isKey(key) { promotionList = nil; continue }
                    if ShippingMethod.isKey(key) { shippingMethodList = nil; continue }
                    if OfflinePaymentPolicy.isKey(key) { continue }
                    if CatalogFields.isCategoryKey(key) {
                        let id = String(key.dropFirst(CatalogFields.categoryPrefix.count))
                        catalog.project(categoryId: id, CatalogFields.category(id: id, from: fields))
                    } else {
                        products.append((key, CatalogFields.product(id: key, from: fields)))
                    }
                }
                try catalog.project(products: products)
            case Self.inventoryCollection:
                for key in keys { try catalog.project(stockKey: key, replica.state(at: key, in: collection, as: BoundedCounter.self), node: me) }
            case Self.ordersCollection:
                try self.projectOrders(keys)
            case Self.paymentsCollection:
                if settlement != nil { try queueForSettlement(keys) } else { try projectOfflinePayments(keys) }
            case Self.tillsCollection:
                try anchorZReports(keys)
            default:
                break
            }
        }
        replica.viewsChanged = project
        let keys: (String) -> [String] = { name in
            guard let collection = replica.memory.collections[name] as? KeyedCollection<CatalogFields.Entry> else { return [] }
            return collection.states.keys.sorted()
        }
        let stockKeys = (replica.memory.collections[Self.inventoryCollection] as? KeyedCollection<BoundedCounter>)?.states.keys.sorted() ?? []
        let ordersBuilt = try database.queryOne("SELECT value FROM node_meta WHERE key = 'orders_view'") { $0.string(0) }
        if ordersBuilt == nil {
            replica.makeFullyResident(Self.ordersCollection)
            let orderKeys = (replica.memory.collections[Self.ordersCollection] as? KeyedCollection<GSet<String>>)?.states.keys.sorted() ?? []
            try database.transaction(.immediate) {
                try project(Self.ordersCollection, orderKeys)
                try database.execute("INSERT INTO node_meta(key, value) VALUES ('orders_view', '1')")
            }
        }
        let built = try database.queryOne("SELECT value FROM node_meta WHERE key = 'catalog_view'") { $0.string(0) }
        if built == "1" {
            // The tables are current; the category tree lives in memory only (no SQL for them).
            return try project(Self.catalogCollection, keys(Self.catalogCollection).filter(CatalogFields.isCategoryKey))
        }
        try database.transaction(.immediate) {
            try project(Self.catalogCollection, keys(Self.catalogCollection))
            try project(Self.inventoryCollection, stockKeys)
            try database.execute("INSERT INTO node_meta(key, value) VALUES ('catalog_view', '1') ON CONFLICT(key) DO UPDATE SET value = '1'")
        }
    }

    /// The product at `id` as replicated, whatever its status.
    func product(_ id: String) -> Product? {
        // Decoded once per change: carts and checkouts read the same few products over and over.
        let stamp = catalog.version(of: id)
        if let hit = productCache[id], hit.stamp == stamp { return hit.product }
        guard !CatalogFields.isCategoryKey(id), let entry = replica.state(at: id, in: Self.catalogCollection, as: CatalogFields.Entry.self) else { return nil }
        let product = CatalogFields.product(id: id, from: CatalogFields.values(of: entry))
        if productCache.count >= Self.productCacheMax { productCache.removeAll(keepingCapacity: true) }
        productCache[id] = (stamp, product)
        return product
    }

    static let productCacheMax = 4_096

    /// Commits a catalog entry's new fields as one delta, through group commit. `fields` runs
    /// inside the transaction (so it validates against the writes before it) and may throw;
    /// `completion` gets the error, or nil once the change is durable.
    func commitCatalog(key: String, fields: @escaping () throws -> [String: FieldValue], completion: @escaping ((any Error)?) -> Void) {
        let replica = self.replica, me = identity.nodeId
        writer.submit({ _ in try Self.commit(try fields(), key: key, replica: replica, as: me) }, completion: { [unowned self] result in
            switch result {
            case .success(let changed):
                if changed { replicatedChanged() }
                completion(nil)
            case .failure(let error):
                completion(error)
            }
        })
    }

    /// Takes the entry at `key` to `fields` in one delta, inside the caller's transaction.
    /// Returns false when nothing differed (nothing is committed then).
    static func commit(_ fields: [String: FieldValue], key: String, in collection: String = catalogCollection, replica: NodeReplica,
                       as me: ReplicaID) throws -> Bool {
        var entry = replica.state(at: key, in: collection, as: CatalogFields.Entry.self) ?? CatalogFields.Entry()
        let at = replica.tick(wallMs: WallClock.nowMs())
        guard let delta = CatalogFields.delta(from: &entry, to: fields, replica: me, at: at) else { return false }
        _ = try replica.commit(delta, key: key, in: collection, at: at)
        return true
    }

    static func validationError(_ failure: ValidationFailure) -> HTTPError {
        var error = HTTPError(.validation, detail: "\(failure.errors.count) field\(failure.errors.count == 1 ? " is" : "s are") not acceptable: "
                              + failure.errors.prefix(5).map(\.description).joined(separator: "; "))
        error.problem.extensions = [("errors", .array(failure.errors.map { .object([JSONMember("field", .string($0.field)), JSONMember("reason", .string($0.reason))]) }))]
        return error
    }
}
