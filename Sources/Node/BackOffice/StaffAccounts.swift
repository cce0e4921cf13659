import Platform

/// Staff who sign in to the back office (`staff_accounts`), and their sessions
/// (`staff_sessions`). Node-local: a store keeps its own staff. Every method runs in the
/// caller's transaction or read.
struct StaffAccounts {
    /// Roles a back-office account may hold.
    static let roles = ["store_manager", "operator", "hub_admin"]
    /// A session lasts a working day at most, then its holder signs in again.
    static let sessionLifetimeMs: Int64 = 12 * 3_600_000
    /// Sessions one account may hold at once (a till tablet, an office PC, a phone...): the
    /// oldest ends when another begins.
    static let sessionsPerAccountMax = 8

    struct Account: Equatable {
        var id: String
        var name: String
        var role: String
        var passwordHash: String
        var createdMs: Int64
        var changedMs: Int64
    }

    struct Session: Equatable {
        var account: Account
        var formToken: String
        var createdMs: Int64
        var expiresMs: Int64
    }

    let database: Database

    /// Sign-in names: what a login form can carry and a log can print.
    static func isValidId(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 46 || $0 == 95 }
    }

    private static func account(_ row: Row) -> Account {
        Account(id: row.string("id"), name: row.string("name"), role: row.string("role"), passwordHash: row.string("password_hash"),
                createdMs: row.int64("created_ms"), changedMs: row.int64("changed_ms"))
    }

    func account(_ id: String) throws -> Account? {
        try database.queryOne("SELECT id, name, role, password_hash, created_ms, changed_ms FROM staff_accounts WHERE id = ?", [id], Self.account)
    }

    func all() throws -> [Account] {
        try database.query("SELECT id, name, role, password_hash, created_ms, changed_ms FROM staff_accounts ORDER BY id", [], Self.account)
    }

    /// Adds or changes an account; its sessions end (a new password or role counts from now).
    func put(_ account: Account) throws {
        try database.execute("""
            INSERT INTO staff_accounts(id, name, role, password_hash, created_ms, changed_ms) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role, password_hash = excluded.password_hash, changed_ms = excluded.changed_ms
            """, [account.id, account.name, account.role, account.passwordHash, account.createdMs, account.changedMs])
        try database.execute("DELETE FROM staff_sessions WHERE account = ?", [account.id])
    }

    /// Removes an account and ends its sessions; false when there was none.
    func remove(_ id: String) throws -> Bool {
        try database.execute("DELETE FROM staff_sessions WHERE account = ?", [id])
        return try database.execute("DELETE FROM staff_accounts WHERE id = ?", [id]) > 0
    }

    // MARK: Sessions

    func startSession(secretHash: String, account: String, formToken: String, nowMs: Int64) throws {
        try database.execute("DELETE FROM staff_sessions WHERE expires_ms <= ?", [nowMs])
        try database.execute("""
            DELETE FROM staff_sessions WHERE account = ? AND id_hash NOT IN
                (SELECT id_hash FROM staff_sessions WHERE account = ? ORDER BY created_ms DESC LIMIT ?)
            """, [account, account, Self.sessionsPerAccountMax - 1])
        try database.execute("INSERT INTO staff_sessions(id_hash, account, form_token, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)",
                             [secretHash, account, formToken, nowMs, nowMs + Self.sessionLifetimeMs])
    }

    /// The live session whose secret hashes to `secretHash`, with its account as it is now.
    func session(secretHash: String, nowMs: Int64) throws -> Session? {
        try database.queryOne("""
            SELECT a.id, a.name, a.role, a.password_hash, a.created_ms, a.changed_ms, s.form_token, s.created_ms AS started_ms, s.expires_ms
            FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account
            WHERE s.id_hash = ? AND s.expires_ms > ? AND s.created_ms >= a.changed_ms
            """, [secretHash, nowMs]) { row in
            Session(account: Self.account(row), formToken: row.string("form_token"), createdMs: row.int64("started_ms"), expiresMs: row.int64("expires_ms"))
        }
    }

    func endSession(secretHash: String) throws {
        try database.execute("DELETE FROM staff_sessions WHERE id_hash = ?", [secretHash])
    }
}
