import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// The sales reports add up: a hub and two stores (real processes) sell on the web and at a
/// till, refund, take a return and sell offline; every node's figures equal the sums the test
/// keeps of its own orders.
final class SalesReportTests: XCTestCase {
    /// What the test expects, summed from the replies to its own sales.
    struct Expected {
        var orders = 0, units = 0, gross = 0, discounts = 0, tax = 0, refunds = 0, returnedUnits = 0
        var cash = 0, card = 0, cardOffline = 0

        mutating func sale(_ totals: [String: Any]?, units: Int, tenders: [(String, Int)]) {
            let total = totals?["total"] as? Int ?? 0, discount = totals?["discount"] as? Int ?? 0
            orders += 1
            self.units += units
            gross += total + discount
            discounts += discount
            tax += totals?["tax"] as? Int ?? 0
            for (method, amount) in tenders {
                switch method {
                case "cash": cash += amount
                case "card_offline": cardOffline += amount
                default: card += amount
                }
            }
        }

        var net: Int { gross - discounts - refunds }

        func check(_ row: [String: Any]?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
            let actual = ["orders", "units", "gross", "discounts", "tax", "refunds", "net", "returned_units", "cash", "card", "card_offline"]
                .map { row?[$0] as? Int ?? -1 }
            XCTAssertEqual(actual, [orders, units, gross, discounts, tax, refunds, net, returnedUnits, cash, card, cardOffline], "\(what): \(row ?? [:])",
                           file: file, line: line)
        }
    }

    /// Two days either side of now in hourly windows: every sale of the test, whatever the hour.
    static let range: String = {
        let now = WallClock.nowMs()
        return "from=\(WallClock.iso8601(ms: now - 86_400_000))&to=\(WallClock.iso8601(ms: now + 86_400_000))"
    }()

    static func report(_ node: NodeProcess, by: String = "total", _ more: String = "") throws -> [String: Any] {
        let reply = try node.adminGet("/admin/v1/reports/sales?\(range)&by=\(by)\(more)")
        XCTAssertEqual(reply.status, 200, reply.text)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(reply.text.utf8)) as? [String: Any])
    }

    static func totals(_ report: [String: Any], _ key: String? = nil, by: String = "total") -> [String: Any]? {
        (report["totals"] as? [[String: Any]])?.first { key == nil || $0[by] as? String == key }
    }

    func testReportsEqualTheSumsOfTheTestsOwnOrdersIncludingAStoreThatSoldOffline() throws {
        var fleet = try SettlementTests.Fleet.start()
        var web = Expected(), till = Expected(), storeA = Expected(), storeB = Expected()

        // Web: three orders at store A, one refunded in part after shipping.
        var refundedOrder = ""
        for quantity in [1, 2, 1] {
            let sold = try SettlementTests.sell(fleet.storeA, quantity: quantity)
            XCTAssertEqual(sold.status, 201, "\(sold.json)")
            let totals = sold.json["totals"] as? [String: Any]
            web.sale(totals, units: quantity, tenders: [("card", totals?["total"] as? Int ?? 0)])
            storeA.sale(totals, units: quantity, tenders: [("card", totals?["total"] as? Int ?? 0)])
            refundedOrder = try XCTUnwrap(sold.json["id"] as? String)
        }
        try SettlementTests.ship(fleet.storeA, refundedOrder)
        let refund = try Shop(node: fleet.storeA).send("POST", "/admin/v1/orders/\(refundedOrder)/events", #"{"kind": "refunded", "amount": 1000, "reason": "scratched"}"#,
                                                       token: fleet.storeA.adminToken)
        XCTAssertEqual(refund.status, 200, refund.response.text)
        web.refunds += 1000
        storeA.refunds += 1000

        // Till: a cash sale of two and a split tender at store B, then one unit of the cash sale returned.
        let staff = try SettlementTests.nodectl(fleet.storeB, ["pos", "staff", "alice", "--name", "Alice", "--role", "cashier", "--pin", "1234"])
        XCTAssertEqual(staff.status, 0, staff.stderr)
        var terminal = try TillDayTests.pair(fleet.storeB)
        terminal.session = try XCTUnwrap(try terminal.send("POST", "/pos/v1/sessions", #"{"staff": "alice", "pin": "1234"}"#, asDevice: true).json["token"] as? String)
        XCTAssertEqual(try terminal.send("POST", "/pos/v1/shifts", #"{"id": "shift-1", "float": 10000, "currency": "EUR"}"#).status, 201)
        var cashReceipt = ""
        for (sale, lines, tenders) in [("s1", #"[{"sku": "LAMP-1", "quantity": 2}]"#, #"[{"kind": "cash", "tendered": 10000}]"#),
                                       ("s2", #"[{"sku": "LAMP-1", "quantity": 1, "discount_percent": 10}]"#,
                                        #"[{"kind": "card", "token": "tok_visa", "amount": 2000}, {"kind": "cash", "tendered": 3000}]"#)] {
            let basket = try terminal.send("PUT", "/pos/v1/sales/\(sale)", #"{"lines": \#(lines)}"#)
            XCTAssertEqual(basket.status, 200, basket.response.text)
            let done = try terminal.send("POST", "/pos/v1/sales/\(sale)/complete", #"{"tenders": \#(tenders)}"#)
            XCTAssertEqual(done.status, 201, done.response.text)
            let paid = (done.json["tenders"] as? [[String: Any]] ?? []).map { ($0["kind"] as? String ?? "", $0["amount"] as? Int ?? 0) }
            let units = sale == "s1" ? 2 : 1
            till.sale(basket.json["totals"] as? [String: Any], units: units, tenders: paid)
            storeB.sale(basket.json["totals"] as? [String: Any], units: units, tenders: paid)
            if sale == "s1" { cashReceipt = try XCTUnwrap(done.json["number"] as? String) }
        }
        let returned = try terminal.send("POST", "/pos/v1/returns", #"{"id": "r1", "receipt": "\#(cashReceipt)", "items": [{"sku": "LAMP-1", "quantity": 1}]}"#)
        XCTAssertEqual(returned.status, 201, returned.response.text)
        let returnedAmount = try XCTUnwrap(returned.json["total"] as? Int)
        for index in [0, 1] {
            var e = index == 0 ? till : storeB
            e.refunds += returnedAmount
            e.returnedUnits += 1
            if index == 0 { till = e } else { storeB = e }
        }

        // What the hub sees before store B's offline day.
        let everyone = { (a: Expected, b: Expected) -> Expected in
            var sum = Expected()
            sum.orders = a.orders + b.orders; sum.units = a.units + b.units; sum.gross = a.gross + b.gross; sum.discounts = a.discounts + b.discounts
            sum.tax = a.tax + b.tax; sum.refunds = a.refunds + b.refunds; sum.returnedUnits = a.returnedUnits + b.returnedUnits
            sum.cash = a.cash + b.cash; sum.card = a.card + b.card; sum.cardOffline = a.cardOffline + b.cardOffline
            return sum
        }
        let before = everyone(web, till)
        XCTAssertTrue(eventually {
            let totals = Self.totals(try Self.report(fleet.hub))
            return totals?["orders"] as? Int == before.orders && totals?["returned_units"] as? Int == 1
        }, "the hub folds every store's sales")
        everyone(web, till).check(Self.totals(try Self.report(fleet.hub)), "the hub's totals before the offline sales")

        // The hub goes away; store B sells on the web, cards stored for later.
        XCTAssertEqual(try fleet.hub.stop(), 0)
        XCTAssertTrue(eventually { try SettlementTests.offline(fleet.storeB)["online"] as? Bool == false })
        var offlineWeb = Expected()
        for quantity in [1, 1] {
            let sold = try SettlementTests.sell(fleet.storeB, quantity: quantity)
            XCTAssertEqual(sold.status, 201, "\(sold.json)")
            XCTAssertEqual((sold.json["payment"] as? [String: Any])?["status"] as? String, "stored")
            let totals = sold.json["totals"] as? [String: Any]
            offlineWeb.sale(totals, units: quantity, tenders: [("card_offline", totals?["total"] as? Int ?? 0)])
            storeB.sale(totals, units: quantity, tenders: [("card_offline", totals?["total"] as? Int ?? 0)])
        }
        fleet.hub = try fleet.restartHub()
        web = everyone(web, offlineWeb)
        let all = everyone(web, till)
        XCTAssertTrue(eventually { (Self.totals(try Self.report(fleet.hub))?["orders"] as? Int) == all.orders }, "the offline sales reach the hub")

        // Every breakdown adds up, on the hub and on a store holding the same orders.
        for node in [fleet.hub, fleet.storeA] {
            XCTAssertTrue(eventually { (Self.totals(try Self.report(node))?["orders"] as? Int) == all.orders })
            all.check(Self.totals(try Self.report(node)), "\(node.baseURL): totals")
            let channels = try Self.report(node, by: "channel")
            web.check(Self.totals(channels, "web", by: "channel"), "\(node.baseURL): web")
            till.check(Self.totals(channels, "till", by: "channel"), "\(node.baseURL): till")
            let stores = try Self.report(node, by: "store")
            storeA.check(Self.totals(stores, "store-a", by: "store"), "\(node.baseURL): store A")
            storeB.check(Self.totals(stores, "store-b", by: "store"), "\(node.baseURL): store B")
            all.check(Self.totals(try Self.report(node, by: "region"), "eu", by: "region"), "\(node.baseURL): region eu")
            // The windows sum to the totals.
            let windows = try XCTUnwrap(try Self.report(node)["windows"] as? [[String: Any]])
            XCTAssertEqual(windows.reduce(0) { $0 + ($1["net"] as? Int ?? 0) }, all.net)
            storeB.check(Self.totals(try Self.report(node, "&store=store-b")), "\(node.baseURL): filtered to store B")
        }
        let hubFigures = try fleet.hub.adminGet("/admin/v1/reports/sales?\(Self.range)&by=store&window=5m").text
        XCTAssertEqual(try fleet.storeA.adminGet("/admin/v1/reports/sales?\(Self.range)&by=store&window=5m").text, hubFigures,
                       "two nodes holding the same orders show the same figures")

        // CSV: the same windows, one line each; top products; business metrics.
        let csv = try fleet.hub.adminGet("/admin/v1/reports/sales?\(Self.range)&window=5m&format=csv")
        XCTAssertEqual(csv.status, 200)
        XCTAssertEqual(csv.headers["Content-Type"], "text/csv; charset=utf-8")
        let rows = csv.text.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = try XCTUnwrap(rows.first)
        XCTAssertEqual(Array(header.prefix(4)), ["start", "end", "currency", "orders"])
        let netColumn = try XCTUnwrap(header.firstIndex(of: "net"))
        XCTAssertEqual(rows.dropFirst().reduce(0) { $0 + (Int($1[netColumn]) ?? 0) }, all.net)
        let top = try fleet.hub.adminJSON("/admin/v1/reports/products?\(Self.range)")
        let lamp = try XCTUnwrap((top["products"] as? [[String: Any]])?.first)
        XCTAssertEqual(lamp["product"] as? String, "lamp")
        XCTAssertEqual(lamp["name"] as? String, "Product lamp")
        XCTAssertEqual(lamp["units"] as? Int, all.units)
        XCTAssertEqual(lamp["returned_units"] as? Int, 1)
        let metrics = try fleet.storeB.adminGet("/metrics").text
        XCTAssertTrue(metrics.contains("outpost_sales_today_orders{channel=\"till\"}") && metrics.contains("outpost_sales_today_net_minor{channel=\"web\",currency=\"EUR\"}"),
                      metrics)
    }

    func testABadReportRequestIsRefusedClearly() throws {
        let shop = try Shop.start()
        for (query, field) in [("window=7m", "window"), ("by=colour", "by"), ("from=yesterday", "from"), ("channel=fax", "channel"),
                               ("from=2026-12-07T10:00:00Z&to=2026-12-07T09:00:00Z", "from"),
                               ("window=5m&from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z", "window"), ("format=xml", "format")] {
            let reply = try shop.node.adminGet("/admin/v1/reports/sales?\(query)")
            XCTAssertEqual(reply.status, 422, "\(query): \(reply.text)")
            XCTAssertTrue(reply.text.contains("\"\(field)\""), "\(query) names \(field): \(reply.text)")
        }
        XCTAssertEqual(try shop.node.adminGet("/admin/v1/reports/products?limit=500").status, 400)
        XCTAssertEqual(try shop.node.client().get("/admin/v1/reports/sales").status, 401, "the figures are staff's")
    }
}
