import Foundation
import NodeTesting
import XCTest

/// A whole purchase in headless Chromium, as a shopper clicks it: product page, add to cart,
/// cart, checkout with a declined test card and then a good one, the order page, then an
/// account made afterwards.
final class PurchaseInBrowserTests: XCTestCase {
    func testAShopperBuysInTheBrowser() throws {
        guard let browser = try BrowserSession() else { throw XCTSkip("chromium is not installed: run bash .ci/setup") }
        let shop = try Shop.start()
        try shop.product("teapot", sku: "POT-1", price: 2_900, stock: 4)
        let base = shop.node.baseURL

        try browser.open(base + "/products/teapot")
        XCTAssertTrue(try browser.text.contains("Product teapot"))
        try browser.act("document.querySelector('#quantity').value = '2'; document.querySelector('form.add').submit()")
        XCTAssertEqual(try browser.location, "/cart")
        let cart = try browser.text
        XCTAssertTrue(cart.contains("€58.00"), cart)
        try browser.screenshot(name: "purchase-1-cart")

        try browser.act("location.href = '/checkout'")
        let fill = """
            const set = (id, v) => { document.getElementById(id).value = v; };
            set('email', 'pat@example.com'); set('name', 'Pat Doe'); set('line1', '5 Quay Street'); set('city', 'Hamburg');
            set('postal_code', '20095'); set('country', 'DE');
            """
        try browser.evaluate(fill + "document.querySelector('input[value=tok_decline_insufficient_funds]').checked = true;")
        try browser.screenshot(name: "purchase-2-checkout")
        try browser.act("document.querySelector('form.checkout-form').submit()")
        let declined = try browser.text
        XCTAssertTrue(declined.contains("insufficient funds"), declined)
        XCTAssertEqual(try shop.stock("POT-1").available, 4, "a declined card holds nothing")

        try browser.evaluate("document.querySelector('input[value=tok_visa]').checked = true;")
        try browser.act("document.querySelector('form.checkout-form').submit()")
        let confirmation = try browser.text
        XCTAssertTrue(confirmation.contains("Thank you! Your order is placed and paid."), confirmation)
        XCTAssertTrue(confirmation.contains("Hamburg"))
        XCTAssertTrue(confirmation.contains("€62.95"), "58.00 + 4.95 shipping")
        XCTAssertTrue(try browser.location.hasPrefix("/orders/o-shop-"))
        try browser.screenshot(name: "purchase-3-confirmation")
        XCTAssertEqual(try shop.stock("POT-1").available, 2)

        try browser.act("location.href = '/sign-up?next=/account'")
        try browser.act("""
            document.getElementById('email').value = 'pat@example.com'; document.getElementById('password').value = 'correct horse';
            document.querySelector('.signin form').submit()
            """)
        XCTAssertEqual(try browser.location, "/account")
        XCTAssertTrue(try browser.text.contains("pat@example.com"))
        try browser.screenshot(name: "purchase-4-account")
    }
}
