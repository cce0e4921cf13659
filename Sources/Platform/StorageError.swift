import CSQLite

/// A failure of the storage layer. Says what failed and which SQL, never the bound values: they
/// may be personal data or secrets.
public struct StorageError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        /// Could not open or create the database file.
        case open
        /// A constraint (unique, foreign key, check, not null) refused the write.
        case constraint
        /// Another connection holds the lock past the busy timeout.
        case busy
        /// The disk or the file failed (I/O error, full, corrupt, read-only).
        case io
        /// SQL that SQLite rejected: a bug in our SQL.
        case sql
        /// A shipped migration was edited, or the database was written by a newer binary.
        case migration
        /// Anything else SQLite reported.
        case other
    }

    public let code: Code
    /// SQLite's extended result code, 0 when the error did not come from SQLite.
    public let sqliteCode: Int32
    /// SQLite's message or ours; never contains bound values.
    public let message: String
    /// The statement's SQL text, with `?` placeholders, if a statement failed.
    public let sql: String?

    public init(_ code: Code, sqliteCode: Int32 = 0, message: String, sql: String? = nil) {
        self.code = code
        self.sqliteCode = sqliteCode
        self.message = message
        self.sql = sql
    }

    init(sqlite rc: Int32, db: OpaquePointer?, sql: String?) {
        let primary = rc & 0xff
        let code: Code
        switch primary {
        case SQLITE_CONSTRAINT: code = .constraint
        case SQLITE_BUSY, SQLITE_LOCKED: code = .busy
        case SQLITE_IOERR, SQLITE_FULL, SQLITE_CORRUPT, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_NOTADB: code = .io
        case SQLITE_ERROR: code = .sql
        default: code = .other
        }
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        self.init(code, sqliteCode: rc, message: message, sql: sql)
    }

    /// The disk has no room (SQLITE_FULL): nothing written is in doubt, writes can resume
    /// once there is space.
    public var isDiskFull: Bool { sqliteCode & 0xff == SQLITE_FULL }

    /// Any other failure of the disk or the file (I/O error, a failed fsync, corruption, a
    /// file system gone read-only): what the pages in memory say may no longer be on disk.
    public var isStorageFault: Bool { code == .io && !isDiskFull }

    public var description: String {
        if let sql { return "storage error (\(code)): \(message) [in: \(sql)]" }
        return "storage error (\(code)): \(message)"
    }
}
