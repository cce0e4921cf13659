import HTTP
import Logging
import Platform
import Replication

/// What `GET /admin/v1/backups` and `nodectl backup status` show.
public struct BackupStatusReport: Codable, Sendable {
    public var enabled: Bool
    public var directory: String?
    public var chain: String?
    /// Changes committed in this chain, and how many of them are on the backup disk.
    public var committedSeq: UInt64
    public var archivedSeq: UInt64
    /// When the newest archived change was committed.
    public var archivedAt: String?
    public var pendingBytes: Int
    public var fullRunning: Bool
    public var lastFull: String?
    public var lastFullAt: String?
    public var lastFullBytes: Int64?
    public var lastError: String?
    /// Bytes of the backups the hub does not hold yet; nil without a link to the hub.
    public var hubBehindBytes: Int64?
}

/// A node's backups while it runs (docs/backups.md): a continuous archive of every committed
/// change, and full snapshots at start and every `full_interval_hours`, into
/// `<backup.directory>/<node id>/`.
///
/// The archive: each commit's changeset (ChangeCapture) is numbered in this run's chain and
/// buffered; every `flushIntervalMs` the buffer is written as one record of the open archive
/// file and synced, so at most that long of acknowledged writes is lost with the node's disk.
/// A full: `VACUUM INTO` a snapshot on a read connection off the loop (readers never block
/// the writer in WAL mode), then the snapshot and the data directory's keys into one file.
///
/// File work runs on the loop's work queue, in two lanes that never wait for each other (a full
/// of a large database must not hold the archive back): the archive's jobs one after another,
/// the fulls' one after another. The buffer is bounded: a backup disk gone for longer than it
/// holds breaks the chain, and the node starts a new one with a full once the disk is back.
final class BackupService {
    static let flushIntervalMs: UInt64 = 500
    static let pendingBytesMax = 64 << 20
    static let archiveFileMs: Int64 = 3_600_000
    static let databaseChunkBytes = 4 << 20

    let settings: NodeConfig.BackupSettings
    let directory: String
    private let key: [UInt8]
    private let loop: EventLoop
    private let logger: Logger
    private let dataDirectory: String
    private let header: (node: String, region: String, role: String, schemaVersion: Int)
    private var timer: LoopTimer?
    private var capture: ChangeCapture?

    private(set) var chain = BackupService.newChain()
    private(set) var seq: UInt64 = 0
    private var lastMs: Int64 = 0
    private var pending = PendingChanges()
    private(set) var archivedSeq: UInt64 = 0
    private(set) var archivedMs: Int64 = 0
    /// The open archive file, handed to each archive job and back.
    private var archive: BackupFileWriter?
    private var archiveOpenedMs: Int64 = 0
    private var archiveJobRunning = false
    private(set) var fullRunning = false
    private var lastFullStartedMs: Int64 = 0
    private(set) var lastFull: (name: String, completedMs: Int64, bytes: Int64)?
    private(set) var lastError: String?
    /// Set when the chain lost changes: the next full starts a new chain.
    private var chainBroken = false

    init(settings: NodeConfig.BackupSettings, dataDirectory: String, node: String, region: String, role: String, schemaVersion: Int,
         loop: EventLoop, logger: Logger) throws(BackupError) {
        guard let root = settings.directory, let keyFile = settings.keyFile else { throw BackupError("backups need a directory and a key file") }
        self.settings = settings
        directory = root + "/" + node
        key = try BackupKey.load(keyFile)
        self.loop = loop
        self.logger = logger
        self.dataDirectory = dataDirectory
        header = (node, region, role, schemaVersion)
        do { try Files.createDirectory(directory, mode: 0o700) } catch {
            throw BackupError("cannot use the backup directory \(directory): \(error)")
        }
    }

    static func newChain() -> String { Hex.encode(SecureRandom.bytes(8)) }

    /// Starts capturing commits on `database` and takes the chain's first full.
    func start(capturing database: Database) throws {
        capture = try database.captureChanges { [unowned self] changeset in self.committed(changeset) }
        database.changeCaptureFailed = { [unowned self] error in self.breakChain("a commit could not be captured: \(error)") }
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMs: Self.flushIntervalMs, repeatMs: Self.flushIntervalMs) { [unowned self] in self.tick() }
        self.timer = timer
        startFull()
    }

    /// Writes what is buffered and seals the archive file (at a clean stop), on this thread.
    func stop(database: Database) {
        timer?.close()
        timer = nil
        database.stopCapturingChanges()
        capture = nil
        guard !archiveJobRunning else { return }  // its job owns the file; the next start begins a new chain
        let taken = pending.take()
        _ = archiveJob(taken.records, afterSeq: taken.first - 1, sealAfter: true)()
    }

    private func committed(_ changeset: [UInt8]) {
        seq += 1
        lastMs = max(lastMs, WallClock.nowMs())  // never backwards within a chain: restores go by time
        pending.add(BackupRecord.Change(seq: seq, ms: lastMs, changeset: changeset))
        if pending.bytes > Self.pendingBytesMax { breakChain("the backup disk took no writes while \(Self.pendingBytesMax >> 20) MiB of changes waited") }
    }

    private func breakChain(_ why: String) {
        guard !chainBroken else { return }
        chainBroken = true
        pending.reset(after: seq)
        lastError = why
        logger.error("backup: the archive has a gap; a full backup starts a new chain when it can", metadata: ["reason": "\(why)"])
    }

    private func tick() {
        let now = WallClock.nowMs()
        if !archiveJobRunning && !pending.isEmpty { flush() }
        if !fullRunning && (chainBroken || now - lastFullStartedMs >= settings.fullIntervalMs) { startFull() }
    }

    // MARK: The archive

    /// What an archive job hands back to the loop: the file to append to next (nil once sealed
    /// or after a failure), or why it failed.
    private struct ArchiveWritten: Sendable {
        var file: BackupFileWriter?
        var error: String?
    }

    private func flush() {
        archiveJobRunning = true
        let taken = pending.take(), throughMs = lastMs, chainAtStart = chain
        let job = archiveJob(taken.records, afterSeq: taken.first - 1, sealAfter: WallClock.nowMs() - archiveOpenedMs >= Self.archiveFileMs)
        loop.queueWork(job, completion: { [unowned self] result in
            self.archiveJobRunning = false
            guard self.chain == chainAtStart else { return }  // a new chain began meanwhile
            let written = (try? result.get()) ?? ArchiveWritten(file: nil, error: "the archive job was cancelled")
            self.archive = written.file
            if let error = written.error {
                // The file may end in part of a record: the changes go again, into a new file.
                self.pending.putBack(taken)
                self.lastError = error
                self.logger.warning("backup: archive write failed; retrying", metadata: ["error": "\(error)"])
            } else {
                self.archivedSeq = taken.through
                self.archivedMs = throughMs
                self.ship()
            }
        })
    }

    /// A job that appends `records` to the archive file (opening one if there is none) and syncs
    /// it. The job touches nothing of the service's.
    private func archiveJob(_ records: [[UInt8]], afterSeq: UInt64, sealAfter: Bool) -> @Sendable () -> ArchiveWritten {
        let open = archive
        archive = nil
        if open == nil { archiveOpenedMs = WallClock.nowMs() }
        let path = directory + "/" + BackupCatalog.archiveName(createdMs: archiveOpenedMs, chain: chain, afterSeq: afterSeq)
        let headerBytes = headerJSON(kind: BackupHeader.archiveKind, createdMs: archiveOpenedMs, afterSeq: afterSeq)
        let key = self.key
        return {
            do {
                let file = try open ?? BackupFileWriter(path: path, header: headerBytes, masterKey: key)
                for record in records { try file.append(record) }
                try file.sync()
                if sealAfter { try file.seal() }
                return ArchiveWritten(file: sealAfter ? nil : file, error: nil)
            } catch {
                return ArchiveWritten(file: nil, error: "\(error)")
            }
        }
    }

    private func headerJSON(kind: String, createdMs: Int64, afterSeq: UInt64) -> [UInt8] {
        let header = BackupHeader(kind: kind, node: self.header.node, region: self.header.region, role: self.header.role, chain: chain,
                                  schemaVersion: self.header.schemaVersion, createdAt: WallClock.iso8601(ms: createdMs), createdMs: createdMs,
                                  afterSeq: afterSeq)
        return (try? JSONCoding.encode(header)) ?? []
    }

    // MARK: Shipping to the hub

    /// What this node knows of the hub's copy: sizes it acknowledged, bytes sent past them.
    private struct HubCopy {
        weak var link: SyncLink?
        var sizes: [String: UInt64]
        var sent: [String: UInt64] = [:]
        var reading = false
    }

    private var hub: HubCopy?
    static let shipWindowBytes: UInt64 = 4 << 20

    /// The hub said what it holds of this node's backups (on each link up).
    func hubHolds(_ files: [BackupFileSize], link: SyncLink) {
        guard settings.shipsToHub else { return }
        hub = HubCopy(link: link, sizes: Dictionary(files.map { ($0.name, $0.size) }, uniquingKeysWith: max))
        ship()
    }

    func hubAcknowledged(_ file: String, size: UInt64) {
        guard var copy = hub else { return }
        copy.sizes[file] = size
        // Less than was sent: the hub refused (full disk, out of order); go again from its size.
        if let sent = copy.sent[file], size < sent { copy.sent[file] = size }
        hub = copy
        ship()
    }

    func hubLinkLost(_ link: SyncLink) {
        if hub?.link === link || hub?.link == nil { hub = nil }
    }

    /// Bytes of this node's backups the hub does not hold yet (nil: no link to the hub).
    var hubBehindBytes: Int64? {
        guard let copy = hub else { return nil }
        return localFiles().reduce(0) { $0 + max(0, $1.size - Int64(copy.sizes[$1.name] ?? 0)) }
    }

    private func localFiles() -> [(name: String, size: Int64)] {
        // The archive first: it is what the hub must have within a second.
        ((try? Files.list(directory)) ?? []).filter(BackupFileSize.isValidName)
            .sorted { ($0.hasPrefix("full-") ? 1 : 0, $0) < ($1.hasPrefix("full-") ? 1 : 0, $1) }
            .map { ($0, Files.size(directory + "/" + $0)) }
    }

    /// Sends the next piece the hub lacks, while less than the window is unacknowledged.
    private func ship() {
        guard var copy = hub, !copy.reading, let link = copy.link, link.isActive else { return }
        let inFlight = copy.sent.reduce(UInt64(0)) { $0 + ($1.value - min($1.value, copy.sizes[$1.key] ?? 0)) }
        guard inFlight < Self.shipWindowBytes else { return }
        for file in localFiles() {
            let from = max(copy.sent[file.name] ?? 0, copy.sizes[file.name] ?? 0)
            guard UInt64(file.size) > from else { continue }
            let length = Int(min(UInt64(BackupFileSize.appendBytesMax), UInt64(file.size) - from))
            let path = directory + "/" + file.name
            copy.reading = true
            copy.sent[file.name] = from + UInt64(length)
            hub = copy
            loop.queueWork({ (try? Files.readRange(path, offset: Int(from), length: length)) ?? [] }, completion: { [weak self, weak link] result in
                guard let self, self.hub != nil else { return }
                self.hub?.reading = false
                let data = (try? result.get()) ?? []
                guard let link, link.isActive, data.count == length else {
                    self.hub?.sent[file.name] = from  // send it again
                    return
                }
                link.perform([.send(.backupAppend(file: file.name, offset: from, data: data))])
                link.flush()
                self.ship()
            })
            return
        }
    }

    // MARK: Fulls

    /// Starts a full backup now, unless one is running. Returns whether one started.
    @discardableResult
    func startFull() -> Bool {
        guard !fullRunning else { return false }
        fullRunning = true
        let now = WallClock.nowMs()
        lastFullStartedMs = now
        if chainBroken {
            // A new chain: its first record comes after this snapshot's start.
            chainBroken = false
            chain = Self.newChain()
            seq = 0
            archivedSeq = 0
            pending.reset(after: 0)
            archive = nil  // a job that still holds the old file seals nothing more into this chain
        }
        let afterSeq = seq
        let name = BackupCatalog.fullName(createdMs: now, chain: chain)
        let path = directory + "/" + name, partial = path + BackupCatalog.partialSuffix
        let snapshot = dataDirectory + "/spool/backup-snapshot.sqlite"
        let database = dataDirectory + "/" + OutpostNode.databaseFile
        let headerBytes = headerJSON(kind: BackupHeader.fullKind, createdMs: now, afterSeq: afterSeq)
        let key = self.key, dataDirectory = self.dataDirectory
        loop.queueWork({ () -> Result<BackupFileWriter, BackupError> in
            Result { () throws(BackupError) -> BackupFileWriter in
                try Self.writeSnapshot(of: database, through: snapshot, into: partial, header: headerBytes, key: key, dataDirectory: dataDirectory)
            }
        }, completion: { [unowned self] result in
            switch result {
            case .success(.success(let writer)):
                self.finishFull(writer, name: name, path: path, snapshot: snapshot)
            case .success(.failure(let error)):
                self.fullFailed("\(error)")
            case .failure(let error):
                self.fullFailed("\(error)")
            }
        })
        return true
    }

    /// The snapshot is complete: every change numbered up to now may be in it. Seal the file
    /// with that, then move it into place.
    private func finishFull(_ writer: BackupFileWriter, name: String, path: String, snapshot: String) {
        let completedMs = WallClock.nowMs()
        let end = BackupFullEnd(throughSeq: seq, completedMs: completedMs, completedAt: WallClock.iso8601(ms: completedMs),
                                databaseBytes: Files.size(snapshot), files: Self.keptFiles(dataDirectory))
        let endBytes = (try? JSONCoding.encode(end)) ?? []
        let directory = self.directory, retention = settings.retentionMs
        loop.queueWork({ () -> String? in
            do { try Self.seal(writer, end: endBytes, as: path, snapshot: snapshot) } catch { return "\(error)" }
            // Old backups go once a newer full is safely in place.
            if let catalog = try? BackupCatalog.read(directory) {
                for expired in catalog.expired(nowMs: completedMs, retentionMs: retention) { Files.remove(expired.path) }
            }
            return nil
        }, completion: { [unowned self] result in
            if case .success(let error?) = result { return self.fullFailed(error) }
            self.fullRunning = false
            self.lastFull = (name, completedMs, Files.size(path))
            self.ship()
            self.logger.info("backup: full backup written", metadata: ["file": "\(path)", "bytes": "\(Files.size(path))", "chain": "\(self.chain)"])
        })
    }

    /// A full's body, blocking: the snapshot, then the data directory's small files and the
    /// snapshot into a new `.partial` file. Nothing is left behind if it fails.
    static func writeSnapshot(of database: String, through snapshotPath: String, into partial: String, header: [UInt8], key: [UInt8],
                              dataDirectory: String) throws(BackupError) -> BackupFileWriter {
        let snapshot = snapshotPath
        try Self.snapshot(database, into: snapshot)
        do {
            let writer = try BackupFileWriter(path: partial, header: header, masterKey: key)
            for file in keptFiles(dataDirectory) {
                guard let bytes = try? Files.readBytes(dataDirectory + "/" + file) else { continue }
                try writer.append(BackupRecord.file(name: file, mode: Files.permissions(dataDirectory + "/" + file) ?? 0o600, bytes: bytes))
            }
            try Files.readChunks(snapshot, chunkBytes: databaseChunkBytes) { chunk in
                try writer.append([BackupRecord.database] + chunk)
                return true
            }
            return writer
        } catch {
            Files.remove(partial)
            Files.remove(snapshot)
            throw BackupError("cannot write \(partial): \(error)")
        }
    }

    /// A full's end: its last record, the seal, the rename into place. Blocking.
    static func seal(_ writer: BackupFileWriter, end: [UInt8], as path: String, snapshot: String) throws(BackupError) {
        defer { Files.remove(snapshot) }
        do {
            try writer.append([BackupRecord.end] + end)
            try writer.seal()
            try Files.syncAndRename(writer.path, to: path)
        } catch {
            Files.remove(writer.path)
            throw BackupError("cannot finish \(path): \(error)")
        }
    }

    /// A full taken now, blocking, outside any chain: before migrations an older release
    /// cannot run on (OutpostNode.backUpBeforeMigrating). Returns its file name.
    static func takeFullNow(settings: NodeConfig.BackupSettings, dataDirectory: String, node: String, region: String, role: String,
                            schemaVersion: Int) throws(BackupError) -> String {
        guard let root = settings.directory, let keyFile = settings.keyFile else { throw BackupError("backups need a directory and a key file") }
        let key = try BackupKey.load(keyFile)
        let directory = root + "/" + node
        do {
            try Files.createDirectory(directory, mode: 0o700)
            try Files.createDirectory(dataDirectory + "/spool", mode: 0o700)
        } catch { throw BackupError("cannot use the backup directory \(directory): \(error)") }
        let now = WallClock.nowMs(), chain = newChain()
        let header = BackupHeader(kind: BackupHeader.fullKind, node: node, region: region, role: role, chain: chain, schemaVersion: schemaVersion,
                                  createdAt: WallClock.iso8601(ms: now), createdMs: now, afterSeq: 0)
        let name = BackupCatalog.fullName(createdMs: now, chain: chain)
        let path = directory + "/" + name, snapshot = dataDirectory + "/spool/backup-snapshot.sqlite"
        let writer = try writeSnapshot(of: dataDirectory + "/" + OutpostNode.databaseFile, through: snapshot, into: path + BackupCatalog.partialSuffix,
                                       header: (try? JSONCoding.encode(header)) ?? [], key: key, dataDirectory: dataDirectory)
        let completed = WallClock.nowMs()
        let end = BackupFullEnd(throughSeq: 0, completedMs: completed, completedAt: WallClock.iso8601(ms: completed),
                                databaseBytes: Files.size(snapshot), files: keptFiles(dataDirectory))
        try seal(writer, end: (try? JSONCoding.encode(end)) ?? [], as: path, snapshot: snapshot)
        return name
    }

    private func fullFailed(_ error: String) {
        fullRunning = false
        lastError = error
        logger.error("backup: full backup failed", metadata: ["error": "\(error)"])
    }

    /// A consistent copy of the database as of one read transaction, on this (pool) thread.
    static func snapshot(_ database: String, into path: String) throws(BackupError) {
        Files.remove(path)
        do {
            let reader = try Database(path: database, options: .init(readOnly: true, statementCacheMax: 1))
            defer { reader.close() }
            _ = try reader.execute("VACUUM INTO ?", [path])
        } catch {
            Files.remove(path)
            throw BackupError("cannot snapshot the database: \(error)")
        }
    }

    /// The small files of the data directory a rebuilt node needs besides its database: its
    /// keys, token, certificates. Not the lock, the addresses of a running process, or spools.
    static func keptFiles(_ dataDirectory: String) -> [String] {
        let skipped: Set<String> = [OutpostNode.lockFile, NodeIdentity.addressFile, NodeIdentity.syncAddressFile]
        return ((try? Files.list(dataDirectory)) ?? []).filter { name in
            !skipped.contains(name) && !name.hasPrefix(OutpostNode.databaseFile) && !name.hasSuffix(".tmp")
                && !Files.isDirectory(dataDirectory + "/" + name) && Files.size(dataDirectory + "/" + name) < 1 << 20
        }.sorted()
    }

    func status() -> BackupStatusReport {
        BackupStatusReport(
            enabled: true, directory: directory, chain: chain, committedSeq: seq, archivedSeq: archivedSeq,
            archivedAt: archivedMs > 0 ? WallClock.iso8601(ms: archivedMs) : nil, pendingBytes: pending.bytes, fullRunning: fullRunning,
            lastFull: lastFull?.name, lastFullAt: lastFull.map { WallClock.iso8601(ms: $0.completedMs) }, lastFullBytes: lastFull?.bytes,
            lastError: lastError, hubBehindBytes: hubBehindBytes)
    }
}

/// Changes committed and not yet handed to an archive job, already cut into archive records of
/// at most `recordBytesMax` (a file's record holds at most 8 MiB): whole changes in "C" records,
/// and a change larger than that (a catalog import's commit) over "P" records of its own.
struct PendingChanges {
    static let recordBytesMax = 4 << 20
    private var records: [[UInt8]] = []
    private var current: [UInt8] = [BackupRecord.changes]
    private(set) var bytes = 0
    /// The first change pending, and the last.
    private(set) var first: UInt64 = 1
    private(set) var through: UInt64 = 0

    var isEmpty: Bool { records.isEmpty && current.count == 1 }

    mutating func add(_ change: BackupRecord.Change) {
        let size = 20 + change.changeset.count
        if size > Self.recordBytesMax {
            closeCurrent()
            records += BackupRecord.parts(change, pieceBytes: Self.recordBytesMax)
        } else {
            if current.count + size > Self.recordBytesMax { closeCurrent() }
            BackupRecord.encode(change, into: &current)
        }
        through = change.seq
        bytes += size
    }

    private mutating func closeCurrent() {
        guard current.count > 1 else { return }
        records.append(current)
        current = [BackupRecord.changes]
    }

    /// Everything pending, as records; the buffer starts again after it.
    mutating func take() -> (records: [[UInt8]], first: UInt64, through: UInt64) {
        closeCurrent()
        let taken = (records, first, through)
        reset(after: through)
        return taken
    }

    /// What a failed job took goes back in front of what came since.
    mutating func putBack(_ taken: (records: [[UInt8]], first: UInt64, through: UInt64)) {
        closeCurrent()
        records = taken.records + records
        bytes += taken.records.reduce(0) { $0 + $1.count }
        first = taken.first
        through = max(through, taken.through)
    }

    mutating func reset(after seq: UInt64) {
        records = []
        current = [BackupRecord.changes]
        bytes = 0
        first = seq + 1
        through = seq
    }
}
