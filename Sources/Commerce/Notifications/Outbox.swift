import Platform

/// A receiver of this node's events: an HTTPS (or, on a trusted network, HTTP) URL, the event
/// types it wants, and the secret every delivery is signed with.
public struct WebhookEndpoint: Equatable, Sendable {
    public var id: String
    public var url: String
    /// Event types it receives; empty means every type.
    public var types: [OutboxEvent.Kind]
    public var description: String
    public var secret: String
    /// After a rotation, the old secret signs too until `previousUntilMs`, so the receiver can
    /// change its configuration without dropping a delivery.
    public var previousSecret: String?
    public var previousUntilMs: Int64?
    public var createdMs: Int64
    /// A provider's API (SMS, push): how its body is written, as the node stores it (JSON text);
    /// nil for a receiver of the event JSON.
    public var template: String?

    public func receives(_ kind: OutboxEvent.Kind) -> Bool { types.isEmpty || types.contains(kind) }

    /// The secrets that sign a delivery made at `nowMs`: the current one first.
    public func signingSecrets(nowMs: Int64) -> [String] {
        guard let previousSecret, let until = previousUntilMs, nowMs < until else { return [secret] }
        return [secret, previousSecret]
    }

    public init(id: String, url: String, types: [OutboxEvent.Kind], description: String, secret: String,
                previousSecret: String? = nil, previousUntilMs: Int64? = nil, createdMs: Int64, template: String? = nil) {
        self.id = id
        self.url = url
        self.types = types
        self.description = description
        self.secret = secret
        self.previousSecret = previousSecret
        self.previousUntilMs = previousUntilMs
        self.createdMs = createdMs
        self.template = template
    }
}

/// One event on its way to one endpoint.
public struct WebhookDelivery: Equatable, Sendable {
    public enum State: String, Sendable, CaseIterable { case pending, delivered, dead }

    public var endpoint: String
    public var sequence: Int64
    public var state: State
    public var attempts: Int
    public var dueMs: Int64
    public var firstAttemptMs: Int64?
    public var lastAttemptMs: Int64?
    public var lastStatus: Int?
    public var lastError: String?
    public var event: OutboxEvent
}

/// When a failed delivery is tried again, and when it is given up: exponential back-off from
/// `firstDelayMs`, doubling to at most `maxDelayMs`, each wait drawn at random between half and
/// all of it (full jitter would let a crowd of retries meet again), until `giveUpAfterMs` after
/// the first attempt.
public struct RetrySchedule: Equatable, Sendable {
    public var firstDelayMs: Int64
    public var maxDelayMs: Int64
    public var giveUpAfterMs: Int64

    /// 10 s, doubling to an hour, for 72 hours.
    public static let standard = RetrySchedule(firstDelayMs: 10_000, maxDelayMs: 3_600_000, giveUpAfterMs: 72 * 3_600_000)

    public init(firstDelayMs: Int64, maxDelayMs: Int64, giveUpAfterMs: Int64) {
        precondition(firstDelayMs > 0 && maxDelayMs >= firstDelayMs && giveUpAfterMs > 0, "a retry schedule moves forward")
        self.firstDelayMs = firstDelayMs
        self.maxDelayMs = maxDelayMs
        self.giveUpAfterMs = giveUpAfterMs
    }

    /// After failed attempt number `attempts` (1 for the first), when the next one is due, or
    /// nil when the delivery is given up. `random` is uniform in 0..<1 (injected for tests).
    public func nextAttemptMs(afterAttempts attempts: Int, firstAttemptMs: Int64, nowMs: Int64, random: Double) -> Int64? {
        var delay = firstDelayMs
        for _ in 1..<max(1, min(attempts, 40)) where delay < maxDelayMs { delay = min(maxDelayMs, delay * 2) }
        let jittered = delay / 2 + Int64(Double(delay / 2) * min(max(random, 0), 1))
        let next = nowMs + jittered
        return next - firstAttemptMs > giveUpAfterMs ? nil : next
    }
}

/// The node's notification outbox (docs/notifications.md): events written in the transaction of
/// the change that caused them, each fanned out to the endpoints subscribed at that moment, and
/// the deliveries' progress. Every method runs in the caller's transaction or read.
public struct Outbox {
    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    // MARK: Events

    /// Keeps the events not already kept (by id) and queues each for the endpoints that receive
    /// its type; returns how many were new.
    @discardableResult
    public func record(_ events: [OutboxEvent], endpoints: [WebhookEndpoint], nowMs: Int64) throws -> Int {
        var recorded = 0
        for event in events {
            let sequence = try database.queryOne("""
                INSERT INTO outbox_events(id, type, subject, occurred_ms, recorded_ms, data) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO NOTHING RETURNING seq
                """, [event.id, event.kind.rawValue, event.subject, event.occurredMs, nowMs, event.data]) { $0.int64(0) }
            guard let sequence else { continue }
            recorded += 1
            for endpoint in endpoints where endpoint.receives(event.kind) {
                _ = try database.execute("INSERT INTO webhook_deliveries(endpoint, event_seq, state, due_ms) VALUES (?, ?, 'pending', ?)",
                                         [endpoint.id, sequence, nowMs])
            }
        }
        return recorded
    }

    // MARK: Endpoints

    public func endpoints() throws -> [WebhookEndpoint] {
        try database.query("""
            SELECT id, url, types, description, secret, previous_secret, previous_until_ms, created_ms, template FROM webhook_endpoints ORDER BY created_ms, id
            """) { row in
            WebhookEndpoint(id: row.string(0), url: row.string(1), types: Self.types(row.string(2)), description: row.string(3), secret: row.string(4),
                            previousSecret: row.optionalString(5), previousUntilMs: row.optionalInt64(6), createdMs: row.int64(7), template: row.optionalString(8))
        }
    }

    public func add(_ endpoint: WebhookEndpoint) throws {
        _ = try database.execute("""
            INSERT INTO webhook_endpoints(id, url, types, description, secret, created_ms, template) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [endpoint.id, endpoint.url, endpoint.types.isEmpty ? "*" : endpoint.types.map(\.rawValue).joined(separator: " "),
                  endpoint.description, endpoint.secret, endpoint.createdMs, endpoint.template])
    }

    /// Removes an endpoint and what was still to be delivered to it; false when there was none.
    public func remove(endpoint id: String) throws -> Bool {
        _ = try database.execute("DELETE FROM webhook_deliveries WHERE endpoint = ?", [id])
        return try database.execute("DELETE FROM webhook_endpoints WHERE id = ?", [id]) > 0
    }

    /// A new secret; the current one keeps signing until `previousUntilMs`. False when there is no such endpoint.
    public func rotateSecret(endpoint id: String, to secret: String, previousUntilMs: Int64) throws -> Bool {
        try database.execute("""
            UPDATE webhook_endpoints SET previous_secret = secret, previous_until_ms = ?, secret = ? WHERE id = ?
            """, [previousUntilMs, secret, id]) > 0
    }

    private static func types(_ text: String) -> [OutboxEvent.Kind] {
        text == "*" ? [] : text.split(separator: " ").compactMap { OutboxEvent.Kind(rawValue: String($0)) }
    }

    // MARK: Deliveries

    private static let deliveryColumns = """
        d.endpoint, d.event_seq, d.state, d.attempts, d.due_ms, d.first_attempt_ms, d.last_attempt_ms, d.last_status, d.last_error,
        e.id, e.type, e.subject, e.occurred_ms, e.data
        """

    private static func delivery(_ row: Row) -> WebhookDelivery? {
        guard let state = WebhookDelivery.State(rawValue: row.string(2)), let kind = OutboxEvent.Kind(rawValue: row.string(10)) else { return nil }
        return WebhookDelivery(endpoint: row.string(0), sequence: row.int64(1), state: state, attempts: row.int(3), dueMs: row.int64(4),
                               firstAttemptMs: row.optionalInt64(5), lastAttemptMs: row.optionalInt64(6), lastStatus: row.optionalInt64(7).map { Int($0) },
                               lastError: row.optionalString(8),
                               event: OutboxEvent(id: row.string(9), kind: kind, subject: row.string(11), occurredMs: row.int64(12), data: row.string(13)))
    }

    /// An endpoint's next pending deliveries in order, after `afterSequence` (those taken and not
    /// yet recorded), up to `limit` and up to the first that is not due: an endpoint gets its
    /// events in order, so a later event never overtakes one still failing. One index range read.
    public func due(endpoint: String, after afterSequence: Int64, nowMs: Int64, limit: Int) throws -> [WebhookDelivery] {
        let next = try database.query("""
            SELECT \(Self.deliveryColumns) FROM webhook_deliveries d JOIN outbox_events e ON e.seq = d.event_seq
            WHERE d.endpoint = ? AND d.state = 'pending' AND d.event_seq > ? ORDER BY d.event_seq LIMIT ?
            """, [endpoint, afterSequence, limit], Self.delivery)
        return next.prefix { ($0?.dueMs ?? .max) <= nowMs }.compactMap { $0 }
    }

    /// The receiver took these: consecutive deliveries of one endpoint, as `due` gave them.
    /// One statement for the run (the pending rows between its first and last are exactly these).
    public func delivered(_ deliveries: [(delivery: WebhookDelivery, status: Int)], nowMs: Int64) throws {
        guard let first = deliveries.first?.delivery, let last = deliveries.last else { return }
        precondition(deliveries.allSatisfy { $0.delivery.endpoint == first.endpoint }, "one endpoint's deliveries")
        _ = try database.execute("""
            UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, first_attempt_ms = coalesce(first_attempt_ms, ?),
                last_attempt_ms = ?, last_status = ?, last_error = NULL
            WHERE endpoint = ? AND state = 'pending' AND event_seq BETWEEN ? AND ?
            """, [nowMs, nowMs, last.status, first.endpoint, first.sequence, last.delivery.sequence])
    }

    /// It failed: tried again at `nextMs`, or dead when that is nil. Returns the new state.
    @discardableResult
    public func failed(_ delivery: WebhookDelivery, status: Int?, error: String, nowMs: Int64, schedule: RetrySchedule, random: Double) throws -> WebhookDelivery.State {
        let attempts = delivery.attempts + 1
        let next = schedule.nextAttemptMs(afterAttempts: attempts, firstAttemptMs: delivery.firstAttemptMs ?? nowMs, nowMs: nowMs, random: random)
        let state: WebhookDelivery.State = next == nil ? .dead : .pending
        _ = try database.execute("""
            UPDATE webhook_deliveries SET state = ?, attempts = ?, due_ms = ?, first_attempt_ms = coalesce(first_attempt_ms, ?),
                last_attempt_ms = ?, last_status = ?, last_error = ?
            WHERE endpoint = ? AND event_seq = ? AND state = 'pending'
            """, [state.rawValue, attempts, next ?? delivery.dueMs, nowMs, nowMs, status, String(error.prefix(500)), delivery.endpoint, delivery.sequence])
        return state
    }

    /// Deliveries given up, newest first.
    public func dead(endpoint: String? = nil, limit: Int) throws -> [WebhookDelivery] {
        try database.query("""
            SELECT \(Self.deliveryColumns) FROM webhook_deliveries d JOIN outbox_events e ON e.seq = d.event_seq
            WHERE d.state = 'dead' AND (?1 IS NULL OR d.endpoint = ?1) ORDER BY d.last_attempt_ms DESC, d.event_seq DESC LIMIT ?2
            """, [endpoint, limit], Self.delivery).compactMap { $0 }
    }

    /// Puts dead deliveries back in line, due now, with a fresh 72 hours: one (`sequence`), or all
    /// of an endpoint's, or all. Returns how many.
    public func retry(endpoint: String?, sequence: Int64?, nowMs: Int64) throws -> Int {
        try database.execute("""
            UPDATE webhook_deliveries SET state = 'pending', attempts = 0, due_ms = ?, first_attempt_ms = NULL
            WHERE state = 'dead' AND (?2 IS NULL OR endpoint = ?2) AND (?3 IS NULL OR event_seq = ?3)
            """, [nowMs, endpoint, sequence])
    }

    /// Forgets what is done: deliveries that arrived before `beforeMs`, and events recorded before
    /// it that no delivery still waits for (or holds dead). Returns the events forgotten.
    @discardableResult
    public func prune(beforeMs: Int64) throws -> Int {
        _ = try database.execute("DELETE FROM webhook_deliveries WHERE state = 'delivered' AND last_attempt_ms < ?", [beforeMs])
        return try database.execute("""
            DELETE FROM outbox_events WHERE recorded_ms < ? AND NOT EXISTS (SELECT 1 FROM webhook_deliveries WHERE event_seq = outbox_events.seq)
            """, [beforeMs])
    }

    /// Deliveries per state, for status and metrics.
    public func counts() throws -> [WebhookDelivery.State: Int] {
        var counts: [WebhookDelivery.State: Int] = [:]
        for (state, count) in try database.query("SELECT state, count(*) FROM webhook_deliveries GROUP BY state", [], { ($0.string(0), $0.int(1)) }) {
            if let state = WebhookDelivery.State(rawValue: state) { counts[state] = count }
        }
        return counts
    }
}
