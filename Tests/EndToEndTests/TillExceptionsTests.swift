import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// What goes other than planned at a till: wrong PINs, a declined card, an exchange, a no-sale,
/// a refund without a receipt, the refund of a card taken while the hub was away, and a node
/// that dies in the middle of a completion.
final class TillExceptionsTests: XCTestCase {
    typealias Terminal = TillDayTests.Terminal

    /// A shirt in three sizes: M and L at 25.00, XL at 29.00.
    static let shirt = """
        {"id": "shirt", "status": "active", "name": {"en": "Shirt"}, "variants": [
          {"sku": "SHIRT-M", "prices": [{"region": "eu", "currency": "EUR", "amount": 2500}]},
          {"sku": "SHIRT-L", "prices": [{"region": "eu", "currency": "EUR", "amount": 2500}]},
          {"sku": "SHIRT-XL", "prices": [{"region": "eu", "currency": "EUR", "amount": 2900}]}]}
        """

    static func staff(_ store: NodeProcess, _ id: String, role: String = "cashier", pin: String) throws {
        let made = try SettlementTests.nodectl(store, ["pos", "staff", id, "--name", id.capitalized, "--role", role, "--pin", pin])
        XCTAssertEqual(made.status, 0, made.stderr)
    }

    static func signIn(_ till: inout Terminal, _ staff: String, pin: String) throws {
        let session = try till.send("POST", "/pos/v1/sessions", #"{"staff": "\#(staff)", "pin": "\#(pin)"}"#, asDevice: true)
        XCTAssertEqual(session.status, 201, session.response.text)
        till.session = try XCTUnwrap(session.json["token"] as? String)
    }

    func testRefusalsExchangesAndRefundsAtATill() throws {
        var fleet = try SettlementTests.Fleet.start()
        let store = fleet.storeA
        XCTAssertEqual(try fleet.hub.adminPost("/admin/v1/catalog/products", Self.shirt).status, 201)
        XCTAssertTrue(eventually { try store.adminGet("/api/v1/products/shirt").status == 200 })
        for sku in ["SHIRT-M", "SHIRT-L", "SHIRT-XL"] {
            XCTAssertEqual(try store.adminPost("/admin/v1/inventory/receive", #"{"sku": "\#(sku)", "units": 10}"#).status, 200)
        }
        try Self.staff(store, "bob", pin: "1111")
        try Self.staff(store, "mgr", role: "store_manager", pin: "9999")
        var till = try TillDayTests.pair(store)

        // Three wrong PINs are free; after a fourth the next try waits, even with the right PIN,
        // and says how long. A manager setting a new PIN lets the cashier in at once.
        for _ in 0..<4 {
            XCTAssertEqual(try till.send("POST", "/pos/v1/sessions", #"{"staff": "bob", "pin": "0000"}"#, asDevice: true).json["type"] as? String, "/problems/pin-refused")
        }
        let throttled = try till.send("POST", "/pos/v1/sessions", #"{"staff": "bob", "pin": "1111"}"#, asDevice: true)
        XCTAssertEqual(throttled.status, 429)
        XCTAssertEqual(throttled.json["type"] as? String, "/problems/pin-locked")
        XCTAssertNotNil(throttled.response.headers["Retry-After"])
        try Self.staff(store, "bob", pin: "2222")
        try Self.signIn(&till, "bob", pin: "2222")
        XCTAssertEqual(try till.send("POST", "/pos/v1/shifts", #"{"id": "shift-x", "float": 5000}"#).status, 201)

        // A declined card gives everything back and leaves the sale open; cash then pays it.
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/x1", #"{"lines": [{"sku": "SHIRT-M", "quantity": 2}]}"#).status, 200)
        let declined = try till.send("POST", "/pos/v1/sales/x1/complete", #"{"tenders": [{"kind": "card", "token": "tok_decline_insufficient_funds"}]}"#)
        XCTAssertEqual(declined.status, 402, declined.response.text)
        XCTAssertEqual(declined.json["type"] as? String, "/problems/payment-declined")
        XCTAssertEqual(declined.json["tender"] as? Int, 0)
        XCTAssertEqual(try Shop(node: store).stock("SHIRT-M").here, 10, "the stock came back")
        XCTAssertEqual(try till.send("GET", "/pos/v1/sales/x1", asDevice: true).json["state"] as? String, "open")
        let paid = try till.send("POST", "/pos/v1/sales/x1/complete", #"{"tenders": [{"kind": "cash", "tendered": 5000}]}"#)
        XCTAssertEqual(paid.status, 201, paid.response.text)
        let number = try XCTUnwrap(paid.json["number"] as? String)

        // An exchange with the receipt: an M for an L at the price paid. Nothing is refunded; the
        // shopper takes the L in a new order paid by the return. Another price is refused.
        let dearer = try till.send("POST", "/pos/v1/returns",
                                   #"{"id": "x-ex0", "receipt": "\#(number)", "items": [{"sku": "SHIRT-M", "quantity": 1, "exchange_sku": "SHIRT-XL"}]}"#)
        XCTAssertEqual(dearer.status, 422, dearer.response.text)
        XCTAssertEqual(dearer.json["reason"] as? String, "exchange_price_differs")
        let exchanged = try till.send("POST", "/pos/v1/returns",
                                      #"{"id": "x-ex1", "receipt": "\#(number)", "items": [{"sku": "SHIRT-M", "quantity": 1, "reason": "size_or_fit", "exchange_sku": "SHIRT-L"}]}"#)
        XCTAssertEqual(exchanged.status, 201, exchanged.response.text)
        XCTAssertEqual(exchanged.json["total"] as? Int, 0)
        XCTAssertEqual((exchanged.json["tenders"] as? [Any])?.count, 0)
        let exchange = try XCTUnwrap(exchanged.json["exchange"] as? [String: Any])
        XCTAssertEqual((exchange["lines"] as? [[String: Any]])?.first?["sku"] as? String, "SHIRT-L")
        let slip = try XCTUnwrap(exchanged.json["text"] as? String)
        XCTAssertTrue(slip.contains("Exchanged for") && slip.contains(exchange["number"] as? String ?? "?"), slip)
        XCTAssertTrue(TillDayTests.lines(slip).allSatisfy { $0.count <= 42 }, slip)
        XCTAssertEqual(try Shop(node: store).stock("SHIRT-M").here, 10 - 2 + 1)
        XCTAssertEqual(try Shop(node: store).stock("SHIRT-L").here, 10 - 1)
        let newOrder = try store.adminJSON("/api/v1/orders/\(exchange["order_id"] as? String ?? "")")
        XCTAssertEqual(newOrder["status"] as? String, "delivered", "handed over at the counter")
        let lookup = try till.send("GET", "/pos/v1/receipts/\(number)", asDevice: true)
        XCTAssertEqual((lookup.json["returnable"] as? [String: Int])?["SHIRT-M"], 1)

        // A no-sale needs a manager.
        let drawer = try till.send("POST", "/pos/v1/drawer/open", #"{"id": "n1", "reason": "change for a note"}"#)
        XCTAssertEqual(drawer.json["type"] as? String, "/problems/approval-required")
        XCTAssertEqual(drawer.json["action"] as? String, "no_sale")
        let opened = try till.send("POST", "/pos/v1/drawer/open", #"{"id": "n1", "reason": "change for a note", "approval": {"staff": "mgr", "pin": "9999"}}"#)
        XCTAssertEqual(opened.status, 201, opened.response.text)

        // A refund without a receipt: a manager approves, cash at today's price.
        let body = #"{"id": "x-nr", "items": [{"sku": "SHIRT-XL", "quantity": 1, "reason": "other"}]"#
        XCTAssertEqual(try till.send("POST", "/pos/v1/returns", body + "}").json["action"] as? String, "refund_without_receipt")
        let noReceipt = try till.send("POST", "/pos/v1/returns", body + #", "approval": {"staff": "mgr", "pin": "9999"}}"#)
        XCTAssertEqual(noReceipt.status, 201, noReceipt.response.text)
        XCTAssertEqual(noReceipt.json["total"] as? Int, 2_900)
        XCTAssertEqual((noReceipt.json["tenders"] as? [[String: Any]])?.first?["kind"] as? String, "cash")
        XCTAssertTrue((noReceipt.json["text"] as? String ?? "").contains("refund without receipt by mgr"))
        XCTAssertEqual(try Shop(node: store).stock("SHIRT-XL").here, 11)

        // More lamps than this store's rights: the till asks store B for the rest and waits for
        // its grant, as a web checkout does.
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/x3", #"{"lines": [{"sku": "LAMP-1", "quantity": 120}]}"#).status, 200)
        let bulk = try till.send("POST", "/pos/v1/sales/x3/complete", #"{"tenders": [{"kind": "cash", "tendered": 588000}]}"#)
        XCTAssertEqual(bulk.status, 201, bulk.response.text)
        XCTAssertTrue(eventually { try Shop(node: fleet.storeB).stock("LAMP-1").available == 200 - 120 })
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/x4", #"{"lines": [{"sku": "LAMP-1", "quantity": 81}]}"#).status, 200)
        let short = try till.send("POST", "/pos/v1/sales/x4/complete", #"{"tenders": [{"kind": "cash", "tendered": 500000}]}"#)
        XCTAssertEqual(short.json["type"] as? String, "/problems/insufficient-stock", "81 asked, 80 left in the fleet")
        XCTAssertEqual(try till.send("POST", "/pos/v1/sales/x4/void").json["state"] as? String, "voided")

        // The hub away: a card sale is stored, then returned; the refund waits for the hub,
        // which settles the capture and the refund once each when it is back.
        XCTAssertEqual(try fleet.hub.stop(), 0)
        XCTAssertTrue(eventually { try SettlementTests.offline(store)["online"] as? Bool == false })
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/x2", #"{"lines": [{"sku": "SHIRT-L", "quantity": 1}]}"#).status, 200)
        let offline = try till.send("POST", "/pos/v1/sales/x2/complete", #"{"tenders": [{"kind": "card", "token": "tok_visa"}]}"#)
        XCTAssertEqual(offline.status, 201, offline.response.text)
        XCTAssertEqual((offline.json["tenders"] as? [[String: Any]])?.first?["reference"] as? String, "offline")
        let offlineNumber = try XCTUnwrap(offline.json["number"] as? String)
        let cardBack = try till.send("POST", "/pos/v1/returns", #"{"id": "x-r2", "receipt": "\#(offlineNumber)", "items": [{"sku": "SHIRT-L", "quantity": 1}]}"#)
        XCTAssertEqual(cardBack.status, 201, cardBack.response.text)
        XCTAssertEqual((cardBack.json["tenders"] as? [[String: Any]])?.map { $0["kind"] as? String }, ["card"])

        let closed = try till.send("POST", "/pos/v1/shifts/shift-x/close", #"{"counted": \#(5_000 + 5_000 + 588_000 - 2_900)}"#)
        XCTAssertEqual(closed.status, 200, closed.response.text)
        XCTAssertEqual(closed.json["sales_by_tender"] as? [String: Int], ["cash": 5_000 + 588_000, "card": 2_500])
        XCTAssertEqual(closed.json["refunds_by_tender"] as? [String: Int], ["cash": 2_900, "card": 2_500])
        XCTAssertEqual(closed.json["no_sales"] as? Int, 1)
        XCTAssertEqual(closed.json["variance"] as? Int, 0)

        fleet.hub = try fleet.restartHub()
        let order = try XCTUnwrap(offline.json["order_id"] as? String)
        XCTAssertTrue(eventually { try SettlementTests.payment(store, order: order)["settlement"] as? String == "settled" })
        XCTAssertTrue(eventually {
            let ids = try SettlementTests.journal(fleet.hub).map { $0[2] }
            return ids.contains { $0.hasPrefix("refund:") && $0.contains("x-r2") }
        }, "the offline card's refund is booked at the hub")
        XCTAssertTrue(eventually { try fleet.hub.adminJSON("/admin/v1/pos/z-reports")["tills"] as? [[String: Any]] != nil })
        let verified = try SettlementTests.nodectl(fleet.hub, ["ledger", "verify"])
        XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)
    }

    /// A node killed between a till sale's reservation and its card: at the next start the card
    /// is voided, the stock given back and the sale open again; the terminal's retry sells once.
    func testATillSaleCutShortByACrashIsReopenedAndSoldOnce() throws {
        let scratch = TemporaryDirectory(prefix: "outpost-till-crash")
        let dir = scratch.file("data")
        let config = "[node]\nid = \"shop\"\nregion = \"eu\"\n" + Shop.terms
        var node = try NodeProcess.start(dataDirectory: dir, config: config)
        try Shop(node: node).product("cup", sku: "CUP-1", price: 800, stock: 10)
        try Self.staff(node, "bob", pin: "1111")
        var till = try TillDayTests.pair(node)
        try Self.signIn(&till, "bob", pin: "1111")
        XCTAssertEqual(try till.send("POST", "/pos/v1/shifts", #"{"id": "shift-c", "float": 0}"#).status, 201)
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/c1", #"{"lines": [{"sku": "CUP-1", "quantity": 3}]}"#).status, 200)
        XCTAssertEqual(try node.stop(), 0)

        node = try NodeProcess.start(dataDirectory: dir, config: config, environment: ["OUTPOST_TEST_FAULT": "exit-after-reservation"])
        till = Terminal(node: node, key: till.key, session: till.session)
        let tenders = #"{"tenders": [{"kind": "card", "token": "tok_visa"}]}"#
        XCTAssertThrowsError(try till.send("POST", "/pos/v1/sales/c1/complete", tenders), "no answer: the node died")
        XCTAssertNotEqual(try node.waitForExit(), 0)

        node = try NodeProcess.start(dataDirectory: dir, config: config)
        till = Terminal(node: node, key: till.key, session: till.session)
        XCTAssertTrue(eventually { try till.send("GET", "/pos/v1/sales/c1", asDevice: true).json["state"] as? String == "open" })
        XCTAssertTrue(node.log.contains("interrupted till sale released"))
        XCTAssertEqual(try Shop(node: node).stock("CUP-1").available, 10, "the reservation's stock came back")
        let sold = try till.send("POST", "/pos/v1/sales/c1/complete", tenders)
        XCTAssertEqual(sold.status, 201, sold.response.text)
        XCTAssertEqual(try till.send("POST", "/pos/v1/sales/c1/complete", tenders).json["number"] as? String, sold.json["number"] as? String)
        XCTAssertEqual(try Shop(node: node).stock("CUP-1").available, 7)
        let orders = try node.adminJSON("/admin/v1/orders?limit=100")["orders"] as? [[String: Any]] ?? []
        XCTAssertEqual(orders.filter { $0["status"] as? String != "cancelled" }.count, 1, "one sale: \(orders)")
    }
}
