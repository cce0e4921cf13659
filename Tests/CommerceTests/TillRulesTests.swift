import Commerce
import XCTest

final class TillRulesTests: XCTestCase {
    func testCashIsRoundedToTheSmallestCoinAndCardsPayExactly() throws {
        let rounding = CashRounding.usual
        XCTAssertEqual(rounding.cashDue(1_002, currency: "CHF"), 1_000)
        XCTAssertEqual(rounding.cashDue(1_003, currency: "CHF"), 1_005, "halves and above round up")
        XCTAssertEqual(rounding.cashDue(1_003, currency: "EUR"), 1_003)
        let split = try TenderPlan.plan(total: 4_412, currency: "CHF", tenders: [TenderInput(kind: .card, amount: 2_000, token: "tok_visa"),
                                                                               TenderInput(kind: .cash, tendered: 3_000)], rounding: rounding).get()
        XCTAssertEqual(split.tenders.map(\.amount), [2_000, 2_410])
        XCTAssertEqual(split.rounding, -2)
        XCTAssertEqual(split.change, 590)
    }

    func testTendersMustPayTheSaleAndNothingFollowsTheOneThatDoes() {
        let rounding = CashRounding(steps: [:])
        XCTAssertEqual(TenderPlan.plan(total: 1_000, currency: "EUR", tenders: [TenderInput(kind: .cash, tendered: 400)], rounding: rounding),
                       .failure(.init(field: "tenders", reason: "pay 400 of 1000; 600 is left to pay")))
        guard case .failure(let after) = TenderPlan.plan(total: 1_000, currency: "EUR", tenders: [TenderInput(kind: .cash, tendered: 1_000),
                                                                                                 TenderInput(kind: .card, token: "tok_visa")], rounding: rounding) else {
            return XCTFail("a tender after the sale is paid is refused")
        }
        XCTAssertEqual(after.field, "tenders[1]")
        guard case .failure(let number) = TenderPlan.plan(total: 1_000, currency: "EUR", tenders: [TenderInput(kind: .card, token: "4111111111111111")],
                                                          rounding: rounding) else { return XCTFail("a card number is never a token") }
        XCTAssertEqual(number.field, "tenders[0].token")
    }

    func testAReceiptFitsFortyTwoColumns() {
        var receipt = Receipt(header: ["Outpost", "1 High Street"], number: "STORE-A-000001", orderId: "o-1", at: "2026-11-22T10:31:00.000Z", device: "till-1",
                              cashier: "alice", currency: "EUR",
                              lines: [Receipt.Line(name: "A very long product name that will not fit on one line of the slip", sku: "X", quantity: 2, unitPrice: 12_345,
                                                   listPrice: 13_000, discount: 100)],
                              discounts: [("Basket discount", 500)], subtotal: 24_690, tax: 3_862, taxIncluded: true, total: 24_090, rounding: 0,
                              tenders: [Receipt.Tender(kind: .cash, amount: 24_090, tendered: 25_000, change: 910, reference: nil)], customer: nil, approvals: ["price override on X by mgr"])
        receipt.copy = true
        let text = receipt.text()
        XCTAssertTrue(text.split(separator: "\n").allSatisfy { $0.count <= 42 }, text)
        for expected in ["*** COPY ***", "STORE-A-000001", "2 x 123.45", "246.90", "Basket discount", "-5.00", "TOTAL EUR", "240.90", "Change", "9.10", "mgr"] {
            XCTAssertTrue(text.contains(expected), "\(expected) in\n\(text)")
        }
        XCTAssertEqual(Receipt.money(-2, currency: "EUR"), "-0.02")
        XCTAssertEqual(Receipt.money(1_200, currency: "JPY"), "1200")
    }

    func testZReportsChainAndAnAlteredOneIsRefused() throws {
        var first = ZReport(node: "store-a", region: "eu", device: "till-1", shift: "s1", seq: 1, previousHash: ZReport.firstPreviousHash, openedMs: 1, closedMs: 2,
                            openedBy: "alice", closedBy: "alice", currency: "EUR", float: 10_000)
        first.salesByTender = ["cash": 5_000]
        first.counted = 14_900
        XCTAssertEqual(first.variance, -100)
        var second = ZReport(node: "store-a", region: "eu", device: "till-1", shift: "s2", seq: 2, previousHash: first.hash, openedMs: 3, closedMs: 4,
                             openedBy: "bob", closedBy: "bob", currency: "EUR", float: 10_000)
        second.counted = 10_000
        XCTAssertEqual(ZReport(text: first.text), first)
        XCTAssertNil(ZReport.chainBreak([second, first]))
        XCTAssertNotNil(ZReport.chainBreak([second]), "a report left out shows")
        XCTAssertNil(ZReport(text: first.text.replacingOccurrences(of: "\"counted\":14900", with: "\"counted\":15000")), "a changed figure breaks its hash")
    }
}
