import Commerce
import Platform
import Replication

/// Rights moving between nodes (sync/PROTOCOL.md, RIGHTS_REQUEST): stock in `inventory`,
/// redemptions of capped promotions in `redemptions`. A node short of rights asks the peer
/// holding most; grants are ordinary transfer deltas of the collection; the hub replenishes each
/// store by what it sold (or redeemed).
extension SyncService {
    static let inventory = "inventory"
    static let redemptions = "redemptions"
    /// The bounded-counter collections whose rights move on request.
    static let countedCollections = [inventory, redemptions]

    /// The connected peer that holds most rights at `key`, if any does.
    func rightsHolder(key: String, in collection: String = inventory) -> SyncLink? {
        let stock = replica.state(at: key, in: collection, as: BoundedCounter.self) ?? BoundedCounter()
        let holders = links.filter(\.isActive).compactMap { link -> (SyncLink, Int64)? in
            guard let id = link.peerNodeId else { return nil }
            let held = stock.rights(of: id)
            return held > 0 ? (link, held) : nil
        }
        return holders.max(by: { $0.1 < $1.1 })?.0
    }

    /// This node could not sell `units` of `key`: ask the connected peer that holds most rights.
    /// Returns whether one was asked.
    @discardableResult
    func requestRights(key: String, in collection: String = inventory, units: UInt64) -> Bool {
        guard let link = rightsHolder(key: key, in: collection) else {
            logger.info("sync: no connected peer holds rights to ask", metadata: ["key": "\(key)", "units": "\(units)"])
            return false
        }
        link.perform([.send(.rightsRequest(collection: collection, key: key, units: units))])
        link.flush()
        return true
    }

    /// A peer asked for rights. The hub gives what it can; a store keeps half of its rights to
    /// sell itself.
    func rightsRequested(by link: SyncLink, collection: String, key: String, units: UInt64) {
        guard Self.countedCollections.contains(collection), let peer = link.peerNodeId else { return }
        let stock = replica.state(at: key, in: collection, as: BoundedCounter.self) ?? BoundedCounter()
        let held = max(0, stock.rights(of: replica.nodeId))
        let spare = role == "hub" ? held : held / 2
        let give = min(UInt64(spare), units)
        guard give > 0, transfer(give, of: key, in: collection, to: peer) else {
            link.perform([.send(.rightsDeclined(collection: collection, key: key, available: UInt64(spare)))])
            link.flush()
            return
        }
        logger.info("sync: granted rights", metadata: ["peer": "\(peer)", "collection": "\(collection)", "key": "\(key)", "units": "\(give)"])
    }

    /// Hub only: gives each store rights for what it sold since the last pass, while the hub has some.
    /// Sales are counted from zero the first time the hub sees a store (in memory): after a hub
    /// restart stores are topped up once by their past sales, within what the hub holds. Giving
    /// rights never risks overselling; it only decides where stock can be sold.
    func rebalance() {
        guard role == "hub" else { return }
        for name in Self.countedCollections {
            guard let collection = replica.memory.collections[name] as? KeyedCollection<BoundedCounter> else { continue }
            for (key, stock) in collection.states {
                let seenKey = name + "\u{0}" + key
                var sold = soldSeen[seenKey] ?? [:]
                for replicaId in stock.replicas where replicaId != replica.nodeId {
                    let now = stock.decrements[replicaId] ?? 0
                    let before = sold[replicaId] ?? 0
                    sold[replicaId] = now
                    guard now > before else { continue }
                    let held = (replica.state(at: key, in: name, as: BoundedCounter.self) ?? stock).rights(of: replica.nodeId)
                    let give = min(UInt64(max(0, held)), now - before)
                    if give > 0 && transfer(give, of: key, in: name, to: replicaId) {
                        logger.info("sync: replenished rights", metadata: ["store": "\(replicaId)", "collection": "\(name)", "key": "\(key)", "units": "\(give)"])
                    }
                }
                soldSeen[seenKey] = sold
            }
        }
    }

    /// Moves `units` of this node's rights to `peer` (one committed transaction), then sends it.
    @discardableResult
    func transfer(_ units: UInt64, of key: String, in collection: String = inventory, to peer: String) -> Bool {
        var stock = replica.state(at: key, in: collection, as: BoundedCounter.self) ?? BoundedCounter()
        guard let delta = try? stock.transfer(units, from: replica.nodeId, to: peer) else { return false }
        do {
            try replica.inTransaction {
                _ = try replica.commit(delta, key: key, in: collection, at: replica.tick(wallMs: WallClock.nowMs()))
            }
        } catch {
            logger.error("sync: could not commit a rights transfer", metadata: ["key": "\(key)", "error": "\(error)"])
            return false
        }
        replicaChanged()
        return true
    }
}

/// The sales' way to ask for rights they lack (`SaleReservations`).
extension SyncService: StockRightsPeers {
    func holdsRights(key: String, in collection: String) -> Bool { rightsHolder(key: key, in: collection) != nil }

    func askForRights(key: String, in collection: String, units: UInt64) { requestRights(key: key, in: collection, units: units) }
}
