import Ledger
import Platform

/// A hub whose books are in a PostgreSQL cluster shared by every hub of the fleet
/// (docs/ledger.md, "The hub on PostgreSQL").
///
/// libpq is driven by blocking calls on the loop's work queue, one connection per lane: the
/// `writes` lane renews the settlement lease and posts the leader's batches (each in a
/// transaction fenced by the lease), the `reads` lane answers the ledger's routes, so a long
/// export never delays a renewal. A lane's session connects on first use and again after a
/// lost connection; with a multi-host connection string and `target_session_attrs=read-write`
/// that reconnection finds a promoted standby by itself.
final class PostgresHub {
    /// What one lane's jobs share. Touched only inside that lane's jobs (`WorkLane`).
    final class Session {
        let conninfo: String
        let hub: String
        let leaseMs: Int64
        /// The writes lane creates the schema and registers this hub's signing key once connected.
        let signer: Signer?
        private var connection: PostgresConnection?
        private var books: PostgresBooks?
        private var ready: Ledger?
        private(set) var lease: SettlementLease?
        /// Accounts known to be open (an account is opened once, then only read).
        var openAccounts: Set<String> = []

        init(conninfo: String, hub: String, leaseMs: Int64, signer: Signer?) {
            (self.conninfo, self.hub, self.leaseMs, self.signer) = (conninfo, hub, leaseMs, signer)
        }

        /// The books, connecting (again) first when the connection is down.
        func ledger() throws -> Ledger {
            if let ready, let connection, connection.isConnected { return ready }
            ready = nil
            openAccounts = []
            let connection = try self.connection ?? PostgresConnection(conninfo)
            self.connection = connection
            if !connection.isConnected { try connection.reconnect() }
            let books = PostgresBooks(connection: connection)
            // A hub frozen inside a transaction (SIGSTOP, a paused VM) would hold the lease row's
            // lock and keep the next leader out: the server ends such a transaction after the
            // lease's length. A takeover waiting for a batch in flight gives up after a third of
            // it and asks again at the next renewal, so the lane never waits long.
            try connection.execute("SET idle_in_transaction_session_timeout = \(leaseMs)")
            try connection.execute("SET lock_timeout = \(max(100, leaseMs / 3))")
            if let signer {
                try books.createSchema()
                try SettlementLease.createSchema(connection)
                try Self.createSignersTable(connection)
                try connection.execute("""
                    INSERT INTO ledger_signers(hub, public_key, certificate) VALUES ($1, $2, $3)
                    ON CONFLICT (hub) DO UPDATE SET public_key = EXCLUDED.public_key, certificate = EXCLUDED.certificate
                    """, [hub, signer.publicKey, signer.certificatePEM])
            }
            // The epoch survives a reconnection: the lease is the row's, not the connection's.
            let lease = SettlementLease(connection: connection, holder: hub, leaseMs: leaseMs, epoch: self.lease?.epoch)
            self.lease = lease
            self.books = books
            let ledger = Ledger(books: books)
            ready = ledger
            return ledger
        }

        /// Runs `body` in a transaction that first checks this hub still holds the lease.
        func fenced<T>(_ body: (Ledger) throws -> T) throws -> T {
            let ledger = try ledger()
            guard let lease, let books else { throw SettlementLease.Fenced(holder: nil) }
            return try lease.fenced(books: books) { try body(ledger) }
        }

        /// Renews the lease, or takes it when it is free or expired.
        func holdLease() throws -> LeaseView {
            _ = try ledger()
            guard let lease else { return LeaseView(leading: false, holder: nil, epoch: nil) }
            if lease.epoch != nil, try lease.renew() { return LeaseView(leading: true, holder: hub, epoch: lease.epoch) }
            if try lease.acquire() { return LeaseView(leading: true, holder: hub, epoch: lease.epoch) }
            let leader = try lease.leader()
            return LeaseView(leading: false, holder: leader?.holder, epoch: leader?.epoch)
        }

        /// Gives the lease up, if this hub holds it.
        func releaseLease() throws {
            guard let lease, lease.epoch != nil else { return }
            _ = try ledger()
            try lease.release()
        }

        /// The keys of every hub that signs checkpoints of `ledger`'s books whose fleet
        /// certificate verifies against `authorityPEM` (a hub without a certificate counts only
        /// on itself, by the caller's own key).
        static func signerKeys(of ledger: Ledger, authorityPEM: String?) throws -> Set<String> {
            guard let connection = (ledger.books as? PostgresBooks)?.connection, let authorityPEM else { return [] }
            try createSignersTable(connection)
            var keys: Set<String> = []
            for row in try connection.execute("SELECT certificate FROM ledger_signers WHERE certificate IS NOT NULL").rows {
                if let pem = row[0], let der = Certificates.der(ofPEM: pem),
                   let verified = Certificates.verifiedNode(der: der, authorityPEM: authorityPEM, nowSeconds: WallClock.nowMs() / 1000),
                   verified.subject.role == nil || verified.subject.role == "hub" {
                    keys.insert(Hex.encode(verified.publicKey))
                }
            }
            return keys
        }

        private static func createSignersTable(_ connection: PostgresConnection) throws {
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS ledger_signers (hub TEXT PRIMARY KEY, public_key TEXT NOT NULL, certificate TEXT)
                """)
        }
    }

    /// The key this hub signs checkpoints with, and its fleet certificate when it has one.
    struct Signer: Sendable {
        let publicKey: String
        let certificatePEM: String?
    }

    /// Who holds the settlement lease, as the last renewal saw it.
    struct LeaseView: Sendable, Equatable {
        var leading: Bool
        var holder: String?
        var epoch: Int64?
    }

    let writes: WorkLane<Session>
    let reads: WorkLane<Session>
    let leaseMs: Int64
    /// The last renewal's view; `leading` false until the first succeeds.
    var lease = LeaseView(leading: false, holder: nil, epoch: nil)
    var leadingSinceMs: Int64?
    var renewing = false
    var lastRenewalMs: Int64 = 0
    /// The last settlement batch failed: the next looks its ids up again before writing.
    var lastBatchFailed = false
    /// Tills whose Z-reports the leader anchors in its next pass.
    var tillsToAnchor: Set<String> = []
    var anchoring = false
    /// Why the last renewal failed (nil: it did not): what `nodectl ledger status` shows.
    var problem: String?

    init(loop: EventLoop, conninfo: String, hub: String, leaseMs: Int64, signer: Signer) {
        self.leaseMs = leaseMs
        writes = WorkLane(loop: loop, resource: Session(conninfo: conninfo, hub: hub, leaseMs: leaseMs, signer: signer))
        reads = WorkLane(loop: loop, resource: Session(conninfo: conninfo, hub: hub, leaseMs: leaseMs, signer: nil))
    }

    /// A renewal this often keeps a lease of `leaseMs` with two misses to spare.
    var renewalIntervalMs: Int64 { max(100, leaseMs / 3) }
}
