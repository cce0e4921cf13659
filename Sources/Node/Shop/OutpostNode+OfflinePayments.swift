import Commerce
import Platform
import Replication

/// Card payments while the hub is out of reach (docs/ledger.md): a node that belongs to a
/// fleet with a hub takes them store-and-forward, within the policy the hub set for it.
extension OutpostNode {
    /// Whether card payments go to the acquirer now. A hub always does; a node that has never
    /// linked to a hub has no one to forward to, so it does too (a lone store, a test shop).
    var cardPaymentsOnline: Bool {
        guard config.role != .hub, knownHub != nil else { return true }
        return sync?.reachesHub ?? false
    }

    /// The first link to a hub makes it this node's hub, remembered across restarts.
    /// Nodes this one has heard of: the origins of what it holds, and its sync peers.
    func knownNodes() -> Set<String> {
        replica.origins.union(sync?.status(digests: false).map(\.nodeId) ?? [])
    }

    func rememberHub(_ id: String) {
        guard knownHub != id else { return }
        knownHub = id
        replica.hubNodeId = id
        writer.submit({ db in
            try db.execute("INSERT INTO node_meta(key, value) VALUES ('hub_node', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [id])
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

    /// What this node's offline card payments not yet answered by the hub add up to. Throws
    /// when it cannot be read: the cap is then not passed (the card is refused).
    func offlineExposure() throws -> Int64 {
        let stored = try database.queryOne("SELECT coalesce(sum(amount), 0) FROM offline_payments WHERE answered_ms IS NULL") { $0.int64(0) } ?? 0
        return stored + offlineExposureInFlight
    }

    /// The node's offline payments: open ones, their total, and those past their deadline.
    func offlinePaymentSummary(nowMs: Int64) -> (open: Int, exposure: Int64, overdue: Int) {
        (try? database.queryOne("""
            SELECT count(*), coalesce(sum(amount), 0), coalesce(sum(deadline_ms < ?), 0) FROM offline_payments WHERE answered_ms IS NULL
            """, [nowMs]) { ($0.int(0), $0.int64(1), $0.int(2)) }) ?? (0, 0, 0)
    }

    /// Inside the change's transaction: a stored payment the hub answered no longer counts
    /// against the node's exposure.
    func projectOfflinePayments(_ keys: [String]) throws {
        // A node that never saw a hub never took a card offline: nothing to look up per change.
        guard knownHub != nil else { return }
        let nowMs = WallClock.nowMs()
        for key in keys {
            guard try database.queryOne("SELECT 1 FROM offline_payments WHERE payment_id = ? AND answered_ms IS NULL", [key], { $0.int(0) }) != nil,
                  let payment = paymentState(key) else { continue }
            let outcome = payment.declined != nil ? "declined" : payment.authorized ? "authorized" : payment.voided ? "voided" : nil
            guard let outcome else { continue }
            try database.execute("UPDATE offline_payments SET answered_ms = ?, outcome = ? WHERE payment_id = ?", [nowMs, outcome, key])
        }
    }

    /// Once a minute while any offline payment is past its deadline: an error in the log (and
    /// `outpost_offline_payments_overdue`), so an operator restores the way to the hub.
    func warnOfOverduePayments(nowMs: Int64) {
        guard nowMs - overdueWarnedMs >= 60_000 else { return }
        overdueWarnedMs = nowMs
        let summary = offlinePaymentSummary(nowMs: nowMs)
        guard summary.overdue > 0 else { return }
        logger.error("offline card payments are past their settlement deadline: the hub has not received them", metadata: [
            "overdue": "\(summary.overdue)", "open": "\(summary.open)", "exposure": "\(summary.exposure)", "hub": "\(knownHub ?? "unknown")",
        ])
    }
}
