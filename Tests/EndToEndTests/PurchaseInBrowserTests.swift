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

        let payWithVisa = {
            try browser.evaluate("document.querySelector('input[value=tok_visa]').checked = true;")
            try browser.act("document.querySelector('form.checkout-form').submit()")
            return try browser.text
        }
        // Stock gone since the cart was filled: the rules' refusal reads on the page, with its status.
        let adjust = { (units: Int, reason: String) in
            try shop.node.adminPost("/admin/v1/inventory/adjust", #"{"sku": "POT-1", "units": \#(units), "reason": "\#(reason)"}"#).status
        }
        XCTAssertEqual(try adjust(-3, "damaged"), 200)
        let short = try payWithVisa()
        XCTAssertTrue(short.contains("This node may sell 1 of POT-1 now; 2 asked."), short)
        XCTAssertEqual(try shop.stock("POT-1").available, 1, "a refused checkout holds nothing")
        XCTAssertEqual(try adjust(3, "found"), 200)

        let confirmation = try payWithVisa()
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

    func testAShopperUsesADiscountCodeInTheBrowser() throws {
        guard let browser = try BrowserSession() else { throw XCTSkip("chromium is not installed: run bash .ci/setup") }
        let shop = try Shop.start()
        try shop.product("teapot", sku: "POT-1", price: 2_900, stock: 4)
        let created = try shop.node.adminPost("/admin/v1/promotions", """
            {"id": "ten", "name": "Ten off", "kind": "percentage", "percent_bp": 1000, "code": "SAVE10", "min_spend": 5000, "currency": "EUR"}
            """)
        XCTAssertEqual(created.status, 201, created.text)

        try browser.open(shop.node.baseURL + "/products/teapot")
        try browser.act("document.querySelector('form.add').submit()")
        try browser.act("document.getElementById('code').value = 'nope'; document.querySelector('form.discount-code').submit()")
        let refused = try browser.text
        XCTAssertTrue(refused.contains("There is no such discount code"), refused)
        try browser.act("location.href = '/cart'")
        try browser.act("document.getElementById('code').value = 'save10'; document.querySelector('form.discount-code').submit()")
        let waiting = try browser.text
        XCTAssertTrue(waiting.contains("The code SAVE10 does not apply: the cart does not reach the code's minimum spend yet"), waiting)
        try browser.act("document.getElementById('q-POT-1').value = '2'; document.querySelector('form.quantity').submit()")
        let cart = try browser.text
        XCTAssertTrue(cart.contains("Ten off (SAVE10) −€5.80"), cart)
        XCTAssertTrue(cart.contains("Estimated total €57.15"), cart)
        try browser.screenshot(name: "discount-1-cart")

        try browser.act("location.href = '/checkout'")
        XCTAssertTrue(try browser.text.contains("Ten off (SAVE10)"))
        try browser.evaluate("""
            const set = (id, v) => { document.getElementById(id).value = v; };
            set('email', 'pat@example.com'); set('line1', '5 Quay Street'); set('city', 'Hamburg'); set('postal_code', '20095'); set('country', 'DE');
            """)
        try browser.act("document.querySelector('form.checkout-form').submit()")
        let confirmation = try browser.text
        XCTAssertTrue(confirmation.contains("Thank you! Your order is placed and paid."), confirmation)
        XCTAssertTrue(confirmation.contains("Ten off (SAVE10) −€5.80"), confirmation)
        XCTAssertTrue(confirmation.contains("€57.15"), "58.00 − 5.80 + 4.95 shipping")
        try browser.screenshot(name: "discount-2-confirmation")
    }

    /// A shopper chooses click-and-collect (no address), collects, then asks to return one unit
    /// from the order's page.
    func testAShopperCollectsInStoreAndAsksForAReturnInTheBrowser() throws {
        guard let browser = try BrowserSession() else { throw XCTSkip("chromium is not installed: run bash .ci/setup") }
        let shop = try Shop.start()
        try shop.product("teapot", sku: "POT-1", price: 2_900, stock: 4)
        for body in [#"{"id": "dhl", "name": "DHL Paket", "region": "eu", "currency": "EUR", "countries": ["DE"], "rate": {"flat": 495}, "min_days": 1, "max_days": 3}"#,
                     #"{"id": "collect", "name": "Collect in store", "region": "eu", "currency": "EUR", "collect_at": "shop", "min_days": 0, "max_days": 1}"#] {
            XCTAssertEqual(try shop.node.adminPost("/admin/v1/shipping-methods", body).status, 201)
        }
        try browser.open(shop.node.baseURL + "/sign-up?next=/products/teapot")
        try browser.act("""
            document.getElementById('email').value = 'pat@example.com'; document.getElementById('password').value = 'correct horse';
            document.querySelector('.signin form').submit()
            """)
        try browser.act("document.querySelector('#quantity').value = '2'; document.querySelector('form.add').submit()")
        try browser.act("location.href = '/checkout'")
        let offered = try browser.text
        XCTAssertTrue(offered.contains("DHL Paket · €4.95"), offered)
        XCTAssertTrue(offered.contains("Collect in store · free · ready to collect at shop"), offered)
        XCTAssertTrue(offered.contains("€62.95"), "delivery is chosen first: 58.00 + 4.95")
        try browser.act("document.querySelector('input[value=collect]').checked = true; document.querySelector('button[value=update]').click()")
        XCTAssertTrue(try browser.text.contains("Pay €58.00"), "collection costs nothing")
        try browser.screenshot(name: "collect-1-checkout")
        try browser.act("document.querySelector('form.checkout-form').submit()")
        let confirmation = try browser.text
        XCTAssertTrue(confirmation.contains("Thank you! Your order is placed and paid."), confirmation)
        XCTAssertTrue(confirmation.contains("Collect in store: ready to collect at shop"), confirmation)
        XCTAssertFalse(confirmation.contains("Shipping to"), "no address was asked for")
        XCTAssertFalse(confirmation.contains("Return items"), "nothing handed over yet")
        let order = String(try browser.location.dropFirst("/orders/".count).prefix { $0 != "?" })

        // Handed over at the counter, then a return asked for from the account's order page.
        XCTAssertEqual(try shop.send("POST", "/admin/v1/orders/\(order)/events", #"{"kind": "shipped"}"#, token: shop.node.adminToken).status, 200)
        try browser.act("location.href = '/account'")
        try browser.act("document.querySelector('table.orders a').click()")
        XCTAssertTrue(try browser.text.contains("Collected 20"), "the handover shows")
        try browser.act("""
            document.querySelector('select[name="quantity.POT-1"]').value = '1';
            document.querySelector('select[name="reason.POT-1"]').value = 'damaged';
            document.querySelector('form.return-form').submit()
            """)
        let asked = try browser.text
        XCTAssertTrue(asked.contains("Your return request is in."), asked)
        XCTAssertTrue(asked.contains("Return of 1 × Product teapot"), asked)
        XCTAssertTrue(asked.contains("requested"), asked)
        try browser.screenshot(name: "collect-2-return-requested")
        let json = try shop.send("GET", "/api/v1/orders/\(order)", token: shop.node.adminToken).json
        XCTAssertEqual(((json["returns"] as? [[String: Any]])?.first?["items"] as? [[String: Any]])?.first?["reason"] as? String, "damaged")
    }
}
