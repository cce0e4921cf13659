import Platform

/// A sale cut short between its reservation and its answer: by a crash (found at start), or
/// by an answer the disk refused. A checkout's and a till sale's are released alike.
public struct UnansweredSale {
    public enum Source {
        /// A shopper's checkout (its cart and Idempotency-Key): the same request retried runs
        /// again as the same order.
        case checkout(cart: String, key: String)
        /// A till's sale: opened again, so the terminal's retry completes it afresh.
        case tillSale(id: String, staff: String)
    }

    public var source: Source
    public var hold: SaleReservations.Hold
    public var payments: [String]
    /// The payments the acquirer may hold an authorization for: voided there first.
    public var cards: [String]
}

extension SaleDesk {
    /// The checkouts and till sales reserved and not answered, but for those being answered
    /// now. `payment` folds a payment (cash is not voided at the acquirer); `tillRedemption`
    /// names the capped promotion a till basket's code took, if any.
    public func unanswered(in database: Database, payment: (String) -> PaymentState?,
                           tillRedemption: (_ basket: String) -> String?) throws -> [UnansweredSale] {
        let checkouts = try CheckoutBook(database: database).authorizing().filter { !isInFlight(.checkout(cart: $0.cart, key: $0.key)) }.map {
            UnansweredSale(source: .checkout(cart: $0.cart, key: $0.key),
                           hold: .init(orderId: $0.orderId, allocations: StockAllocation.list(from: $0.allocations), redemption: $0.redemption),
                           payments: [$0.paymentId], cards: [$0.paymentId])
        }
        let tillSales = try TillSaleBook(database: database).interrupted().filter { !isInFlight(.tillSale($0.sale)) }.map { sale, completion, staff in
            UnansweredSale(source: .tillSale(id: sale, staff: staff),
                           hold: .init(orderId: completion.orderId, allocations: StockAllocation.list(from: completion.allocations),
                                       redemption: tillRedemption(completion.basket)),
                           payments: completion.payments, cards: completion.payments.filter { payment($0)?.isCash == false })
        }
        return checkouts + tillSales
    }

    /// Releases each: its cards voided at the acquirer, then in one write its stock and
    /// redemption given back, each payment closed as voided, and the checkout marked abandoned
    /// (a till sale: open again). `done` gets each sale with the error that kept it (nil: released).
    public func release(_ unanswered: [UnansweredSale], reservations: @escaping () -> SaleReservations,
                        done: @escaping ([(sale: UnansweredSale, error: (any Error)?)]) -> Void) {
        var outcomes: [(sale: UnansweredSale, error: (any Error)?)] = []
        guard !unanswered.isEmpty else { return done([]) }
        for sale in unanswered {
            voidCards(sale.cards) { [unowned self] in
                writer.submit({ [unowned self] db in
                    let nowMs = clock(), sales = reservations()
                    let closing = sale.payments.map { ($0, sales.closing(.voided, order: sale.hold.orderId, nowMs: nowMs)) }
                    try sales.release(sale.hold, closing: closing, actor: "recovery", nowMs: nowMs)
                    switch sale.source {
                    case .checkout(let cart, let key): try CheckoutBook(database: db).abandoned(cart: cart, key: key)
                    case .tillSale(let id, _): try TillSaleBook(database: db).reopen(id)
                    }
                }, completion: { [unowned self] result in
                    if case .failure(let error) = result { outcomes.append((sale, error)) } else {
                        outcomes.append((sale, nil))
                        changed()
                    }
                    if outcomes.count == unanswered.count { done(outcomes) }
                })
            }
        }
    }

    /// Voids each card authorization at the acquirer, then goes on whatever it answered: the
    /// release does not wait on a network that may be gone (a void not heard lapses there).
    private func voidCards(_ payments: [String], then: @escaping () -> Void) {
        guard let first = payments.first else { return then() }
        gateway.void(paymentId: first) { [unowned self] _ in voidCards(Array(payments.dropFirst()), then: then) }
    }
}
