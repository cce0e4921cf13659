import Commerce
import HTTP
import Platform

/// What a node is and how it runs: the TOML file, overridden by command-line flags, over the
/// embedded defaults. Every field has a default so `noded` runs with no file at all.
public struct NodeConfig: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        /// Sells in one store: storefront, POS, local stock.
        case store
        /// Serves a region's storefront and relays between stores and the hub.
        case regional
        /// Settles payments and writes the canonical ledger; one per fleet.
        case hub
    }

    public enum LogLevel: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// The node's id; nil until the first start chose one (then it is read from the database).
    public var nodeId: String?
    /// Region name; customer data stays inside it.
    public var region = "local"
    public var role = Role.store
    /// The region's default locale: catalog text falls back to it, and names sort in it.
    public var locale = "en"
    /// The shop's name in the storefront's pages.
    public var shopName = "Outpost"
    /// Memory for rendered catalog answers (the response cache), in bytes.
    public var cacheBytesMax = 64 << 20
    /// log2 of scrypt's N for new password hashes (r=8, p=3): 15 is OWASP's minimum; lower only
    /// for tests. Hashes keep their own cost, so raising it later leaves older ones valid.
    public var passwordCostLog2N: UInt8 = 15
    /// Tax, shipping fee: how this region's checkout prices an order.
    public var checkout = CheckoutTerms()
    /// The return window and whether shipping is refunded (`[returns]`).
    public var returns = ReturnPolicy()
    /// The store's tills (`[pos]`).
    public var pos = POSSettings()
    /// How long an order placed without a confirmed payment holds its stock.
    public var reservationSeconds: Int64 = 900
    /// The location this node sells from (stock receipts default to it); nil: the node's id.
    public var stockLocation: String?
    /// Where the database, keys and admin token live.
    /// The file this configuration was read from; nil: the embedded defaults (and flags).
    public var source: String?
    public var dataDirectory = "./data"
    /// Addresses to listen on (HOST:PORT, port 0 for any free port).
    public var listen: [SocketAddress] = [SocketAddress(host: "127.0.0.1", port: 8080)]
    public var logLevel = LogLevel.info
    /// One JSON line per request, to stderr.
    public var accessLog = true
    /// HTTP bounds and timeouts.
    public var http = HTTPSettings()
    public var rateLimits = RateLimits()
    /// How long a graceful stop waits for requests in flight.
    public var shutdownGraceMs: UInt64 = 10_000
    /// `synchronous` of the node database: FULL unless an operator knowingly trades durability.
    public var synchronous = Database.Synchronous.full
    /// Replication with other nodes.
    public var sync = SyncSettings()
    /// Hub: how often it signs its journal's head (when it moved) and replicates the checkpoint.
    public var ledgerCheckpointIntervalMs: Int64 = 300_000
    /// Hub: where the canonical books are kept (docs/ledger.md, "The hub on PostgreSQL").
    public var ledgerStore = LedgerStore.sqlite
    /// Hub on PostgreSQL: how long the settlement lease lasts unrenewed (a dead leader's hub is
    /// replaced after at most this).
    public var settlementLeaseMs: Int64 = 5_000

    public enum LedgerStore: Sendable, Equatable {
        /// The node's own SQLite database: one hub, the embedded default.
        case sqlite
        /// A PostgreSQL cluster shared by every hub of the fleet, by a libpq connection string.
        case postgresql(connection: String)
    }

    /// Backups (docs/backups.md): off unless a directory and a key file are given.
    public var backup = BackupSettings()

    /// Webhook delivery (docs/notifications.md).
    public var webhooks = WebhookSettings()

    /// Where approved product reviews are shown (docs/back-office.md): in this node's region
    /// only, or in every region of the fleet.
    public enum ReviewShare: String, Sendable {
        case region, fleet
    }

    public var reviewShare = ReviewShare.region

    /// Mail to shoppers (docs/notifications.md): off unless a relay and a sender are given.
    public var mail: MailSettings?

    public struct MailSettings: Sendable, Equatable {
        public var relayHost: String
        public var relayPort: UInt16
        public var security = SMTPRelay.Security.starttls
        public var username: String?
        /// A file holding the relay password (kept out of the configuration).
        public var passwordFile: String?
        public var from: String
        /// The shop's name: the sender's display name and the mails' greeting.
        public var shopName = "Outpost"
        /// Where links in mails point (an order's page, the reset form); nil: this node's first address.
        public var storefrontURL: String?
        public var caFile: String?
        public var timeoutMs: Int32 = 30_000
        public var retry = RetrySchedule(firstDelayMs: 30_000, maxDelayMs: 3_600_000, giveUpAfterMs: 72 * 3_600_000)
        /// Messages handed to the relay at once.
        public var concurrentMax = 2
    }

    public struct WebhookSettings: Sendable, Equatable {
        /// When a failed delivery is tried again, and when it is given up.
        public var retry = RetrySchedule.standard
        /// How long one delivery may take, connection and answer together.
        public var timeoutMs: Int32 = 10_000
        /// Endpoints may be plain `http://` (a receiver on a trusted network); otherwise HTTPS only.
        public var allowsHTTP = false
        /// CAs trusted besides the system's (a receiver's private PKI).
        public var caFile: String?
        /// Deliveries under way at once (each on a work-queue thread).
        public var concurrentMax = 4
        /// Delivered events are kept this long for `nodectl webhooks` before they are pruned.
        public var keepDeliveredMs: Int64 = 7 * 86_400_000
    }

    public struct BackupSettings: Sendable, Equatable {
        /// Where this node's backups go (a USB disk or NAS mount): `<directory>/<node id>/`.
        public var directory: String?
        /// The operator's backup key (64 hex digits), kept apart from the backups.
        public var keyFile: String?
        /// A full backup this often; the continuous archive in between.
        public var fullIntervalMs: Int64 = 86_400_000
        /// Backups older than this are pruned (the newest full is always kept).
        public var retentionMs: Int64 = 30 * 86_400_000
        /// A store or regional node sends its backup files to the hub as they are written.
        public var shipsToHub = true
        /// Hub: where it keeps its peers' backups (default `<data dir>/store-backups`).
        public var storesDirectory: String?
        public init() {}

        public var isEnabled: Bool { directory != nil }
    }

    public struct SyncSettings: Sendable, Equatable {
        /// Where peers connect (mutual TLS); nil: this node only dials out.
        public var listen: SocketAddress?
        /// Peers this node dials.
        public var peers: [SyncPeer] = []
        /// A peer clock further ahead than this is refused.
        public var maxDriftMs: Int64 = 60_000
        /// A peer not heard from for this long no longer holds op-log compaction back; when it
        /// returns it catches up by snapshot.
        public var forgetPeerAfterMs: Int64 = 7 * 86_400_000
        /// Hub: how often stores are given rights for what they sold.
        public var rebalanceIntervalMs: Int64 = 10_000
        /// A link silent for this long is down (PINGs go out after a quarter of it).
        public var linkTimeoutMs: Int64 = 8_000
        public init() {}

        /// Whether this node replicates at all (and so needs its fleet certificate).
        public var isEnabled: Bool { listen != nil || !peers.isEmpty }
    }

    /// A peer to dial: who it must be (its certificate) and where.
    public struct SyncPeer: Sendable, Equatable {
        public var nodeId: String
        public var region: String
        public var address: SocketAddress
        public init(nodeId: String, region: String, address: SocketAddress) {
            self.nodeId = nodeId
            self.region = region
            self.address = address
        }
    }

    public struct POSSettings: Sendable, Equatable {
        /// Per currency, the smallest cash step (`[pos.cash_rounding]`, e.g. CHF = 5).
        public var cashRounding = CashRounding.usual
        /// What a cashier may take off a line or a basket without a manager's PIN, in percent.
        public var cashierDiscountLimitPercent: Int64 = 10
        /// Whether a return without a receipt is taken at all (always with a manager's PIN, in cash).
        public var returnsWithoutReceipt = true
        /// Lines under the store's name at the top of a receipt (address, tax number).
        public var receiptHeader: [String] = []
        /// A cashier's session lasts this long unless the cashier signs out.
        public var sessionHours: Int64 = 12
        public init() {}
    }

    /// Requests per client address and route class (RateLimiter); see docs/security.md.
    public struct RateLimits: Sendable, Equatable {
        public var enabled = true
        /// Every route not named below: the replaced platform's 2,000 per 5 minutes.
        public var standardPer5Minutes: Int64 = 2_000
        public var searchPerMinute: Int64 = 240
        /// Sign-in, registration, password changes and resets, erasure: a password hash each.
        public var credentialsPerMinute: Int64 = 10
        /// The same routes, for the whole node: about what two cores hash at the default cost
        /// (0.4 s each). More would only queue: a real sign-in waited 5-6 s behind a flood of
        /// registrations; past this it is told to retry in a second instead.
        public var credentialsTotalPerSecond: Int64 = 5
        public init() {}

        /// The limiter these allowances make, nil when they are off.
        public var limiter: RateLimiter? {
            guard enabled else { return nil }
            return RateLimiter(policy: RateLimiter.Policy(
                perAddress: [.standard: .init(capacity: standardPer5Minutes, periodMs: 300_000),
                             .search: .init(capacity: searchPerMinute, periodMs: 60_000),
                             .credentials: .init(capacity: credentialsPerMinute, periodMs: 60_000)],
                total: [.credentials: .init(capacity: credentialsTotalPerSecond, periodMs: 1_000)]))
        }
    }

    public struct HTTPSettings: Sendable, Equatable {
        public var headerReadTimeoutMs: UInt64 = 10_000
        public var bodyReadTimeoutMs: UInt64 = 30_000
        /// A whole body's deadline (plus a second per 64 KiB it declares).
        public var bodyDeadlineMs: UInt64 = 30_000
        public var idleTimeoutMs: UInt64 = 75_000
        public var bodyBytesMax = 1 << 20
        public var connectionsMax = 10_000
        public var connectionsPerAddressMax = 256
        /// Whether /metrics answers without credentials (off: the admin token or an operator's).
        public var publicMetrics = false
        /// HTTPS on every listener: a certificate chain and key in PEM files, or `fleet` for the
        /// node's own fleet certificate (for tills and nodectl, which pin the fleet's CA; browsers
        /// need an operator's certificate). Reloaded on SIGHUP.
        public var tlsCertificate: String?
        public var tlsKey: String?
        /// "1.3" (the default) or "1.2" for older tills.
        public var tlsMinimumVersion = "1.3"
        public init() {}
    }

    public init() {}

    /// Node ids and region names: lowercase letters, digits and dashes, 1–63 characters,
    /// starting with a letter or digit (they appear in URLs, file names and order ids).
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), let first = bytes.first, isLowerAlnum(first) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
}

/// A configuration problem, naming the key (`http.idle_timeout_ms`) or flag (`--listen`).
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The key or flag at fault.
    public let key: String
    public let problem: String

    public init(key: String, _ problem: String) {
        self.key = key
        self.problem = problem
    }

    public var description: String { "\(key): \(problem)" }
}
