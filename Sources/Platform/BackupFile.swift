import Glibc

/// Why a backup file was refused. Nothing is restored from a file that does not verify.
public enum BackupFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case notABackup(String)
    case wrongKey(String)
    case altered(String, record: Int)
    case truncated(String, records: Int)
    case io(String)

    public var description: String {
        switch self {
        case .notABackup(let path): return "\(path) is not an Outpost backup file"
        case .wrongKey(let path): return "\(path) was encrypted with another backup key"
        case .altered(let path, let record): return "\(path) does not verify: record \(record) was altered or damaged"
        case .truncated(let path, let records): return "\(path) ends after \(records) records, before its seal: it was cut short"
        case .io(let why): return why
        }
    }
}

/// The on-disk format of a backup file (docs/backups.md, "Files"): compressed, encrypted and
/// authenticated record by record, so a file being appended to (the continuous archive) is
/// readable up to its last whole record, and a sealed file proves it is complete.
///
///     file    := magic (16) | salt (16) | key check (8) | u32 header length | header | record*
///     record  := u32 box length | SealedBox(zstd(payload))   context: SHA-256(prefix) | u64 index
///     payload := 0x01 data bytes | 0x02 seal: u64 data records | u64 data bytes | SHA-256 of data
///
/// The file's key is HKDF-SHA-256 of the operator's backup key and the salt; the key check (the
/// first 8 bytes of HMAC(file key, "key check")) tells a wrong key from damage. The header (the
/// caller's, JSON) is in the clear but bound to every record, like the record's position: no
/// record can be moved, dropped from the middle, or taken into another file.
public enum BackupFile {
    static let magic = Array("OUTPOST-BACKUP-1".utf8)
    static let saltBytes = 16
    static let keyCheckBytes = 8
    /// A record's payload as written: larger content is split by the caller.
    public static let payloadBytesMax = 8 << 20
    static let headerBytesMax = 64 << 10
    static let dataKind: UInt8 = 1
    static let sealKind: UInt8 = 2

    static func fileKey(_ masterKey: [UInt8], salt: [UInt8]) -> [UInt8] {
        // HKDF (RFC 5869) with one output block: extract, then expand with the info and 0x01.
        let pseudorandom = HMACSHA256.authenticate(masterKey, key: salt)
        return HMACSHA256.authenticate(Array("outpost backup file key".utf8) + [1], key: pseudorandom)
    }

    static func keyCheck(_ fileKey: [UInt8]) -> [UInt8] {
        Array(HMACSHA256.authenticate(Array("key check".utf8), key: fileKey).prefix(keyCheckBytes))
    }

    static func context(_ prefixHash: [UInt8], index: UInt64) -> [UInt8] {
        prefixHash + (0..<8).map { UInt8(truncatingIfNeeded: index >> (56 - 8 * $0)) }
    }

    public static func u32(_ value: Int) -> [UInt8] {
        [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    public static func u64(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    public static func readU64(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}

/// Writes one backup file. Blocking (file I/O): run it from the work queue.
///
/// `@unchecked Sendable`: the owner hands it to one queued job at a time (the archive's jobs run
/// one after another), so its fields are never touched by two threads at once.
public final class BackupFileWriter: @unchecked Sendable {
    public let path: String
    private var fd: Int32
    private let key: [UInt8]
    private let prefixHash: [UInt8]
    private var index: UInt64 = 0
    private let digest = SHA256Stream()
    public private(set) var dataBytes: UInt64 = 0
    public private(set) var dataRecords: UInt64 = 0
    public private(set) var fileBytes: Int = 0

    /// Creates `path` (it must not exist) with its header, synced.
    public init(path: String, header: [UInt8], masterKey: [UInt8]) throws(BackupFileError) {
        precondition(masterKey.count == SealedBox.keyBytes && header.count <= BackupFile.headerBytesMax, "a backup key is 32 bytes")
        let salt = SecureRandom.bytes(BackupFile.saltBytes)
        key = BackupFile.fileKey(masterKey, salt: salt)
        let prefix = BackupFile.magic + salt + BackupFile.keyCheck(key) + BackupFile.u32(header.count) + header
        prefixHash = SHA256.hash(prefix)
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(path): \(String(cString: strerror(errno)))") }
        try write(prefix)
        try sync()
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends one record of data (at most `payloadBytesMax`). Not durable until `sync()`.
    public func append(_ data: [UInt8]) throws(BackupFileError) {
        precondition(data.count <= BackupFile.payloadBytesMax, "split backup payloads")
        digest.update(data[...])
        dataBytes += UInt64(data.count)
        dataRecords += 1
        try record([BackupFile.dataKind] + data)
    }

    private func record(_ payload: [UInt8]) throws(BackupFileError) {
        let box = SealedBox.seal(Zstd.compress(payload), key: key, context: BackupFile.context(prefixHash, index: index))
        index += 1
        try write(BackupFile.u32(box.count) + box)
    }

    public func sync() throws(BackupFileError) {
        guard fsync(fd) == 0 else { throw .io("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    /// Writes the seal (what the file holds, and the SHA-256 of it), syncs and closes.
    public func seal() throws(BackupFileError) {
        try record([BackupFile.sealKind] + BackupFile.u64(dataRecords) + BackupFile.u64(dataBytes) + digest.finish())
        try sync()
        close(fd)
        fd = -1
    }

    private func write(_ bytes: [UInt8]) throws(BackupFileError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }  // count > 0
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        fileBytes += bytes.count
    }
}

/// Reads one backup file, verifying as it goes. Blocking: run it off the loop.
public final class BackupFileReader {
    public let path: String
    public let header: [UInt8]
    private let fd: Int32
    private let key: [UInt8]
    private let prefixHash: [UInt8]
    private var index: UInt64 = 0
    private let digest = SHA256Stream()
    private var dataBytes: UInt64 = 0
    private var dataRecords: UInt64 = 0
    /// True once the seal was read and matched what came before it.
    public private(set) var isSealed = false

    /// Reads the header only: the key is needed for records, not for this.
    public static func header(of path: String) throws(BackupFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        return try readPrefix(fd, path: path).header
    }

    private static func readPrefix(_ fd: Int32, path: String) throws(BackupFileError) -> (salt: [UInt8], check: [UInt8], header: [UInt8], prefix: [UInt8]) {
        let fixed = BackupFile.magic.count + BackupFile.saltBytes + BackupFile.keyCheckBytes + 4
        guard let start = try readExactly(fd, fixed, path: path), Array(start.prefix(BackupFile.magic.count)) == BackupFile.magic else {
            throw .notABackup(path)
        }
        let salt = Array(start[BackupFile.magic.count..<BackupFile.magic.count + BackupFile.saltBytes])
        let check = Array(start[(BackupFile.magic.count + BackupFile.saltBytes)..<(fixed - 4)])
        let length = start.suffix(4).reduce(0) { $0 << 8 | Int($1) }
        guard length <= BackupFile.headerBytesMax, let header = try readExactly(fd, length, path: path) else { throw .notABackup(path) }
        return (salt, check, header, start + header)
    }

    /// Exactly `count` bytes, or nil at the end of the file (a short read at the end included).
    private static func readExactly(_ fd: Int32, _ count: Int, path: String) throws(BackupFileError) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return nil }
            offset += n
        }
        return bytes
    }

    /// Opens `path` and checks the key against it: a wrong key is refused here.
    public init(path: String, masterKey: [UInt8]) throws(BackupFileError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        do throws(BackupFileError) {
            let prefix = try Self.readPrefix(fd, path: path)
            key = BackupFile.fileKey(masterKey, salt: prefix.salt)
            guard BackupFile.keyCheck(key) == prefix.check else { throw BackupFileError.wrongKey(path) }
            header = prefix.header
            prefixHash = SHA256.hash(prefix.prefix)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// The next record's data; nil after the seal. Throws on a record that does not open, a
    /// file that ends before its seal (`.truncated`), or a seal that does not match.
    public func next() throws(BackupFileError) -> [UInt8]? {
        guard !isSealed else { return nil }
        let record = Int(index)
        guard let length = try Self.readExactly(fd, 4, path: path) else { throw .truncated(path, records: record) }
        let size = length.reduce(0) { $0 << 8 | Int($1) }
        guard size >= SealedBox.overheadBytes, size <= 2 * BackupFile.payloadBytesMax else { throw .altered(path, record: record) }
        guard let box = try Self.readExactly(fd, size, path: path) else { throw .truncated(path, records: record) }
        guard let compressed = SealedBox.open(box, key: key, context: BackupFile.context(prefixHash, index: index)),
              let payload = try? Zstd.decompress(compressed, maxOutputBytes: BackupFile.payloadBytesMax + 64), let kind = payload.first else {
            throw .altered(path, record: record)
        }
        index += 1
        let body = payload.dropFirst()
        switch kind {
        case BackupFile.dataKind:
            digest.update(body)
            dataBytes += UInt64(body.count)
            dataRecords += 1
            return Array(body)
        case BackupFile.sealKind:
            guard body.count == 48, BackupFile.readU64(body.prefix(8)) == dataRecords, BackupFile.readU64(body.dropFirst(8)) == dataBytes,
                  Array(body.suffix(32)) == digest.finish() else { throw .altered(path, record: record) }
            isSealed = true
            return nil
        default:
            throw .altered(path, record: record)
        }
    }
}
