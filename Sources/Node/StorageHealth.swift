import HTTP
import Platform

/// What the node knows of its disk, and so whether it takes writes (docs/operations.md).
///
///     healthy ──write fails: no room──▶ full ──probe commits──▶ healthy
///        │                               │ probe fails: wait twice as long (1 s … 30 s)
///        └──write or fsync fails (I/O)──▶ failed: no more writes, not ready, the node stops (exit 74)
///
/// A full disk leaves nothing in doubt: SQLite rolled the batch back, and writes resume once a
/// probe commits. A failed write or fsync does: after one, the kernel may have dropped the dirty
/// pages and the next fsync may report success for data that never reached the disk (the lesson
/// PostgreSQL learned in 2018). So the node does not try again; it stops without a checkpoint, and
/// the next start recovers from what the WAL on disk holds.
final class StorageHealth {
    enum State: String {
        case healthy
        case full = "disk_full"
        case failed = "storage_failed"
    }

    private(set) var state = State.healthy
    /// What the disk said when it stopped taking writes.
    private(set) var reason = ""
    private(set) var sinceMs: Int64 = 0
    private(set) var nextProbeMs: Int64 = 0
    private var probeDelayMs = StorageHealth.probeDelayMinMs
    /// Probes run and batches refused: /metrics.
    private(set) var probes = 0
    /// When writes last resumed: a disk that fills again soon after is probed less often.
    private var healedMs: Int64?

    static let probeDelayMinMs: Int64 = 1_000
    static let probeDelayMaxMs: Int64 = 30_000

    var acceptsWrites: Bool { state == .healthy }

    /// The error a refused write completes with (also what HTTP answers).
    var refusal: HTTPError? {
        guard state != .healthy else { return nil }
        let seconds = state == .full ? max(1, probeDelayMs / 1000) : 10
        var error = HTTPError(.storageUnavailable, detail: state == .full
            ? "the node's disk is full; it takes no writes until there is room (nothing of this request was kept)"
            : "the node's storage failed; it is restarting (nothing of this request was kept)",
            headers: HTTPHeaders([("Retry-After", "\(seconds)")]))
        error.problem.extensions = [("reason", .string(state.rawValue))]
        return error
    }

    /// A write failed: returns the new state when the failure changed it (log it then, once).
    func writeFailed(_ error: any Error, nowMs: Int64) -> State? {
        guard let storage = error as? StorageError, storage.code == .io, state != .failed else { return nil }
        let next: State = storage.isDiskFull ? .full : .failed
        reason = storage.message
        if next == .full {
            // A probe that let writes through, and they filled the disk again at once: back off.
            if let healed = healedMs, nowMs - healed < 60_000 { probeDelayMs = min(Self.probeDelayMaxMs, probeDelayMs * 2) } else if state == .healthy {
                probeDelayMs = Self.probeDelayMinMs
            }
            nextProbeMs = nowMs + probeDelayMs
        }
        guard next != state else { return nil }
        state = next
        sinceMs = nowMs
        return next
    }

    func isProbeDue(nowMs: Int64) -> Bool { state == .full && nowMs >= nextProbeMs }

    /// The outcome of a probe write: true when writes resume.
    func probed(_ error: (any Error)?, nowMs: Int64) -> Bool {
        probes += 1
        if let error {
            if (error as? StorageError)?.isStorageFault == true {
                state = .failed
                reason = (error as? StorageError)?.message ?? "\(error)"
                return false
            }
            probeDelayMs = min(Self.probeDelayMaxMs, probeDelayMs * 2)
            nextProbeMs = nowMs + probeDelayMs
            return false
        }
        state = .healthy
        reason = ""
        healedMs = nowMs
        return true
    }
}

/// A storage failure that escapes a route reads as the 503 it is, not as a 500.
extension StorageError: ProblemConvertible {
    public var httpError: HTTPError {
        if code == .busy {
            var error = HTTPError(.storageUnavailable, detail: "the node's database is held by another process; nothing of this request was kept",
                                  headers: HTTPHeaders([("Retry-After", "1")]))
            error.problem.extensions = [("reason", .string("busy"))]
            return error
        }
        guard code == .io else { return HTTPError(.internalError, detail: "the node failed; see its log") }
        var error = HTTPError(.storageUnavailable, detail: isDiskFull ? "the node's disk is full; nothing of this request was kept"
                                                                      : "the node's storage failed; nothing of this request was kept",
                              headers: HTTPHeaders([("Retry-After", "1")]))
        error.problem.extensions = [("reason", .string(isDiskFull ? StorageHealth.State.full.rawValue : StorageHealth.State.failed.rawValue))]
        return error
    }
}
