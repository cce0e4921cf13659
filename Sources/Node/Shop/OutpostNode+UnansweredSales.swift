import Commerce
import Platform

extension OutpostNode {
    /// Releases every unanswered sale (`SaleDesk.release`): its customer or cashier got no
    /// answer, so nothing of it may stand. `done` says whether every one was released;
    /// unreadable, they are not skipped: the caller tries again.
    func releaseUnansweredSales(done: @escaping (Bool) -> Void) {
        let unanswered: [UnansweredSale]
        do {
            unanswered = try saleDesk.unanswered(in: database, payment: { [unowned self] in paymentState($0) }, tillRedemption: { [unowned self] basket in
                let promotion = TillBasket.stored(basket).code.flatMap { PromotionEngine.promotion(code: $0, in: promotions()) }
                return promotion?.usageCap == nil ? nil : promotion?.id
            })
        } catch {
            return done(false)
        }
        saleDesk.release(unanswered, reservations: { [unowned self] in reservations }) { [unowned self] outcomes in
            for (sale, error) in outcomes {
                if let error {
                    logger.warning("an unanswered sale is not released yet; it is tried again", metadata: ["order": "\(sale.hold.orderId)", "error": "\(error)"])
                    continue
                }
                switch sale.source {
                case .checkout: logger.notice("abandoned checkout released", metadata: ["order": "\(sale.hold.orderId)", "payments": "\(sale.payments)"])
                case .tillSale(let id, let staff): logger.notice("interrupted till sale released", metadata: ["sale": "\(id)", "staff": "\(staff)"])
                }
            }
            done(outcomes.allSatisfy { $0.error == nil })
        }
    }
}
