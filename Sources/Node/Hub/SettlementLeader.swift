import Commerce
import Platform
import Replication

/// Which hub settles, as the hubs that share their books on PostgreSQL announce it: each one
/// that takes the settlement lease adds `settlement-leader <hub> <epoch> <at ms>` to the
/// `ledger` collection (key `settlement-leader`), so every node of the fleet knows the leader
/// and `nodectl sync status` names it. The highest epoch is the current leader.
struct SettlementLeader: Equatable, Sendable {
    static let key = "settlement-leader"

    var hub: String
    var epoch: Int64
    var sinceMs: Int64

    var text: String { "settlement-leader \(hub) \(epoch) \(sinceMs)" }

    init(hub: String, epoch: Int64, sinceMs: Int64) {
        (self.hub, self.epoch, self.sinceMs) = (hub, epoch, sinceMs)
    }

    init?(text: String) {
        let parts = text.split(separator: " ")
        guard parts.count == 4, parts[0] == "settlement-leader", let epoch = Int64(parts[2]), let since = Int64(parts[3]) else { return nil }
        self.init(hub: String(parts[1]), epoch: epoch, sinceMs: since)
    }

    /// The announcement with the highest epoch among `texts`.
    static func current(_ texts: some Sequence<String>) -> SettlementLeader? {
        texts.compactMap(SettlementLeader.init(text:)).max { ($0.epoch, $0.sinceMs) < ($1.epoch, $1.sinceMs) }
    }
}

/// What `nodectl sync status` and `nodectl ledger status` show of the leader.
public struct SettlementLeaderReport: Codable, Sendable, Equatable {
    public var hub: String
    public var epoch: Int64
    /// UTC ISO 8601.
    public var since: String
}

extension OutpostNode {
    /// The leader the fleet was last told of (nil for a hub on its own SQLite books).
    var settlementLeader: SettlementLeader? {
        guard let events = replica.state(at: SettlementLeader.key, in: Collections.ledger) else { return nil }
        return SettlementLeader.current(events.elements)
    }

    var settlementLeaderReport: SettlementLeaderReport? {
        settlementLeader.map { SettlementLeaderReport(hub: $0.hub, epoch: $0.epoch, since: WallClock.iso8601(ms: $0.sinceMs)) }
    }

    /// Tells the fleet this hub leads settlement from `epoch` on.
    func announceSettlementLeader(epoch: Int64) {
        let leader = SettlementLeader(hub: identity.nodeId, epoch: epoch, sinceMs: WallClock.nowMs())
        writer.submit({ [unowned self] _ in
            try reservations.addEvents([leader.text], key: SettlementLeader.key, in: Collections.ledger, nowMs: WallClock.nowMs())
        }, completion: { [unowned self] result in
            switch result {
            case .success: replicatedChanged()
            case .failure(let error): logger.error("could not announce this hub's settlement lead", metadata: ["error": "\(error)"])
            }
        })
    }
}
