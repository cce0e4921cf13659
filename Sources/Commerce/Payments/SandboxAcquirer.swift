import Platform

/// The built-in acquirer for tests and demos: test card tokens decide what happens, and its
/// books (what it authorized, captured, voided, refunded) are durable rows of the node's
/// database, written through group commit like an acquirer's own records.
///
/// Test cards (docs/payments.md): the storefront shows them as cards; the API takes the token.
public final class SandboxAcquirer: PaymentGateway {
    public struct TestCard: Sendable {
        public let token: String
        public let label: String
    }

    public static let testCards: [TestCard] = [
        TestCard(token: "tok_visa", label: "Visa ending 4242: approves"),
        TestCard(token: "tok_mastercard", label: "Mastercard ending 4444: approves"),
        TestCard(token: "tok_decline_insufficient_funds", label: "Visa ending 9995: declined, insufficient funds"),
        TestCard(token: "tok_decline_stolen", label: "Visa ending 9979: declined, stolen card"),
        TestCard(token: "tok_decline_expired", label: "Visa ending 0069: declined, expired card"),
        TestCard(token: "tok_retry", label: "Visa ending 0119: asks for one retry, then approves"),
        TestCard(token: "tok_timeout", label: "Visa ending 3220: the acquirer never answers"),
    ]

    /// Amounts above this are declined (a card's limit).
    public static let limit: Int64 = 10_000_000

    public let name = "sandbox"
    private let writer: GroupCommit
    private var database: Database { writer.database }

    // Its tables (sandbox_acquirer, sandbox_refunds, sandbox_settlements) are created by the
    // node's migrations 8 and 10 (Sources/Node/ShippedMigrations.swift).

    /// The sandbox's fee on a sale: 1.4 % plus 0.25, rounded down (a typical card rate).
    public static func fee(on amount: Int64) -> Int64 { amount * 140 / 10_000 + 25 }

    public init(writer: GroupCommit) {
        self.writer = writer
    }

    private struct Book {
        var token: String, authorized: Int64, captured: Int64, refunded: Int64, state: String, code: String
    }

    /// Books written but not yet committed, so a retry in the same turn sees the first attempt.
    private var unwritten: [String: Book] = [:]

    private func book(_ paymentId: String) -> Book? {
        if let pending = unwritten[paymentId] { return pending }
        return try? database.queryOne("SELECT token, authorized, captured, refunded, state, code FROM sandbox_acquirer WHERE payment_id = ?", [paymentId]) {
            Book(token: $0.string(0), authorized: $0.int64(1), captured: $0.int64(2), refunded: $0.int64(3), state: $0.string(4), code: $0.string(5))
        }
    }

    private func write(_ paymentId: String, token: String, currency: String, _ book: Book) -> (Database) throws -> Void {
        { db in
            _ = try db.execute("""
                INSERT INTO sandbox_acquirer(payment_id, token, currency, authorized, captured, refunded, state, code) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(payment_id) DO UPDATE SET token = excluded.token, authorized = excluded.authorized, captured = excluded.captured,
                    refunded = excluded.refunded, state = excluded.state, code = excluded.code
                """, [paymentId, token, currency, book.authorized, book.captured, book.refunded, book.state, book.code])
        }
    }

    public func authorize(_ request: PaymentRequest, completion: @escaping (AuthorizationOutcome) -> Void) {
        let existing = book(request.paymentId)
        if let existing, existing.token == request.token {
            // The same payment again: the same answer (an acquirer's idempotency).
            switch existing.state {
            case "authorized" where request.token != "tok_timeout": return completion(.approved(code: existing.code))
            case "declined": return completion(.declined(DeclineReason(rawValue: existing.code) ?? .invalidToken))
            case "voided": return completion(.declined(.invalidToken))
            default: break
            }
        }
        let outcome: AuthorizationOutcome
        switch request.token {
        case _ where request.amount > Self.limit: outcome = .declined(.amountTooLarge)
        case "tok_visa", "tok_mastercard": outcome = .approved(code: Self.code(request.paymentId))
        case "tok_decline_insufficient_funds": outcome = .declined(.insufficientFunds)
        case "tok_decline_stolen": outcome = .declined(.stolenCard)
        case "tok_decline_expired": outcome = .declined(.expiredCard)
        case "tok_retry": outcome = existing?.state == "retry_asked" ? .approved(code: Self.code(request.paymentId)) : .retry
        // It did authorize; the answer was lost on the way. A void undoes it.
        case "tok_timeout": outcome = .timedOut
        default: outcome = .declined(.invalidToken)
        }
        let row: Book
        switch outcome {
        case .approved, .timedOut:
            row = Book(token: request.token, authorized: request.amount, captured: 0, refunded: 0, state: "authorized", code: Self.code(request.paymentId))
        case .declined(let reason):
            row = Book(token: request.token, authorized: 0, captured: 0, refunded: 0, state: "declined", code: reason.rawValue)
        case .retry:
            row = Book(token: request.token, authorized: 0, captured: 0, refunded: 0, state: "retry_asked", code: "")
        }
        // Its books share the node's database: the answer goes out with the write queued, so the
        // caller's own write of the outcome joins the same transaction and both are durable, or
        // neither (a crash before that commit leaves the payment to the checkout's recovery).
        unwritten[request.paymentId] = row
        writer.submit(write(request.paymentId, token: request.token, currency: request.currency, row)) { [weak self] _ in
            self?.unwritten[request.paymentId] = nil
        }
        completion(outcome)
    }

    public func capture(paymentId: String, amount: Int64, completion: @escaping (GatewayOutcome) -> Void) {
        guard var book = book(paymentId), book.state == "authorized" else { return completion(.refused("no open authorization for \(paymentId)")) }
        if book.captured == amount { return completion(.done) }
        guard book.captured == 0, amount > 0, amount <= book.authorized else {
            return completion(.refused("capture of \(amount) refused: authorized \(book.authorized), captured \(book.captured)"))
        }
        book.captured = amount
        commit(paymentId, book, completion)
    }

    public func void(paymentId: String, completion: @escaping (GatewayOutcome) -> Void) {
        guard var book = book(paymentId) else { return completion(.done) }
        switch book.state {
        case "voided", "declined", "retry_asked": return completion(.done)
        default: break
        }
        guard book.captured == 0 else { return completion(.refused("\(paymentId) is captured; refund it instead")) }
        book.state = "voided"
        commit(paymentId, book, completion)
    }

    public func refund(paymentId: String, refundId: String, amount: Int64, completion: @escaping (GatewayOutcome) -> Void) {
        let seen = try? database.queryOne("SELECT 1 FROM sandbox_refunds WHERE refund_id = ?", [refundId]) { $0.int(0) }
        if seen != nil { return completion(.done) }
        guard var book = book(paymentId), book.state == "authorized" else { return completion(.refused("no captured payment \(paymentId)")) }
        guard amount > 0, amount <= book.captured - book.refunded else {
            return completion(.refused("refund of \(amount) refused: captured \(book.captured), refunded \(book.refunded)"))
        }
        book.refunded += amount
        let save = write(paymentId, token: book.token, currency: "", book)
        writer.submit({ (db: Database) throws -> Void in
            try save(db)
            _ = try db.execute("INSERT INTO sandbox_refunds(refund_id, payment_id, amount) VALUES (?, ?, ?)", [refundId, paymentId, amount])
        }) { result in completion((try? result.get()) != nil ? .done : .timedOut) }
    }

    public func clear(_ item: ClearingItem, completion: @escaping (ClearingOutcome) -> Void) {
        let cleared = try? database.queryOne("SELECT amount, fee FROM sandbox_settlements WHERE payment_id = ? AND ref = ?", [item.paymentId, item.ref]) {
            ($0.int64(0), $0.int64(1))
        }
        if let cleared {
            return completion(cleared.0 == item.amount ? .cleared(fee: cleared.1) : .refused("\(item.ref) of \(item.paymentId) was settled for \(cleared.0)"))
        }
        guard item.amount > 0 else { return completion(.refused("nothing to settle")) }
        var fee: Int64 = 0
        switch item.kind {
        case .sale:
            // Its own book when this node authorized it; otherwise the code proves the sandbox
            // gave it (its codes come from the payment id, so every node's sandbox agrees).
            if let book = book(item.paymentId) {
                guard book.state == "authorized", book.captured >= item.amount else {
                    return completion(.refused("\(item.paymentId) is not captured for \(item.amount)"))
                }
            } else if item.authorizationCode != Self.code(item.paymentId) {
                return completion(.refused("no authorization \(item.authorizationCode ?? "(none)") for \(item.paymentId)"))
            }
            fee = Self.fee(on: item.amount)
        case .refund:
            let sale = try? database.queryOne("SELECT amount FROM sandbox_settlements WHERE payment_id = ? AND ref = 'sale'", [item.paymentId]) { $0.int64(0) }
            let refunded = (try? database.queryOne("SELECT coalesce(sum(amount), 0) FROM sandbox_settlements WHERE payment_id = ? AND kind = 'refund'",
                                                   [item.paymentId]) { $0.int64(0) }) ?? 0
            guard let sale, refunded + item.amount <= sale else { return completion(.refused("refund of \(item.amount) is more than is left of \(item.paymentId)")) }
        }
        let now = WallClock.nowMs()
        writer.submit({ (db: Database) throws -> Void in
            _ = try db.execute("""
                INSERT INTO sandbox_settlements(payment_id, ref, kind, currency, amount, fee, settled_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(payment_id, ref) DO NOTHING
                """, [item.paymentId, item.ref, item.kind.rawValue, item.currency, item.amount, fee, now])
        }) { result in completion((try? result.get()) != nil ? .cleared(fee: fee) : .timedOut) }
    }

    /// The sandbox's settlement report for `[fromMs, toMs)`, as an acquirer sends it: CSV, one
    /// row per settled sale or refund, oldest first.
    public func settlementReport(fromMs: Int64, toMs: Int64) throws -> String {
        var csv = "settled_at,payment_id,reference,kind,currency,gross,fee,net\r\n"
        let rows = try database.query("""
            SELECT settled_ms, payment_id, ref, kind, currency, amount, fee FROM sandbox_settlements
            WHERE settled_ms >= ? AND settled_ms < ? ORDER BY settled_ms, payment_id, ref
            """, [fromMs, toMs]) { ($0.int64(0), $0.string(1), $0.string(2), $0.string(3), $0.string(4), $0.int64(5), $0.int64(6)) }
        for (at, payment, ref, kind, currency, amount, fee) in rows {
            let gross = kind == "refund" ? -amount : amount
            csv += "\(WallClock.iso8601(ms: at)),\(payment),\(ref),\(kind),\(currency),\(gross),\(fee),\(gross - fee)\r\n"
        }
        return csv
    }

    private func commit(_ paymentId: String, _ book: Book, _ completion: @escaping (GatewayOutcome) -> Void) {
        writer.submit({ (db: Database) throws -> Void in
            _ = try db.execute("UPDATE sandbox_acquirer SET captured = ?, refunded = ?, state = ? WHERE payment_id = ?",
                           [book.captured, book.refunded, book.state, paymentId])
        }) { result in completion((try? result.get()) != nil ? .done : .timedOut) }
    }

    private static func code(_ paymentId: String) -> String {
        "A" + String(SHA256.hex(paymentId).prefix(6)).uppercased()
    }
}
