import Commerce
import Ledger
import Platform
import Replication

/// The hub's settlement in progress: one pass at a time.
final class SettlementDesk {
    /// Where the canonical books are (docs/ledger.md).
    enum Books {
        /// The node's own SQLite database: written in its group commit, read on the loop.
        case local(Ledger)
        /// A PostgreSQL cluster every hub of the fleet shares; the lease's holder settles.
        case shared(PostgresHub)
    }

    let books: Books
    /// A pass is asking the acquirer or writing its batch.
    var running = false
    /// Something was queued while a pass ran: run another at once.
    var again = false
    /// The hub is adding its own events: they change the payment but need no new look.
    var addingOwnEvents = false
    var lastExpiryMs: Int64 = 0
    /// Counters for /metrics.
    var transfersCreated = 0
    var paymentsSettled = 0
    var deadlinesMissed = 0
    /// The last signed checkpoint of the journal's head (docs/ledger.md).
    var lastCheckpointSeq: Int64 = 0
    var lastCheckpointMs: Int64 = 0
    var signingCheckpoint = false
    /// Accounts known to be open (an account is opened once, then only read).
    var openAccounts: Set<String> = []
    /// The generation the next queued change gets: a change during a pass makes the payment's
    /// row newer than the one the pass read, so the pass leaves it for the next.
    var generation: Int64 = 0

    init(books: Books) {
        self.books = books
    }

    /// Whether this hub settles now: always with its own books; with shared books, while it
    /// holds the lease.
    var leads: Bool {
        switch books {
        case .local: true
        case .shared(let hub): hub.lease.leading
        }
    }

    /// Reads the books: at once for the node's own, on the reads lane for shared ones.
    func reading<T: Sendable>(_ job: @escaping @Sendable (Ledger) throws -> T, completion: @escaping (Result<T, any Error>) -> Void) {
        switch books {
        case .local(let ledger): completion(Result { try job(ledger) })
        case .shared(let hub): hub.reads.run({ try job($0.ledger()) }, completion: completion)
        }
    }

    /// Reads the books for settlement: as `reading`, but for shared books on the writes lane,
    /// after the batch before it committed.
    func readingForSettlement<T: Sendable>(_ job: @escaping @Sendable (Ledger) throws -> T, completion: @escaping (Result<T, any Error>) -> Void) {
        switch books {
        case .local(let ledger): completion(Result { try job(ledger) })
        case .shared(let hub): hub.writes.run({ try job($0.ledger()) }, completion: completion)
        }
    }
}

/// What a settlement batch wrote in the books.
struct SettlementPosting: Sendable {
    var results: [TransferResult]
    /// Exposure caps that could not be applied yet.
    var warnings: [String]
}

/// A payment waiting in the settlement queue, as a pass read it.
extension OutpostNode {
    /// Payments a pass takes: one durable batch (one commit) of their transfers.
    static let settlementBatch = 512

    /// Hub: the payments waiting for settlement.
    var settlementQueue: SettlementQueue { SettlementQueue(database: database) }

    /// Hub: the payments whose events changed are queued in the same transaction as the change.
    func queueForSettlement(_ paymentIds: [String]) throws {
        guard let desk = fleet.settlement, !desk.addingOwnEvents else { return }
        let now = WallClock.nowMs()
        for id in paymentIds {
            desk.generation += 1
            try settlementQueue.queue(id, dueMs: now, generation: desk.generation)
        }
        desk.again = true
    }

    /// Hub, at start: payments replicated before this node settled (a new hub, or one upgraded
    /// to settlement) are queued once.
    func setUpSettlement() throws {
        guard config.role == .hub else {
            if case .postgresql = config.ledgerStore {
                throw ConfigError(key: "ledger.store", "\"postgresql\" is for hubs; this node is a \(config.role.rawValue)")
            }
            return
        }
        let books: SettlementDesk.Books
        switch config.ledgerStore {
        case .sqlite: books = .local(Ledger(database: database))
        case .postgresql(let conninfo):
            let certificate = try? Files.readString(dataDirectory + "/" + NodeIdentity.certificateFile)
            let signer = PostgresHub.Signer(publicKey: trustedLedgerKeys().sorted().first ?? Hex.encode(identity.keyPair.publicKey), certificatePEM: certificate)
            books = .shared(PostgresHub(loop: loop, conninfo: conninfo, hub: identity.nodeId, leaseMs: config.settlementLeaseMs, signer: signer))
        }
        let desk = SettlementDesk(books: books)
        fleet.settlement = desk
        desk.generation = try settlementQueue.lastGeneration()
        guard try !meta.isDone(.settlementSeeded) else { return }
        let keys = replica.whole(Collections.payments)?.states.keys.sorted() ?? []
        try database.transaction(.immediate) {
            try queueForSettlement(keys)
            try meta.markDone(.settlementSeeded)
        }
    }

    /// Called on the loop's tick and after changes: runs a pass when payments are due.
    func settleDuePayments(nowMs: Int64) {
        guard let desk = fleet.settlement else { return }
        if case .shared(let hub) = desk.books { holdSettlementLease(hub, nowMs: nowMs) }
        guard desk.leads, !desk.running else { return }
        if case .shared(let hub) = desk.books, !hub.tillsToAnchor.isEmpty, !hub.anchoring { anchorZReports(hub) }
        if nowMs - desk.lastExpiryMs >= 10_000 {
            desk.lastExpiryMs = nowMs
            expireOverdueHolds(desk, nowMs: nowMs)
        }
        guard let due = try? settlementQueue.due(nowMs: nowMs, limit: Self.settlementBatch), !due.isEmpty else {
            desk.again = false
            return
        }
        desk.running = true
        desk.again = false
        let payments = due.map { ($0.payment, paymentState($0.payment) ?? PaymentState(texts: [])) }
        let ids = payments.flatMap { PaymentSettlement.transferIds(paymentId: $0.0, payment: $0.1) }
        // What the journal holds decides what the acquirer is asked: unread, nothing is asked.
        desk.readingForSettlement({ try $0.recorded(ids) }) { [unowned self] held in
            askAcquirer(payments, held: held, due: due, desk: desk)
        }
    }

    /// Shared books: the leader anchors the Z-reports that arrived (fenced, on the writes lane).
    private func anchorZReports(_ hub: PostgresHub) {
        let tills = hub.tillsToAnchor
        hub.tillsToAnchor = []
        hub.anchoring = true
        let anchors = zReportAnchors(tills.sorted())
        hub.writes.run({ session in
            try session.fenced { ledger in try Self.anchor(anchors, ledger: ledger, openAccounts: &session.openAccounts) }
        }, completion: { [unowned self] result in
            hub.anchoring = false
            if case .failure(let error) = result {
                hub.tillsToAnchor.formUnion(tills)
                logger.error("Z-reports could not be anchored in the journal", metadata: ["error": "\(error)"])
            }
        })
    }

    /// Offline card holds past their deadline are released (`expire` entries).
    private func expireOverdueHolds(_ desk: SettlementDesk, nowMs: Int64) {
        let done = { [unowned self] (result: Result<Int, any Error>) in
            if case .success(let expired) = result, expired > 0 {
                fleet.settlement?.deadlinesMissed += expired
                logger.error("offline card payments passed their deadline unsettled", metadata: ["expired_holds": "\(expired)"])
            }
        }
        switch desk.books {
        case .local(let ledger): writer.submit({ _ in try ledger.expirePending(nowMs: nowMs) }, completion: done)
        case .shared(let hub): hub.writes.run({ try $0.fenced { try $0.expirePending(nowMs: nowMs) } }, completion: done)
        }
    }

    /// Shared books: renews the settlement lease (or takes it when it is free or expired) every
    /// third of its length; a change of leader is logged and replicated (`settlement-leader`).
    private func holdSettlementLease(_ hub: PostgresHub, nowMs: Int64) {
        guard !hub.renewing, nowMs - hub.lastRenewalMs >= hub.renewalIntervalMs else { return }
        hub.renewing = true
        hub.lastRenewalMs = nowMs
        hub.writes.run({ (session: PostgresHub.Session) throws -> PostgresHub.LeaseView in try session.holdLease() }) { [unowned self] result in
            hub.renewing = false
            let before = hub.lease
            switch result {
            case .success(let view):
                hub.lease = view
                hub.problem = nil
            case .failure(let error):
                // Unsure whether the lease still holds: stop settling; the fence guards any batch in flight.
                hub.lease.leading = false
                if hub.problem == nil { logger.error("the settlement lease could not be renewed", metadata: ["error": "\(error)"]) }
                hub.problem = "\(error)"
            }
            guard hub.lease != before else { return }
            if hub.lease.leading {
                hub.leadingSinceMs = WallClock.nowMs()
                logger.notice("this hub leads settlement", metadata: ["epoch": "\(hub.lease.epoch ?? 0)"])
                announceSettlementLeader(epoch: hub.lease.epoch ?? 0)
                // What the last leader may not have anchored.
                hub.tillsToAnchor.formUnion(replica.whole(Collections.tills)?.states.keys ?? [:].keys)
                settleDuePayments(nowMs: WallClock.nowMs())
            } else if before.leading {
                hub.leadingSinceMs = nil
                logger.warning("this hub no longer leads settlement", metadata: ["leader": "\(hub.lease.holder ?? "unknown")"])
            }
        }
    }

    /// At a graceful stop, a hub on shared books that leads gives the lease up after the batch in
    /// flight, so another hub takes over at its next renewal instead of after the lease expires.
    func handSettlementOver(then done: @escaping () -> Void) {
        guard let desk = fleet.settlement, case .shared(let hub) = desk.books, hub.lease.leading else { return done() }
        hub.lease.leading = false
        hub.writes.run({ try $0.releaseLease() }) { [unowned self] result in
            if case .failure(let error) = result {
                logger.warning("the settlement lease could not be given up: another hub takes over when it expires", metadata: ["error": "\(error)"])
            } else {
                logger.notice("this hub gave up the settlement lease")
            }
            done()
        }
    }

    /// Per payment, once the journal was read: asks the acquirer what the payment still needs,
    /// then writes the batch.
    private func askAcquirer(_ payments: [(String, PaymentState)], held: Result<[String: Int64], any Error>, due: [SettlementQueue.Due], desk: SettlementDesk) {
        var inputs: [PaymentSettlement.Inputs?] = Array(repeating: nil, count: payments.count)
        var retry: [String: String] = [:]
        var waiting = payments.count
        let finished = { [unowned self] in
            waiting -= 1
            if waiting == 0 { writeSettlements(inputs.compactMap { $0 }, retry: retry, due: due, desk: desk) }
        }
        for (index, (paymentId, payment)) in payments.enumerated() {
            guard case .success(let journal) = held else {
                retry[paymentId] = "the journal could not be read"
                finished()
                continue
            }
            let amounts = journal.filter { PaymentSettlement.transferIds(paymentId: paymentId, payment: payment).contains($0.key) }
            let recorded = Set(amounts.keys)
            var order: PaymentSettlement.OrderMoney?
            if let orderId = payment.order, let totals = orderState(orderId)?.placed?.totals {
                order = .init(total: totals.total, tax: totals.tax, discount: totals.discount)
            }
            if payment.captured > 0 && order == nil { retry[paymentId] = "its order has not reached the hub" }
            let calls = PaymentSettlement.acquirerCalls(paymentId: paymentId, payment: payment, recorded: recorded)
            askAcquirer(paymentId, payment: payment, calls: calls[...], answers: .init()) { answers, failure in
                if let failure { retry[paymentId] = failure }
                var input = PaymentSettlement.Inputs(paymentId: paymentId, payment: payment, order: order, recorded: recorded, answers: answers,
                                                     hub: self.identity.nodeId, atMs: WallClock.nowMs())
                input.recordedAmounts = amounts
                inputs[index] = input
                finished()
            }
        }
    }

    /// Asks the acquirer, in order, what the payment still needs; stops at the first call that
    /// gets no usable answer (the payment is tried again later).
    private func askAcquirer(_ paymentId: String, payment: PaymentState, calls: ArraySlice<PaymentSettlement.AcquirerCall>,
                             answers: PaymentSettlement.AcquirerAnswers, done: @escaping (PaymentSettlement.AcquirerAnswers, String?) -> Void) {
        guard let call = calls.first else { return done(answers, nil) }
        var answers = answers
        let next = { [unowned self] (answers: PaymentSettlement.AcquirerAnswers) in
            askAcquirer(paymentId, payment: payment, calls: calls.dropFirst(), answers: answers, done: done)
        }
        let gatewayDone = { (outcome: GatewayOutcome) in
            switch outcome {
            case .done: next(answers)
            case .refused(let why): done(answers, "the acquirer refused: \(why)")
            case .timedOut: done(answers, "the acquirer did not answer")
            }
        }
        switch call {
        case .authorizeStored(let token):
            let request = PaymentRequest(paymentId: paymentId, amount: payment.amount, currency: payment.currency ?? "", token: token)
            gateway.authorize(request) { outcome in
                switch outcome {
                case .approved(let code):
                    answers.storedAuthorization = .approved(code: code)
                    next(answers)
                case .declined(let reason):
                    // Nothing more to ask: the sale is refused.
                    answers.storedAuthorization = .declined(reason)
                    done(answers, nil)
                case .retry, .timedOut:
                    done(answers, "the acquirer did not answer the forwarded authorization")
                }
            }
        case .capture(let amount):
            gateway.capture(paymentId: paymentId, amount: amount, completion: gatewayDone)
        case .void:
            gateway.void(paymentId: paymentId, completion: gatewayDone)
        case .refund(let id, let amount):
            gateway.refund(paymentId: paymentId, refundId: id, amount: amount, completion: gatewayDone)
        case .clearSale(let amount, let code):
            let item = ClearingItem(paymentId: paymentId, ref: "sale", kind: .sale, amount: amount, currency: payment.currency ?? "", authorizationCode: code)
            gateway.clear(item) { outcome in
                switch outcome {
                case .cleared(let fee):
                    answers.saleFee = fee
                    next(answers)
                case .refused(let why): done(answers, "the acquirer refused to settle the sale: \(why)")
                case .timedOut: done(answers, "the acquirer did not answer the settlement")
                }
            }
        case .clearRefund(let id, let amount):
            let item = ClearingItem(paymentId: paymentId, ref: id, kind: .refund, amount: amount, currency: payment.currency ?? "", authorizationCode: nil)
            gateway.clear(item) { outcome in
                switch outcome {
                case .cleared:
                    answers.clearedRefunds.insert(id)
                    next(answers)
                case .refused(let why): done(answers, "the acquirer refused to settle refund \(id): \(why)")
                case .timedOut: done(answers, "the acquirer did not answer the settlement of refund \(id)")
                }
            }
        }
    }

    /// Takes a settled payment out of the queue, or puts it back for later with why.
    private func requeue(_ paymentId: String, why: String?, queued: SettlementQueue.Due?, nowMs: Int64) throws {
        let item = queued ?? SettlementQueue.Due(firstLookAt: paymentId)
        if let why { try settlementQueue.delay(item, why: why, nowMs: nowMs) } else { try settlementQueue.remove(paymentId, generation: item.generation) }
    }

    /// A card taken offline and declined when forwarded leaves its order unpaid: the order says
    /// so (`payment_failed`) on every node, which stops its fulfilment until the store collects
    /// another tender or cancels it (docs/orders.md).
    private func recordPaymentFailed(_ declined: PaymentEvent, paymentId: String) throws {
        guard let order = declined.order else { return }
        var failed = OrderEvent(kind: .paymentFailed, atMs: declined.atMs, node: identity.nodeId)
        failed.payment = paymentId
        failed.reason = declined.code
        failed.amount = paymentState(paymentId)?.amount
        try reservations.addEvents([failed.text], key: order, in: Collections.orders, nowMs: WallClock.nowMs())
        logger.warning("an offline card payment was declined: its order waits for another tender or its cancellation",
                       metadata: ["order": "\(order)", "payment": "\(paymentId)", "reason": "\(declined.code ?? "")"])
    }

    /// Keeps each node's exposure budget credited with its policy's cap (`caps`, by account):
    /// the difference is posted from (or back to) `exposure-limits`. A cap lowered below what is
    /// held now waits; the answer says which could not be applied.
    private static func fundExposureBudgets(_ caps: [String: Int64], currencies: [String: String], ledger: Ledger, atMs: Int64) throws -> [String] {
        var warnings: [String] = []
        for (accountId, cap) in caps.sorted(by: { $0.key < $1.key }) {
            guard let held = try ledger.account(accountId), let currency = currencies[accountId] else { continue }
            let node = accountId.split(separator: ":")[1]
            let funded = held.creditsPosted - held.debitsPosted
            guard cap != funded else { continue }
            let limits = ChartOfAccounts.exposureLimits(currency: currency).id
            let change = TransferRequest(id: "exposure-cap:\(node):\(currency):\(atMs)", debit: cap > funded ? limits : accountId,
                                         credit: cap > funded ? accountId : limits, amount: abs(cap - funded), code: "exposure_cap", reference: String(node))
            if case .failed(let error)? = try ledger.create([change], atMs: atMs).first { warnings.append("\(accountId): \(error.rawValue)") }
        }
        return warnings
    }

    /// Opens the batch's accounts, funds exposure budgets and records its transfers: the part of
    /// a settlement batch that is written in the books.
    private static func post(_ requests: [TransferRequest], accounts: [LedgerAccount], caps: [String: Int64], ledger: Ledger,
                             openAccounts: inout Set<String>, atMs: Int64, knownAbsent: Bool = false) throws -> SettlementPosting {
        for account in accounts where !openAccounts.contains(account.id) {
            try ledger.open(account)
            openAccounts.insert(account.id)
        }
        let currencies = Dictionary(accounts.map { ($0.id, $0.currency) }, uniquingKeysWith: { a, _ in a })
        let warnings = try fundExposureBudgets(caps, currencies: currencies, ledger: ledger, atMs: atMs)
        return SettlementPosting(results: try ledger.create(requests, atMs: atMs, knownAbsent: knownAbsent), warnings: warnings)
    }

    /// Own books: one commit holds every transfer of the pass, the events that say so, and the
    /// queue rows taken out (or put back for later). A crash before it leaves the queue as it was;
    /// after it, the journal answers `exists` to anything asked again.
    ///
    /// Shared books: the transfers commit in PostgreSQL first (fenced by the lease), then the
    /// events and the queue here. A crash between the two leaves the payment queued; the next
    /// pass, on this hub or the one that takes over, finds the transfers in the journal and adds
    /// the events they lack (`PaymentSettlement`), asking the acquirer nothing again.
    private func writeSettlements(_ inputs: [PaymentSettlement.Inputs], retry: [String: String], due: [SettlementQueue.Due], desk: SettlementDesk) {
        let plans = inputs.map { ($0.paymentId, PaymentSettlement.plan($0)) }
        let queued = Dictionary(due.map { ($0.payment, $0) }, uniquingKeysWith: { a, _ in a })
        if life.faults.exitsBeforeSettlementCommit && plans.contains(where: { !$0.1.steps.isEmpty }) { ProcessStats.exitNow(137) }
        let accounts = plans.flatMap(\.1.accounts)
        let caps = Dictionary(accounts.compactMap { account -> (String, Int64)? in
            let parts = account.id.split(separator: ":")
            guard account.debitsMustNotExceedCredits, parts.count == 3 else { return nil }
            return (account.id, offlinePolicy(for: String(parts[1])).exposureCap)
        }, uniquingKeysWith: { a, _ in a })
        let requests = plans.flatMap { $0.1.steps.flatMap(\.transfers) }
        let finish = { [unowned self] (result: Result<(transfers: Int, settled: Int, failures: [String]), any Error>) in
            desk.running = false
            switch result {
            case .success(let written):
                desk.transfersCreated += written.transfers
                desk.paymentsSettled += written.settled
                for failure in written.failures { logger.error("a settlement transfer was refused", metadata: ["transfer": "\(failure)"]) }
                if written.settled > 0 || written.transfers > 0 { replicatedChanged() }
                if due.count == Self.settlementBatch { desk.again = true }
            case .failure(let error as SettlementLease.Fenced):
                if case .shared(let hub) = desk.books { hub.lease.leading = false }
                logger.warning("a settlement batch was not written: \(error)")
            case .failure(let error):
                // Nothing of the batch was written: the queue still holds it.
                logger.error("a settlement batch could not be committed", metadata: ["error": "\(error)"])
                desk.openAccounts.removeAll()
            }
            if desk.again { settleDuePayments(nowMs: WallClock.nowMs()) }
        }
        let nowMs = WallClock.nowMs()
        switch desk.books {
        case .local(let ledger):
            writer.submit({ [unowned self] _ in
                let posting = try Self.post(requests, accounts: accounts, caps: caps, ledger: ledger, openAccounts: &desk.openAccounts, atMs: nowMs)
                return try recordSettled(posting, plans: plans, retry: retry, queued: queued, desk: desk, nowMs: nowMs)
            }, completion: finish)
        case .shared(let hub):
            // The pass read these ids on this lane just before, under the lease: not looked up again,
            // unless the last batch failed (a surprise there falls back to looking up).
            let knownAbsent = !hub.lastBatchFailed
            hub.writes.run({ session in
                try session.fenced { ledger in
                    try Self.post(requests, accounts: accounts, caps: caps, ledger: ledger, openAccounts: &session.openAccounts, atMs: nowMs,
                                  knownAbsent: knownAbsent)
                }
            }, completion: { [unowned self] posted in
                if case .failure = posted { hub.lastBatchFailed = true } else { hub.lastBatchFailed = false }
                switch posted {
                case .success(let posting):
                    if life.faults.exitsAfterBooksCommit && posting.results.contains(where: { if case .created = $0 { true } else { false } }) {
                        ProcessStats.exitNow(137)
                    }
                    writer.submit({ [unowned self] _ in
                        try recordSettled(posting, plans: plans, retry: retry, queued: queued, desk: desk, nowMs: nowMs)
                    }, completion: finish)
                case .failure(let error): finish(.failure(error))
                }
            })
        }
    }

    /// The events that say what the books now hold, and the queue rows taken out or put back.
    private func recordSettled(_ posting: SettlementPosting, plans: [(String, PaymentSettlement.Plan)], retry: [String: String],
                               queued: [String: SettlementQueue.Due], desk: SettlementDesk, nowMs: Int64) throws -> (transfers: Int, settled: Int, failures: [String]) {
        for warning in posting.warnings { logger.warning("an exposure cap could not be applied yet", metadata: ["account": "\(warning)"]) }
        let results = posting.results
        var index = 0, created = 0, settled = 0
        var failures: [String] = []
        desk.addingOwnEvents = true
        defer { desk.addingOwnEvents = false }
        for (paymentId, plan) in plans {
            var events: [String] = []
            for step in plan.steps {
                let stepResults = results[index..<(index + step.transfers.count)]
                index += step.transfers.count
                created += stepResults.filter { if case .created = $0 { true } else { false } }.count
                if let failure = stepResults.first(where: { !$0.isOK }), case .failed(let error) = failure {
                    failures.append("\(paymentId) \(step.transfers.first?.id ?? ""): \(error.rawValue)")
                    continue
                }
                // A step recorded before (a replay) said so then.
                if case .exists? = stepResults.first { continue }
                events += step.events.map(\.text)
                if step.events.contains(where: { $0.kind == .settled }) { settled += 1 }
            }
            if !events.isEmpty { try reservations.addEvents(events, key: paymentId, in: Collections.payments, nowMs: WallClock.nowMs()) }
            for declined in plan.steps.flatMap(\.events) where declined.kind == .declined {
                try recordPaymentFailed(declined, paymentId: paymentId)
            }
            try requeue(paymentId, why: retry[paymentId], queued: queued[paymentId], nowMs: nowMs)
        }
        // Payments the pass could not plan (their journal unread) wait their turn again.
        let planned = Set(plans.map(\.0))
        for (paymentId, why) in retry where !planned.contains(paymentId) {
            try requeue(paymentId, why: why, queued: queued[paymentId], nowMs: nowMs)
        }
        if created > 0, !desks.notices.endpoints.isEmpty {
            let batch = OperationNotices.event(.settlementBatch, subject: identity.nodeId, idSeed: "\(identity.nodeId)\u{0}\(nowMs)\u{0}\(plans.first?.0 ?? "")", atMs: nowMs,
                                               strings: ["node": identity.nodeId], ints: ["transfers": Int64(created), "payments_settled": Int64(settled),
                                                                                            "payments": Int64(plans.count), "refused": Int64(failures.count)])
            try outbox.record([batch], endpoints: desks.notices.endpoints, nowMs: nowMs)
        }
        return (created, settled, failures)
    }
}
