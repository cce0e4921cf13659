import Platform

/// One mail to a shopper, queued: what it is about, not its text. The text is written when it is
/// sent, from the order or account as it is then, in the shopper's language.
public struct QueuedMail: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case orderConfirmation = "order_confirmation"
        case orderShipped = "order_shipped"
        case passwordReset = "password_reset"
    }

    public enum State: String, Sendable { case pending, sent, dead }

    /// `mail_` and the event's id, or `mail_reset_` and a random part.
    public var id: String
    public var kind: Kind
    /// The order, or for a password reset the customer.
    public var about: String
    public var locale: String
    /// A password reset's token, sealed for this region.
    public var sealed: String?
    public var state: State
    public var attempts: Int
    public var dueMs: Int64
    public var firstAttemptMs: Int64?
    public var lastError: String?

    public init(id: String, kind: Kind, about: String, locale: String, sealed: String? = nil, state: State = .pending, attempts: Int = 0,
                dueMs: Int64, firstAttemptMs: Int64? = nil, lastError: String? = nil) {
        self.id = id
        self.kind = kind
        self.about = about
        self.locale = locale
        self.sealed = sealed
        self.state = state
        self.attempts = attempts
        self.dueMs = dueMs
        self.firstAttemptMs = firstAttemptMs
        self.lastError = lastError
    }

    /// The mails an order's events call for: its confirmation once placed, a note for each shipment.
    public static func forOrder(_ order: String, state: OrderState, events: [OutboxEvent], defaultLocale: String, nowMs: Int64) -> [QueuedMail] {
        let locale = state.placed?.locale ?? defaultLocale
        return events.compactMap { event in
            let kind: Kind
            switch event.kind {
            case .orderPlaced: kind = .orderConfirmation
            case .orderShipped: kind = .orderShipped
            default: return nil
            }
            return QueuedMail(id: "mail_" + event.id, kind: kind, about: order, locale: locale, dueMs: nowMs)
        }
    }
}

/// Mail waiting to go and what came of it (`mail_queue`). Every method runs in the caller's
/// transaction or read.
public struct MailQueue {
    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Queues the mails not queued already (by id); returns how many were new.
    @discardableResult
    public func queue(_ mails: [QueuedMail], nowMs: Int64) throws -> Int {
        var queued = 0
        for mail in mails {
            queued += try database.execute("""
                INSERT INTO mail_queue(id, kind, about, locale, sealed, state, due_ms, recorded_ms) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)
                ON CONFLICT(id) DO NOTHING
                """, [mail.id, mail.kind.rawValue, mail.about, mail.locale, mail.sealed, mail.dueMs, nowMs])
        }
        return queued
    }

    /// Gives a queued mail its secret (sealed): the guest's order link, known only to the
    /// checkout that made it. Nothing when the mail is not queued (mail is off).
    public func attachSecret(_ sealed: String, to id: String) throws {
        _ = try database.execute("UPDATE mail_queue SET sealed = ? WHERE id = ? AND state = 'pending'", [sealed, id])
    }

    private static let columns = "id, kind, about, locale, sealed, state, attempts, due_ms, first_attempt_ms, last_error"

    private static func mail(_ row: Row) -> QueuedMail? {
        guard let kind = QueuedMail.Kind(rawValue: row.string(1)), let state = QueuedMail.State(rawValue: row.string(5)) else { return nil }
        return QueuedMail(id: row.string(0), kind: kind, about: row.string(2), locale: row.string(3), sealed: row.optionalString(4), state: state,
                          attempts: row.int(6), dueMs: row.int64(7), firstAttemptMs: row.optionalInt64(8), lastError: row.optionalString(9))
    }

    /// Pending mail that is due, oldest due first, leaving out those being sent.
    public func due(nowMs: Int64, excluding busy: Set<String>, limit: Int) throws -> [QueuedMail] {
        try database.query("SELECT \(Self.columns) FROM mail_queue WHERE state = 'pending' AND due_ms <= ? ORDER BY due_ms LIMIT ?",
                           [nowMs, limit + busy.count], Self.mail).compactMap { $0 }.filter { !busy.contains($0.id) }.prefix(limit).map { $0 }
    }

    /// The relay took it: the token a reset carried is not kept.
    public func sent(_ id: String, nowMs: Int64) throws {
        _ = try database.execute("""
            UPDATE mail_queue SET state = 'sent', sealed = NULL, attempts = attempts + 1, first_attempt_ms = coalesce(first_attempt_ms, ?),
                last_attempt_ms = ?, last_error = NULL WHERE id = ? AND state = 'pending'
            """, [nowMs, nowMs, id])
    }

    /// It failed: tried again later, or dead once the schedule gives up (a dead reset forgets its token).
    @discardableResult
    public func failed(_ mail: QueuedMail, error: String, permanent: Bool, nowMs: Int64, schedule: RetrySchedule, random: Double) throws -> QueuedMail.State {
        let attempts = mail.attempts + 1
        let next = permanent ? nil : schedule.nextAttemptMs(afterAttempts: attempts, firstAttemptMs: mail.firstAttemptMs ?? nowMs, nowMs: nowMs, random: random)
        let state: QueuedMail.State = next == nil ? .dead : .pending
        _ = try database.execute("""
            UPDATE mail_queue SET state = ?, attempts = ?, due_ms = ?, first_attempt_ms = coalesce(first_attempt_ms, ?), last_attempt_ms = ?,
                last_error = ?, sealed = CASE WHEN ? = 'dead' THEN NULL ELSE sealed END
            WHERE id = ? AND state = 'pending'
            """, [state.rawValue, attempts, next ?? mail.dueMs, nowMs, nowMs, String(error.prefix(500)), state.rawValue, mail.id])
        return state
    }

    /// Mail per state, for status and metrics.
    public func counts() throws -> [QueuedMail.State: Int] {
        var counts: [QueuedMail.State: Int] = [:]
        for (state, count) in try database.query("SELECT state, count(*) FROM mail_queue GROUP BY state", [], { ($0.string(0), $0.int(1)) }) {
            if let state = QueuedMail.State(rawValue: state) { counts[state] = count }
        }
        return counts
    }

    /// Forgets sent and dead mail recorded before `beforeMs`.
    @discardableResult
    public func prune(beforeMs: Int64) throws -> Int {
        try database.execute("DELETE FROM mail_queue WHERE state <> 'pending' AND recorded_ms < ?", [beforeMs])
    }
}
