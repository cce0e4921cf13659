import Logging
import Platform
import Replication

/// The hub's copy of its peers' backups (docs/backups.md, "On the hub"): each store mirrors its
/// backup files here over its sync link, so a store whose disk and backup disk are both gone is
/// rebuilt from the hub's copy.
///
/// A peer's files go under `<stores directory>/<its node id>/`, the id its certificate names:
/// no peer writes anywhere else. An append lands only at the end of the file as the hub has it,
/// and is synced before the hub acknowledges the new size. Appends run one after another off the
/// loop; a peer has at most `appendsOpenMax` unanswered, and nothing is written while the disk
/// would keep less than `diskReserveBytes` free.
final class StoreBackupKeeper {
    static let appendsOpenMax = 8
    static let diskReserveBytes: Int64 = 1 << 30
    static let pruneIntervalMs: Int64 = 3_600_000

    let directory: String
    private let retentionMs: Int64
    private let loop: EventLoop
    private let logger: Logger
    private var jobs: [() -> Void] = []
    private var jobRunning = false
    private var lastPruneMs: Int64 = 0

    init(directory: String, retentionMs: Int64, loop: EventLoop, logger: Logger) {
        self.directory = directory
        self.retentionMs = retentionMs
        self.loop = loop
        self.logger = logger
    }

    private func folder(_ peer: String) -> String { directory + "/" + peer }

    /// A peer's link came up: tell it what the hub holds of its backups.
    func linkUp(_ link: SyncLink) {
        guard let peer = link.peerNodeId else { return }
        let names = ((try? Files.list(folder(peer))) ?? []).filter(BackupFileSize.isValidName).sorted().suffix(BackupFileSize.filesMax)
        let files = names.map { BackupFileSize(name: $0, size: UInt64(max(0, Files.size(folder(peer) + "/" + $0)))) }
        link.perform([.send(.backupState(Array(files)))])
        link.flush()
    }

    /// A peer sent bytes of one of its files.
    func append(from link: SyncLink, file: String, offset: UInt64, data: [UInt8]) {
        guard let peer = link.peerNodeId else { return }
        guard link.backupAppendsOpen < Self.appendsOpenMax else {
            return link.close(.tooManyRequests, "more than \(Self.appendsOpenMax) backup appends open")
        }
        link.backupAppendsOpen += 1
        let folder = folder(peer), path = folder + "/" + file
        enqueue(job: { () -> UInt64 in
            let size = UInt64(max(0, Files.size(path)))
            guard offset == size, !data.isEmpty, (try? Files.createDirectory(folder, mode: 0o700)) != nil,
                  Files.availableBytes(folder) - Int64(data.count) >= Self.diskReserveBytes else { return size }
            do {
                try Files.append(path, data)
                try Files.sync(path)
            } catch { return UInt64(max(0, Files.size(path))) }
            return size + UInt64(data.count)
        }, then: { [weak link] size in
            guard let link else { return }
            link.backupAppendsOpen -= 1
            guard !link.isClosed else { return }
            link.perform([.send(.backupAck(file: file, size: size))])
            link.flush()
        })
        pruneIfDue()
    }

    /// Runs file jobs one after another on the work queue, each answering on the loop.
    private func enqueue(job: @escaping @Sendable () -> UInt64, then: @escaping (UInt64) -> Void) {
        jobs.append { [unowned self] in
            self.loop.queueWork(job, completion: { [unowned self] result in
                then((try? result.get()) ?? 0)
                self.jobRunning = false
                self.runNext()
            })
        }
        runNext()
    }

    private func runNext() {
        guard !jobRunning, !jobs.isEmpty else { return }
        jobRunning = true
        jobs.removeFirst()()
    }

    /// Each peer's backups older than the retention go, except what a kept full needs.
    private func pruneIfDue() {
        let now = WallClock.nowMs()
        guard now - lastPruneMs >= Self.pruneIntervalMs else { return }
        lastPruneMs = now
        let directory = self.directory, retentionMs = self.retentionMs
        loop.queueWork({ () -> Int in
            var removed = 0
            for peer in (try? Files.list(directory)) ?? [] {
                guard let catalog = try? BackupCatalog.read(directory + "/" + peer) else { continue }
                for expired in catalog.expired(nowMs: now, retentionMs: retentionMs) {
                    Files.remove(expired.path)
                    removed += 1
                }
            }
            return removed
        }, completion: { [weak self] result in
            if let removed = try? result.get(), removed > 0 { self?.logger.info("backup: pruned stores' backups", metadata: ["files": "\(removed)"]) }
        })
    }
}
