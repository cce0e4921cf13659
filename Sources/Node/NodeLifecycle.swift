import Platform

/// Where the node is in its life (starting, serving, draining, stopped) and what it holds for
/// it: the data directory's lock, the signal watchers, the tick, the addresses it serves on.
final class NodeLifecycle {
    let startedAtMs: Int64
    let startedNs: UInt64
    /// Held from start to exit: a second noded on the same data directory refuses to start.
    let lock: FileLock
    let schemaVersion: Int
    /// Starts recorded on this data directory, this one included once committed.
    var starts: Int
    var signals: [SignalWatcher] = []
    /// Every 100 ms: writes replicated states behind the op log, probes a full disk, and runs
    /// the background jobs (expired reservations, follow-ups, settlement, checkpoints).
    var ticker: LoopTimer?
    var baseURLs: [String] = []
    /// True while the node takes traffic: database open and migrated, not draining.
    var isReady = false
    var isStopping = false
    /// Something the stop meant to write failed: the exit status says so.
    var stopFailed = false
    /// The disk: whether the node takes writes, or stops (docs/operations.md).
    let storage = StorageHealth()
    /// Test-only faults (`OUTPOST_TEST_FAULT`), read once at start.
    let faults = TestFaults()
    /// The service manager, under systemd (`Type=notify`): told when the node is ready and
    /// stopping, and petted from the loop while `WatchdogSec=` is set.
    let serviceManager = ServiceNotifier()
    var watchdog: LoopTimer?
    /// The continuous archive and fulls, when `[backup]` is configured (docs/backups.md).
    var backup: BackupService?

    /// A node started on a restored data directory catches up with its peers before it writes.
    let restore: RestoreCatchUp

    init(startedAtMs: Int64, startedNs: UInt64, lock: FileLock, schemaVersion: Int, starts: Int, dataDirectory: String) {
        restore = RestoreCatchUp(dataDirectory: dataDirectory)
        self.startedAtMs = startedAtMs
        self.startedNs = startedNs
        self.lock = lock
        self.schemaVersion = schemaVersion
        self.starts = starts
    }

    var uptimeSeconds: Int64 { Int64((EventLoop.hrtimeNs() - startedNs) / 1_000_000_000) }
}
