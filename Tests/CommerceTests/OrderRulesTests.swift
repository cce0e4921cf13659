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
}
