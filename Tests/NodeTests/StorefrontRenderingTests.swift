import XCTest
@testable import Node

/// The parts of the storefront that are not pages: prices as shoppers read them, links, and the
/// templates' escaping.
final class StorefrontRenderingTests: XCTestCase {
    func testPricesFollowTheCurrencysDigitsAndTheShoppersLocale() {
        let prices = PriceText()
        XCTAssertEqual(prices.format(129_900, currency: "EUR", locale: "en"), "€1,299.00")
        XCTAssertEqual(prices.format(129_900, currency: "EUR", locale: "de").replacingOccurrences(of: "\u{a0}", with: " "), "1.299,00 €")
        XCTAssertEqual(prices.format(1_299, currency: "JPY", locale: "en"), "¥1,299", "yen has no minor unit")
        XCTAssertEqual(prices.format(5, currency: "USD", locale: "en-US"), "$0.05")
    }

    func testLinksEncodeWhatTheyCarry() {
        XCTAssertEqual(Storefront.href("/search", [("q", "crème & co"), ("attr.colour", "black,red")]),
                       "/search?q=cr%C3%A8me%20%26%20co&attr.colour=black%2Cred")
        XCTAssertEqual(Storefront.href("/search", []), "/search")
        XCTAssertEqual(Storefront.segment("a/b c"), "a%2Fb%20c")
    }

    func testEveryValueFromDataIsEscaped() {
        let html = String(decoding: Storefront.render("message", [
            "shop": "<Shop>", "lang": "en\"", "query": "\"><script>", "nodeId": "n", "region": "r", "nav": [[String: Any]](),
            "heading": "<h1>", "text": "a & b",
        ]), as: UTF8.self)
        XCTAssertTrue(html.contains("&lt;Shop&gt;"))
        XCTAssertTrue(html.contains("value=\"&quot;&gt;&lt;script&gt;\""))
        XCTAssertTrue(html.contains("a &amp; b"))
        XCTAssertFalse(html.contains("<script>"))
        XCTAssertTrue(String(decoding: Storefront.placeholderImage(named: "a<b"), as: UTF8.self).contains("A&lt;B"))
    }
}
