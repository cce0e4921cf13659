import Commerce
import NodeTesting
import Persistence
import Platform
import Replication
import XCTest

/// Returns and exchanges as the ReturnDesk writes them, in process on a real database
/// (ShopHarness): the time is the test's, and a failing statement or COMMIT is the test's too.
final class ReturnDeskTests: XCTestCase {
    private let day: Int64 = 86_400_000
    private let tee = (sizeS: "TEE-S", sizeM: "TEE-M", product: "tee", price: Int64(1_500))

    /// The catalog as the desk reads it: both sizes of the tee at the same price.
    private func desk(_ shop: ShopHarness, price: Int64? = nil) -> ReturnDesk {
        let price = price ?? tee.price
        return ReturnDesk(reservations: shop.reservations, policy: ReturnPolicy(), terms: CheckoutTerms()) { [tee] sku in
            [tee.sizeS, tee.sizeM].contains(sku) ? (tee.product, "Tee " + sku.suffix(1), Price(region: "eu", currency: "EUR", amount: price)) : nil
        }
    }

    /// A delivered order of two small tees, its events on the node.
    private func deliveredOrder(_ shop: ShopHarness, id: String = "o-1") throws -> OrderState {
        var placed = OrderEvent(kind: .placed, atMs: shop.nowMs, node: shop.node)
        placed.number = "STORE-A-000001"
        placed.lines = [PricedLine(sku: tee.sizeS, productId: tee.product, name: "Tee S", quantity: 2, unitPrice: tee.price)]
        placed.totals = OrderTotals(currency: "EUR", lines: placed.lines ?? [], terms: CheckoutTerms())
        var shipped = OrderEvent(kind: .shipped, atMs: shop.nowMs, node: shop.node)
        shipped.location = shop.node
        let events = [placed, shipped, OrderEvent(kind: .delivered, atMs: shop.nowMs, node: shop.node)]
        let reservations = shop.reservations, now = shop.nowMs
        try shop.write { try reservations.addEvents(events.map(\.text), key: id, in: Collections.orders, nowMs: now) }.get()
        return try XCTUnwrap(order(shop, id))
    }

    private func order(_ shop: ShopHarness, _ id: String) -> OrderState? {
        shop.replica.state(at: id, in: Collections.orders).map { OrderState(texts: $0.elements) }
    }

    /// The order with a return of `units` small tees, each swapped for a medium one, received.
    private func exchangeReturn(_ state: OrderState, units: Int64, shop: ShopHarness) -> (OrderState, OrderReturn)? {
        var requested = OrderEvent(kind: .returnRequested, atMs: shop.nowMs, node: shop.node)
        requested.returnId = "ret-1"
        requested.items = [OrderItem(sku: tee.sizeS, quantity: units, reason: "size_or_fit", exchangeSku: tee.sizeM)]
        let after = OrderState(events: state.events + [requested])
        return after.findReturn("ret-1").map { (after, $0) }
    }

    func testAShopperMayAskWithinTheWindowAndNoMoreThanWasShipped() throws {
        let shop = try ShopHarness()
        let desk = desk(shop)
        let state = try deliveredOrder(shop)
        XCTAssertNoThrow(try desk.checkWindow(state, nowMs: shop.nowMs + 30 * day), "the 30th day is inside the window")
        XCTAssertThrowsError(try desk.checkWindow(state, nowMs: shop.nowMs + 30 * day + 1)) { error in
            guard case .refused(let reason, _)? = error as? ReturnRefusal else { return XCTFail("\(error)") }
            XCTAssertEqual(reason, "window_closed")
        }
        XCTAssertNoThrow(try desk.checkReturnable([OrderItem(sku: tee.sizeS, quantity: 2, reason: "other")], of: state, source: "shipped"))
        XCTAssertThrowsError(try desk.checkReturnable([OrderItem(sku: tee.sizeS, quantity: 1, reason: "other"),
                                                       OrderItem(sku: tee.sizeS, quantity: 2, reason: "damaged")], of: state, source: "shipped")) { error in
            XCTAssertEqual(error as? ReturnRefusal, .refused(reason: "not_returnable", detail: "3 of TEE-S asked back; 2 shipped and not yet returned"))
        }
    }

    func testAnExchangeIsForTheSameProductAtThePricePaid() throws {
        let shop = try ShopHarness()
        let line = PricedLine(sku: tee.sizeS, productId: tee.product, name: "Tee S", quantity: 1, unitPrice: tee.price)
        XCTAssertNoThrow(try desk(shop).checkExchange(line, for: tee.sizeM))
        XCTAssertThrowsError(try desk(shop).checkExchange(line, for: "MUG")) { error in
            guard case .refused(let reason, _)? = error as? ReturnRefusal else { return XCTFail("\(error)") }
            XCTAssertEqual(reason, "exchange_unavailable")
        }
        XCTAssertThrowsError(try desk(shop, price: 1_800).checkExchange(line, for: tee.sizeM)) { error in
            guard case .refused(let reason, _)? = error as? ReturnRefusal else { return XCTFail("\(error)") }
            XCTAssertEqual(reason, "exchange_price_differs")
        }
    }

    /// The exchange order takes the replacement from stock, is paid by the return, and the
    /// units that came back are stock again; the counters and the journal agree.
    func testAReceivedExchangeRestocksWhatCameBackAndPlacesAPaidOrderForTheReplacement() throws {
        let shop = try ShopHarness()
        try shop.receive(tee.sizeM, units: 3)
        let (state, thisReturn) = try XCTUnwrap(exchangeReturn(try deliveredOrder(shop), units: 2, shop: shop))
        let desk = desk(shop), now = shop.nowMs
        let lines = try shop.write { () throws -> [PricedLine] in
            try desk.restock([OrderItem(sku: self.tee.sizeS, quantity: 2, disposition: .restock, location: shop.node)], order: "o-1", actor: "test", nowMs: now)
            return try desk.placeExchange(thisReturn, of: state, originalId: "o-1", exchangeId: "o-x", handedOver: true, nowMs: now) { "sealed" }
        }.get()
        XCTAssertEqual(lines.map(\.sku), [tee.sizeM])
        let exchange = try XCTUnwrap(order(shop, "o-x"))
        XCTAssertEqual(exchange.placed?.totals?.total, 0, "paid in full by the return")
        XCTAssertEqual(exchange.placed?.discounts?.first?.amount, 2 * tee.price)
        XCTAssertEqual(exchange.placed?.sealedContact, "sealed")
        XCTAssertEqual(exchange.status, .delivered, "handed over at the counter")
        try shop.restart()
        XCTAssertEqual(try shop.stock(tee.sizeM).counter, 1)
        XCTAssertEqual(try shop.stock(tee.sizeM).view, 1)
        XCTAssertEqual(try shop.stock(tee.sizeS).counter, 2, "the small tees are stock again")
        XCTAssertEqual(try shop.journalUnits(tee.sizeM), 1)
        XCTAssertEqual(try shop.journalUnits(tee.sizeS), 2)
    }

    func testAReplacementOutOfStockRefusesTheWholeReceiptAndWritesNothing() throws {
        let shop = try ShopHarness()
        try shop.receive(tee.sizeM, units: 1)
        let (state, thisReturn) = try XCTUnwrap(exchangeReturn(try deliveredOrder(shop), units: 2, shop: shop))
        let desk = desk(shop), now = shop.nowMs
        XCTAssertThrowsError(try desk.checkReplacementsInStock([tee.sizeM: 2])) { error in
            XCTAssertEqual(error as? ReturnRefusal, .replacementOutOfStock(sku: tee.sizeM, units: 2))
        }
        let result = shop.write {
            try desk.restock([OrderItem(sku: self.tee.sizeS, quantity: 2, disposition: .restock, location: shop.node)], order: "o-1", actor: "test", nowMs: now)
            try desk.placeExchange(thisReturn, of: state, originalId: "o-1", exchangeId: "o-x", handedOver: false, nowMs: now) { nil }
        }
        XCTAssertThrowsError(try result.get()) { XCTAssertEqual($0 as? ReturnRefusal, .replacementOutOfStock(sku: tee.sizeM, units: 2)) }
        XCTAssertNil(order(shop, "o-x"))
        XCTAssertEqual(try shop.stock(tee.sizeS).counter, 0, "the restock went with the refused write")
        XCTAssertEqual(try shop.journalUnits(tee.sizeS), 0)
        XCTAssertEqual(try shop.stock(tee.sizeM).counter, 1)
    }

    /// The I/O error sweep in process: for every statement of one received exchange, a failed
    /// disk, a full one or a held lock there leaves either the whole receipt or nothing of it,
    /// in memory and after a restart; the same write then succeeds once the disk is back.
    func testEveryStatementOfAReceivedExchangeFailingLeavesAllOrNothing() throws {
        for fault in ShopHarness.StatementFault.allCases {
            var nth = 1
            while true {
                let shop = try ShopHarness()
                try shop.receive(tee.sizeM, units: 3)
                let (state, thisReturn) = try XCTUnwrap(exchangeReturn(try deliveredOrder(shop), units: 1, shop: shop))
                let receipt = { [unowned shop] in
                    let desk = self.desk(shop), now = shop.nowMs
                    try desk.restock([OrderItem(sku: self.tee.sizeS, quantity: 1, disposition: .restock, location: shop.node)], order: "o-1", actor: "t", nowMs: now)
                    try desk.placeExchange(thisReturn, of: state, originalId: "o-1", exchangeId: "o-x", handedOver: false, nowMs: now) { nil }
                }
                try shop.failStatement(fault, nth: nth)
                let outcome = shop.write(receipt)
                let fired = shop.faultFired
                shop.clearFaults()
                func check(_ when: String) throws {
                    let placed = order(shop, "o-x") != nil
                    let restocked = try shop.stock(tee.sizeS).counter
                    let medium = try shop.stock(tee.sizeM)
                    let context = "\(fault) at statement \(nth), \(when)"
                    XCTAssertEqual(restocked, placed ? 1 : 0, context)
                    XCTAssertEqual(medium.counter, placed ? 2 : 3, context)
                    XCTAssertEqual(medium.view, medium.counter, context)
                    XCTAssertEqual(try shop.journalUnits(tee.sizeS), restocked, context)
                    XCTAssertEqual(try shop.journalUnits(tee.sizeM), medium.counter, context)
                    if case .success = outcome { XCTAssertTrue(placed, context) }
                }
                try check("at once")
                try shop.restart()
                try check("after a restart")
                if order(shop, "o-x") == nil {
                    XCTAssertNoThrow(try shop.write(receipt).get(), "\(fault) at \(nth): the same write succeeds with the disk back")
                }
                guard fired else { break }  // every statement of the write and its COMMIT has failed once
                nth += 1
            }
            XCTAssertGreaterThan(nth, 5, "\(fault): the sweep went through the write's statements")
        }
    }
}
