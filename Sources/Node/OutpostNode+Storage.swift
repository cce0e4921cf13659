import Platform

/// Checkouts and till sales whose answer never reached the disk (a crash, or a refused
/// commit), released as soon as it takes writes again.
struct UnansweredSales {
    /// Some may be waiting: look at the next tick.
    var pending = false
    var running = false
    var nextTryMs: Int64 = 0
    var delayMs: Int64 = 1_000
}

extension OutpostNode {
    /// sysexits' EX_IOERR: the supervisor restarts the node, and its start recovers from the
    /// WAL on disk (docs/operations.md).
    static let storageFailedExitCode: Int32 = 74

    /// A write the disk refused: a full disk stops writes until a probe commits; any other
    /// failure (an I/O error, a failed fsync) stops the node.
    func storageWriteFailed(_ error: any Error, what: String) {
        let nowMs = WallClock.nowMs()
        guard let changed = life.storage.writeFailed(error, nowMs: nowMs) else {
            if life.storage.acceptsWrites { logger.error("\(what) failed", metadata: ["error": "\(error)"]) }
            return
        }
        switch changed {
        case .full:
            logger.critical("the disk is full: the node takes no writes and answers 503 storage-unavailable until there is room; reads go on",
                            metadata: ["error": "\(error)", "while": "\(what)", "data_dir": "\(dataDirectory)"])
        case .failed:
            logger.critical("the storage failed: the node stops without writing anything more, and its next start recovers from the disk",
                            metadata: ["error": "\(error)", "while": "\(what)", "data_dir": "\(dataDirectory)", "exit_code": "\(Self.storageFailedExitCode)"])
            stop()
        case .healthy:
            break
        }
    }

    /// While the disk is full: one small write, at growing intervals (1 s to 30 s). Committed,
    /// writes resume; the log says so once.
    func probeStorage(nowMs: Int64) {
        guard !database.isInTransaction else { return }
        var failure: (any Error)?
        do {
            _ = try database.transaction(.immediate) {
                try meta.set(.storageProbe, WallClock.iso8601(ms: nowMs))
            }
        } catch {
            failure = error
        }
        let downMs = nowMs - life.storage.sinceMs
        if life.storage.probed(failure, nowMs: nowMs) {
            logger.notice("the disk takes writes again: the node is ready", metadata: ["unwritable_ms": "\(downMs)"])
            shop.unansweredSales.pending = true
        } else if life.storage.state == .failed {
            logger.critical("the storage failed while the disk was full: the node stops without writing anything more",
                            metadata: ["error": "\(failure.map { "\($0)" } ?? "")", "exit_code": "\(Self.storageFailedExitCode)"])
            stop()
        }
    }

    /// Called on the tick while the disk takes writes: releases checkouts and till sales left
    /// without an answer, trying again later (doubling, at most 30 s) if one cannot be yet.
    func settleUnansweredSales() {
        let nowMs = WallClock.nowMs()
        guard shop.unansweredSales.pending, !shop.unansweredSales.running, nowMs >= shop.unansweredSales.nextTryMs else { return }
        shop.unansweredSales.running = true
        shop.unansweredSales.pending = false
        releaseUnansweredSales { [unowned self] released in
            shop.unansweredSales.running = false
            if released {
                shop.unansweredSales.delayMs = 1_000
            } else {
                shop.unansweredSales.pending = true
                shop.unansweredSales.nextTryMs = WallClock.nowMs() + shop.unansweredSales.delayMs
                shop.unansweredSales.delayMs = min(30_000, shop.unansweredSales.delayMs * 2)
            }
        }
    }
}
