import Commerce
import Persistence
import Platform
import Replication

/// Card payments while the hub is out of reach (docs/ledger.md): a node that belongs to a
/// fleet with a hub takes them store-and-forward, within the policy the hub set for it.
extension OutpostNode {
    /// Whether card payments go to the acquirer now. A hub always does; a node that has never
    /// linked to a hub has no one to forward to, so it does too (a lone store, a test shop).
    var cardPaymentsOnline: Bool {
        guard config.role != .hub, fleet.knownHub != nil else { return true }
        return fleet.sync?.reachesHub ?? false
    }

    /// The first link to a hub makes it this node's hub, remembered across restarts.
    /// Nodes this one has heard of: the origins of what it holds, and its sync peers.
    func knownNodes() -> Set<String> {
        replica.origins.union(fleet.sync?.status(digests: false).map(\.nodeId) ?? [])
    }

    func rememberHub(_ id: String) {
        if id != identity.nodeId && replica.otherHubs.insert(id).inserted {
            let hubs = replica.otherHubs.sorted().joined(separator: ",")
            writer.submit({ db in try NodeMeta(database: db).set(.hubNodes, hubs) }, completion: { _ in })
        }
        // A hub's own records are the hub's; another hub is one more whose records count.
        guard config.role != .hub, fleet.knownHub != id else { return }
        fleet.knownHub = id
        replica.hubNodeId = id
        writer.submit({ db in
            try NodeMeta(database: db).set(.hubNode, id)
        }, completion: { [unowned self] result in
            if case .failure(let error) = result { logger.error("could not remember the hub", metadata: ["error": "\(error)"]) }
        })
    }

    /// The node's policy as the hub set it: its own, else the fleet's default, else built in.
    func offlinePolicy(for node: String) -> OfflinePaymentPolicy {
        for key in [OfflinePaymentPolicy.key(node: node), OfflinePaymentPolicy.defaultKey] {
            if let entry = replica.state(at: key, in: Collections.catalog),
               let policy = OfflinePaymentPolicy(fields: CatalogFields.values(of: entry)) {
                return policy
            }
        }
        return .builtIn
    }

    /// The book of this node's card payments taken offline (`offline_payments`).
    var offlinePayments: OfflinePaymentBook { OfflinePaymentBook(database: database) }

    /// What this node's offline card payments not yet answered by the hub add up to, with those
    /// being decided now. Throws when it cannot be read: the cap is then not passed.
    func offlineExposure() throws -> Int64 {
        try offlinePayments.exposure() + saleDesk.offlineInFlight
    }

    /// Inside the change's transaction: a stored payment the hub answered no longer counts
    /// against the node's exposure.
    func projectOfflinePayments(_ keys: [String]) throws {
        // A node that never saw a hub never took a card offline: nothing to look up per change.
        guard fleet.knownHub != nil else { return }
        let nowMs = WallClock.nowMs()
        for key in keys {
            guard try offlinePayments.isUnanswered(key), let payment = paymentState(key) else { continue }
            let outcome: OfflinePaymentBook.Outcome? = payment.declined != nil ? .declined : payment.authorized ? .authorized : payment.voided ? .voided : nil
            guard let outcome else { continue }
            try offlinePayments.answered(key, outcome: outcome, atMs: nowMs)
        }
    }

    /// Once a minute while any offline payment is past its deadline: an error in the log (and
    /// `outpost_offline_payments_overdue`), so an operator restores the way to the hub.
    func warnOfOverduePayments(nowMs: Int64) {
        guard nowMs - shop.overdueWarnedMs >= 60_000 else { return }
        shop.overdueWarnedMs = nowMs
        guard let summary = try? offlinePayments.summary(nowMs: nowMs) else { return }
        guard summary.overdue > 0 else { return }
        if let open = try? offlinePayments.open(limit: 256, after: nil) { recordOverduePayments(open.filter { $0.deadlineMs < nowMs }) }
        logger.error("offline card payments are past their settlement deadline: the hub has not received them", metadata: [
            "overdue": "\(summary.overdue)", "open": "\(summary.open)", "exposure": "\(summary.exposure)", "hub": "\(fleet.knownHub ?? "unknown")",
        ])
    }
}
