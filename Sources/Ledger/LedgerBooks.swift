import Platform

/// Where the books are kept: the node's SQLite database (the default) or PostgreSQL
/// (docs/ledger.md, "The hub on PostgreSQL"). `Ledger` holds the model (balances, two-phase and
/// linked transfers, the hash chain); the books only read and write rows, inside the store's
/// current transaction.
public protocol LedgerBooks: AnyObject {
    func account(_ id: String) throws -> LedgerAccount?
    func accounts() throws -> [LedgerAccount]
    func insert(_ account: LedgerAccount) throws
    func save(_ account: LedgerAccount) throws
    /// Saves the sums of every account a batch touched.
    func save(_ accounts: [LedgerAccount]) throws
    func entry(id: String) throws -> JournalEntry?
    /// The kind of the entry that closed pending transfer `pendingId` (post, void, expire), if one did.
    func closingKind(of pendingId: String) throws -> String?
    /// Appends an entry; false when its id is taken (nothing written).
    func append(_ entry: JournalEntry) throws -> Bool
    /// The last entry's place and hash; (0, []) for an empty journal.
    func head() throws -> (seq: Int64, hash: [UInt8])
    /// Pending transfers unclosed whose time ran out by `nowMs`, oldest first.
    func duePending(nowMs: Int64, limit: Int) throws -> [String]
    /// Of `ids`, those recorded, with their amounts.
    func amounts(of ids: [String]) throws -> [String: Int64]
    /// Sales and refunds settled in `[fromMs, toMs)`: (payment reference, entry id, amount).
    func settled(fromMs: Int64, toMs: Int64) throws -> [(reference: String, id: String, amount: Int64)]
    func journal(fromMs: Int64, toMs: Int64) throws -> [JournalEntry]
    func journal(from seq: Int64, limit: Int) throws -> [JournalEntry]
    /// A batch of transfers with these ids is about to be appended: books that write in batches
    /// look them up at once here (the SQLite books find a replay in the insert itself), unless
    /// the caller looked them up already (`knownAbsent`).
    func prepare(ids: [String], knownAbsent: Bool) throws
    /// Writes what `append` kept back. Called at the end of every batch.
    func flush() throws
    /// Runs `body` so that what it wrote is undone if it throws, inside the current transaction.
    func savepoint<T>(_ body: () throws -> T) throws -> T
    /// Runs `body` in a transaction of its own (tools and tests; the node's writes run in its
    /// group commit).
    func transaction<T>(_ body: () throws -> T) throws -> T
}

extension LedgerBooks {
    public func save(_ accounts: [LedgerAccount]) throws {
        for account in accounts { try save(account) }
    }
}

/// The books in the node's SQLite database: `ledger_accounts` and `ledger_journal`, created by
/// the node's migration 10, the journal guarded by triggers that refuse UPDATE and DELETE.
public final class SQLiteBooks: LedgerBooks {
    private let database: Database
    /// The journal's insert, prepared once: it runs for every transfer.
    private var insertStatement: Statement?

    public init(database: Database) {
        self.database = database
    }

    static let accountColumns = "id, kind, currency, debits_must_not_exceed_credits, debits_pending, debits_posted, credits_pending, credits_posted"
    static let entryColumns = "seq, id, kind, debit, credit, amount, currency, pending_id, timeout_ms, code, reference, at_ms, hash"

    public func account(_ id: String) throws -> LedgerAccount? {
        try database.queryOne("SELECT \(Self.accountColumns) FROM ledger_accounts WHERE id = ?", [id], Self.account)
    }

    public func accounts() throws -> [LedgerAccount] {
        try database.query("SELECT \(Self.accountColumns) FROM ledger_accounts ORDER BY id", [], Self.account)
    }

    private static func account(_ row: Row) -> LedgerAccount {
        LedgerAccount(id: row.string(0), kind: LedgerAccount.Kind(rawValue: row.string(1)) ?? .asset, currency: row.string(2),
                      debitsMustNotExceedCredits: row.int(3) != 0, sums: (row.int64(4), row.int64(5), row.int64(6), row.int64(7)))
    }

    public func insert(_ account: LedgerAccount) throws {
        _ = try database.execute("INSERT INTO ledger_accounts(id, kind, currency, debits_must_not_exceed_credits) VALUES (?, ?, ?, ?)",
                                 [account.id, account.kind.rawValue, account.currency, account.debitsMustNotExceedCredits ? 1 : 0])
    }

    public func save(_ account: LedgerAccount) throws {
        _ = try database.execute("""
            UPDATE ledger_accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?, credits_posted = ? WHERE id = ?
            """, [account.debitsPending, account.debitsPosted, account.creditsPending, account.creditsPosted, account.id])
    }

    public func entry(id: String) throws -> JournalEntry? {
        try database.queryOne("SELECT \(Self.entryColumns) FROM ledger_journal WHERE id = ?", [id], Self.entry)
    }

    public func closingKind(of pendingId: String) throws -> String? {
        try database.queryOne("SELECT kind FROM ledger_journal WHERE pending_id = ?", [pendingId], { $0.string(0) })
    }

    public func append(_ entry: JournalEntry) throws -> Bool {
        let insert = try insertStatement ?? database.statement("""
            INSERT INTO ledger_journal(\(Self.entryColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING
            """)
        insertStatement = insert
        return try database.execute(insert, binding: { statement in
                // Bound in place: this insert is the journal's hot path.
                statement.bind(.integer(entry.seq), at: 1)
                statement.bind(.text(entry.id), at: 2)
                statement.bind(.text(entry.kind.rawValue), at: 3)
                statement.bind(.text(entry.debit), at: 4)
                statement.bind(.text(entry.credit), at: 5)
                statement.bind(.integer(entry.amount), at: 6)
                statement.bind(.text(entry.currency), at: 7)
                statement.bind(entry.pendingId.map(SQLValue.text) ?? .null, at: 8)
                statement.bind(entry.timeoutMs.map(SQLValue.integer) ?? .null, at: 9)
                statement.bind(.text(entry.code), at: 10)
                statement.bind(entry.reference.map(SQLValue.text) ?? .null, at: 11)
                statement.bind(.integer(entry.atMs), at: 12)
                statement.bind(.blob(entry.hash), at: 13)
            }) == 1
    }

    public func head() throws -> (seq: Int64, hash: [UInt8]) {
        try database.queryOne("SELECT seq, hash FROM ledger_journal ORDER BY seq DESC LIMIT 1") { ($0.int64(0), $0.blob(1)) } ?? (0, [])
    }

    public func duePending(nowMs: Int64, limit: Int) throws -> [String] {
        try database.query("""
            SELECT p.id FROM ledger_journal p WHERE p.kind = 'pending' AND p.timeout_ms <= ?
            AND NOT EXISTS (SELECT 1 FROM ledger_journal c WHERE c.pending_id = p.id) ORDER BY p.timeout_ms, p.seq LIMIT ?
            """, [nowMs, limit]) { $0.string(0) }
    }

    public func amounts(of ids: [String]) throws -> [String: Int64] {
        var found: [String: Int64] = [:]
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + 64)])
            start += chunk.count
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            for (id, amount) in try database.query("SELECT id, amount FROM ledger_journal WHERE id IN (\(marks))", chunk, { ($0.string(0), $0.int64(1)) }) {
                found[id] = amount
            }
        }
        return found
    }

    public func settled(fromMs: Int64, toMs: Int64) throws -> [(reference: String, id: String, amount: Int64)] {
        try database.query("""
            SELECT reference, id, amount FROM ledger_journal WHERE at_ms >= ? AND at_ms < ? AND code IN ('sale', 'refund') AND reference IS NOT NULL
            """, [fromMs, toMs], { ($0.string(0), $0.string(1), $0.int64(2)) })
    }

    public func journal(fromMs: Int64, toMs: Int64) throws -> [JournalEntry] {
        try database.query("SELECT \(Self.entryColumns) FROM ledger_journal WHERE at_ms >= ? AND at_ms < ? ORDER BY seq", [fromMs, toMs], Self.entry)
    }

    public func journal(from seq: Int64, limit: Int) throws -> [JournalEntry] {
        try database.query("SELECT \(Self.entryColumns) FROM ledger_journal WHERE seq >= ? ORDER BY seq LIMIT ?", [seq, limit], Self.entry)
    }

    static func entry(_ row: Row) -> JournalEntry {
        JournalEntry(seq: row.int64(0), id: row.string(1), kind: JournalEntry.Kind(rawValue: row.string(2)) ?? .posted, debit: row.string(3),
                     credit: row.string(4), amount: row.int64(5), currency: row.string(6), pendingId: row.optionalString(7),
                     timeoutMs: row.optionalInt64(8), code: row.string(9), reference: row.optionalString(10), atMs: row.int64(11), hash: row.blob(12))
    }

    public func prepare(ids: [String], knownAbsent: Bool) throws {}
    public func flush() throws {}
    public func savepoint<T>(_ body: () throws -> T) throws -> T { try database.savepoint(body) }
    public func transaction<T>(_ body: () throws -> T) throws -> T { try database.transaction(.immediate, body) }
}
