import Commerce
import HTTP
import Platform

/// The fleet's pages: this node's sync peers, and at the hub the ledger (verification, offline
/// exposure per store, reconciliation, balances).
extension OutpostNode {
    func registerOfficeFleetPages() {
        registerOfficePage("/admin/sync", section: "/admin/sync", summary: "Sync: each peer's link, lag and whether the data agrees.") { [unowned self] request, session, send in
            let peers = fleet.sync?.status(digests: true) ?? []
            let rows = peers.map { peer -> [BackOffice.Cell] in
                let outgoing = peer.collections.reduce(0) { $0 + $1.deltasBehindOutgoing }, incoming = peer.collections.reduce(0) { $0 + $1.deltasBehindIncoming }
                let compared = peer.collections.compactMap(\.digestsMatch)
                let agree = compared.isEmpty ? "not compared yet" : compared.allSatisfy { $0 } ? "yes" : "\(compared.filter { !$0 }.count) collection(s) differ"
                return [BackOffice.Cell(peer.nodeId), BackOffice.Cell(peer.region),
                        BackOffice.Cell(peer.connected ? "connected" : "offline", style: peer.connected ? nil : "bad"), BackOffice.Cell(peer.since),
                        BackOffice.Cell(peer.lastContact ?? "never"), .number(Int64(outgoing)), .number(Int64(incoming)), BackOffice.Cell(agree),
                        BackOffice.Cell(peer.lastError ?? "")]
            }
            send(officePage("office-sync", request, session: session, section: "/admin/sync", [
                "peers": BackOffice.table("Peers of \(identity.nodeId)", ["Peer", "Region", "Link", "Since", "Last contact", "Deltas to send", "Deltas to receive",
                                                                          "Data agrees", "Last error"], rows,
                                          empty: fleet.sync == nil ? "This node does not sync (no [sync] section)." : "No peers."),
            ]))
        }

        registerOfficePage("/admin/ledger", section: "/admin/ledger", summary: "The hub's ledger: chain verified, offline exposure per store, reconciliation, balances.") { [unowned self] request, session, send in
            guard config.role == .hub else { throw HTTPError(.notTheHub, detail: "The ledger is on the hub\(fleet.knownHub.map { " (\($0))" } ?? "").") }
            let nowMs = WallClock.nowMs()
            readAsStaff(session, ["/admin/v1/ledger/verify", "/admin/v1/ledger/balances?limit=1000", "/admin/v1/ledger/policies"]) { [unowned self] results in
                let verified = results[0], accounts = results[1]?["accounts"]?.items ?? []
                let window = "from=\(WallClock.iso8601(ms: nowMs - Self.dayMs))&to=\(WallClock.iso8601(ms: nowMs))"
                asStaff(session, "POST", "/admin/v1/ledger/reconcile?" + window) { [unowned self] reconciled in
                    let result = BackOffice.json(reconciled)
                    let exposure = accounts.filter { $0["id"]?.text?.hasPrefix("exposure:") == true }
                    var view: BackOffice.View = [
                        "verified": verified?["valid"]?.flag == true
                            ? "The journal's hash chain verifies: \(verified?["entries"]?.cellText ?? "every") entries."
                            : "The journal does NOT verify: \(verified?["problem"]?.cellText ?? verified?["detail"]?.cellText ?? "see nodectl ledger verify").",
                        "exposure": BackOffice.table("Offline card exposure per store (budget left of each store's cap)", ["Account", "Currency", "Budget left", "Held now"],
                                                     exposure.map {
                            [BackOffice.Cell($0["id"]?.text ?? ""), BackOffice.Cell($0["currency"]?.text ?? ""), .number($0["balance"]?.integer ?? 0),
                             .number($0["debits_pending"]?.integer ?? 0)]
                        }, empty: "No store has taken a card offline."),
                        "balances": BackOffice.table("Balances", ["Account", "Kind", "Currency", "Balance"], accounts.map {
                            [BackOffice.Cell($0["id"]?.text ?? ""), BackOffice.Cell($0["kind"]?.text ?? ""), BackOffice.Cell($0["currency"]?.text ?? ""),
                             .number($0["balance"]?.integer ?? 0)]
                        }, empty: "The ledger is empty."),
                    ]
                    let differences = result?["differences"]?.items ?? []
                    view["reconciliation"] = BackOffice.table(result?["clean"]?.flag == true ? "Reconciliation, last 24 hours: clean"
                                                              : "Reconciliation, last 24 hours: \(differences.count) difference(s)",
                                                              ["Kind", "Payment", "Node", "Detail"], differences.prefix(100).map {
                        [BackOffice.Cell($0["kind"]?.cellText ?? ""), BackOffice.Cell($0["payment"]?.cellText ?? ""), BackOffice.Cell($0["node"]?.cellText ?? ""),
                         BackOffice.Cell($0["detail"]?.cellText ?? "")]
                    }, empty: result == nil ? BackOffice.refusalText(reconciled) : "Every payment matches the journal.")
                    send(officePage("office-ledger", request, session: session, section: "/admin/ledger", view))
                }
            }
        }
    }
}
