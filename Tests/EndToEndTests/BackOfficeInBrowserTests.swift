import Foundation
import NodeTesting
import XCTest

/// A store manager's and a hub admin's day in headless Chromium: sign in, read the dashboard,
/// ship an order, receive stock, approve a return and a review; at the hub, the fleet's stores
/// and the ledger. Screenshots of the dashboard at 1280 px and at tablet width (768 px) go to
/// `OUTPOST_SCREENSHOTS` (`make test`: .build/screenshots).
final class BackOfficeInBrowserTests: XCTestCase {
    func testAStoreManagerAndAHubAdminWorkInTheBackOffice() throws {
        guard let browser = try BrowserSession() else { throw XCTSkip("chromium is not installed: run bash .ci/setup") }
        let fleet = try SettlementTests.Fleet.start()
        let store = fleet.storeA, shop = Shop(node: fleet.storeA)
        XCTAssertEqual(try BackOfficeTests.addAccount(store, "mia", role: "store_manager").status, 0)
        XCTAssertEqual(try BackOfficeTests.addAccount(fleet.hub, "hana", role: "hub_admin").status, 0)

        // The day so far: two web orders at store A (one to ship in the browser), one shipped
        // with a return asked for, a customer's review waiting, a till-less store B sale.
        let toShip = try XCTUnwrap(try SettlementTests.sell(store, quantity: 2).json["number"] as? String)
        let returned = try SettlementTests.sell(store)
        let returnedId = try XCTUnwrap(returned.json["id"] as? String)
        try SettlementTests.ship(store, returnedId)
        let asked = try shop.send("POST", "/api/v1/orders/\(returnedId)/returns", #"{"items": [{"sku": "LAMP-1", "quantity": 1, "reason": "damaged"}]}"#,
                                  token: store.adminToken)
        XCTAssertEqual(asked.status, 201, asked.response.text)
        let buyer = try ReviewTests.buyer(shop, email: "ann@example.com", sku: "LAMP-1")
        XCTAssertEqual(try shop.send("POST", "/api/v1/products/lamp/reviews", #"{"rating": 5, "text": "The best lamp in the shop"}"#, token: buyer.token).status, 201)
        XCTAssertEqual(try SettlementTests.sell(fleet.storeB).status, 201)
        let report = try SalesReportTests.report(store, "&store=store-a")
        let net = try XCTUnwrap(SalesReportTests.totals(report)?["net"] as? Int)

        // Sign in as the store manager and read the dashboard.
        try browser.open(store.baseURL + "/admin/")
        XCTAssertTrue(try browser.location.hasPrefix("/admin/sign-in"))
        try browser.act("""
            document.getElementById('account').value = 'mia'; document.getElementById('password').value = 'correct horse battery';
            document.querySelector('form').submit()
            """)
        XCTAssertEqual(try browser.location, "/admin/")
        let dashboard = try browser.text
        XCTAssertTrue(dashboard.contains("Store store-a today"), dashboard)
        XCTAssertTrue(dashboard.contains(Self.euros(net)) && dashboard.contains("Net revenue"), "the dashboard's net is the report's \(net): \(dashboard)")
        XCTAssertEqual(try browser.evaluate("document.querySelectorAll('figure.chart svg').length") as? Int, 4, "hourly, daily, channels, top products")
        XCTAssertTrue(dashboard.contains("Product lamp"), "top products name the lamp")
        XCTAssertFalse(dashboard.contains("Ledger"), "a store manager has no ledger")
        try browser.screenshot(name: "backoffice-dashboard-1280")
        try browser.setViewport(width: 768, height: 1024)
        try browser.open(store.baseURL + "/admin/")
        XCTAssertLessThanOrEqual(try browser.evaluate("document.documentElement.scrollWidth") as? Int ?? 9999, 768, "no sideways scrolling on a tablet")
        try browser.screenshot(name: "backoffice-dashboard-tablet")
        try browser.setViewport(width: 1280, height: 1000)

        // Find the order by its number and ship it.
        try browser.open(store.baseURL + "/admin/orders")
        try browser.act("document.getElementById('number').value = '\(toShip)'; document.querySelector('form.filters').submit()")
        try browser.act("document.querySelector('table a').click()")
        XCTAssertTrue(try browser.text.contains("Order \(toShip)"))
        try browser.act("document.getElementById('tracking').value = 'DHL-777'; document.querySelector('form[action$=\"/ship\"]').submit()")
        let shipped = try browser.text
        XCTAssertTrue(shipped.contains("Shipped.") && shipped.contains("DHL-777"), shipped)
        let orderId = try XCTUnwrap(try browser.location.split(separator: "/").last.map(String.init))
        XCTAssertEqual(try shop.send("GET", "/api/v1/orders/\(orderId)", token: store.adminToken).json["status"] as? String, "shipped")

        // Receive stock.
        let before = try shop.stock("LAMP-1").available
        try browser.open(store.baseURL + "/admin/stock?sku=LAMP-1")
        try browser.act("document.getElementById('receive-units').value = '12'; document.querySelector('form[action=\"/admin/stock/receive\"]').submit()")
        XCTAssertTrue(try browser.text.contains("Received 12 × LAMP-1."))
        XCTAssertEqual(try shop.stock("LAMP-1").available, before + 12)

        // Approve the return and the review.
        try browser.open(store.baseURL + "/admin/returns")
        try browser.act("document.querySelector('form[action$=\"/approve\"]').submit()")
        XCTAssertTrue(try browser.text.contains("Return approved"))
        let returns = try XCTUnwrap(try shop.send("GET", "/api/v1/orders/\(returnedId)", token: store.adminToken).json["returns"] as? [[String: Any]])
        XCTAssertEqual(returns.first?["status"] as? String, "approved")
        try browser.open(store.baseURL + "/admin/reviews")
        XCTAssertTrue(try browser.text.contains("The best lamp in the shop"))
        try browser.act("document.querySelector('form[action$=\"/approve\"]').submit()")
        XCTAssertTrue(try browser.text.contains("Review approved"))
        XCTAssertEqual((try shop.send("GET", "/api/v1/products/lamp").json["rating"] as? [String: Any])?["count"] as? Int, 1)
        try browser.act("document.querySelector('form.signout').submit()")
        XCTAssertTrue(try browser.location.hasPrefix("/admin/sign-in"))

        // At the hub: the fleet's stores and the ledger.
        XCTAssertTrue(eventually { try SalesReportTests.totals(SalesReportTests.report(fleet.hub))?["orders"] as? Int == 4 }, "the hub holds every sale")
        try browser.open(fleet.hub.baseURL + "/admin/sign-in")
        try browser.act("""
            document.getElementById('account').value = 'hana'; document.getElementById('password').value = 'correct horse battery';
            document.querySelector('form').submit()
            """)
        let fleetDashboard = try browser.text
        XCTAssertTrue(fleetDashboard.contains("The fleet today") && fleetDashboard.contains("store-a") && fleetDashboard.contains("store-b"), fleetDashboard)
        try browser.screenshot(name: "backoffice-hub-1280")
        try browser.open(fleet.hub.baseURL + "/admin/ledger")
        let ledger = try browser.text
        XCTAssertTrue(ledger.contains("hash chain verifies") && ledger.contains("Reconciliation, last 24 hours"), ledger)
        try browser.open(fleet.hub.baseURL + "/admin/sync")
        XCTAssertTrue(try browser.text.contains("store-a") && browser.text.contains("connected"))
    }

    /// "€123.45" as the pages write euros in English.
    static func euros(_ cents: Int) -> String {
        let whole = cents / 100, rest = cents % 100
        let grouped = String(whole).reversed().enumerated().map { $0.offset > 0 && $0.offset % 3 == 0 ? ",\($0.element)" : "\($0.element)" }.joined()
        return "€" + String(grouped.reversed()) + "." + (rest < 10 ? "0" : "") + String(rest)
    }
}
