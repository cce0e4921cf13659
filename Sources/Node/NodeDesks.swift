import Commerce
import Mustache
import Platform

// The node's state in memory that is not data: what is under way and what protects it, grouped
// by who uses it. Each set or queue names its bound. Loop thread only.

/// The desks the routes hand their work to, each with what it has under way.
final class NodeDesks {
    /// Accounts' sign-in state: throttles and writes under way.
    let accounts = AccountDesk()
    /// Orders under way, and the jobs that follow sales and orders up.
    let shop = ShopDesk()
    /// The store's tills: throttles and what is being answered now.
    let tills = TillDesk()
    /// Every sale's admission, reservation and card authorization, with what is under way.
    let sale: SaleDesk
    /// The acquirer card payments go to (the built-in sandbox until a real adapter is configured).
    let gateway: any PaymentGateway
    /// Webhook endpoints and the deliveries under way.
    let notices = NoticeDesk()
    /// Mail to shoppers being sent.
    let mail = MailDesk()

    init(sale: SaleDesk, gateway: any PaymentGateway) {
        self.sale = sale
        self.gateway = gateway
    }
}

/// Accounts' sign-in state.
final class AccountDesk {
    /// Failed sign-ins per account and per address (in memory: a restart forgets them).
    var signInThrottle = SignInThrottle()
    /// Failed back-office sign-ins per account and per address, the same policy as customers'.
    var staffSignInThrottle = SignInThrottle()
    /// Wrong discount codes per cart and per address: five free per cart from one address, ten
    /// per cart, twenty per address, then waits (in memory, like the sign-in throttle).
    var codeThrottle: SignInThrottle = {
        var policy = SignInThrottle.Policy()
        policy.freeFailures = 5
        policy.lockoutFailures = 50
        policy.lockoutMs = 60 * 60_000
        return SignInThrottle(policy: policy)
    }()
    /// Sign-in sessions whose refresh token is being rotated (written and not yet committed):
    /// at most one per request in flight.
    var refreshing: Set<String> = []
    /// Emails whose registration is being written: two registrations of one email whose hashes
    /// finish in the same turn would otherwise both pass the check (memory changes at commit).
    /// At most one per request in flight.
    var registering: Set<String> = []
}

/// Orders under way, and the jobs that follow sales and orders up (the sales themselves are on
/// the `SaleDesk`).
final class ShopDesk {
    /// Orders whose stock this node placed must be given back (cancelled) or taken again (a
    /// shipment raced the cancellation): settled after the change that showed it. Bounded by what
    /// one turn's changes name (emptied every tick).
    var stockFollowUps: Set<String> = []
    /// Unpaid orders being cancelled for want of payment: at most 64 a tick (`expireReservations`).
    var expiring: Set<String> = []
    /// Orders whose declined payment another tender is replacing now (one at a time: a retry
    /// while the acquirer answers must not charge twice). At most one per staff request in flight.
    var collectingTender: Set<String> = []
    /// When overdue offline payments were last logged (once a minute while there are any).
    var overdueWarnedMs: Int64 = 0
    /// Checkouts and till sales whose answer never reached the disk, released once it takes writes.
    var unansweredSales = UnansweredSales()
}

/// Webhook endpoints and the deliveries under way (docs/notifications.md).
final class NoticeDesk {
    /// The endpoints as their table holds them, read at start and after each change: every
    /// change to an order this node owns looks them up.
    var endpoints: [WebhookEndpoint] = []
    /// Endpoints with a delivery under way, or a failure being recorded: one burst each, so an
    /// endpoint gets its events in order. At most `[webhooks] concurrent_max`.
    var delivering: Set<String> = []
    /// Per endpoint, the last event its receiver took, recorded or not yet: the next burst starts
    /// after it. A restart forgets it, and what was taken and not yet recorded goes again (at
    /// least once; receivers drop repeats by id).
    var takenUpTo: [String: Int64] = [:]
    /// HTTPS to receivers: the system's CAs and the configured ones.
    var tls: TLSContext?
    /// Per endpoint, its open connection, reused from one delivery to the next (one TLS
    /// handshake, not one per event). Dropped with the endpoint.
    var connections: [String: WebhookConnection] = [:]
    /// Provider templates compiled, by their stored text (at most one per endpoint).
    var templates: [String: (template: ProviderTemplate, compiled: MustacheTemplate)] = [:]
    /// Since start, for /metrics.
    var sent = 0, retried = 0, dead = 0
    var lastPruneMs: Int64 = 0
}

/// Test-only faults, from `OUTPOST_TEST_FAULT` (read once at start): each lets a test hit one
/// window exactly.
final class TestFaults {
    private let fault = ProcessStats.environment("OUTPOST_TEST_FAULT")
    /// `exit-after-reservation`: exit at once (no cleanup, like kill -9) after a checkout's (or a
    /// till sale's) reservation committed and before the acquirer is asked.
    var exitsAfterReservation: Bool { fault == "exit-after-reservation" }
    /// `fill-disk-after-reservation`: turn on the preloaded fault library's full disk
    /// (Sources/OutpostFaults) once, right after the first checkout's reservation committed, so
    /// its answer is the write the disk refuses.
    var fillsDiskAfterReservation: Bool
    /// `OUTPOST_BENCH_WITHOUT_SALES_WINDOWS`, benchmarks only (bench/backoffice.sh): orders are
    /// not folded into the sales windows, so a run can measure what keeping them costs a checkout.
    /// Reports of such a node are wrong; nothing else reads it.
    let skipsSalesWindows = ProcessStats.environment("OUTPOST_BENCH_WITHOUT_SALES_WINDOWS") != nil
    /// `exit-before-settlement-commit`: the hub exits at once after its first settlement pass
    /// asked the acquirer and before that pass's batch commits.
    var exitsBeforeSettlementCommit: Bool { fault == "exit-before-settlement-commit" }
    /// `exit-after-books-commit`: a hub on shared books (PostgreSQL) exits at once after its first
    /// batch committed there and before the events that say so commit here.
    var exitsAfterBooksCommit: Bool { fault == "exit-after-books-commit" }
    /// `fail-checkpoint-at-stop`: the checkpoint at stop fails as an I/O error would, so the
    /// stop's exit status can be tested.
    var failsCheckpointAtStop: Bool { fault == "fail-checkpoint-at-stop" }
    /// `stall-loop-after-ready`: half a second after the node is ready, its loop blocks for two
    /// seconds, as a loop stuck in a bug would: the watchdog must go unpetted meanwhile.
    var stallsLoopAfterReady: Bool { fault == "stall-loop-after-ready" }

    init() {
        fillsDiskAfterReservation = fault == "fill-disk-after-reservation"
    }
}

/// What the node reads or makes once and keeps until it changes.
final class NodeCaches {
    /// Rendered catalog answers (product documents, lists, searches), within `cache.bytes_max`.
    let responses: ResponseCache
    /// Prices as shoppers read them, per locale.
    let priceText = PriceText()
    /// Every promotion and shipping method, read once after each change to one (`promotions()`, `shippingMethods()`).
    var promotionList: [Promotion]?
    var shippingMethodList: [ShippingMethod]?
    /// Order events parsed once (see `OrderEventMemo`).
    var orderEvents = OrderEventMemo()
    /// Products decoded from their replicated fields, with the catalog version they were read at:
    /// at most one per product of the catalog.
    var productCache: [String: (stamp: UInt64, product: Product?)] = [:]
    /// `/api/v1/node`'s body, made again when the uptime's second changes.
    var nodeInfo: (uptimeSeconds: Int64, body: [UInt8]) = (-1, [])
    /// `/openapi.json`, made once at start.
    var openAPIBody: [UInt8] = []

    init(responses: ResponseCache) {
        self.responses = responses
    }
}

/// The node's keys at work: personal data sealed with the region's data keys, access tokens
/// signed with the node's key and verified against the fleet's.
final class NodeKeys {
    /// Seals customers' personal data and finds accounts by email.
    let customerVault: CustomerVault
    /// Signs this node's access tokens with its own key (and fleet certificate).
    let tokenSigner: TokenSigner
    /// Verifies access tokens from any node of the fleet (loop thread only: it caches).
    let tokenVerifier: TokenVerifier

    init(customerVault: CustomerVault, tokenSigner: TokenSigner, tokenVerifier: TokenVerifier) {
        self.customerVault = customerVault
        self.tokenSigner = tokenSigner
        self.tokenVerifier = tokenVerifier
    }
}

/// The node's place in its fleet: replication with its peers (nil without a fleet certificate
/// and [sync]), the hub it knows (remembered; card payments go offline whenever it is out of
/// reach), and, on the hub, the settlement of the fleet's payments.
final class FleetPlace {
    var sync: SyncService?
    var knownHub: String?
    var settlement: SettlementDesk?
}
