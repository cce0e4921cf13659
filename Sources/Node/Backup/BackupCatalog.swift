import Glibc
import HTTP
import Platform

/// The operator's backup key: 32 random bytes as 64 hex digits in a file kept apart from the
/// backups (docs/backups.md, "The key"). Every backup file's own key is derived from it.
public enum BackupKey {
    /// Reads and checks a key file: 64 hex digits, readable by its owner only.
    public static func load(_ path: String) throws(BackupError) -> [UInt8] {
        guard let text = try? Files.readString(path) else { throw BackupError("cannot read the backup key \(path)") }
        guard let mode = Files.permissions(path), mode & 0o077 == 0 else {
            throw BackupError("the backup key \(path) is readable by others: chmod 600 it")
        }
        guard let key = Hex.decode(text.filter { !$0.isWhitespace }), key.count == SealedBox.keyBytes else {
            throw BackupError("the backup key \(path) is not 64 hex digits")
        }
        return key
    }

    /// A new key file (mode 0600); refuses to overwrite one.
    public static func create(_ path: String) throws(BackupError) {
        guard !Files.exists(path) else { throw BackupError("\(path) exists: a backup key is never overwritten (the backups made with it would be lost)") }
        do { try Files.writeAtomically(path, Hex.encode(SecureRandom.bytes(SealedBox.keyBytes)) + "\n", mode: 0o600) } catch {
            throw BackupError("cannot write \(path): \(error)")
        }
    }
}

/// A backup failure, said in one sentence.
public struct BackupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The clear header of a backup file (BackupFile): what it is, whose, and where it sits in its
/// chain. A chain is one run of the node's archive: its records are numbered 1, 2, 3… without
/// gaps, and every full backup names the last record committed before its snapshot began.
public struct BackupHeader: Codable, Sendable, Equatable {
    public static let fullKind = "full"
    public static let archiveKind = "archive"

    public var format = 1
    public var kind: String
    public var node: String
    public var region: String
    public var role: String
    public var chain: String
    public var schemaVersion: Int
    public var createdAt: String
    public var createdMs: Int64
    /// full: the chain's last record committed before the snapshot began; archive: the record
    /// before this file's first.
    public var afterSeq: UInt64
}

/// The last record of a full backup: how far its snapshot may reach into the chain.
public struct BackupFullEnd: Codable, Sendable {
    /// The chain's last record committed when the snapshot was complete: the snapshot holds
    /// every record up to `afterSeq` and none past this one.
    public var throughSeq: UInt64
    public var completedMs: Int64
    public var completedAt: String
    public var databaseBytes: Int64
    public var files: [String]
}

/// The content of a backup file's data records: each starts with a tag byte.
enum BackupRecord {
    static let file: UInt8 = 0x46       // "F": u16 name length, name, u32 mode, bytes
    static let database: UInt8 = 0x44   // "D": a piece of the database file
    static let end: UInt8 = 0x45        // "E": BackupFullEnd as JSON
    static let changes: UInt8 = 0x43    // "C": (u64 seq, u64 ms, u32 length, changeset)*
    static let part: UInt8 = 0x50       // "P": u64 seq, u64 ms, u32 total length, u32 offset, a piece of one large changeset

    /// One committed changeset as the archive keeps it.
    struct Change {
        var seq: UInt64
        var ms: Int64
        var changeset: [UInt8]
    }

    static func encode(_ change: Change, into out: inout [UInt8]) {
        out += BackupFile.u64(change.seq) + BackupFile.u64(UInt64(bitPattern: change.ms)) + BackupFile.u32(change.changeset.count)
        out += change.changeset
    }

    /// The changes of a "C" record, or nil if it is not one.
    static func changes(_ record: [UInt8]) -> [Change]? {
        guard record.first == changes else { return nil }
        var changes: [Change] = []
        var offset = 1
        while offset < record.count {
            guard record.count - offset >= 20 else { return nil }
            let seq = BackupFile.readU64(record[offset...]), ms = Int64(bitPattern: BackupFile.readU64(record[(offset + 8)...]))
            let length = record[(offset + 16)..<(offset + 20)].reduce(0) { $0 << 8 | Int($1) }
            offset += 20
            guard record.count - offset >= length else { return nil }
            changes.append(Change(seq: seq, ms: ms, changeset: Array(record[offset..<(offset + length)])))
            offset += length
        }
        return changes
    }

    /// A changeset too large for one record, in "P" records of at most `pieceBytes` each.
    static func parts(_ change: Change, pieceBytes: Int) -> [[UInt8]] {
        stride(from: 0, to: change.changeset.count, by: pieceBytes).map { offset in
            [part] + BackupFile.u64(change.seq) + BackupFile.u64(UInt64(bitPattern: change.ms)) + BackupFile.u32(change.changeset.count)
                + BackupFile.u32(offset) + change.changeset[offset..<min(offset + pieceBytes, change.changeset.count)]
        }
    }

    /// Reads the changes out of archive records in order, joining a change split over "P" records.
    struct ChangeReader {
        private var partial: (seq: UInt64, ms: Int64, total: Int, bytes: [UInt8])?

        /// The changes `record` completes; throws on a record of another kind, or parts out of order.
        mutating func changes(in record: [UInt8]) throws(BackupError) -> [Change] {
            if record.first == BackupRecord.part {
                guard record.count >= 25 else { throw BackupError("a part record is cut short") }
                let seq = BackupFile.readU64(record[1...]), ms = Int64(bitPattern: BackupFile.readU64(record[9...]))
                let total = record[17..<21].reduce(0) { $0 << 8 | Int($1) }, offset = record[21..<25].reduce(0) { $0 << 8 | Int($1) }
                var current = partial ?? (seq, ms, total, [])
                guard current.seq == seq, current.total == total, current.bytes.count == offset else { throw BackupError("the parts of change \(seq) are out of order") }
                current.bytes += record[25...]
                guard current.bytes.count < total else {
                    partial = nil
                    return [Change(seq: seq, ms: ms, changeset: current.bytes)]
                }
                partial = current
                return []
            }
            guard partial == nil else { throw BackupError("change \(partial?.seq ?? 0) ends without its last part") }
            guard let changes = BackupRecord.changes(record) else { throw BackupError("a record of an unknown kind") }
            return changes
        }
    }

    static func file(name: String, mode: mode_t, bytes: [UInt8]) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        return [file, UInt8(nameBytes.count >> 8), UInt8(nameBytes.count & 0xFF)] + nameBytes + BackupFile.u32(Int(mode)) + bytes
    }

    /// A "F" record's file, or nil. The name is a plain file name, never a path.
    static func parseFile(_ record: [UInt8]) -> (name: String, mode: mode_t, bytes: [UInt8])? {
        guard record.first == file, record.count >= 3 else { return nil }
        let length = Int(record[1]) << 8 | Int(record[2])
        guard record.count >= 3 + length + 4 else { return nil }
        let name = String(decoding: record[3..<(3 + length)], as: UTF8.self)
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { return nil }
        let mode = record[(3 + length)..<(7 + length)].reduce(0) { $0 << 8 | Int($1) }
        return (name, mode_t(mode & 0o777), Array(record[(7 + length)...]))
    }
}

/// The backup files of one node in a directory (`<backup directory>/<node id>/`), read from
/// their headers: what `nodectl backup list` shows and what a restore or a prune chooses from.
public struct BackupCatalog: Sendable {
    public struct Entry: Sendable {
        public var name: String
        public var path: String
        public var header: BackupHeader
        public var bytes: Int64
        /// When the file was last written (an archive file grows until it is sealed).
        public var modifiedMs: Int64
    }

    public let directory: String
    public let fulls: [Entry]
    public let archives: [Entry]
    /// Files that are not backups of this format, or half-written fulls.
    public let ignored: [String]

    static let fullPrefix = "full-"
    static let archivePrefix = "archive-"
    static let suffix = ".obk"
    static let partialSuffix = ".partial"

    static func fullName(createdMs: Int64, chain: String) -> String { "\(fullPrefix)\(createdMs)-\(chain)\(suffix)" }
    static func archiveName(createdMs: Int64, chain: String, afterSeq: UInt64) -> String { "\(archivePrefix)\(createdMs)-\(chain)-\(afterSeq)\(suffix)" }

    /// Reads every header in `directory`; a file whose header does not read is listed as ignored.
    public static func read(_ directory: String) throws(BackupError) -> BackupCatalog {
        guard Files.isDirectory(directory) else { throw BackupError("no backups in \(directory): it is not a directory") }
        let names = ((try? Files.list(directory)) ?? []).sorted()
        var fulls: [Entry] = [], archives: [Entry] = [], ignored: [String] = []
        for name in names {
            let path = directory + "/" + name
            guard name.hasSuffix(suffix), let bytes = try? BackupFileReader.header(of: path),
                  let header = try? JSONCoding.decode(BackupHeader.self, from: bytes), header.format == 1 else {
                ignored.append(name)
                continue
            }
            let entry = Entry(name: name, path: path, header: header, bytes: Files.size(path), modifiedMs: Files.modifiedMs(path))
            if header.kind == BackupHeader.fullKind && name.hasPrefix(fullPrefix) { fulls.append(entry) }
            else if header.kind == BackupHeader.archiveKind && name.hasPrefix(archivePrefix) { archives.append(entry) }
            else { ignored.append(name) }
        }
        return BackupCatalog(directory: directory, fulls: fulls.sorted { $0.header.createdMs < $1.header.createdMs },
                             archives: archives.sorted { ($0.header.createdMs, $0.header.afterSeq) < ($1.header.createdMs, $1.header.afterSeq) },
                             ignored: ignored)
    }

    /// The archive files of one chain, in order.
    public func archives(of chain: String) -> [Entry] {
        archives.filter { $0.header.chain == chain }.sorted { $0.header.afterSeq < $1.header.afterSeq }
    }

    /// Files older than `retentionMs` before `nowMs`, except the newest full and the archive
    /// files a kept full needs.
    public func expired(nowMs: Int64, retentionMs: Int64) -> [Entry] {
        let cutoff = nowMs - retentionMs
        let keptFulls = fulls.enumerated().filter { $0.element.header.createdMs >= cutoff || $0.offset == fulls.count - 1 }.map(\.element)
        let keptChains = Set(keptFulls.map(\.header.chain))
        let oldestKept = keptFulls.map(\.header.createdMs).min() ?? nowMs
        let expiredFulls = fulls.filter { full in !keptFulls.contains { $0.name == full.name } }
        // An archive file goes when its chain has no kept full and it was last written before
        // the oldest kept full: nothing can be restored from it alone.
        let expiredArchives = archives.filter { !keptChains.contains($0.header.chain) && $0.modifiedMs < oldestKept }
        return expiredFulls + expiredArchives
    }
}
