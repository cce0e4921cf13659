@testable import Commerce
import Replication
import XCTest

/// Promotions as a shopper's cart meets them: what comes off, in which order, rounded how.
final class PromotionRulesTests: XCTestCase {
    private let now: Int64 = 1_800_000_000_000

    private func line(_ sku: String, _ quantity: Int64, _ unitPrice: Int64, product: String? = nil, categories: [String] = []) -> PromotedLine {
        PromotedLine(line: PricedLine(sku: sku, productId: product ?? sku.lowercased(), name: sku, quantity: quantity, unitPrice: unitPrice),
                     categories: categories)
    }

    private func promotion(_ id: String, _ kind: Promotion.Kind, code: String? = nil, _ configure: (inout Promotion) -> Void = { _ in }) -> Promotion {
        var promotion = Promotion(id: id, name: id.capitalized, kind: kind)
        promotion.code = code
        configure(&promotion)
        return promotion
    }

    private func apply(_ promotions: [Promotion], code: String? = nil, _ lines: [PromotedLine], shipping: Int64 = 495, at: Int64? = nil) -> PromotionEngine.Outcome {
        PromotionEngine.apply(promotions, code: code, to: lines, currency: "EUR", shipping: shipping, nowMs: at ?? now)
    }

    func testAPercentageIsRoundedOnceAndItsLinePartsAddUpExactly() {
        let ten = promotion("ten", .percentage, code: "TEN") { $0.percentBasisPoints = 1000 }
        // 10 % of 3 × 333 = 99.9 → 100, spread 34/33/33 (the first SKU takes the odd unit).
        let outcome = apply([ten], code: "TEN", [line("A", 1, 333), line("B", 1, 333), line("C", 1, 333)])
        XCTAssertNil(outcome.codeRefusal)
        XCTAssertEqual(outcome.discounts.first?.amount, 100)
        XCTAssertEqual(outcome.discounts.first?.lines, ["A": 34, "B": 33, "C": 33])
        XCTAssertEqual(outcome.goodsDiscount, 100)
    }

    func testAFixedAmountNeverTakesMoreThanTheEligibleGoodsCost() {
        let big = promotion("big", .fixedAmount, code: "BIG") { $0.amount = 5000; $0.currency = "EUR" }
        XCTAssertEqual(apply([big], code: "BIG", [line("A", 2, 1000)]).discounts.first?.amount, 2000)
        XCTAssertEqual(apply([big], code: "BIG", [line("A", 2, 1000)]).discounts.first?.shipping, 0)
        let dollars = promotion("usd", .fixedAmount, code: "USD5") { $0.amount = 500; $0.currency = "USD" }
        XCTAssertEqual(apply([dollars], code: "USD5", [line("A", 1, 1000)]).codeRefusal, .currency)
    }

    func testFreeShippingWaivesTheFeeAndIsAcceptedWhenShippingIsFreeAlready() {
        let free = promotion("ship", .freeShipping, code: "SHIPFREE")
        let outcome = apply([free], code: "SHIPFREE", [line("A", 1, 1000)], shipping: 495)
        XCTAssertEqual(outcome.shippingDiscount, 495)
        XCTAssertEqual(outcome.goodsDiscount, 0)
        let nothingToWaive = apply([free], code: "SHIPFREE", [line("A", 1, 1000)], shipping: 0)
        XCTAssertNil(nothingToWaive.codeRefusal)
        XCTAssertTrue(nothingToWaive.discounts.isEmpty)
    }

    func testACodeIsRefusedWithItsReason() {
        let minimum = promotion("min", .percentage, code: "MIN") { $0.percentBasisPoints = 500; $0.minSpend = 5000; $0.currency = "EUR" }
        let window = promotion("window", .percentage, code: "WINDOW") { $0.percentBasisPoints = 500; $0.startsMs = self.now + 1; $0.endsMs = self.now + 1000 }
        let paused = promotion("paused", .percentage, code: "PAUSED") { $0.percentBasisPoints = 500; $0.status = .paused }
        let retired = promotion("retired", .percentage, code: "RETIRED") { $0.percentBasisPoints = 500; $0.status = .retired }
        let shoes = promotion("shoes", .percentage, code: "SHOES") { $0.percentBasisPoints = 500; $0.categories = ["shoes"] }
        let all = [minimum, window, paused, retired, shoes]
        let cart = [line("A", 1, 1000, categories: ["shirts", "clothing"])]
        XCTAssertEqual(apply(all, code: "MIN", cart).codeRefusal, .minimumSpend)
        XCTAssertEqual(apply(all, code: "WINDOW", cart).codeRefusal, .notStarted)
        XCTAssertNil(apply(all, code: "WINDOW", cart, at: now + 1).codeRefusal)
        XCTAssertEqual(apply(all, code: "WINDOW", cart, at: now + 1000).codeRefusal, .expired)
        XCTAssertEqual(apply(all, code: "PAUSED", cart).codeRefusal, .inactive)
        XCTAssertEqual(apply(all, code: "RETIRED", cart).codeRefusal, .unknown)
        XCTAssertEqual(apply(all, code: "NOPE", cart).codeRefusal, .unknown)
        XCTAssertEqual(apply(all, code: "SHOES", cart).codeRefusal, .noEligibleItems)
    }

    func testEligibilityByProductOrByAnyCategoryAboveIt() {
        let shoes = promotion("shoes", .percentage, code: "SHOES") { $0.percentBasisPoints = 2000; $0.categories = ["footwear"] }
        let cart = [line("BOOT", 1, 10_000, categories: ["boots", "footwear"]), line("HAT", 1, 2000, categories: ["hats"])]
        let outcome = apply([shoes], code: "SHOES", cart)
        XCTAssertEqual(outcome.discounts.first?.lines, ["BOOT": 2000])
        let hat = promotion("hat", .fixedAmount, code: "HAT") { $0.amount = 500; $0.products = ["hat"] }
        XCTAssertEqual(apply([hat], code: "HAT", cart).discounts.first?.lines, ["HAT": 500])
    }

    func testBuyTwoGetOneFreeDiscountsTheCheapestUnitOfEachGroup() {
        let deal = promotion("3for2", .buyXGetY) { $0.buy = 2; $0.get = 1 }
        // Units by price: 900, 900, 500, 500, 300 — one full group (900, 900, 500): 500 free.
        let outcome = apply([deal], [line("A", 2, 900), line("B", 2, 500), line("C", 1, 300)])
        XCTAssertEqual(outcome.discounts.first?.lines, ["B": 500])
        let half = promotion("half", .buyXGetY) { $0.buy = 1; $0.get = 1; $0.percentBasisPoints = 5000 }
        XCTAssertEqual(apply([half], [line("A", 2, 999)]).discounts.first?.amount, 500, "half of 999, rounded half up")
    }

    func testTieredSpendTakesTheHighestTierReached() {
        let tiers = promotion("tiers", .tieredSpend) {
            $0.currency = "EUR"
            $0.tiers = [Promotion.Tier(from: 5000, amount: 500), Promotion.Tier(from: 10_000, percentBasisPoints: 1000)]
        }
        XCTAssertTrue(apply([tiers], [line("A", 1, 4999)]).discounts.isEmpty)
        XCTAssertEqual(apply([tiers], [line("A", 1, 6000)]).goodsDiscount, 500)
        XCTAssertEqual(apply([tiers], [line("A", 1, 12_000)]).goodsDiscount, 1200)
    }

    func testAutomaticPromotionsApplyByPriorityThenTheCodeOnWhatIsLeft() {
        let first = promotion("first", .percentage) { $0.percentBasisPoints = 5000; $0.priority = 10 }
        let second = promotion("second", .fixedAmount) { $0.amount = 1000 }
        let code = promotion("code", .percentage, code: "MORE") { $0.percentBasisPoints = 5000 }
        let outcome = apply([second, code, first], code: "MORE", [line("A", 1, 10_000)])
        // 50 % of 10 000, then 1 000 of the 5 000 left, then 50 % of the 4 000 left.
        XCTAssertEqual(outcome.discounts.map(\.promotion), ["first", "second", "code"])
        XCTAssertEqual(outcome.discounts.map(\.amount), [5000, 1000, 2000])
        let all = promotion("all", .fixedAmount, code: "ALL") { $0.amount = 99_999 }
        XCTAssertEqual(apply([first, all], code: "ALL", [line("A", 1, 10_000)]).goodsDiscount, 10_000, "a line never goes below zero")
    }

    func testTotalsTakeDiscountsBeforeTax() {
        var terms = CheckoutTerms()
        terms.taxRateBasisPoints = 2000
        terms.pricesIncludeTax = false
        let discount = DiscountLine(promotion: "p", name: "P", code: nil, amount: 1495, shipping: 495, lines: ["A": 1000])
        let totals = OrderTotals(currency: "EUR", goods: 10_000, shipping: 495, discounts: [discount], terms: terms)
        XCTAssertEqual(totals.discount, 1495)
        XCTAssertEqual(totals.tax, 1800)
        XCTAssertEqual(totals.total, 10_800)
    }

    func testAPromotionSurvivesItsReplicatedFieldsAndAnEventKeepsItsDiscounts() throws {
        var promotion = promotion("spring", .tieredSpend, code: "SPRING") {
            $0.currency = "EUR"; $0.minSpend = 100; $0.startsMs = 1; $0.endsMs = 2; $0.products = ["b", "a"]; $0.categories = ["c"]
            $0.perCustomerLimit = 1; $0.usageCap = 10; $0.priority = 3
            $0.tiers = [Promotion.Tier(from: 100, amount: 5), Promotion.Tier(from: 200, percentBasisPoints: 100)]
        }
        promotion.products.sort()
        XCTAssertEqual(Promotion(id: "spring", fields: promotion.fields), promotion)
        var event = OrderEvent(kind: .placed, atMs: 1, node: "n")
        event.discounts = [DiscountLine(promotion: "spring", name: "Spring", code: "SPRING", amount: 600, shipping: 100, lines: ["A": 300, "B": 200])]
        event.totals = OrderTotals(currency: "EUR", subtotal: 1000, discount: 600, shipping: 100, tax: 0, total: 500, taxIncluded: true)
        let parsed = try XCTUnwrap(OrderEvent(text: event.text))
        XCTAssertEqual(parsed, event)
        XCTAssertEqual(parsed.text, event.text)
    }

    func testCodesAreMatchedWithoutCaseAndMustBePlain() {
        XCTAssertEqual(Promotion.normalizedCode(" save-10 "), "SAVE-10")
        XCTAssertNil(Promotion.normalizedCode("no spaces"))
        XCTAssertNil(Promotion.normalizedCode("AB"))
    }
}
