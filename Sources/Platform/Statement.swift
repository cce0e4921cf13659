import CSQLite
import Glibc

/// A prepared statement. Owned by its `Database`'s cache; reset after every use.
public final class Statement {
    let raw: OpaquePointer
    public let sql: String
    unowned let database: Database
    /// A plain read (SELECT or WITH ... SELECT): it may join the read the database holds until
    /// the loop turn ends. Anything else ends that read first.
    let joinsHeldRead: Bool
    /// Stepped since its last reset.
    private var started = false

    init(database: Database, sql: String) throws(StorageError) {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.raw, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw StorageError(sqlite: rc, db: database.raw, sql: sql)
        }
        self.raw = stmt
        self.sql = sql
        self.database = database
        let verb = sql.drop { $0.isWhitespace }.prefix(6).uppercased()
        joinsHeldRead = sqlite3_stmt_readonly(stmt) != 0 && (verb.hasPrefix("SELECT") || verb.hasPrefix("WITH"))
    }

    deinit { sqlite3_finalize(raw) }

    /// Binds arguments by position (1-based in SQL, in order here).
    public func bind(_ arguments: [any SQLBindable]) {
        let count = Int(sqlite3_bind_parameter_count(raw))
        // A count mismatch is a bug in the caller's SQL, never an input condition.
        precondition(arguments.count == count, "statement takes \(count) arguments, got \(arguments.count): \(sql)")
        for (offset, argument) in arguments.enumerated() {
            bind(argument.sqlValue, at: Int32(offset + 1))
        }
    }

    public func bind(_ value: SQLValue, at index: Int32) {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(raw, index)
        case .integer(let v): rc = sqlite3_bind_int64(raw, index, v)
        case .real(let v): rc = sqlite3_bind_double(raw, index, v)
        case .text(var v):
            // The UTF-8 in place, with its length: no NUL-terminated copy per bind.
            rc = v.withUTF8 { bytes in
                guard let base = bytes.baseAddress, !bytes.isEmpty else { return sqlite3_bind_text(raw, index, "", 0, outpost_sqlite_transient()) }
                return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    sqlite3_bind_text(raw, index, $0, Int32(bytes.count), outpost_sqlite_transient())
                }
            }
        case .blob(let v):
            rc = v.withUnsafeBytes { sqlite3_bind_blob64(raw, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64($0.count), outpost_sqlite_transient()) }
        }
        // bind does no I/O: it fails only on a bad index or misuse, both bugs.
        precondition(rc == SQLITE_OK, "bind failed (\(rc)) on a bug: \(sql)")
    }

    /// Steps once: true while a row is available.
    func step() throws(StorageError) -> Bool {
        if !started {
            started = true
            if let faults = database.statementFaults, let code = faults.failure(for: sql) { throw failed(StorageError(sqlite: code, db: nil, sql: sql)) }
            try database.willStart(self)
        }
        let rc = sqlite3_step(raw)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE:
            if let capture = database.changeCapture, sqlite3_get_autocommit(database.raw) != 0 { capture.transactionEnded() }
            return false
        default: throw failed(StorageError(sqlite: rc, db: database.raw, sql: sql))
        }
    }

    private func failed(_ error: StorageError) -> StorageError {
        if error.code == .io { database.onIOError?(error) }
        return error
    }

    func reset() {
        started = false
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }
}

/// The current row of a statement; valid only inside the closure it was passed to.
public struct Row {
    let raw: OpaquePointer

    public var columnCount: Int { Int(sqlite3_column_count(raw)) }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }
    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }
    public func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(raw, column)) }
    public func double(_ column: Int32) -> Double { sqlite3_column_double(raw, column) }
    public func bool(_ column: Int32) -> Bool { sqlite3_column_int64(raw, column) != 0 }

    public func string(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(raw, column) else { return "" }
        let count = Int(sqlite3_column_bytes(raw, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    public func optionalString(_ column: Int32) -> String? { isNull(column) ? nil : string(column) }
    public func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(raw, column))
        guard count > 0, let bytes = sqlite3_column_blob(raw, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    // By the column's name (or its alias in the SELECT): rows read the way a reader reads the
    // SQL. A name the statement does not select is a programmer's error.

    /// The index of the selected column called `name`.
    public func column(_ name: String) -> Int32 {
        // Compared as C strings: no String made per column (rows are read on hot paths).
        let count = sqlite3_column_count(raw)
        let found: Int32? = name.utf8.withContiguousStorageIfAvailable { wanted in
            for index in 0..<count {
                guard let candidate = sqlite3_column_name(raw, index) else { continue }
                if strlen(candidate) == wanted.count, let bytes = wanted.baseAddress, memcmp(candidate, bytes, wanted.count) == 0 { return index }
            }
            return nil
        } ?? (0..<count).first { sqlite3_column_name(raw, $0).map { String(cString: $0) == name } == true }
        guard let found else { preconditionFailure("the statement selects no column \(name)") }
        return found
    }

    public func isNull(_ name: String) -> Bool { isNull(column(name)) }
    public func int64(_ name: String) -> Int64 { int64(column(name)) }
    public func int(_ name: String) -> Int { int(column(name)) }
    public func bool(_ name: String) -> Bool { bool(column(name)) }
    public func string(_ name: String) -> String { string(column(name)) }
    public func optionalString(_ name: String) -> String? { optionalString(column(name)) }
    public func optionalInt64(_ name: String) -> Int64? { optionalInt64(column(name)) }
    public func blob(_ name: String) -> [UInt8] { blob(column(name)) }

    public func value(_ column: Int32) -> SQLValue {
        switch sqlite3_column_type(raw, column) {
        case SQLITE_INTEGER: return .integer(int64(column))
        case SQLITE_FLOAT: return .real(double(column))
        case SQLITE_TEXT: return .text(string(column))
        case SQLITE_BLOB: return .blob(blob(column))
        default: return .null
        }
    }
}
