@testable import Commerce
import Replication
import XCTest

/// An order's status is the same whichever order its events arrive in; totals round once.
final class OrderRulesTests: XCTestCase {
    private func event(_ kind: OrderEvent.Kind, at ms: Int64, node: String = "store-1", amount: Int64? = nil) -> OrderEvent {
        var event = OrderEvent(kind: kind, atMs: ms, node: node)
        event.amount = amount
        if kind == .placed {
            event.number = "STORE-1-000001"
            event.totals = OrderTotals(currency: "EUR", lines: [PricedLine(sku: "A", productId: "a", name: "A", quantity: 1, unitPrice: 1_000)], terms: CheckoutTerms())
            event.payment = "p-1"
        }
        return event
    }

    func testTheStatusIsTheSameInEveryArrivalOrder() {
        let histories: [([OrderEvent], OrderState.Status)] = [
            ([event(.placed, at: 1)], .placed),
            ([event(.placed, at: 1), event(.paid, at: 2, amount: 1_000)], .paid),
            ([event(.placed, at: 1), event(.paid, at: 2, amount: 1_000), event(.fulfilled, at: 3)], .fulfilled),
            ([event(.placed, at: 1), event(.paid, at: 2, amount: 1_000), event(.shipped, at: 4), event(.delivered, at: 5)], .delivered),
            ([event(.placed, at: 1), event(.paid, at: 2, amount: 1_000), event(.cancelled, at: 3)], .cancelled),
            // A shipment on one node and a cancellation on another: the goods left, the order stands.
            ([event(.placed, at: 1), event(.paid, at: 2, amount: 1_000), event(.cancelled, at: 3, node: "store-2"), event(.shipped, at: 3)], .shipped),
            ([event(.placed, at: 1), event(.paid, at: 2, amount: 1_000), event(.shipped, at: 3), event(.refunded, at: 4, amount: 400)], .shipped),
            ([event(.placed, at: 1), event(.paid, at: 2, amount: 1_000), event(.shipped, at: 3), event(.refunded, at: 4, amount: 400),
              event(.refunded, at: 5, amount: 600)], .refunded),
        ]
        for (events, expected) in histories {
            var orders = [events, events.reversed(), events.shuffled(), events + events]
            orders.append(Array(events.dropFirst()) + [events[0]])
            for arrival in orders {
                let state = OrderState(texts: arrival.map(\.text))
                XCTAssertEqual(state.status, expected, "\(arrival.map(\.kind))")
                XCTAssertEqual(state.events, OrderState(events: events).events, "the same list of events on every node")
            }
        }
        let raced = OrderState(events: histories[5].0)
        XCTAssertTrue(raced.cancellationRaced)
        XCTAssertEqual(OrderState(events: histories[6].0).refundable, 600)
    }

    func testOnlyDocumentedTransitionsAreAllowed() {
        let paid = OrderState(events: [event(.placed, at: 1), event(.paid, at: 2, amount: 1_000)])
        XCTAssertTrue(paid.allows(.shipped))
        XCTAssertTrue(paid.allows(.cancelled))
        XCTAssertFalse(paid.allows(.delivered))
        XCTAssertFalse(paid.allows(.refunded), "nothing is captured before shipment")
        let shipped = OrderState(events: [event(.placed, at: 1), event(.paid, at: 2, amount: 1_000), event(.shipped, at: 3)])
        XCTAssertFalse(shipped.allows(.cancelled))
        XCTAssertTrue(shipped.allows(.refunded))
        XCTAssertFalse(OrderState(events: [event(.placed, at: 1), event(.cancelled, at: 2)]).allows(.paid))
    }

    func testAnEventIsOneStringEverywhereAndGarbageIsIgnored() {
        let placed = event(.placed, at: 7)
        XCTAssertEqual(OrderEvent(text: placed.text), placed)
        XCTAssertTrue(placed.text.contains(#""kind":"placed""#))
        XCTAssertEqual(OrderState(texts: [placed.text, "not json", #"{"kind":"exploded"}"#]).status, .placed)
    }

    func testTaxIsIncludedOrAddedAndRoundedOnce() {
        let lines = [PricedLine(sku: "A", productId: "a", name: "A", quantity: 2, unitPrice: 1_999)]
        var terms = CheckoutTerms()
        terms.taxRateBasisPoints = 1_900
        terms.shippingFlatFee = 495
        let included = OrderTotals(currency: "EUR", lines: lines, terms: terms)
        XCTAssertEqual([included.subtotal, included.shipping, included.tax, included.total], [3_998, 495, 717, 4_493])
        terms.pricesIncludeTax = false
        terms.taxRateBasisPoints = 725
        let added = OrderTotals(currency: "USD", lines: lines, terms: terms)
        XCTAssertEqual([added.tax, added.total], [326, 4_819], "7.25 % of 44.93 is 3.257...: 3.26 on top")
        terms.freeShippingFrom = 3_000
        XCTAssertEqual(OrderTotals(currency: "USD", lines: lines, terms: terms).shipping, 0)
    }

    func testACartLineKeepsItsPriceAndAGuestCartMergesByTheLargerQuantity() {
        var cart = CartContents.State()
        let clock = HLCTimestamp(physicalMs: 1, logical: 0, replica: "n")
        _ = CartContents.change(&cart, setting: [CartLine(sku: "A", quantity: 2, unitPriceAtAdd: 500), CartLine(sku: "B", quantity: 1, unitPriceAtAdd: 90)],
                                removing: [], replica: "n", at: clock)
        XCTAssertEqual(CartContents.lines(of: cart), [CartLine(sku: "A", quantity: 2, unitPriceAtAdd: 500), CartLine(sku: "B", quantity: 1, unitPriceAtAdd: 90)])
        _ = CartContents.change(&cart, setting: [], removing: ["A"], replica: "n", at: HLCTimestamp(physicalMs: 2, logical: 0, replica: "n"))
        XCTAssertEqual(CartContents.lines(of: cart).map(\.sku), ["B"])
        let merged = CartContents.merged([CartLine(sku: "B", quantity: 3, unitPriceAtAdd: 95), CartLine(sku: "C", quantity: 1, unitPriceAtAdd: 10)],
                                         into: [CartLine(sku: "B", quantity: 1, unitPriceAtAdd: 90)])
        XCTAssertEqual(merged, [CartLine(sku: "B", quantity: 3, unitPriceAtAdd: 95), CartLine(sku: "C", quantity: 1, unitPriceAtAdd: 10)])
        XCTAssertEqual(CartOwner(cartId: "guest-" + String(repeating: "a", count: 32)), .guest)
        XCTAssertNil(CartOwner(cartId: "guest-xyz"))
        XCTAssertEqual(CartOwner(cartId: "cart-c-1"), .customer("c-1"))
        XCTAssertTrue(PaymentRequest.isToken("tok_visa"))
        XCTAssertFalse(PaymentRequest.isToken("4242424242424242"))
        XCTAssertFalse(PaymentRequest.isToken("tok_"))
    }

    /// An order of 3 × A (10.00) and 1 × B (20.00), 19 % tax included, shipping 4.95, with a
    /// 5.00 discount on A: 49.95 paid.
    private func placedOrder() -> [OrderEvent] {
        var placed = OrderEvent(kind: .placed, atMs: 1, node: "n")
        placed.lines = [PricedLine(sku: "A", productId: "a", name: "A", quantity: 3, unitPrice: 1_000),
                        PricedLine(sku: "B", productId: "b", name: "B", quantity: 1, unitPrice: 2_000)]
        let discount = DiscountLine(promotion: "p", name: "Five off A", code: nil, amount: 500, shipping: 0, lines: ["A": 500])
        placed.discounts = [discount]
        var terms = CheckoutTerms()
        terms.taxRateBasisPoints = 1900
        placed.totals = OrderTotals(currency: "EUR", goods: 5_000, shipping: 495, discounts: [discount], terms: terms)
        let paid = event(.paid, at: 2, amount: placed.totals?.total)
        return [placed, paid]
    }

    private func step(_ kind: OrderEvent.Kind, at ms: Int64, _ items: [OrderItem]? = nil, returnId: String? = nil, amount: Int64? = nil) -> OrderEvent {
        var event = OrderEvent(kind: kind, atMs: ms, node: "n")
        event.items = items
        event.returnId = returnId
        event.amount = amount
        return event
    }

    func testPartialShipmentsAddUpWhicheverOrderTheyArrive() {
        let order = placedOrder()
        XCTAssertEqual(order[0].totals?.total, 4_995)
        let first = step(.shipped, at: 3, [OrderItem(sku: "A", quantity: 2)])
        let partly = OrderState(events: order + [first])
        XCTAssertEqual(partly.status, .partiallyShipped)
        XCTAssertEqual(partly.unshipped, ["A": 1, "B": 1])
        XCTAssertTrue(partly.allows(.shipped))
        XCTAssertFalse(partly.allows(.cancelled), "goods that left cannot be cancelled")
        let rest = step(.shipped, at: 4)
        for events in [order + [first, rest], [rest, first] + order.reversed()] {
            let state = OrderState(events: events)
            XCTAssertEqual(state.status, .shipped)
            XCTAssertEqual(state.shipped, ["A": 3, "B": 1])
        }
        let overShipped = OrderState(events: order + [step(.shipped, at: 3, [OrderItem(sku: "A", quantity: 9)])])
        XCTAssertEqual(overShipped.shipped, ["A": 3], "never more than ordered")
        XCTAssertEqual(OrderState(events: order + [first, step(.delivered, at: 5)]).status, .partiallyShipped, "delivered what left; one parcel still to go")
        XCTAssertEqual(OrderState(events: order + [first, rest, step(.delivered, at: 5)]).status, .delivered)
    }

    func testAReturnFoldsItsStepsAndRefundsWhatWasPaidForItsGoods() {
        let shipped = placedOrder() + [step(.shipped, at: 3)]
        let ask = step(.returnRequested, at: 4, [OrderItem(sku: "A", quantity: 1, reason: "damaged")], returnId: "r1")
        let approve = step(.returnApproved, at: 5, returnId: "r1")
        let reject = step(.returnRejected, at: 5, returnId: "r1")
        let receive = step(.returnReceived, at: 6, [OrderItem(sku: "A", quantity: 1, disposition: .restock, location: "shop")], returnId: "r1")
        XCTAssertEqual(OrderState(events: shipped + [ask]).findReturn("r1")?.status, .requested)
        XCTAssertEqual(OrderState(events: shipped + [ask, approve, reject]).findReturn("r1")?.status, .rejected, "a rejection beats an approval")
        XCTAssertEqual(OrderState(events: [receive, reject, ask, approve] + shipped).findReturn("r1")?.status, .received, "goods that came back count")
        XCTAssertEqual(OrderState(events: shipped + [ask]).returnable, ["A": 2, "B": 1])
        XCTAssertEqual(OrderState(events: shipped + [ask, reject]).returnable, ["A": 3, "B": 1], "a rejected return frees its units")

        // One A of three: its 10.00 less a third of the 5.00 off it, tax included already.
        let state = OrderState(events: shipped + [ask, approve, receive])
        let r1 = state.returns[0]
        XCTAssertEqual(state.refundAmount(for: r1, policy: ReturnPolicy()), 833)
        // Everything back: all that is left of the payment, shipping included (the default policy).
        let all = step(.returnRequested, at: 7, [OrderItem(sku: "A", quantity: 2, reason: "other"), OrderItem(sku: "B", quantity: 1, reason: "other")], returnId: "r2")
        let refundedFirst = step(.refunded, at: 7, returnId: "r1", amount: 833)
        let last = OrderState(events: shipped + [ask, approve, receive, refundedFirst, all])
        XCTAssertEqual(last.refundAmount(for: last.returns[1], policy: ReturnPolicy()), 4_995 - 833)
        var never = ReturnPolicy()
        never.refundShipping = .never
        XCTAssertEqual(last.refundAmount(for: last.returns[1], policy: never), 4_995 - 833 - 495, "2 × A less two thirds of 5.00, and B")
        XCTAssertEqual(last.returns[0].status, .refunded)
        // An exchange refunds nothing and never makes the order all returned.
        let swap = step(.returnRequested, at: 4, [OrderItem(sku: "B", quantity: 1, reason: "size_or_fit", exchangeSku: "B2")], returnId: "r3")
        let swapped = OrderState(events: shipped + [swap])
        XCTAssertEqual(swapped.refundAmount(for: swapped.returns[0], policy: ReturnPolicy()), 0)
        XCTAssertTrue(swapped.returns[0].isExchangeOnly)
        XCTAssertEqual(OrderEvent(text: receive.text), receive, "items round-trip")
    }
}
