import Commerce
import Platform

/// A sale cut short between its reservation and its answer: by a crash (found at start), or
/// by an answer the disk refused. A checkout's and a till sale's are released alike.
struct UnansweredSale {
    enum Source {
        /// A shopper's checkout (its cart and Idempotency-Key): the same request retried runs
        /// again as the same order.
        case checkout(cart: String, key: String)
        /// A till's sale: opened again, so the terminal's retry completes it afresh.
        case tillSale(id: String, staff: String)
    }

    var source: Source
    var hold: SaleReservations.Hold
    var payments: [String]
    /// The payments the acquirer may hold an authorization for: voided there first.
    var cards: [String]
}

extension OutpostNode {
    /// Releases every unanswered sale: its customer or cashier got no answer, so nothing of it
    /// may stand. Cards are voided at the acquirer, the stock and redemption given back, each
    /// payment closed as voided. `done` says whether every one was released; unreadable, they
    /// are not skipped: the caller tries again.
    func releaseUnansweredSales(done: @escaping (Bool) -> Void) {
        guard let unanswered = try? unansweredSales() else { return done(false) }
        var left = unanswered.count, released = true
        guard left > 0 else { return done(true) }
        for sale in unanswered {
            voidCards(sale.cards) { [unowned self] in
                writer.submit({ [unowned self] _ in try release(sale) }, completion: { [unowned self] result in
                    if case .failure(let error) = result {
                        released = false
                        logger.warning("an unanswered sale is not released yet; it is tried again", metadata: ["order": "\(sale.hold.orderId)", "error": "\(error)"])
                    } else {
                        switch sale.source {
                        case .checkout: logger.notice("abandoned checkout released", metadata: ["order": "\(sale.hold.orderId)", "payments": "\(sale.payments)"])
                        case .tillSale(let id, let staff): logger.notice("interrupted till sale released", metadata: ["sale": "\(id)", "staff": "\(staff)"])
                        }
                        replicatedChanged()
                    }
                    left -= 1
                    if left == 0 { done(released) }
                })
            }
        }
    }

    /// The checkouts and till sales reserved and not answered, but for those being answered now.
    private func unansweredSales() throws -> [UnansweredSale] {
        let checkoutSales = try checkouts.authorizing().filter { !saleDesk.isInFlight(.checkout(cart: $0.cart, key: $0.key)) }.map {
            UnansweredSale(source: .checkout(cart: $0.cart, key: $0.key),
                           hold: .init(orderId: $0.orderId, allocations: StockAllocation.list(from: $0.allocations), redemption: $0.redemption),
                           payments: [$0.paymentId], cards: [$0.paymentId])
        }
        let tillSales = try sales.interrupted().filter { !saleDesk.isInFlight(.tillSale($0.sale)) }.map { sale, completion, staff in
            let redemption = TillBasket.stored(completion.basket).code.flatMap { PromotionEngine.promotion(code: $0, in: promotions()) }
            return UnansweredSale(source: .tillSale(id: sale, staff: staff),
                                  hold: .init(orderId: completion.orderId, allocations: StockAllocation.list(from: completion.allocations),
                                              redemption: redemption?.usageCap == nil ? nil : redemption?.id),
                                  payments: completion.payments, cards: completion.payments.filter { paymentState($0)?.isCash == false })
        }
        return checkoutSales + tillSales
    }

    private func release(_ sale: UnansweredSale) throws {
        let nowMs = WallClock.nowMs()
        let closing = sale.payments.map { ($0, reservations.closing(.voided, order: sale.hold.orderId, nowMs: nowMs)) }
        try reservations.release(sale.hold, closing: closing, actor: "recovery", nowMs: nowMs)
        switch sale.source {
        case .checkout(let cart, let key): try checkouts.abandoned(cart: cart, key: key)
        case .tillSale(let id, _): try sales.reopen(id)
        }
    }

    /// Voids each card authorization at the acquirer, then goes on whatever it answered: the
    /// release does not wait on a network that may be gone (a void not heard lapses there).
    private func voidCards(_ payments: [String], then: @escaping () -> Void) {
        guard let first = payments.first else { return then() }
        gateway.void(paymentId: first) { [unowned self] _ in voidCards(Array(payments.dropFirst()), then: then) }
    }
}
