import CSQLite

/// Every committed change to a database, as SQLite session changesets: what a continuous
/// backup archives between full snapshots (docs/backups.md).
///
/// A session is attached to every table of the connection; when a statement leaves the
/// connection outside a transaction (a COMMIT, or an autocommit write), the session's changeset
/// is handed to `committed` and a fresh session starts. A changeset holds the net change of the
/// rows touched since the last one, so writes rolled back (a failed savepoint, a failed COMMIT)
/// leave nothing in it. Tables without a PRIMARY KEY are not captured: the schema test keeps
/// every table keyed.
public final class ChangeCapture {
    private unowned let database: Database
    private var session: OpaquePointer?
    /// Told each committed changeset, on the thread that committed, right after the commit.
    private let committed: ([UInt8]) -> Void
    /// Changesets handed out so far, and their bytes (metrics).
    public private(set) var changesets = 0
    public private(set) var bytes = 0

    init(database: Database, committed: @escaping ([UInt8]) -> Void) throws(StorageError) {
        self.database = database
        self.committed = committed
        session = try Self.openSession(database)
    }

    deinit {
        if let session { sqlite3session_delete(session) }
    }

    private static func openSession(_ database: Database) throws(StorageError) -> OpaquePointer {
        var session: OpaquePointer?
        var rc = sqlite3session_create(database.raw, "main", &session)
        guard rc == SQLITE_OK, let session else { throw StorageError(sqlite: rc, db: database.raw, sql: "sqlite3session_create") }
        rc = sqlite3session_attach(session, nil)
        guard rc == SQLITE_OK else {
            sqlite3session_delete(session)
            throw StorageError(sqlite: rc, db: database.raw, sql: "sqlite3session_attach")
        }
        return session
    }

    /// A statement finished with the connection in autocommit mode: whatever the session holds
    /// was committed.
    func transactionEnded() {
        guard let current = session, sqlite3session_isempty(current) == 0 else { return }
        var size: Int32 = 0
        var buffer: UnsafeMutableRawPointer?
        let rc = sqlite3session_changeset(current, &size, &buffer)
        let changeset = rc == SQLITE_OK && size > 0 ? Array(UnsafeRawBufferPointer(start: buffer, count: Int(size))) : []
        sqlite3_free(buffer)
        sqlite3session_delete(current)
        // Only allocation can fail here; the archive then misses a commit, which its owner sees
        // as a gap (and takes a full backup), never as silent loss.
        session = try? Self.openSession(database)
        if rc != SQLITE_OK { database.changeCaptureFailed?(StorageError(sqlite: rc, db: database.raw, sql: "sqlite3session_changeset")) }
        guard !changeset.isEmpty else { return }
        changesets += 1
        bytes += changeset.count
        committed(changeset)
    }
}

extension Database {
    /// Starts handing every committed changeset to `committed` (ChangeCapture). One capture per
    /// connection.
    public func captureChanges(_ committed: @escaping ([UInt8]) -> Void) throws(StorageError) -> ChangeCapture {
        precondition(changeCapture == nil, "changes are captured already")
        let capture = try ChangeCapture(database: self, committed: committed)
        changeCapture = capture
        return capture
    }

    public func stopCapturingChanges() {
        changeCapture = nil
    }

    /// How a changeset's rows meet the database they are applied to.
    public enum ChangesetConflicts: Int32, Sendable {
        /// Every row must be as the changeset expects: a replay onto exactly the state it came from.
        case refuse = 0
        /// A row already changed takes the changeset's values; a row already gone stays gone: a
        /// replay onto a snapshot that may already hold some of the changes.
        case overwrite = 1
    }

    /// Applies a changeset in one transaction. Throws, changing nothing, if a row conflicts
    /// under `.refuse`, or the changeset is malformed; the error names the table and the conflict.
    public func apply(changeset: [UInt8], conflicts: ChangesetConflicts) throws(StorageError) {
        let context = ChangesetApplication(overwrite: conflicts == .overwrite)
        // A changeset carries the search index's shadow tables as they were written; defensive
        // mode (on for every other statement) forbids writing them directly.
        _ = outpost_sqlite_db_config_int(raw, SQLITE_DBCONFIG_DEFENSIVE, 0)
        defer { _ = outpost_sqlite_db_config_int(raw, SQLITE_DBCONFIG_DEFENSIVE, 1) }
        let rc = changeset.withUnsafeBytes { bytes in
            sqlite3changeset_apply(raw, Int32(bytes.count), UnsafeMutableRawPointer(mutating: bytes.baseAddress), nil, { context, reason, iterator in
                guard let context else { return SQLITE_CHANGESET_ABORT }
                let application = Unmanaged<ChangesetApplication>.fromOpaque(context).takeUnretainedValue()
                return application.decide(reason, iterator)
            }, Unmanaged.passUnretained(context).toOpaque())
        }
        guard rc == SQLITE_OK else {
            let base = StorageError(sqlite: rc, db: raw, sql: "sqlite3changeset_apply")
            throw StorageError(base.code, sqliteCode: rc, message: context.conflict ?? String(cString: sqlite3_errstr(rc)))
        }
    }
}

/// The conflict policy of one `apply(changeset:)`, and the first conflict it refused.
private final class ChangesetApplication {
    let overwrite: Bool
    var conflict: String?

    init(overwrite: Bool) { self.overwrite = overwrite }

    func decide(_ reason: Int32, _ iterator: OpaquePointer?) -> Int32 {
        if overwrite {
            switch reason {
            case SQLITE_CHANGESET_DATA, SQLITE_CHANGESET_CONFLICT: return SQLITE_CHANGESET_REPLACE
            case SQLITE_CHANGESET_NOTFOUND: return SQLITE_CHANGESET_OMIT
            default: break  // a constraint or foreign key broken: refused either way
            }
        }
        var table: UnsafePointer<CChar>?
        var columns: Int32 = 0, operation: Int32 = 0, indirect: Int32 = 0
        sqlite3changeset_op(iterator, &table, &columns, &operation, &indirect)
        let names = [SQLITE_CHANGESET_DATA: "a row changed since", SQLITE_CHANGESET_NOTFOUND: "a row not found",
                     SQLITE_CHANGESET_CONFLICT: "a row already there", SQLITE_CHANGESET_CONSTRAINT: "a constraint broken",
                     SQLITE_CHANGESET_FOREIGN_KEY: "a foreign key broken"]
        let operations = [SQLITE_INSERT: "insert", SQLITE_UPDATE: "update", SQLITE_DELETE: "delete"]
        conflict = "\(names[reason] ?? "conflict \(reason)") (\(operations[operation] ?? "change") into \(table.map { String(cString: $0) } ?? "?"))"
        return SQLITE_CHANGESET_ABORT
    }
}
