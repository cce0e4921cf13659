import Commerce
import Replication
import XCTest

/// What an order adds to the sales figures, and the rules of a review, as pure functions.
final class SalesContributionTests: XCTestCase {
    static let noon: Int64 = 1_796_644_800_000  // 2026-12-07T12:00:00Z

    static func placed(atMs: Int64 = noon, channel: SalesChannel? = .web, tenders: [SaleTender]? = nil, exchange: Bool = false) -> OrderEvent {
        var placed = OrderEvent(kind: .placed, atMs: atMs, node: "store-a")
        placed.channel = channel
        placed.region = "eu"
        placed.lines = [PricedLine(sku: "LAMP-1", productId: "lamp", name: "Lamp", quantity: 2, unitPrice: 4_900, category: "lighting"),
                        PricedLine(sku: "MUG-1", productId: "mug", name: "Mug", quantity: 1, unitPrice: 1_000)]
        placed.discounts = [DiscountLine(promotion: exchange ? DiscountLine.exchangePromotion : "p1", name: "10 off", code: nil, amount: 1_000, shipping: 0,
                                         lines: ["LAMP-1": 1_000])]
        placed.totals = OrderTotals(currency: "EUR", subtotal: 10_800, discount: 1_000, shipping: 495, tax: 1_643, total: 10_295, taxIncluded: true)
        placed.tenders = tenders
        return placed
    }

    static func event(_ kind: OrderEvent.Kind, atMs: Int64, _ change: (inout OrderEvent) -> Void = { _ in }) -> OrderEvent {
        var event = OrderEvent(kind: kind, atMs: atMs, node: "store-a")
        change(&event)
        return event
    }

    func testAPaidOrderCountsInTheWindowOfItsPlacingWithItsPaymentMix() throws {
        let paid = Self.event(.paid, atMs: Self.noon + 10) { $0.amount = 10_295 }
        let tenders = [SaleTender(method: .cash, amount: 295), SaleTender(method: .cardOffline, amount: 10_000)]
        let contribution = SalesContribution(OrderState(events: [Self.placed(atMs: Self.noon + 123_456, channel: .till, tenders: tenders), paid]))
        let place = SalesContribution.Place(windowStartMs: Self.noon, channel: .till, store: "store-a", region: "eu", currency: "EUR")
        let figures = try XCTUnwrap(contribution.windows[place])
        XCTAssertEqual([figures.orders, figures.units, figures.gross, figures.discounts, figures.tax, figures.net], [1, 3, 11_295, 1_000, 1_643, 10_295])
        XCTAssertEqual([figures.cash, figures.card, figures.cardOffline], [295, 0, 10_000])
        let lamp = try XCTUnwrap(contribution.products[.init(place: place, product: "lamp", category: "lighting")])
        XCTAssertEqual([lamp.units, lamp.revenue], [2, 8_800], "the line less its discount")
        XCTAssertEqual(contribution.products[.init(place: place, product: "mug", category: "")]?.revenue, 1_000)
    }

    func testTheSameEventsInAnyOrderMakeTheSameContributionAndText() {
        let events = [Self.placed(), Self.event(.paid, atMs: Self.noon + 1) { $0.amount = 10_295 },
                      Self.event(.shipped, atMs: Self.noon + 2) { $0.carrier = "DHL" },
                      Self.event(.refunded, atMs: Self.noon + 86_400_000) { $0.amount = 2_000 }]
        let forward = SalesContribution(OrderState(events: events)), backward = SalesContribution(OrderState(events: events.reversed()))
        XCTAssertEqual(forward, backward)
        XCTAssertEqual(forward.text, backward.text)
        XCTAssertEqual(SalesContribution(text: forward.text), forward, "the kept text reads back as the same contribution")
        let refundWindow = SalesContribution.Place(windowStartMs: Self.noon + 86_400_000, channel: .web, store: "store-a", region: "eu", currency: "EUR")
        XCTAssertEqual(forward.windows[refundWindow]?.refunds, 2_000, "a refund lands in its own window, a day later")
        XCTAssertEqual(forward.windows[refundWindow]?.orders, 0)
    }

    func testUnpaidCancelledAndExchangeOrdersAreNotSales() {
        XCTAssertTrue(SalesContribution(OrderState(events: [Self.placed()])).isEmpty, "awaiting payment")
        XCTAssertTrue(SalesContribution(OrderState(events: [Self.placed(), Self.event(.paid, atMs: Self.noon + 1) { $0.amount = 1 },
                                                            Self.event(.cancelled, atMs: Self.noon + 2)])).isEmpty, "cancelled before anything left")
        XCTAssertTrue(SalesContribution(OrderState(events: [Self.placed(exchange: true), Self.event(.paid, atMs: Self.noon + 1)])).isEmpty,
                      "the goods of an exchange are not a new sale")
        XCTAssertNil(SalesContribution(text: "{\"w\": [{\"t\": 1}]}"), "a contribution this version did not write is refused, not half read")
    }

    func testOldEventsWithoutChannelOrTendersReadAsTheyWereSold() {
        var till = Self.placed(channel: nil)
        till.sealedContact = nil
        XCTAssertEqual(SalesChannel.of(till), .till, "a till sale seals no contact")
        var web = Self.placed(channel: nil)
        web.sealedContact = "sealed"
        XCTAssertEqual(SalesChannel.of(web), .web)
        let contribution = SalesContribution(OrderState(events: [web, Self.event(.paid, atMs: Self.noon + 1)]))
        XCTAssertEqual(contribution.windows.values.first?.card, 10_295, "no tenders recorded: the total was paid by card")
    }

    func testAReviewIsPlainTextWithinItsBoundsAndOnePerCustomerAndProduct() {
        XCTAssertEqual(Review.problems(rating: 0, title: nil, text: "ok", author: nil).map(\.field), ["rating"])
        XCTAssertEqual(Review.problems(rating: 5, title: "one\ntwo", text: "<b>x</b>", author: String(repeating: "a", count: 41)).map(\.field),
                       ["title", "text", "author"])
        XCTAssertEqual(Review.problems(rating: 3, title: nil, text: "   ", author: nil).map(\.field), ["text"])
        let review = Review(product: "lamp", customer: "c-1", rating: 4, title: nil, text: "Bright", author: "Ann", writtenMs: 1, node: "store-a")
        XCTAssertEqual(Review(key: review.key, fields: review.fields), review)
        XCTAssertNil(Review(key: Review.key(product: "lamp", customer: "c-2"), fields: review.fields), "a review under another customer's key is not one")
        var forged = review.fields
        forged["rating"] = .integer(9)
        XCTAssertNil(Review(key: review.key, fields: forged), "a peer's out-of-range rating is not shown")
    }
}
