import Platform

/// The books in PostgreSQL (docs/ledger.md, "The hub on PostgreSQL"): the same two tables as the
/// SQLite books, the journal guarded by a trigger that refuses UPDATE and DELETE, bytea hashes.
///
/// Every call is a blocking round trip on its connection: run it from the work queue, inside a
/// `transaction` (the Ledger's methods expect one to be open).
public final class PostgresBooks: LedgerBooks {
    public let connection: PostgresConnection
    private var savepoints = 0
    /// Entries appended and not yet written: a batch goes in one round trip (`flush`).
    private var unwritten: [JournalEntry] = []
    /// The batch's ids looked up by `prepare`, and of those, the ones recorded or about to be.
    private var prepared: Set<String> = []
    private var taken: Set<String> = []
    static let rowsPerInsert = 1_000

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Creates the tables, indexes and the journal's guard if they are missing.
    public func createSchema() throws {
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS ledger_accounts (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                currency TEXT NOT NULL,
                debits_must_not_exceed_credits BOOLEAN NOT NULL DEFAULT false,
                debits_pending BIGINT NOT NULL DEFAULT 0,
                debits_posted BIGINT NOT NULL DEFAULT 0,
                credits_pending BIGINT NOT NULL DEFAULT 0,
                credits_posted BIGINT NOT NULL DEFAULT 0
            )
            """)
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS ledger_journal (
                seq BIGINT PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL,
                debit TEXT NOT NULL,
                credit TEXT NOT NULL,
                amount BIGINT NOT NULL,
                currency TEXT NOT NULL,
                pending_id TEXT,
                timeout_ms BIGINT,
                code TEXT NOT NULL,
                reference TEXT,
                at_ms BIGINT NOT NULL,
                hash BYTEA NOT NULL
            )
            """)
        try connection.execute("CREATE UNIQUE INDEX IF NOT EXISTS ledger_closing ON ledger_journal(pending_id) WHERE pending_id IS NOT NULL")
        try connection.execute("CREATE INDEX IF NOT EXISTS ledger_timeouts ON ledger_journal(timeout_ms) WHERE timeout_ms IS NOT NULL")
        try connection.execute("""
            CREATE OR REPLACE FUNCTION ledger_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the ledger journal is append-only'; END $$
            """)
        try connection.execute("""
            CREATE OR REPLACE TRIGGER ledger_journal_no_change BEFORE UPDATE OR DELETE ON ledger_journal
            FOR EACH ROW EXECUTE FUNCTION ledger_journal_append_only()
            """)
    }

    static let accountColumns = "id, kind, currency, debits_must_not_exceed_credits, debits_pending, debits_posted, credits_pending, credits_posted"
    static let entryColumns = "seq, id, kind, debit, credit, amount, currency, pending_id, timeout_ms, code, reference, at_ms, hash"

    public func account(_ id: String) throws -> LedgerAccount? {
        try connection.execute(prepared: "account", "SELECT \(Self.accountColumns) FROM ledger_accounts WHERE id = $1", [id]).rows.first.map(Self.account)
    }

    public func accounts() throws -> [LedgerAccount] {
        try connection.execute("SELECT \(Self.accountColumns) FROM ledger_accounts ORDER BY id").rows.map(Self.account)
    }

    private static func account(_ row: [String?]) -> LedgerAccount {
        func number(_ column: Int) -> Int64 { row[column].flatMap { Int64($0) } ?? 0 }
        return LedgerAccount(id: row[0] ?? "", kind: LedgerAccount.Kind(rawValue: row[1] ?? "") ?? .asset, currency: row[2] ?? "",
                             debitsMustNotExceedCredits: row[3] == "t", sums: (number(4), number(5), number(6), number(7)))
    }

    public func insert(_ account: LedgerAccount) throws {
        try connection.execute("INSERT INTO ledger_accounts(id, kind, currency, debits_must_not_exceed_credits) VALUES ($1, $2, $3, $4)",
                               [account.id, account.kind.rawValue, account.currency, account.debitsMustNotExceedCredits ? "true" : "false"])
    }

    public func save(_ account: LedgerAccount) throws {
        try connection.execute(prepared: "save_account", """
            UPDATE ledger_accounts SET debits_pending = $1, debits_posted = $2, credits_pending = $3, credits_posted = $4 WHERE id = $5
            """, ["\(account.debitsPending)", "\(account.debitsPosted)", "\(account.creditsPending)", "\(account.creditsPosted)", account.id])
    }

    /// Every account of a batch in one statement.
    public func save(_ accounts: [LedgerAccount]) throws {
        guard accounts.count > 1 else { return try accounts.first.map(save) ?? () }
        var ids = PostgresArrayLiteral(), sums = Array(repeating: PostgresArrayLiteral(), count: 4)
        for account in accounts {
            ids.append(account.id)
            for (index, sum) in [account.debitsPending, account.debitsPosted, account.creditsPending, account.creditsPosted].enumerated() {
                sums[index].append(sum)
            }
        }
        try connection.execute(prepared: "save_accounts", """
            UPDATE ledger_accounts a SET debits_pending = s.dp, debits_posted = s.dd, credits_pending = s.cp, credits_posted = s.cc
            FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS s(id, dp, dd, cp, cc) WHERE a.id = s.id
            """, [ids.text] + sums.map(\.text))
    }

    public func entry(id: String) throws -> JournalEntry? {
        try flush()
        return try connection.execute(prepared: "entry", "SELECT \(Self.entryColumns) FROM ledger_journal WHERE id = $1", [id]).rows.first.map(Self.entry)
    }

    public func closingKind(of pendingId: String) throws -> String? {
        try flush()
        return try connection.execute(prepared: "closing", "SELECT kind FROM ledger_journal WHERE pending_id = $1", [pendingId]).value()
    }

    public func prepare(ids: [String], knownAbsent: Bool) throws {
        taken = knownAbsent ? [] : Set(try amounts(of: ids).keys)
        prepared = Set(ids)
    }

    /// An entry of the prepared batch is kept back (its id was looked up); any other is written
    /// at once and tells a taken id by the insert itself.
    public func append(_ entry: JournalEntry) throws -> Bool {
        if prepared.contains(entry.id) {
            guard !taken.contains(entry.id) else { return false }
            taken.insert(entry.id)
            unwritten.append(entry)
            if unwritten.count >= Self.rowsPerInsert { try flush() }
            return true
        }
        try flush()
        return try connection.execute(prepared: "append", """
            INSERT INTO ledger_journal(\(Self.entryColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING
            """, ["\(entry.seq)", entry.id, entry.kind.rawValue, entry.debit, entry.credit, "\(entry.amount)", entry.currency, entry.pendingId,
                  entry.timeoutMs.map { "\($0)" }, entry.code, entry.reference, "\(entry.atMs)", PostgresBytes.encode(entry.hash)]).affected == 1
    }

    /// Writes the kept-back entries with one INSERT of arrays (unnest): a batch of a thousand
    /// settlements is one round trip, not a thousand.
    public func flush() throws {
        guard !unwritten.isEmpty else { return }
        let rows = unwritten
        unwritten = []
        var columns = Array(repeating: PostgresArrayLiteral(reservingBytes: rows.count * 16), count: 13)
        for entry in rows {
            columns[0].append(entry.seq)
            columns[1].append(entry.id)
            columns[2].append(entry.kind.rawValue)
            columns[3].append(entry.debit)
            columns[4].append(entry.credit)
            columns[5].append(entry.amount)
            columns[6].append(entry.currency)
            columns[7].append(entry.pendingId)
            columns[8].append(entry.timeoutMs)
            columns[9].append(entry.code)
            columns[10].append(entry.reference)
            columns[11].append(entry.atMs)
            columns[12].append(bytea: entry.hash)
        }
        try connection.execute(prepared: "append_many", """
            INSERT INTO ledger_journal(\(Self.entryColumns))
            SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[],
                                 $9::bigint[], $10::text[], $11::text[], $12::bigint[], $13::bytea[])
            """, columns.map(\.text))
    }

    public func head() throws -> (seq: Int64, hash: [UInt8]) {
        try flush()
        guard let row = try connection.execute(prepared: "head", "SELECT seq, hash FROM ledger_journal ORDER BY seq DESC LIMIT 1", []).rows.first else {
            return (0, [])
        }
        return (row[0].flatMap { Int64($0) } ?? 0, row[1].flatMap(PostgresBytes.decode) ?? [])
    }

    public func duePending(nowMs: Int64, limit: Int) throws -> [String] {
        try flush()
        return try connection.execute("""
            SELECT p.id FROM ledger_journal p WHERE p.kind = 'pending' AND p.timeout_ms <= $1
            AND NOT EXISTS (SELECT 1 FROM ledger_journal c WHERE c.pending_id = p.id) ORDER BY p.timeout_ms, p.seq LIMIT $2
            """, ["\(nowMs)", "\(limit)"]).rows.compactMap { $0[0] }
    }

    public func amounts(of ids: [String]) throws -> [String: Int64] {
        try flush()
        guard !ids.isEmpty else { return [:] }
        var found: [String: Int64] = [:]
        // One round trip for any number of ids: the array is a text literal, each id quoted.
        let array = PostgresArrayLiteral.of(ids)
        for row in try connection.execute(prepared: "amounts", "SELECT id, amount FROM ledger_journal WHERE id = ANY($1::text[])", [array]).rows {
            if let id = row[0], let amount = row[1].flatMap({ Int64($0) }) { found[id] = amount }
        }
        return found
    }

    public func settled(fromMs: Int64, toMs: Int64) throws -> [(reference: String, id: String, amount: Int64)] {
        try flush()
        return try connection.execute("""
            SELECT reference, id, amount FROM ledger_journal WHERE at_ms >= $1 AND at_ms < $2 AND code IN ('sale', 'refund') AND reference IS NOT NULL
            """, ["\(fromMs)", "\(toMs)"]).rows.compactMap { row in
            guard let reference = row[0], let id = row[1], let amount = row[2].flatMap({ Int64($0) }) else { return nil }
            return (reference, id, amount)
        }
    }

    public func journal(fromMs: Int64, toMs: Int64) throws -> [JournalEntry] {
        try flush()
        return try connection.execute("SELECT \(Self.entryColumns) FROM ledger_journal WHERE at_ms >= $1 AND at_ms < $2 ORDER BY seq",
                               ["\(fromMs)", "\(toMs)"]).rows.map(Self.entry)
    }

    public func journal(from seq: Int64, limit: Int) throws -> [JournalEntry] {
        try flush()
        return try connection.execute("SELECT \(Self.entryColumns) FROM ledger_journal WHERE seq >= $1 ORDER BY seq LIMIT $2", ["\(seq)", "\(limit)"]).rows.map(Self.entry)
    }

    static func entry(_ row: [String?]) -> JournalEntry {
        func number(_ column: Int) -> Int64 { row[column].flatMap { Int64($0) } ?? 0 }
        return JournalEntry(seq: number(0), id: row[1] ?? "", kind: JournalEntry.Kind(rawValue: row[2] ?? "") ?? .posted, debit: row[3] ?? "",
                            credit: row[4] ?? "", amount: number(5), currency: row[6] ?? "", pendingId: row[7], timeoutMs: row[8].flatMap { Int64($0) },
                            code: row[9] ?? "", reference: row[10], atMs: number(11), hash: row[12].flatMap(PostgresBytes.decode) ?? [])
    }

    public func savepoint<T>(_ body: () throws -> T) throws -> T {
        // What came before is written first: a rollback to here undoes only what `body` kept back.
        try flush()
        savepoints += 1
        let name = "ledger_\(savepoints)"
        defer { savepoints -= 1 }
        let takenBefore = taken
        try connection.execute("SAVEPOINT " + name)
        do {
            let value = try body()
            try flush()
            try connection.execute("RELEASE SAVEPOINT " + name)
            return value
        } catch {
            unwritten = []
            taken = takenBefore
            if connection.isConnected { _ = try? connection.execute("ROLLBACK TO SAVEPOINT " + name) }
            throw error
        }
    }

    public func transaction<T>(_ body: () throws -> T) throws -> T {
        do {
            return try connection.transaction {
                let value = try body()
                try flush()
                return value
            }
        } catch {
            unwritten = []
            throw error
        }
    }
}

