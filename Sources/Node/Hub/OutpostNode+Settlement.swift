import Commerce
import Ledger
import Platform
import Replication

/// The hub's settlement in progress: one pass at a time.
final class SettlementDesk {
    let ledger: Ledger
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

    init(ledger: Ledger) {
        self.ledger = ledger
    }
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
        guard config.role == .hub else { return }
        let desk = SettlementDesk(ledger: Ledger(database: database))
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
        guard let desk = fleet.settlement, !desk.running else { return }
        if nowMs - desk.lastExpiryMs >= 10_000 {
            desk.lastExpiryMs = nowMs
            writer.submit({ [desk] _ in try desk.ledger.expirePending(nowMs: nowMs) }, completion: { [unowned self] result in
                if case .success(let expired) = result, expired > 0 {
                    fleet.settlement?.deadlinesMissed += expired
                    logger.error("offline card payments passed their deadline unsettled", metadata: ["expired_holds": "\(expired)"])
                }
            })
        }
        guard let due = try? settlementQueue.due(nowMs: nowMs, limit: Self.settlementBatch), !due.isEmpty else {
            desk.again = false
            return
        }
        desk.running = true
        desk.again = false
        var inputs: [PaymentSettlement.Inputs?] = Array(repeating: nil, count: due.count)
        var retry: [String: String] = [:]
        var waiting = due.count
        let finished = { [unowned self] in
            waiting -= 1
            if waiting == 0 { writeSettlements(inputs.compactMap { $0 }, retry: retry, due: due, desk: desk) }
        }
        for (index, paymentId) in due.map(\.payment).enumerated() {
            let payment = paymentState(paymentId) ?? PaymentState(texts: [])
            // What the journal holds decides what the acquirer is asked: unread, nothing is asked.
            guard let held = try? desk.ledger.recorded(PaymentSettlement.transferIds(paymentId: paymentId, payment: payment)) else {
                retry[paymentId] = "the journal could not be read"
                finished()
                continue
            }
            let recorded = Set(held.keys)
            var order: PaymentSettlement.OrderMoney?
            if let orderId = payment.order, let totals = orderState(orderId)?.placed?.totals {
                order = .init(total: totals.total, tax: totals.tax, discount: totals.discount)
            }
            if payment.captured > 0 && order == nil { retry[paymentId] = "its order has not reached the hub" }
            let calls = PaymentSettlement.acquirerCalls(paymentId: paymentId, payment: payment, recorded: recorded)
            askAcquirer(paymentId, payment: payment, calls: calls[...], answers: .init()) { answers, failure in
                if let failure { retry[paymentId] = failure }
                inputs[index] = PaymentSettlement.Inputs(paymentId: paymentId, payment: payment, order: order, recorded: recorded, answers: answers,
                                                         hub: self.identity.nodeId, atMs: WallClock.nowMs())
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

    /// Keeps each node's exposure budget credited with its policy's cap: the difference is posted
    /// from (or back to) `exposure-limits`. A cap lowered below what is held now waits.
    private func fundExposureBudgets(_ accounts: [LedgerAccount], desk: SettlementDesk, atMs: Int64) throws {
        var seen = Set<String>()
        for account in accounts where account.debitsMustNotExceedCredits && seen.insert(account.id).inserted {
            let parts = account.id.split(separator: ":")
            guard parts.count == 3, let held = try desk.ledger.account(account.id) else { continue }
            let cap = offlinePolicy(for: String(parts[1])).exposureCap
            let funded = held.creditsPosted - held.debitsPosted
            guard cap != funded else { continue }
            let limits = ChartOfAccounts.exposureLimits(currency: account.currency).id
            let change = TransferRequest(id: "exposure-cap:\(parts[1]):\(account.currency):\(atMs)", debit: cap > funded ? limits : account.id,
                                         credit: cap > funded ? account.id : limits, amount: abs(cap - funded), code: "exposure_cap", reference: String(parts[1]))
            if case .failed(let error)? = try desk.ledger.create([change], atMs: atMs).first {
                logger.warning("an exposure cap could not be applied yet", metadata: ["account": "\(account.id)", "error": "\(error.rawValue)"])
            }
        }
    }

    /// One commit: every transfer of the pass, the events that say so, and the queue rows taken
    /// out (or put back for later). A crash before it leaves the queue as it was; after it, the
    /// journal answers `exists` to anything asked again.
    private func writeSettlements(_ inputs: [PaymentSettlement.Inputs], retry: [String: String], due: [SettlementQueue.Due], desk: SettlementDesk) {
        let plans = inputs.map { ($0.paymentId, PaymentSettlement.plan($0)) }
        let queued = Dictionary(due.map { ($0.payment, $0) }, uniquingKeysWith: { a, _ in a })
        if life.faults.exitsBeforeSettlementCommit && plans.contains(where: { !$0.1.steps.isEmpty }) { ProcessStats.exitNow(137) }
        writer.submit({ [unowned self] db -> (transfers: Int, settled: Int, failures: [String]) in
            let nowMs = WallClock.nowMs()
            for account in plans.flatMap(\.1.accounts) where !desk.openAccounts.contains(account.id) {
                try desk.ledger.open(account)
                desk.openAccounts.insert(account.id)
            }
            try fundExposureBudgets(plans.flatMap(\.1.accounts), desk: desk, atMs: nowMs)
            let requests = plans.flatMap { $0.1.steps.flatMap(\.transfers) }
            let results = try desk.ledger.create(requests, atMs: nowMs)
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
            return (created, settled, failures)
        }, completion: { [unowned self] result in
            desk.running = false
            switch result {
            case .success(let written):
                desk.transfersCreated += written.transfers
                desk.paymentsSettled += written.settled
                for failure in written.failures { logger.error("a settlement transfer was refused", metadata: ["transfer": "\(failure)"]) }
                if written.settled > 0 || written.transfers > 0 { replicatedChanged() }
                if due.count == Self.settlementBatch { desk.again = true }
            case .failure(let error):
                // Nothing of the batch was written: the queue still holds it.
                logger.error("a settlement batch could not be committed", metadata: ["error": "\(error)"])
                desk.openAccounts.removeAll()
            }
            if desk.again { settleDuePayments(nowMs: WallClock.nowMs()) }
        })
    }
}
