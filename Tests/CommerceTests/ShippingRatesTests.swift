@testable import Commerce
import Platform
import XCTest

/// Which ways to ship a shopper is offered, at what fee, arriving when.
final class ShippingRatesTests: XCTestCase {
    /// Friday 2026-11-20, noon UTC.
    private let friday: Int64 = 1_795_176_000_000

    private let standard = ShippingMethod(id: "standard", name: "Standard", region: "eu", currency: "EUR", countries: ["DE", "AT"],
                                          rate: .flat(495), freeFrom: 5000, minDays: 2, maxDays: 4)
    private let heavy = ShippingMethod(id: "parcel", name: "Parcel by weight", region: "eu", currency: "EUR", countries: ["DE"],
                                       rate: .weightBands([.init(upToGrams: 2000, fee: 600), .init(upToGrams: 10_000, fee: 1200)]), minDays: 3, maxDays: 5)
    private let byValue = ShippingMethod(id: "insured", name: "Insured", region: "eu", currency: "EUR", countries: ["DE", "FR"],
                                         rate: .valueBands([.init(from: 0, fee: 900), .init(from: 10_000, fee: 1500)]), minDays: 1, maxDays: 2)
    private let collect = ShippingMethod(id: "collect-berlin", name: "Collect in Berlin", region: "eu", currency: "EUR", countries: [],
                                         rate: .flat(0), minDays: 0, maxDays: 1, collectAt: "berlin")
    private let us = ShippingMethod(id: "us-ground", name: "Ground", region: "us", currency: "USD", countries: ["US"], rate: .flat(700), minDays: 3, maxDays: 6)

    private var all: [ShippingMethod] { [standard, heavy, byValue, collect, us] }

    private func offered(country: String?, value: Int64, grams: Int64) -> [String: Int64] {
        Dictionary(uniqueKeysWithValues: ShippingRates.quotes(all, region: "eu", currency: "EUR", country: country, value: value, grams: grams, nowMs: friday)
            .map { ($0.method.id, $0.fee) })
    }

    func testTheMethodsOfferedDependOnTheAddressAndTheCart() {
        XCTAssertEqual(offered(country: "DE", value: 3000, grams: 1500), ["standard": 495, "parcel": 600, "insured": 900, "collect-berlin": 0])
        XCTAssertEqual(offered(country: "FR", value: 3000, grams: 1500), ["insured": 900, "collect-berlin": 0], "zones by country")
        XCTAssertEqual(offered(country: nil, value: 3000, grams: 1500), ["collect-berlin": 0], "no address: collection only")
        XCTAssertEqual(offered(country: "DE", value: 3000, grams: 12_000)["parcel"], nil, "too heavy for every band")
        XCTAssertEqual(offered(country: "DE", value: 3000, grams: 5000)["parcel"], 1200)
        XCTAssertEqual(offered(country: "DE", value: 12_000, grams: 100)["insured"], 1500, "the band of the highest value reached")
        XCTAssertEqual(offered(country: "DE", value: 5000, grams: 100)["standard"], 0, "free from the threshold")
    }

    func testQuotesAreCheapestFirstWithBusinessDayEstimates() throws {
        let quotes = ShippingRates.quotes(all, region: "eu", currency: "EUR", country: "DE", value: 3000, grams: 1500, nowMs: friday)
        XCTAssertEqual(quotes.map(\.method.id), ["collect-berlin", "standard", "parcel", "insured"])
        let standard = try XCTUnwrap(quotes.first { $0.method.id == "standard" })
        XCTAssertEqual(standard.earliest, "2026-11-24", "two business days after a Friday: Tuesday")
        XCTAssertEqual(standard.latest, "2026-11-26")
        XCTAssertEqual(ShippingRates.businessDay(after: 0, fromMs: friday + 86_400_000), "2026-11-23", "nothing arrives on a Sunday")
    }
}
