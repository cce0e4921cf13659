import Commerce

/// What the hub writes for one payment, decided from the payment's replicated events, the
/// transfers already in the journal, and what the acquirer answered in this pass. Pure: the
/// same inputs give the same transfers with the same ids, so running it again after a replay,
/// a duplicated delivery or a crash records nothing twice (the journal answers `exists`).
///
/// Transfers, by id (docs/ledger.md):
///
///     exposure:<p>          offline sale held against the node's exposure budget (pending, until the deadline)
///     exposure-release:<p>  the hold released once the acquirer answered (void)
///     auth:<p>              the authorization: clearing <- revenue (pending)
///     capture:<p>           the sale settled: the hold posted for what was captured
///     tax:<p>, discount:<p>, fee:<p>   linked with capture: the sale split into its parts
///     void:<p>              an authorization released without a sale
///     refund:<r>, refund-tax:<r>       a refund, linked
public enum PaymentSettlement {
    /// The order's money, from its `placed` event.
    public struct OrderMoney: Equatable, Sendable {
        public var total: Int64
        public var tax: Int64
        public var discount: Int64
        public init(total: Int64, tax: Int64, discount: Int64) {
            self.total = total
            self.tax = tax
            self.discount = discount
        }
    }

    public enum StoredAuthorization: Equatable, Sendable {
        case approved(code: String)
        case declined(DeclineReason)
    }

    /// The acquirer's answers this pass (nil: not asked, or no answer yet).
    public struct AcquirerAnswers: Equatable, Sendable {
        /// A card taken offline, forwarded by the hub: approved (with code) or declined (reason).
        public var storedAuthorization: StoredAuthorization?
        /// The sale cleared, with the acquirer's fee.
        public var saleFee: Int64?
        /// Refund ids cleared.
        public var clearedRefunds: Set<String> = []
        public init() {}
    }

    public struct Inputs: Sendable {
        public var paymentId: String
        public var payment: PaymentState
        public var order: OrderMoney?
        /// Transfer ids about this payment already in the journal.
        public var recorded: Set<String>
        public var answers: AcquirerAnswers
        /// The hub's node id (the `node` of the events it adds).
        public var hub: String
        /// When the events the hub adds are dated: the same in every pass (a replay adds the same text).
        public var atMs: Int64
        /// The amounts of the transfers in `recorded`: what the events they lack say.
        public var recordedAmounts: [String: Int64] = [:]

        public init(paymentId: String, payment: PaymentState, order: OrderMoney?, recorded: Set<String>, answers: AcquirerAnswers, hub: String, atMs: Int64) {
            self.paymentId = paymentId
            self.payment = payment
            self.order = order
            self.recorded = recorded
            self.answers = answers
            self.hub = hub
            self.atMs = atMs
        }
    }

    /// One linked chain and the events that say it happened: added when the chain is created (or,
    /// for a step without transfers, always: their text is the same every time).
    public struct Step: Equatable, Sendable {
        public var transfers: [TransferRequest]
        public var events: [PaymentEvent]
    }

    public struct Plan: Equatable, Sendable {
        public var steps: [Step] = []
        /// Accounts the steps use, to open if they are not.
        public var accounts: [LedgerAccount] = []
    }

    public static func plan(_ inputs: Inputs) -> Plan {
        guard var planner = Planner(inputs) else { return Plan() }
        return planner.planned()
    }

    /// One payment's plan as it is made: what is recorded grows with each step added.
    private struct Planner {
        let inputs: Inputs
        let p: String
        let payment: PaymentState
        let currency: String, node: String, region: String
        let clearing: LedgerAccount, revenue: LedgerAccount, tax: LedgerAccount, exposure: LedgerAccount, limits: LedgerAccount
        var plan = Plan()
        var recorded: Set<String>

        init?(_ inputs: Inputs) {
            let payment = inputs.payment
            guard let currency = payment.currency, let node = payment.node, payment.amount > 0 else { return nil }
            let region = payment.region ?? "unknown"
            (self.inputs, p, self.payment, self.currency, self.node, self.region) = (inputs, inputs.paymentId, payment, currency, node, region)
            clearing = ChartOfAccounts.clearing(region: region, currency: currency)
            revenue = ChartOfAccounts.revenue(region: region, currency: currency)
            tax = ChartOfAccounts.taxPayable(region: region, currency: currency)
            exposure = ChartOfAccounts.exposure(node: node, currency: currency)
            limits = ChartOfAccounts.exposureLimits(currency: currency)
            recorded = inputs.recorded
        }

        mutating func planned() -> Plan {
            plan.accounts = [clearing, revenue, tax]
            var authorized = payment.authorized
            if payment.stored && planOfflineHold() { authorized = true }
            if payment.isCash {
                planCash()
            } else {
                planCard(authorized: authorized)
            }
            planMissingEvents()
            return plan
        }

        /// Transfers in the journal whose `settled` event the payment lacks: the hub that wrote
        /// them died before its events replicated, or (books on PostgreSQL) its events did not
        /// commit after the books did. The events are added now; `settled` is kept per ref, so
        /// the first hub's event arriving later changes nothing.
        mutating func planMissingEvents() {
            let amounts = inputs.recordedAmounts
            if let captured = amounts["capture:" + p], payment.settled["sale"] == nil {
                add([], [settled(captured, ref: "sale", fee: amounts["fee:" + p] ?? 0)])
            }
            if let voided = amounts["void:" + p], payment.settled["void"] == nil {
                add([], [settled(voided, ref: "void")])
            }
            for refund in payment.refunds.keys.sorted() where payment.settled[refund] == nil {
                if let amount = amounts["refund:" + refund] { add([], [settled(amount, ref: refund)]) }
            }
        }

        mutating func add(_ transfers: [TransferRequest], _ events: [PaymentEvent] = []) {
            var chain = transfers
            for index in chain.indices { chain[index].linked = index < chain.count - 1 }
            plan.steps.append(Step(transfers: chain, events: events))
            recorded.formUnion(chain.map(\.id))
        }

        func event(_ kind: PaymentEvent.Kind, amount: Int64? = nil) -> PaymentEvent {
            var event = PaymentEvent(kind: kind, atMs: inputs.atMs, node: inputs.hub)
            event.order = payment.order
            event.amount = amount
            event.currency = currency
            return event
        }

        /// What the hub settled (`ref`: sale, void or a refund id), with the acquirer's fee on a sale.
        func settled(_ amount: Int64, ref: String, fee: Int64? = nil) -> PaymentEvent {
            var settled = event(.settled, amount: amount)
            settled.ref = ref
            settled.fee = fee
            return settled
        }

        /// A card taken offline: held against the node's budget until the acquirer answers.
        /// Returns whether the acquirer's answer authorized it now.
        mutating func planOfflineHold() -> Bool {
            var approvedNow = false
            plan.accounts += [exposure, limits]
            let answered = payment.authorized || payment.declined != nil || payment.voided || inputs.answers.storedAuthorization != nil
            if !recorded.contains("exposure:" + p) && !recorded.contains("exposure-release:" + p) {
                add([TransferRequest(id: "exposure:" + p, phase: .pending(timeoutMs: payment.deadlineMs), debit: exposure.id, credit: limits.id,
                                     amount: payment.amount, code: "offline_sale", reference: p)])
            }
            if answered && !recorded.contains("exposure-release:" + p) {
                add([.void(id: "exposure-release:" + p, pending: "exposure:" + p, code: "offline_answered", reference: p)])
            }
            switch inputs.answers.storedAuthorization {
            case .approved(let code)? where !payment.authorized:
                var approved = event(.authorized, amount: payment.amount)
                approved.code = code
                add([], [approved])
                approvedNow = true
            case .declined(let reason)? where payment.declined == nil:
                var declined = event(.declined)
                declined.code = reason.rawValue
                add([], [declined])
            default: break
            }
            return approvedNow
        }

        /// Cash in a till: no hold and no acquirer; the sale is booked straight into the node's
        /// cash account, split like a card sale, and refunds paid from the till come out of it.
        mutating func planCash() {
            let cash = ChartOfAccounts.cash(node: node, currency: currency)
            plan.accounts.append(cash)
            if payment.captured > 0, !recorded.contains("capture:" + p), let order = inputs.order {
                var chain = [TransferRequest(id: "capture:" + p, debit: cash.id, credit: revenue.id, amount: payment.captured, code: "cash_sale", reference: p)]
                chain += PaymentSettlement.saleParts(order: order, captured: payment.captured, p: p, revenue: revenue, tax: tax, region: region, currency: currency, plan: &plan)
                add(chain, [settled(payment.captured, ref: "sale", fee: 0)])
            }
            // A refund without a receipt has no sale to come after: it carries its own tax.
            let withoutSale = payment.order == nil ? OrderMoney(total: payment.amount, tax: payment.tax ?? 0, discount: 0) : nil
            if recorded.contains("capture:" + p) || withoutSale != nil, let order = withoutSale ?? inputs.order {
                for (refund, amount) in payment.refunds.sorted(by: { $0.key < $1.key }) where amount > 0 && !recorded.contains("refund:" + refund) {
                    add(PaymentSettlement.refundChain(refund: refund, amount: amount, order: order, from: cash, p: p, tax: tax, region: region, currency: currency, plan: &plan),
                        [settled(amount, ref: refund)])
                }
            }
        }

        /// A card: the authorization hold, the sale posted from it, a void, refunds.
        mutating func planCard(authorized: Bool) {
            if authorized && !recorded.contains("auth:" + p) {
                add([TransferRequest(id: "auth:" + p, phase: .pending(timeoutMs: nil), debit: clearing.id, credit: revenue.id,
                                     amount: payment.amount, code: "authorization", reference: p)])
            }
            let holdExists = recorded.contains("auth:" + p)

            // The sale: the hold posted for what was captured, split into tax, discount and fee.
            if payment.captured > 0, holdExists, !recorded.contains("capture:" + p), let fee = inputs.answers.saleFee, let order = inputs.order {
                let captured = payment.captured
                var chain = [TransferRequest.post(id: "capture:" + p, pending: "auth:" + p, amount: captured, code: "sale", reference: p)]
                chain += PaymentSettlement.saleParts(order: order, captured: captured, p: p, revenue: revenue, tax: tax, region: region, currency: currency, plan: &plan)
                if fee > 0 {
                    let fees = ChartOfAccounts.fees(region: region, currency: currency)
                    plan.accounts.append(fees)
                    chain.append(TransferRequest(id: "fee:" + p, debit: fees.id, credit: clearing.id, amount: fee, code: "acquirer_fee", reference: p))
                }
                add(chain, [settled(captured, ref: "sale", fee: fee)])
            }

            // Released without a sale: the authorization hold, or only the offline hold.
            if payment.voided && payment.captured == 0 && !recorded.contains("void:" + p) && payment.settled["void"] == nil {
                if holdExists {
                    add([.void(id: "void:" + p, pending: "auth:" + p, code: "void", reference: p)], [settled(payment.amount, ref: "void")])
                } else if payment.stored && !authorized {
                    add([], [settled(payment.amount, ref: "void")])
                }
            }

            // Refunds, once the sale is in: net to refunds, the tax share back off tax payable.
            if recorded.contains("capture:" + p), let order = inputs.order {
                for (refund, amount) in payment.refunds.sorted(by: { $0.key < $1.key })
                where amount > 0 && !recorded.contains("refund:" + refund) && inputs.answers.clearedRefunds.contains(refund) {
                    add(PaymentSettlement.refundChain(refund: refund, amount: amount, order: order, from: clearing, p: p, tax: tax, region: region, currency: currency, plan: &plan),
                        [settled(amount, ref: refund)])
                }
            }
        }
    }

    /// The parts a sale splits into beside its capture: its share of the order's tax (out of
    /// revenue into tax payable) and of its discounts (recorded as given).
    fileprivate static func saleParts(order: OrderMoney, captured: Int64, p: String, revenue: LedgerAccount, tax: LedgerAccount, region: String,
                                  currency: String, plan: inout Plan) -> [TransferRequest] {
        // A split tender pays part of the order: each payment takes its share.
        let share = { (part: Int64) -> Int64 in order.total > 0 ? part * min(captured, order.total) / order.total : 0 }
        var chain: [TransferRequest] = []
        if share(order.tax) > 0 {
            chain.append(TransferRequest(id: "tax:" + p, debit: revenue.id, credit: tax.id, amount: share(order.tax), code: "sale_tax", reference: p))
        }
        if share(order.discount) > 0 {
            let discounts = ChartOfAccounts.discounts(region: region, currency: currency)
            plan.accounts.append(discounts)
            chain.append(TransferRequest(id: "discount:" + p, debit: discounts.id, credit: revenue.id, amount: share(order.discount),
                                         code: "sale_discount", reference: p))
        }
        return chain
    }

    /// A refund paid out of `from` (clearing for a card, the till's cash account for cash): net
    /// to refunds, its tax share back off tax payable.
    fileprivate static func refundChain(refund: String, amount: Int64, order: OrderMoney, from: LedgerAccount, p: String, tax: LedgerAccount, region: String,
                                    currency: String, plan: inout Plan) -> [TransferRequest] {
        let refunds = ChartOfAccounts.refunds(region: region, currency: currency)
        if !plan.accounts.contains(refunds) { plan.accounts.append(refunds) }
        var chain = [TransferRequest(id: "refund:" + refund, debit: refunds.id, credit: from.id, amount: amount, code: "refund", reference: p)]
        let taxShare = order.total > 0 ? order.tax * amount / order.total : 0
        if taxShare > 0 {
            chain.append(TransferRequest(id: "refund-tax:" + refund, debit: tax.id, credit: refunds.id, amount: taxShare, code: "refund_tax", reference: p))
        }
        return chain
    }

    /// Every id a transfer about this payment can have: what settlement looks up in the journal.
    public static func transferIds(paymentId p: String, payment: PaymentState) -> [String] {
        ["exposure:", "exposure-release:", "auth:", "capture:", "tax:", "discount:", "fee:", "void:"].map { $0 + p }
            + payment.refunds.keys.sorted().flatMap { ["refund:" + $0, "refund-tax:" + $0] }
    }

    /// What the acquirer still has to be asked for this payment, in order.
    public enum AcquirerCall: Equatable, Sendable {
        /// A card taken offline: authorize it now (the hub holds its authorization from then on).
        case authorizeStored(token: String)
        /// The hub holds the authorization: it captures, voids and refunds too.
        case capture(amount: Int64)
        case void
        case refund(id: String, amount: Int64)
        case clearSale(amount: Int64, code: String?)
        case clearRefund(id: String, amount: Int64)
    }

    public static func acquirerCalls(paymentId p: String, payment: PaymentState, recorded: Set<String>) -> [AcquirerCall] {
        var calls: [AcquirerCall] = []
        if payment.isCash { return calls }
        let held = payment.stored
        if held && !payment.authorized && payment.declined == nil && !payment.voided, let token = payment.token {
            calls.append(.authorizeStored(token: token))
        }
        if held && payment.voided && payment.captured == 0 && !recorded.contains("void:" + p) { calls.append(.void) }
        if payment.captured > 0 && !recorded.contains("capture:" + p) {
            if held { calls.append(.capture(amount: payment.captured)) }
            calls.append(.clearSale(amount: payment.captured, code: payment.authorizationCode))
        }
        for (refund, amount) in payment.refunds.sorted(by: { $0.key < $1.key }) where amount > 0 && !recorded.contains("refund:" + refund) {
            if held { calls.append(.refund(id: refund, amount: amount)) }
            calls.append(.clearRefund(id: refund, amount: amount))
        }
        return calls
    }
}
