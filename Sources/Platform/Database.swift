import CSQLite

/// One SQLite connection in WAL mode, with a prepared-statement cache.
///
/// Used from one thread (the loop thread). Opening sets WAL, foreign keys, a busy timeout and the
/// `synchronous` level chosen for this database: FULL wherever an acknowledged write must survive
/// power loss (orders, payments, the ledger).
///
/// ```swift
/// let db = try Database(path: dir + "/node.sqlite", options: .init(synchronous: .full))
/// try db.execute("INSERT INTO node_meta(key, value) VALUES (?, ?)", ["region", "eu"])
/// let region = try db.queryOne("SELECT value FROM node_meta WHERE key = ?", ["region"]) { $0.string(0) }
/// ```
public final class Database {
    /// How hard a commit waits for the disk.
    public enum Synchronous: String, Sendable, CaseIterable {
        /// fsync at every commit: a commit that returned survives power loss.
        case full = "FULL"
        /// fsync at checkpoints only: a commit may be lost on power loss, never corrupted.
        case normal = "NORMAL"
        /// No fsync: for caches that can be rebuilt.
        case off = "OFF"
    }

    public struct Options: Sendable {
        public var synchronous: Synchronous
        public var busyTimeoutMs: Int32
        public var readOnly: Bool
        /// Bound on cached prepared statements; the cache is cleared when it would grow past it.
        public var statementCacheMax: Int
        /// SQLite's own page cache. Its default (2 MB) is far below a catalog's working set,
        /// and every miss is a pread.
        public var pageCacheBytes: Int
        /// Tests only: the switch file of the I/O error sweep's statement faults (`StatementFaults`);
        /// by default `OUTPOST_FAULT_SWITCH`, which a node under the process-level sweep inherits.
        public var statementFaultSwitch: String?

        public init(synchronous: Synchronous = .full, busyTimeoutMs: Int32 = 5_000, readOnly: Bool = false, statementCacheMax: Int = 256,
                    pageCacheBytes: Int = 2 << 20, statementFaultSwitch: String? = ProcessStats.environment("OUTPOST_FAULT_SWITCH")) {
            self.statementFaultSwitch = statementFaultSwitch
            self.pageCacheBytes = pageCacheBytes
            self.synchronous = synchronous
            self.busyTimeoutMs = busyTimeoutMs
            self.readOnly = readOnly
            self.statementCacheMax = statementCacheMax
        }
    }

    public enum TransactionKind: String, Sendable {
        /// Takes the write lock at once: no deadlock-prone upgrade from read to write later.
        case immediate = "IMMEDIATE"
        case deferred = "DEFERRED"
    }

    let raw: OpaquePointer
    public let path: String
    public let options: Options
    private var statements: [String: Statement] = [:]
    public private(set) var isClosed = false
    /// Ends the held read before the loop waits for I/O; nil: every read outside a transaction
    /// is its own (autocommit) read transaction.
    private var readHold: TurnEndHook?
    /// A read transaction opened by a read outside any transaction and held for the turn.
    private var holdingRead = false
    /// Told when a statement fails with an I/O error (SQLITE_IOERR, SQLITE_FULL, corrupt,
    /// read-only), a read's included: the disk's state is in doubt whatever the statement was,
    /// and its owner decides what the node does (docs/operations.md).
    public var onIOError: ((StorageError) -> Void)?
    /// Hands committed changesets to a backup archive, when one is set up (ChangeCapture).
    var changeCapture: ChangeCapture?
    /// Told when a committed changeset could not be taken: the archive has a gap.
    public var changeCaptureFailed: ((StorageError) -> Void)?
    /// The I/O error sweep's statement faults (tests only; see `StatementFaults`).
    let statementFaults: StatementFaults?

    public init(path: String, options: Options = Options()) throws(StorageError) {
        var db: OpaquePointer?
        let flags = (options.readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let error = StorageError(.open, sqliteCode: rc, message: "cannot open \(path): \(String(cString: sqlite3_errstr(rc)))")
            sqlite3_close_v2(db)
            throw error
        }
        raw = db
        self.path = path
        self.options = options
        statementFaults = StatementFaults(switchFile: options.statementFaultSwitch)
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, options.busyTimeoutMs)
        // Defensive mode: SQL cannot corrupt the file through writable_schema and friends.
        _ = outpost_sqlite_db_config_int(db, SQLITE_DBCONFIG_DEFENSIVE, 1)
        do {
            if !options.readOnly {
                let mode = try queryOne("PRAGMA journal_mode = WAL") { $0.string(0) }
                guard mode?.lowercased() == "wal" else {
                    throw StorageError(.open, message: "\(path): WAL mode refused (got \(mode ?? "nothing"))")
                }
            }
            try execute("PRAGMA foreign_keys = ON")
            try execute("PRAGMA synchronous = \(options.synchronous.rawValue)")
            try execute("PRAGMA cache_size = -\(options.pageCacheBytes / 1024)")
            // Statement journals in memory: a statement that may fail halfway copies every page it
            // changes there first, and once that journal outgrew 64 KB in a transaction it was a
            // file in /var/tmp for the rest of it (an import of 20k products made 290k pwrite
            // calls to it). It is truncated as each statement ends.
            try execute("PRAGMA temp_store = MEMORY")
        } catch {
            statements.removeAll()
            sqlite3_close_v2(db)
            throw (error as? StorageError) ?? StorageError(.open, message: "\(path): \(error)")
        }
    }

    deinit { close() }

    /// Finalizes cached statements and closes the connection. The WAL is checkpointed by SQLite
    /// when the last connection closes, unless `checkpointing` is false: after a failed write or
    /// fsync the pages in memory may not be what the disk holds, and the next start recovers
    /// from the WAL on disk instead (docs/operations.md).
    public func close(checkpointing: Bool = true) {
        guard !isClosed else { return }
        if !checkpointing { _ = outpost_sqlite_db_config_int(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1) }
        endHeldRead()
        readHold?.close()
        readHold = nil
        changeCapture = nil  // its session must go before the connection
        isClosed = true
        statements.removeAll()
        sqlite3_close_v2(raw)
    }

    /// The cached statement for `sql`, prepared on first use.
    public func statement(_ sql: String) throws(StorageError) -> Statement {
        // A callback still running while the node stops (an acquirer's answer, a tick's job after
        // the disk failed) gets an error, not a crash: the stop is under way already.
        guard !isClosed else { throw StorageError(.other, message: "the database is closed: the node is stopping") }
        if let cached = statements[sql] { return cached }
        let statement = try Statement(database: self, sql: sql)
        if statements.count >= options.statementCacheMax { statements.removeAll() }
        statements[sql] = statement
        return statement
    }

    /// Whether the connection answers a query now (readiness).
    public var answers: Bool { (try? queryOne("SELECT 1") { $0.int(0) }) == 1 }

    /// Runs a statement that returns no rows; returns the number of rows changed.
    @discardableResult
    public func execute(_ sql: String, _ arguments: [any SQLBindable] = []) throws(StorageError) -> Int {
        let statement = try statement(sql)
        defer { statement.reset() }
        statement.bind(arguments)
        while try statement.step() {}
        return Int(sqlite3_changes(raw))
    }

    /// `execute` with the arguments bound in place by `bind` (`statement.bind(value, at:)`): no
    /// array of boxed arguments, for the few inserts hot enough for that to show.
    @discardableResult
    public func execute(_ sql: String, binding bind: (Statement) -> Void) throws(StorageError) -> Int {
        try execute(try statement(sql), binding: bind)
    }

    /// The same with a statement the caller holds (`statement(_:)`): not even the cache lookup.
    @discardableResult
    public func execute(_ statement: Statement, binding bind: (Statement) -> Void) throws(StorageError) -> Int {
        precondition(statement.database === self, "a statement runs on the database that prepared it")
        defer { statement.reset() }
        bind(statement)
        while try statement.step() {}
        return Int(sqlite3_changes(raw))
    }

    /// Runs one or more statements separated by `;`, with no arguments (migrations, pragmas).
    public func executeScript(_ sql: String) throws(StorageError) {
        endHeldRead()
        let rc = sqlite3_exec(raw, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw StorageError(sqlite: rc, db: raw, sql: sql) }
        if let changeCapture, sqlite3_get_autocommit(raw) != 0 { changeCapture.transactionEnded() }
    }

    /// Maps every row of a query.
    public func query<T>(_ sql: String, _ arguments: [any SQLBindable] = [], _ map: (Row) throws -> T) throws -> [T] {
        let statement = try statement(sql)
        defer { statement.reset() }
        statement.bind(arguments)
        var rows: [T] = []
        while try statement.step() { rows.append(try map(Row(raw: statement.raw))) }
        return rows
    }

    /// Maps the first row of a query, if any.
    public func queryOne<T>(_ sql: String, _ arguments: [any SQLBindable] = [], _ map: (Row) throws -> T) throws -> T? {
        let statement = try statement(sql)
        defer { statement.reset() }
        statement.bind(arguments)
        guard try statement.step() else { return nil }
        return try map(Row(raw: statement.raw))
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    /// Runs `body` in one read transaction, or in the caller's transaction if one is open: many
    /// reads then cost one take of the WAL read lock instead of one each.
    public func reading<T>(_ body: () throws -> T) throws -> T {
        if sqlite3_get_autocommit(raw) == 0 { return try body() }
        return try transaction(.deferred, body)
    }

    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        precondition(!isInTransaction, "nested transaction: use savepoint(_:)")
        try execute("BEGIN \(kind.rawValue)")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isInTransaction { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs `body` inside a savepoint of the current transaction: undone alone if it throws.
    public func savepoint<T>(_ body: () throws -> T) throws -> T {
        try execute("SAVEPOINT outpost")
        do {
            let value = try body()
            try execute("RELEASE outpost")
            return value
        } catch {
            _ = try? execute("ROLLBACK TO outpost")
            _ = try? execute("RELEASE outpost")
            throw error
        }
    }

    /// True inside a transaction the caller opened (not the read held for the turn).
    public var isInTransaction: Bool { sqlite3_get_autocommit(raw) == 0 && !holdingRead }

    // MARK: Reads held for a loop turn

    /// From now on, reads outside a transaction share one read transaction, ended before the
    /// loop waits for I/O or before anything else runs (a write, BEGIN, a pragma). An autocommit
    /// read takes and drops the WAL read lock (a few syscalls, most of a point read's cost); a
    /// turn serving many requests then takes it once. Safe because this connection is the only
    /// writer: its own writes end the held read before they run, so no read ever misses one of
    /// them; and no snapshot is held while the loop sleeps.
    public func holdReadsUntilTurnEnd(on loop: EventLoop) throws(PlatformError) {
        precondition(readHold == nil, "reads are held already")
        readHold = try TurnEndHook(loop: loop, moment: .beforeWait) { [unowned self] in endHeldRead() }
    }

    /// Before a statement's first step: a plain read outside a transaction opens the held read;
    /// anything else ends it.
    func willStart(_ statement: Statement) throws(StorageError) {
        guard let readHold else { return }
        if holdingRead {
            if !statement.joinsHeldRead { endHeldRead() }
        } else if statement.joinsHeldRead && sqlite3_get_autocommit(raw) != 0 {
            let rc = sqlite3_exec(raw, "BEGIN DEFERRED", nil, nil, nil)
            guard rc == SQLITE_OK else { throw StorageError(sqlite: rc, db: raw, sql: "BEGIN DEFERRED") }
            holdingRead = true
            readHold.arm()
        }
    }

    /// Ends the held read, if any. A read-only COMMIT fails only on misuse; ROLLBACK then ends
    /// the transaction all the same.
    private func endHeldRead() {
        guard holdingRead else { return }
        holdingRead = false
        readHold?.disarm()
        if sqlite3_exec(raw, "COMMIT", nil, nil, nil) != SQLITE_OK { sqlite3_exec(raw, "ROLLBACK", nil, nil, nil) }
    }

    /// Rows changed by the last statement.
    public var changes: Int { Int(sqlite3_changes(raw)) }
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(raw) }

    /// Bytes of the main database file (pages in use and free), excluding the WAL.
    public func sizeBytes() throws -> Int64 {
        let pages = try queryOne("PRAGMA page_count") { $0.int64(0) } ?? 0
        let pageSize = try queryOne("PRAGMA page_size") { $0.int64(0) } ?? 0
        return pages * pageSize
    }

    /// `PRAGMA integrity_check`: ["ok"] when the file is sound.
    public func integrityCheck() throws -> [String] {
        try query("PRAGMA integrity_check") { $0.string(0) }
    }

    /// Copies the WAL into the main file and truncates it (clean shutdown, backups).
    public func checkpoint() throws(StorageError) {
        try executeScript("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// The `synchronous` level actually in force (0 off, 1 normal, 2 full).
    public func synchronousLevel() throws -> Int {
        try queryOne("PRAGMA synchronous") { $0.int(0) } ?? -1
    }
}
