import Platform

/// Which of several hubs on one PostgreSQL cluster settles (docs/ledger.md, "The hub on
/// PostgreSQL"): a lease row with an epoch, taken and renewed by the database's clock, and a
/// fence on every write.
///
/// - `acquire` takes the lease if it is free or expired, raising the epoch; `renew` extends it
///   for the holder of the current epoch only. Times are the server's (`now()`): hubs' clocks
///   never decide who leads.
/// - `fenced` runs a transaction that first locks the lease row (FOR SHARE) and checks it is
///   still this holder's epoch and unexpired. A takeover needs the row's exclusive lock, so it
///   waits for that transaction to end; once taken, the old leader's next transaction fails
///   the check. A leader that lost its lease can never post.
public final class SettlementLease {
    public struct Fenced: Error, CustomStringConvertible {
        public let holder: String?
        public init(holder: String?) { self.holder = holder }
        public var description: String { "this hub no longer holds the settlement lease" + (holder.map { " (\($0) does)" } ?? "") }
    }

    public let connection: PostgresConnection
    public let name: String
    public let holder: String
    public let leaseMs: Int64
    /// The epoch this hub holds, once it acquired the lease.
    public private(set) var epoch: Int64?

    /// `epoch`: the one this hub held on a connection it lost (the lease is the row's, not the connection's).
    public init(connection: PostgresConnection, name: String = "settlement", holder: String, leaseMs: Int64 = 5_000, epoch: Int64? = nil) {
        self.connection = connection
        self.name = name
        self.holder = holder
        self.leaseMs = leaseMs
        self.epoch = epoch
    }

    public static func createSchema(_ connection: PostgresConnection) throws {
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS hub_lease (
                name TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                epoch BIGINT NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL
            )
            """)
    }

    /// Takes the lease if nobody holds it or it expired (or this hub holds it already). Returns
    /// whether this hub leads now.
    @discardableResult
    public func acquire() throws -> Bool {
        let interval = "\(leaseMs) milliseconds"
        let taken = try connection.execute("""
            INSERT INTO hub_lease(name, holder, epoch, expires_at) VALUES ($1, $2, 1, now() + $3::interval)
            ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, epoch = hub_lease.epoch + 1, expires_at = EXCLUDED.expires_at
            WHERE hub_lease.expires_at <= now() OR (hub_lease.holder = EXCLUDED.holder AND hub_lease.epoch = $4)
            RETURNING epoch
            """, [name, holder, interval, epoch.map { "\($0)" } ?? "0"])
        epoch = taken.value().flatMap { Int64($0) }
        return epoch != nil
    }

    /// Extends the lease by `leaseMs` from now; false when this hub lost it.
    @discardableResult
    public func renew() throws -> Bool {
        guard let epoch else { return false }
        let renewed = try connection.execute("""
            UPDATE hub_lease SET expires_at = now() + $3::interval WHERE name = $1 AND holder = $2 AND epoch = $4 AND expires_at > now()
            """, [name, holder, "\(leaseMs) milliseconds", "\(epoch)"])
        if renewed.affected == 0 { self.epoch = nil }
        return renewed.affected == 1
    }

    /// Gives the lease up (a graceful stop): the next hub to ask takes it at once rather than
    /// after it expires.
    public func release() throws {
        guard let epoch else { return }
        try connection.execute("UPDATE hub_lease SET expires_at = now() WHERE name = $1 AND holder = $2 AND epoch = $3",
                               [name, holder, "\(epoch)"])
        self.epoch = nil
    }

    /// Who holds the lease now, and whether it is still valid.
    public func leader() throws -> (holder: String, epoch: Int64, valid: Bool)? {
        guard let row = try connection.execute("SELECT holder, epoch, expires_at > now() FROM hub_lease WHERE name = $1", [name]).rows.first,
              let holder = row[0], let epoch = row[1].flatMap({ Int64($0) }) else { return nil }
        return (holder, epoch, row[2] == "t")
    }

    /// Runs `body` in a transaction that holds this hub's lease fenced: it throws `Fenced`,
    /// writing nothing, unless this hub still holds the current epoch.
    public func fenced<T>(_ body: () throws -> T) throws -> T {
        try connection.transaction {
            try checkHeld()
            return try body()
        }
    }

    /// As `fenced`, in the books' transaction (which writes what they kept back before COMMIT,
    /// and forgets it on a rollback).
    public func fenced<T>(books: PostgresBooks, _ body: () throws -> T) throws -> T {
        try books.transaction {
            try checkHeld()
            return try body()
        }
    }

    /// Locks the lease row for the transaction, or throws `Fenced` if this hub lost it.
    private func checkHeld() throws {
        let held = try connection.execute("""
            SELECT holder FROM hub_lease WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > now() FOR SHARE
            """, [name, holder, epoch.map { "\($0)" } ?? "0"])
        guard held.value() != nil else {
            epoch = nil
            throw Fenced(holder: try? connection.execute("SELECT holder FROM hub_lease WHERE name = $1", [name]).value())
        }
    }
}
