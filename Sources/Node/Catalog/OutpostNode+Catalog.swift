import Commerce
import HTTP
import Persistence
import Platform
import Replication

extension OutpostNode {
    /// Connects the views to the replicated data: every change to a collection, local or from a
    /// peer, is projected by that collection's projection in the change's own transaction. A
    /// database that predates a view's tables (or lost them) is projected whole, once.
    func setUpCatalogView() throws {
        let catalog = self.catalog, replica = self.replica, me = identity.nodeId
        replica.project(Collections.catalog) { [unowned self] keys in
            var products: [(id: String, product: Product?)] = []
            for key in keys {
                let fields = replica.state(at: key, in: Collections.catalog).map(CatalogFields.values) ?? [:]
                if StockLocation.isKey(key) { continue }
                if Promotion.isKey(key) { caches.promotionList = nil; continue }
                if ShippingMethod.isKey(key) { caches.shippingMethodList = nil; continue }
                if OfflinePaymentPolicy.isKey(key) { continue }
                if CatalogFields.isCategoryKey(key) {
                    let id = String(key.dropFirst(CatalogFields.categoryPrefix.count))
                    catalog.project(categoryId: id, CatalogFields.category(id: id, from: fields))
                } else {
                    products.append((key, CatalogFields.product(id: key, from: fields)))
                }
            }
            try catalog.project(products: products)
        }
        replica.project(Collections.inventory) { [unowned self] keys in
            // Low stock at this node's own location is announced as it happens (docs/notifications.md).
            let watched = desks.notices.endpoints.isEmpty ? [] : keys.filter { $0.hasSuffix("@" + (config.stockLocation ?? me)) }
            let before = try watched.map { try catalog.stockAvailable(stockKey: $0) }
            try catalog.projectStock(keys, from: replica, node: me)
            try recordLowStock(watched, before: before)
        }
        replica.project(Collections.orders) { [unowned self] keys in try projectOrders(keys) }
        replica.project(Collections.payments) { [unowned self] keys in
            if fleet.settlement != nil { try queueForSettlement(keys) } else { try projectOfflinePayments(keys) }
        }
        replica.project(Collections.tills) { [unowned self] keys in try anchorZReports(keys) }
        replica.project(Collections.reviews) { [unowned self] keys in try projectReviews(keys) }
        replica.project(Collections.publishedReviews) { [unowned self] keys in try projectReviews(keys) }
        catalog.loadRatings(try reviewBook.ratings())

        if try !meta.isDone(.ordersViewBuilt) {
            let orderKeys = replica.whole(Collections.orders)?.states.keys.sorted() ?? []
            try database.transaction(.immediate) {
                try replica.projectViews(of: Collections.orders, keys: orderKeys)
                try meta.markDone(.ordersViewBuilt)
            }
        }
        if try !meta.isDone(.backOfficeViewsBuilt) {
            // A node from before the sales windows and the returns queue folds the orders it holds, once.
            try database.transaction(.immediate) {
                for key in replica.whole(Collections.orders)?.states.keys.sorted() ?? [] {
                    let state = orderState(texts: replica.state(at: key, in: Collections.orders)?.elements ?? [])
                    try salesWindows.fold(order: key, SalesContribution(state))
                    try orderIndex.noteOpenReturns(key, count: Self.openReturns(state))
                }
                try meta.markDone(.backOfficeViewsBuilt)
            }
        }
        if try meta.isDone(.catalogViewBuilt) {
            // The tables are current; the category tree lives in memory only (no SQL for them).
            return try replica.projectViews(of: Collections.catalog, keys: replica.keys(in: Collections.catalog.name, withPrefix: CatalogFields.categoryPrefix))
        }
        let catalogKeys = replica.whole(Collections.catalog)?.states.keys.sorted() ?? []
        try database.transaction(.immediate) {
            try replica.projectViews(of: Collections.catalog, keys: catalogKeys)
            try replica.projectViews(of: Collections.inventory, keys: replica.whole(Collections.inventory)?.states.keys.sorted() ?? [])
            try meta.markDone(.catalogViewBuilt)
        }
    }

    /// The product at `id` as replicated, whatever its status.
    func product(_ id: String) -> Product? {
        // Decoded once per change: carts and checkouts read the same few products over and over.
        let stamp = catalog.version(of: id)
        if let hit = caches.productCache[id], hit.stamp == stamp { return hit.product }
        guard !CatalogFields.isCategoryKey(id), let entry = replica.state(at: id, in: Collections.catalog) else { return nil }
        let product = CatalogFields.product(id: id, from: CatalogFields.values(of: entry))
        if caches.productCache.count >= Self.productCacheMax { caches.productCache.removeAll(keepingCapacity: true) }
        caches.productCache[id] = (stamp, product)
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
    static func commit(_ fields: [String: FieldValue], key: String, in collection: ReplicatedCollection<Collections.Fields> = Collections.catalog,
                       replica: NodeReplica, as me: ReplicaID) throws -> Bool {
        var entry = replica.state(at: key, in: collection) ?? CatalogFields.Entry()
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
