import HTTP
import Platform

/// What a restore reached: `nodectl backup restore | verify` print it, a rebuilt node reports it.
public struct RestoreOutcome: Codable, Sendable {
    public var node: String
    public var full: String
    public var chain: String
    /// When the full's snapshot was complete, and when the last change replayed was committed.
    public var fullAt: String
    public var reachedAt: String
    public var reachedMs: Int64
    public var changesReplayed: Int
    /// Why the replay stopped before the archive's end, if it did (a gap, a cut-short file).
    public var stoppedEarly: String?
    public var databaseBytes: Int64
}

/// Restores a node's data directory from its backups (docs/backups.md, "Restore"): the newest
/// full whose snapshot was complete by the chosen time, then its chain's archived changes up to
/// that time. Blocking; for `nodectl`, with the node stopped.
public enum BackupRestore {
    static let changesPerTransaction = 5_000

    /// Restores into `destination`, which must not hold a node database. `atMs` nil: as far as
    /// the archive reaches. Nothing is left in `destination` if it fails.
    public static func restore(_ catalog: BackupCatalog, key: [UInt8], to destination: String, atMs: Int64?) throws(BackupError) -> RestoreOutcome {
        let target = atMs ?? Int64.max
        let database = destination + "/" + OutpostNode.databaseFile
        guard !Files.exists(database) else { throw BackupError("\(destination) holds a node database already: restore into an empty directory") }
        let candidates = catalog.fulls.filter { $0.header.createdMs <= target }.reversed()
        guard !candidates.isEmpty else {
            throw BackupError(catalog.fulls.isEmpty ? "no full backup in \(catalog.directory)"
                              : "no full backup in \(catalog.directory) was taken by then (the oldest: \(catalog.fulls[0].header.createdAt))")
        }
        do { try Files.createDirectory(destination, mode: 0o700) } catch { throw BackupError("cannot create \(destination): \(error)") }
        let restoring = database + ".restoring"
        for full in candidates {
            var written: [String] = []
            do {
                let end = try unpack(full, key: key, into: destination, database: restoring, written: &written)
                guard end.completedMs <= target else {
                    // Its snapshot may hold changes after the chosen time: an older full it is.
                    for name in written { Files.remove(destination + "/" + name) }
                    Files.remove(restoring)
                    continue
                }
                var outcome = try replay(catalog.archives(of: full.header.chain), onto: restoring, after: full.header.afterSeq,
                                         overwritingThrough: end.throughSeq, untilMs: target, key: key)
                outcome.node = full.header.node
                outcome.full = full.name
                outcome.chain = full.header.chain
                outcome.fullAt = end.completedAt
                if outcome.changesReplayed == 0 { outcome.reachedMs = end.completedMs; outcome.reachedAt = end.completedAt }
                try check(restoring)
                try Files.syncAndRename(restoring, to: database)
                outcome.databaseBytes = Files.size(database)
                // The node started here catches up with its peers before it writes (RestoreCatchUp).
                try Files.writeAtomically(destination + "/" + RestoreCatchUp.markerFile, try JSONCoding.encode(outcome), mode: 0o600)
                return outcome
            } catch {
                for name in written { Files.remove(destination + "/" + name) }
                for suffix in ["", "-wal", "-shm"] { Files.remove(restoring + suffix) }
                throw (error as? BackupError) ?? BackupError("\(error)")
            }
        }
        throw BackupError("no full backup in \(catalog.directory) was complete by then")
    }

    /// Writes a full's files and database; returns its end record.
    private static func unpack(_ full: BackupCatalog.Entry, key: [UInt8], into destination: String, database: String,
                               written: inout [String]) throws -> BackupFullEnd {
        let reader = try BackupFileReader(path: full.path, masterKey: key)
        var end: BackupFullEnd?
        Files.remove(database)
        while let record = try reader.next() {
            switch record.first {
            case BackupRecord.database:
                try Files.append(database, Array(record.dropFirst()))
            case BackupRecord.file:
                guard let file = BackupRecord.parseFile(record) else { throw BackupError("\(full.path): a file record does not read") }
                guard !Files.exists(destination + "/" + file.name) else { throw BackupError("\(destination)/\(file.name) exists: restore into an empty directory") }
                try Files.writeAtomically(destination + "/" + file.name, file.bytes, mode: file.mode)
                written.append(file.name)
            case BackupRecord.end:
                end = try JSONCoding.decode(BackupFullEnd.self, from: Array(record.dropFirst()))
            default:
                throw BackupError("\(full.path): a record of an unknown kind")
            }
        }
        guard reader.isSealed, let end else { throw BackupError("\(full.path) has no end: the full backup did not finish") }
        return end
    }

    /// Replays the chain's changes after `after`, in order, up to `untilMs`.
    private static func replay(_ archives: [BackupCatalog.Entry], onto path: String, after: UInt64, overwritingThrough: UInt64, untilMs: Int64,
                               key: [UInt8]) throws -> RestoreOutcome {
        let database = try Database(path: path, options: .init(synchronous: .off))
        defer { database.close() }
        var outcome = RestoreOutcome(node: "", full: "", chain: "", fullAt: "", reachedAt: "", reachedMs: 0, changesReplayed: 0, databaseBytes: 0)
        var expected = after + 1
        var inTransaction = 0
        var reader = BackupRecord.ChangeReader()
        try database.execute("BEGIN IMMEDIATE")
        files: for archive in archives {
            let file = try BackupFileReader(path: archive.path, masterKey: key)
            reader = BackupRecord.ChangeReader()  // a change never spans files
            while true {
                let record: [UInt8]
                do {
                    guard let next = try file.next() else { break }
                    record = next
                } catch BackupFileError.truncated {
                    outcome.stoppedEarly = "\(archive.name) ends in a record cut short (the node stopped while writing it)"
                    break files
                }
                let changes: [BackupRecord.Change]
                do { changes = try reader.changes(in: record) } catch { throw BackupError("\(archive.path): \(error)") }
                for change in changes where change.seq >= expected {
                    guard change.seq == expected else {
                        outcome.stoppedEarly = "change \(expected) of the chain is missing (a gap in the archive)"
                        break files
                    }
                    guard change.ms <= untilMs else { break files }
                    do {
                        try database.apply(changeset: change.changeset, conflicts: change.seq <= overwritingThrough ? .overwrite : .refuse)
                    } catch {
                        throw BackupError("change \(change.seq) of \(archive.name) does not apply to what came before it: \(error)")
                    }
                    expected += 1
                    outcome.changesReplayed += 1
                    outcome.reachedMs = change.ms
                    inTransaction += 1
                    if inTransaction >= changesPerTransaction {
                        try database.execute("COMMIT")
                        try database.execute("BEGIN IMMEDIATE")
                        inTransaction = 0
                    }
                }
            }
        }
        try database.execute("COMMIT")
        try database.checkpoint()
        outcome.reachedAt = WallClock.iso8601(ms: outcome.reachedMs)
        return outcome
    }

    /// SQLite's own checks of the restored file, and of the search index in it.
    private static func check(_ path: String) throws {
        let database = try Database(path: path)
        defer { database.close() }
        let problems = try database.integrityCheck()
        guard problems == ["ok"] else { throw BackupError("the restored database does not pass integrity_check: \(problems.prefix(3).joined(separator: "; "))") }
        do { try database.execute("INSERT INTO catalog_search(catalog_search) VALUES ('integrity-check')") } catch {
            throw BackupError("the restored search index does not match its rows: \(error)")
        }
        try database.checkpoint()
    }
}
