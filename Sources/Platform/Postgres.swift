import CLibPQ
import Glibc

/// Why a PostgreSQL call failed: the server's SQLSTATE and message, or that the connection is
/// gone (the caller reconnects, with a multi-host connection string to whichever server is the
/// primary now).
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// Five characters (e.g. 23505 unique_violation, 40001 serialization_failure); nil when the
    /// connection itself failed.
    public let sqlState: String?
    public let message: String
    public let connectionLost: Bool

    public var description: String {
        (connectionLost ? "PostgreSQL connection lost: " : "PostgreSQL: ") + message + (sqlState.map { " (SQLSTATE \($0))" } ?? "")
    }

    public static let uniqueViolation = "23505"
    public static let serializationFailure = "40001"
    /// A read-only transaction (a standby) was asked to write.
    public static let readOnlySQLTransaction = "25006"
}

/// One connection to PostgreSQL through libpq, used blocking: each call waits for the server.
///
/// Called from the loop's work queue, never from the loop itself (docs/ledger.md, "The hub on
/// PostgreSQL", says why the work queue rather than libpq's asynchronous API on a uv_poll): a
/// connection's owner hands it to one job at a time.
///
/// `@unchecked Sendable`: a libpq connection may be used from any thread but by one at a time,
/// and the owner's one-job-at-a-time discipline is what makes that so.
public final class PostgresConnection: @unchecked Sendable {
    private var raw: OpaquePointer?
    public let conninfo: String
    private var prepared: Set<String> = []

    /// Connects; throws if no server in the connection string accepts (with
    /// `target_session_attrs=read-write`, if none is a primary).
    public init(_ conninfo: String) throws(PostgresError) {
        self.conninfo = conninfo
        try connect()
    }

    deinit {
        if let raw { PQfinish(raw) }
    }

    private func connect() throws(PostgresError) {
        if let raw { PQfinish(raw) }
        prepared = []
        let connection = PQconnectdb(conninfo)
        raw = connection
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let message = connection.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            throw PostgresError(sqlState: nil, message: message.trimmed, connectionLost: true)
        }
        // Notices (a NOTICE from a DDL IF NOT EXISTS) would go to stderr; the node logs JSON.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    /// Why libpq cannot read `conninfo` (nil: it can). Says nothing of whether a server answers.
    public static func problem(inConnectionString conninfo: String) -> String? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            defer { if let error { PQfreemem(error) } }
            return error.map { String(cString: $0).trimmed } ?? "libpq cannot read it"
        }
        PQconninfoFree(options)
        return nil
    }

    /// Whether the connection is up (it may still fail on the next call).
    public var isConnected: Bool { raw.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Drops the connection and opens a new one from the same connection string.
    public func reconnect() throws(PostgresError) { try connect() }

    /// Runs one statement with text parameters (nil is NULL); returns its rows as text.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresRows {
        guard let raw else { throw PostgresError(sqlState: nil, message: "not connected", connectionLost: true) }
        let result = withParameters(parameters) { values, count in
            PQexecParams(raw, sql, count, nil, values, nil, nil, 0)
        }
        return try take(result)
    }

    /// Runs a statement prepared once per connection under `name`.
    @discardableResult
    public func execute(prepared name: String, _ sql: String, _ parameters: [String?]) throws(PostgresError) -> PostgresRows {
        guard let raw else { throw PostgresError(sqlState: nil, message: "not connected", connectionLost: true) }
        if !prepared.contains(name) {
            _ = try take(PQprepare(raw, name, sql, Int32(parameters.count), nil))
            prepared.insert(name)
        }
        let result = withParameters(parameters) { values, count in
            PQexecPrepared(raw, name, count, values, nil, nil, 0)
        }
        return try take(result)
    }

    /// Runs `body` in one transaction (`BEGIN` … `COMMIT`), rolled back if it throws.
    public func transaction<T>(isolation: String = "READ COMMITTED", _ body: () throws -> T) throws -> T {
        try execute("BEGIN ISOLATION LEVEL " + isolation)
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isConnected { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    private func withParameters<R>(_ parameters: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?, Int32) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { for copy in copies { free(copy) } }
        let values: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        return values.withUnsafeBufferPointer { body($0.baseAddress, Int32(parameters.count)) }
    }

    private func take(_ result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
        guard let result else {
            throw PostgresError(sqlState: nil, message: raw.map { String(cString: PQerrorMessage($0)) }?.trimmed ?? "no result", connectionLost: !isConnected)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmed
            throw PostgresError(sqlState: state, message: message, connectionLost: state == nil && !isConnected)
        }
        let rowCount = Int(PQntuples(result)), columnCount = Int(PQnfields(result))
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            rows.append((0..<columnCount).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) == 1 ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            })
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(rows: rows, affected: affected)
    }
}

/// A statement's result in text format: rows of nullable columns, and the rows it changed.
public struct PostgresRows: Sendable {
    public let rows: [[String?]]
    public let affected: Int

    /// Column `column` of the first row, if there is one and it is not NULL.
    public func value(_ column: Int = 0) -> String? {
        rows.first.flatMap { column < $0.count ? $0[column] : nil }
    }
}

/// bytea in PostgreSQL's text format: `\x` and hex.
public enum PostgresBytes {
    public static func encode(_ bytes: [UInt8]) -> String { "\\x" + Hex.encode(bytes) }
    public static func decode(_ text: String) -> [UInt8]? {
        guard text.hasPrefix("\\x") else { return nil }
        return Hex.decode(String(text.dropFirst(2)))
    }
}

private extension String {
    var trimmed: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}

/// A PostgreSQL array literal (`{"a","b",NULL,42}`) built in one byte buffer: a batch of a
/// thousand rows is thirteen of these, and building them element by element as Strings cost
/// more than the server's insert.
public struct PostgresArrayLiteral {
    private var bytes: [UInt8]
    private var count = 0
    private static let hexDigits = Array("0123456789abcdef".utf8)

    public init(reservingBytes: Int = 64) {
        bytes = [UInt8(ascii: "{")]
        bytes.reserveCapacity(reservingBytes)
    }

    private mutating func separate() {
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        count += 1
    }

    /// A text element, quoted, its backslashes and quotes escaped; nil is NULL.
    public mutating func append(_ text: String?) {
        separate()
        guard var text else { return bytes.append(contentsOf: "NULL".utf8) }
        bytes.append(UInt8(ascii: "\""))
        text.withUTF8 { utf8 in
            // Ids and codes seldom hold a quote or backslash: copied whole unless they do.
            guard utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") }) else { return bytes.append(contentsOf: utf8) }
            for byte in utf8 {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func append(_ number: Int64) {
        separate()
        bytes.append(contentsOf: String(number).utf8)
    }

    public mutating func append(_ number: Int64?) {
        guard let number else { return append(nil as String?) }
        append(number)
    }

    /// A bytea element in hex (`"\\x0aff"`: the backslash escaped inside the array).
    public mutating func append(bytea: [UInt8]) {
        separate()
        bytes.append(contentsOf: "\"\\\\x".utf8)
        for byte in bytea {
            bytes.append(Self.hexDigits[Int(byte >> 4)])
            bytes.append(Self.hexDigits[Int(byte & 0x0f)])
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public var text: String {
        var closed = bytes
        closed.append(UInt8(ascii: "}"))
        return String(decoding: closed, as: UTF8.self)
    }

    /// `values` as a text array literal.
    public static func of(_ values: some Sequence<String>) -> String {
        var literal = PostgresArrayLiteral()
        for value in values { literal.append(value) }
        return literal.text
    }
}
