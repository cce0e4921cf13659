/// One of a node's backup files as the hub holds it (sync/PROTOCOL.md, BACKUP_*): its name and
/// how many of its bytes the hub has. A store mirrors its backup files to the hub by appending
/// what the hub lacks; the hub keeps them under the store's node id from its certificate.
public struct BackupFileSize: Equatable, Sendable {
    public var name: String
    public var size: UInt64

    public init(name: String, size: UInt64) {
        self.name = name
        self.size = size
    }

    public static let filesMax = 1_024
    public static let appendBytesMax = 1 << 20
    /// No backup file of one node grows past this (a full of a 64 GiB database, compressed).
    public static let fileBytesMax: UInt64 = 64 << 30
    public static let nameBytesMax = 128

    /// A backup file's name becomes a file name on the hub: `full-…` or `archive-…`, then
    /// letters, digits, `.`, `_` and `-`, ending `.obk`.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count <= nameBytesMax, name.hasSuffix(".obk"), name.hasPrefix("full-") || name.hasPrefix("archive-") else { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    static func check(_ name: String, size: UInt64) throws(WireError) {
        guard isValidName(name) else { throw .invalid("a backup file name is not full-….obk or archive-….obk") }
        guard size <= fileBytesMax else { throw .invalid("a backup file of \(size) bytes is past the bound") }
    }

    static func decodeList(from r: inout CanonicalReader) throws(WireError) -> [BackupFileSize] {
        let count = try r.count()
        guard count <= filesMax else { throw .invalid("a backup state lists \(count) files, more than \(filesMax)") }
        var files: [BackupFileSize] = []
        for _ in 0..<count {
            let name = try r.string(), size = try r.unsigned()
            try check(name, size: size)
            files.append(BackupFileSize(name: name, size: size))
        }
        return files
    }
}
