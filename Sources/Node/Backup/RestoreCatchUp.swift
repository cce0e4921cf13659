import HTTP
import Persistence
import Platform
import Replication

/// A node started on a data directory `nodectl backup restore` made (docs/backups.md, "Rebuild").
///
/// Its backup may end before changes its peers already have from it: the last moments before
/// its disk was lost. Until it holds every change of its own that a peer holds, a new change of
/// its could reuse one of those changes' numbers, and the fleet would take it for the old one
/// and drop it. So it takes no writes and is not ready until one peer's summary shows it has
/// caught up; then the marker goes and it sells as before.
public final class RestoreCatchUp {
    public static let markerFile = "restored-from-backup.json"

    private(set) var outcome: RestoreOutcome?
    private(set) var caughtUpAtMs: Int64?
    /// The peers it may catch up from: configured, added, or any it exchanged changes with
    /// before (its acknowledgements table came back with the restore). Read once.
    var knownPeers: Set<String>?
    let markerPath: String

    init(dataDirectory: String) {
        markerPath = dataDirectory + "/" + Self.markerFile
        if let bytes = try? Files.readBytes(markerPath) { outcome = try? JSONCoding.decode(RestoreOutcome.self, from: bytes) }
    }

    var isCatchingUp: Bool { outcome != nil && caughtUpAtMs == nil }

    /// What a write completes with while catching up.
    var refusal: HTTPError? {
        guard isCatchingUp else { return nil }
        var error = HTTPError(.storageUnavailable, detail: "this node was restored from a backup and is catching up with its peers; it takes no writes until then",
                              headers: HTTPHeaders([("Retry-After", "5")]))
        error.problem.extensions = [("reason", .string("catching_up"))]
        return error
    }

    /// Whether `session`'s peer holds nothing of this node's own changes that this node lacks,
    /// for every collection the link shares (its summaries are in).
    static func hasCaughtUp(with session: SyncSession, replica: NodeReplica) -> Bool {
        guard session.phase == .active, !session.shared.isEmpty else { return false }
        return session.shared.allSatisfy { collection in
            guard let theirs = session.peerApplied[collection] else { return false }
            return theirs[replica.nodeId] <= (replica.applied(of: collection)?[replica.nodeId] ?? 0)
        }
    }

    func caughtUp(nowMs: Int64) {
        caughtUpAtMs = nowMs
        Files.remove(markerPath)
    }

    /// One line for `nodectl status`.
    var summary: String? {
        guard let outcome else { return nil }
        let base = "restored from \(outcome.full) as of \(outcome.reachedAt)"
        return caughtUpAtMs.map { base + "; caught up with its peers at \(WallClock.iso8601(ms: $0))" } ?? base + "; catching up with its peers (no writes until then)"
    }
}
