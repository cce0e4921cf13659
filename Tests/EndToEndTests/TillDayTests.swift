import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// A store's day at a till, over real sockets: a hub and two stores (real processes), a
/// terminal paired with store A.
final class TillDayTests: XCTestCase {
    /// A terminal: its device key, and the signed-in cashier's session.
    struct Terminal {
        let node: NodeProcess
        var key: String
        var session = ""

        @discardableResult
        func send(_ method: String, _ path: String, _ body: String? = nil, asDevice: Bool = false) throws -> (status: Int, json: [String: Any], response: ClientResponse) {
            try Shop(node: node).send(method, path, body, token: asDevice ? key : session)
        }
    }

    static func pair(_ store: NodeProcess) throws -> Terminal {
        let paired = try SettlementTests.nodectl(store, ["pos", "pair", "--name", "Till 1"])
        XCTAssertEqual(paired.status, 0, paired.stderr)
        let code = try XCTUnwrap(paired.stdout.split(separator: "\n").first?.split(separator: ":").last).trimmingCharacters(in: .whitespaces)
        let reply = try Shop(node: store).send("POST", "/pos/v1/pair", #"{"code": "\#(code)"}"#)
        XCTAssertEqual(reply.status, 201, reply.response.text)
        XCTAssertEqual(try Shop(node: store).send("POST", "/pos/v1/pair", #"{"code": "\#(code)"}"#).status, 401, "a code pairs one device")
        return Terminal(node: store, key: try XCTUnwrap(reply.json["credential"] as? String))
    }

    static func lines(_ text: String) -> [Substring] { text.split(separator: "\n", omittingEmptySubsequences: false) }

    func testAStoresDayAtATill() throws {
        var fleet = try SettlementTests.Fleet.start()
        let store = fleet.storeA
        for (id, role, pin) in [("alice", "cashier", "1234"), ("mgr", "store_manager", "9999")] {
            let staff = try SettlementTests.nodectl(store, ["pos", "staff", id, "--name", id.capitalized, "--role", role, "--pin", pin])
            XCTAssertEqual(staff.status, 0, staff.stderr)
        }
        var till = try Self.pair(store)
        let device = try SettlementTests.nodectl(store, ["pos", "devices"])
        XCTAssertTrue(device.stdout.contains("Till 1") && device.stdout.contains("active"), device.stdout)

        // Sign in: a wrong PIN is refused; the right one opens a session.
        XCTAssertEqual(try till.send("POST", "/pos/v1/sessions", #"{"staff": "alice", "pin": "0000"}"#, asDevice: true).json["type"] as? String, "/problems/pin-refused")
        let signedIn = try till.send("POST", "/pos/v1/sessions", #"{"staff": "alice", "pin": "1234"}"#, asDevice: true)
        XCTAssertEqual(signedIn.status, 201, signedIn.response.text)
        till.session = try XCTUnwrap(signedIn.json["token"] as? String)
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/s0", #"{"lines": [{"sku": "LAMP-1", "quantity": 1}]}"#).json["type"] as? String,
                       "/problems/no-open-shift")
        XCTAssertEqual(try till.send("POST", "/pos/v1/shifts", #"{"id": "shift-1", "float": 10000, "currency": "EUR"}"#).status, 201)
        let found = try till.send("GET", "/pos/v1/products?sku=LAMP-1", asDevice: true)
        XCTAssertEqual((found.json["items"] as? [[String: Any]])?.first?["price"] as? Int, 4_900)

        // A cash sale: 2 × 49.00 paid with 100.00, 2.00 change.
        let basket = try till.send("PUT", "/pos/v1/sales/s1", #"{"lines": [{"sku": "LAMP-1", "quantity": 2}]}"#)
        XCTAssertEqual((basket.json["totals"] as? [String: Any])?["total"] as? Int, 9_800, basket.response.text)
        let cash = try till.send("POST", "/pos/v1/sales/s1/complete", #"{"tenders": [{"kind": "cash", "tendered": 10000}]}"#)
        XCTAssertEqual(cash.status, 201, cash.response.text)
        XCTAssertEqual(cash.json["change"] as? Int, 200)
        let text = try XCTUnwrap(cash.json["text"] as? String)
        XCTAssertTrue(Self.lines(text).allSatisfy { $0.count <= 42 }, text)
        XCTAssertTrue(text.contains("TOTAL EUR") && text.contains("98.00") && text.contains("Change") && text.contains("2.00"), text)
        let number = try XCTUnwrap(cash.json["number"] as? String)
        let reprint = try Shop(node: store).node.client().send("POST", "/pos/v1/sales/s1/reprint?format=text", headers: [("Authorization", "Bearer " + till.session)])
        XCTAssertTrue(reprint.text.contains("*** COPY ***") && reprint.text.contains(number), reprint.text)

        // A card sale, and a split tender: 49.00 less a 10 % line discount, 20.00 by card and
        // the rest in cash.
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/s2", #"{"lines": [{"sku": "LAMP-1", "quantity": 1}]}"#).status, 200)
        let card = try till.send("POST", "/pos/v1/sales/s2/complete", #"{"tenders": [{"kind": "card", "token": "tok_visa"}]}"#)
        XCTAssertEqual(card.status, 201, card.response.text)
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/s3", #"{"lines": [{"sku": "LAMP-1", "quantity": 1, "discount_percent": 10}]}"#).status, 200)
        let split = try till.send("POST", "/pos/v1/sales/s3/complete",
                                  #"{"tenders": [{"kind": "card", "token": "tok_visa", "amount": 2000}, {"kind": "cash", "tendered": 3000}]}"#)
        XCTAssertEqual(split.status, 201, split.response.text)
        XCTAssertEqual(split.json["total"] as? Int, 4_410)
        XCTAssertEqual(split.json["change"] as? Int, 590)
        XCTAssertEqual((split.json["tenders"] as? [[String: Any]])?.map { $0["amount"] as? Int ?? 0 }, [2_000, 2_410])

        // Restricted: a price override needs a manager; with one it is recorded on the receipt.
        let refused = try till.send("PUT", "/pos/v1/sales/s4", #"{"lines": [{"sku": "LAMP-1", "quantity": 1, "unit_price": 3000}]}"#)
        XCTAssertEqual(refused.json["type"] as? String, "/problems/approval-required")
        XCTAssertEqual(refused.json["action"] as? String, "price_override")
        let approved = try till.send("PUT", "/pos/v1/sales/s4",
                                     #"{"lines": [{"sku": "LAMP-1", "quantity": 1, "unit_price": 3000}], "approval": {"staff": "mgr", "pin": "9999"}}"#)
        XCTAssertEqual((approved.json["approvals"] as? [[String: Any]])?.first?["approved_by"] as? String, "mgr", approved.response.text)
        XCTAssertEqual(try till.send("POST", "/pos/v1/sales/s4/void").json["state"] as? String, "voided")

        // A return with the receipt: one lamp of the cash sale, back in cash, back in stock.
        let lookup = try till.send("GET", "/pos/v1/receipts/\(number)", asDevice: true)
        XCTAssertEqual((lookup.json["returnable"] as? [String: Int])?["LAMP-1"], 2, lookup.response.text)
        let returned = try till.send("POST", "/pos/v1/returns", #"{"id": "r1", "receipt": "\#(number)", "items": [{"sku": "LAMP-1", "quantity": 1}]}"#)
        XCTAssertEqual(returned.status, 201, returned.response.text)
        XCTAssertEqual(returned.json["total"] as? Int, 4_900)
        XCTAssertTrue((returned.json["text"] as? String ?? "").contains("REFUND"))
        XCTAssertTrue((returned.json["text"] as? String ?? "").contains(number + "-R1"), returned.json["text"] as? String ?? "")

        // The hub goes away: a card sale is taken store-and-forward.
        XCTAssertEqual(try fleet.hub.stop(), 0)
        XCTAssertTrue(eventually { try SettlementTests.offline(store)["online"] as? Bool == false })
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/s5", #"{"lines": [{"sku": "LAMP-1", "quantity": 1}]}"#).status, 200)
        let offline = try till.send("POST", "/pos/v1/sales/s5/complete", #"{"tenders": [{"kind": "card", "token": "tok_visa"}]}"#)
        XCTAssertEqual(offline.status, 201, offline.response.text)
        XCTAssertEqual((offline.json["tenders"] as? [[String: Any]])?.first?["reference"] as? String, "offline")

        // A completion whose answer never reaches the terminal (it hangs up), retried: one sale.
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/s6", #"{"lines": [{"sku": "LAMP-1", "quantity": 1}]}"#).status, 200)
        let body = #"{"tenders": [{"kind": "cash", "tendered": 5000}]}"#
        do {
            let socket = try store.socket()
            try socket.send("POST /pos/v1/sales/s6/complete HTTP/1.1\r\nHost: till\r\nAuthorization: Bearer \(till.session)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }
        var retried: (status: Int, json: [String: Any], response: ClientResponse)?
        XCTAssertTrue(eventually {
            retried = try till.send("POST", "/pos/v1/sales/s6/complete", body)
            return retried?.status == 200 || retried?.status == 201
        })
        XCTAssertEqual(retried?.response.headers["Idempotent-Replayed"], "true", "the first request completed it; the retry got its receipt")
        XCTAssertEqual(try till.send("POST", "/pos/v1/sales/s6/complete", body).json["number"] as? String, retried?.json["number"] as? String)

        // Cash in and out, then the close, 1.00 short.
        XCTAssertEqual(try till.send("POST", "/pos/v1/shifts/shift-1/cash", #"{"id": "m1", "kind": "in", "amount": 5000, "reason": "change from the bank"}"#).status, 201)
        XCTAssertEqual(try till.send("POST", "/pos/v1/shifts/shift-1/cash", #"{"id": "m2", "kind": "out", "amount": 2000, "reason": "bank drop"}"#).status, 201)
        let expected = 10_000 + (9_800 + 2_410 + 4_900) - 4_900 + 5_000 - 2_000
        let closed = try till.send("POST", "/pos/v1/shifts/shift-1/close", #"{"counted": \#(expected - 100)}"#)
        XCTAssertEqual(closed.status, 200, closed.response.text)
        XCTAssertEqual(closed.json["sales"] as? Int, 5)
        XCTAssertEqual(closed.json["sales_by_tender"] as? [String: Int], ["cash": 9_800 + 2_410 + 4_900, "card": 4_900 + 2_000 + 4_900])
        XCTAssertEqual(closed.json["refunds_by_tender"] as? [String: Int], ["cash": 4_900, "card": 0])
        XCTAssertEqual(closed.json["discounts"] as? Int, 490)
        XCTAssertEqual(closed.json["voided_sales"] as? Int, 1)
        XCTAssertEqual(closed.json["expected_cash"] as? Int, expected)
        XCTAssertEqual(closed.json["variance"] as? Int, -100)
        XCTAssertEqual(closed.json["previous_hash"] as? String, String(repeating: "0", count: 64), "the till's first report starts its chain")

        // Stock: 6 lamps sold here, 1 back; every node sees it.
        XCTAssertEqual(try Shop(node: store).stock("LAMP-1").here, 100 - 6 + 1)
        XCTAssertTrue(eventually { try Shop(node: fleet.storeB).stock("LAMP-1").available == 200 - 6 + 1 })

        // The hub returns: every till payment settles, the Z-report is a checkpoint in its
        // journal, the cash account holds what the drawer should after the variance.
        fleet.hub = try fleet.restartHub()
        XCTAssertTrue(eventually { try SettlementTests.offline(store)["online"] as? Bool == true })
        for sale in ["s1", "s2", "s3", "s5", "s6"] {
            let order = try XCTUnwrap(try till.send("GET", "/pos/v1/sales/\(sale)", asDevice: true).json["receipt"] as? [String: Any])["order_id"] as? String ?? ""
            XCTAssertTrue(eventually { try SettlementTests.payment(store, order: order)["settlement"] as? String == "settled" }, "\(sale) settles")
        }
        XCTAssertTrue(eventually { try SettlementTests.journal(fleet.hub).contains { $0[2].hasPrefix("z:store-a/") } }, "the Z-report is anchored")
        XCTAssertTrue(eventually { try SettlementTests.balance(fleet.hub, "cash:store-a:EUR") == 9_800 + 2_410 + 4_900 - 4_900 - 100 })
        XCTAssertEqual(try SettlementTests.balance(fleet.hub, "cash-over-short:eu:EUR"), 100)
        let verified = try SettlementTests.nodectl(fleet.hub, ["ledger", "verify"])
        XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)
        let reports = try fleet.hub.adminJSON("/admin/v1/pos/z-reports")["tills"] as? [[String: Any]] ?? []
        XCTAssertEqual(reports.first?["chain_ok"] as? Bool, true, "\(reports)")

        // Revoked, the till is refused at once.
        let revoked = try SettlementTests.nodectl(store, ["pos", "revoke", try XCTUnwrap(signedIn.json["device"] as? String)])
        XCTAssertEqual(revoked.status, 0, revoked.stderr)
        XCTAssertEqual(try till.send("GET", "/pos/v1/products?sku=LAMP-1", asDevice: true).status, 401)
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/s7", #"{"lines": []}"#).status, 401)
    }

    /// Two returns on one receipt get two slip numbers (both were "<number>-R").
    func testEachReturnOnAReceiptHasItsOwnSlipNumber() throws {
        let fleet = try SettlementTests.Fleet.start()
        let store = fleet.storeA
        XCTAssertEqual(try SettlementTests.nodectl(store, ["pos", "staff", "alice", "--name", "Alice", "--role", "cashier", "--pin", "1234"]).status, 0)
        var till = try Self.pair(store)
        till.session = try XCTUnwrap(try till.send("POST", "/pos/v1/sessions", #"{"staff": "alice", "pin": "1234"}"#, asDevice: true).json["token"] as? String)
        XCTAssertEqual(try till.send("POST", "/pos/v1/shifts", #"{"id": "shift-1", "float": 10000, "currency": "EUR"}"#).status, 201)
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/s1", #"{"lines": [{"sku": "LAMP-1", "quantity": 2}]}"#).status, 200)
        let sale = try till.send("POST", "/pos/v1/sales/s1/complete", #"{"tenders": [{"kind": "cash", "tendered": 10000}]}"#)
        let number = try XCTUnwrap(sale.json["number"] as? String)
        var slips: [String] = []
        for id in ["r1", "r2"] {
            let returned = try till.send("POST", "/pos/v1/returns", #"{"id": "\#(id)", "receipt": "\#(number)", "items": [{"sku": "LAMP-1", "quantity": 1}]}"#)
            XCTAssertEqual(returned.status, 201, returned.response.text)
            slips += Self.lines(returned.json["text"] as? String ?? "").filter { $0.contains(number + "-R") }.map(String.init)
        }
        XCTAssertEqual(slips.count, 2, "\(slips)")
        XCTAssertTrue(slips[0].contains(number + "-R1") && slips[1].contains(number + "-R2"), "\(slips)")
    }

    /// A cash sale rounded up and its full cash return rounded the same way: the Z-report's
    /// rounding nets to 0 (it showed 0.01: returns' rounding was left out).
    func testASaleAndItsFullCashReturnRoundToNothingOnTheZReport() throws {
        let shop = try Shop.start(extra: "[pos.cash_rounding]\nEUR = 5\n")
        try shop.product("pen", sku: "PEN-1", price: 1_999, stock: 5)
        XCTAssertEqual(try SettlementTests.nodectl(shop.node, ["pos", "staff", "alice", "--name", "Alice", "--role", "cashier", "--pin", "1234"]).status, 0)
        var till = try Self.pair(shop.node)
        till.session = try XCTUnwrap(try till.send("POST", "/pos/v1/sessions", #"{"staff": "alice", "pin": "1234"}"#, asDevice: true).json["token"] as? String)
        XCTAssertEqual(try till.send("POST", "/pos/v1/shifts", #"{"id": "shift-r", "float": 10000, "currency": "EUR"}"#).status, 201)
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/s1", #"{"lines": [{"sku": "PEN-1", "quantity": 1}]}"#).status, 200)
        let sale = try till.send("POST", "/pos/v1/sales/s1/complete", #"{"tenders": [{"kind": "cash", "tendered": 2000}]}"#)
        XCTAssertEqual(sale.status, 201, sale.response.text)
        XCTAssertEqual(sale.json["rounding"] as? Int, 1, "19.99 is paid as 20.00 in cash")
        let number = try XCTUnwrap(sale.json["number"] as? String)
        let returned = try till.send("POST", "/pos/v1/returns", #"{"id": "r1", "receipt": "\#(number)", "items": [{"sku": "PEN-1", "quantity": 1}]}"#)
        XCTAssertEqual(returned.status, 201, returned.response.text)
        let closed = try till.send("POST", "/pos/v1/shifts/shift-r/close", #"{"counted": 10000}"#)
        XCTAssertEqual(closed.status, 200, closed.response.text)
        XCTAssertEqual(closed.json["rounding"] as? Int, 0, "the sale's rounding and its refund's net to nothing: \(closed.response.text)")
    }

    /// Issue 24, item 7: a till revoked mid-shift does not strand its drawer. Revoking warns of
    /// the open shift; a manager closes it from another till, or the back office with nodectl.
    func testAShiftLeftOpenOnARevokedTillIsClosedByAManager() throws {
        let shop = try Shop.start()
        try shop.product("pen", sku: "PEN-1", price: 250, stock: 5)
        for (id, role, pin) in [("alice", "cashier", "1234"), ("mgr", "store_manager", "9999")] {
            XCTAssertEqual(try SettlementTests.nodectl(shop.node, ["pos", "staff", id, "--name", id, "--role", role, "--pin", pin]).status, 0)
        }
        func signIn(_ till: inout Terminal, _ staff: String, _ pin: String) throws {
            till.session = try XCTUnwrap(try till.send("POST", "/pos/v1/sessions", #"{"staff": "\#(staff)", "pin": "\#(pin)"}"#, asDevice: true).json["token"] as? String)
        }
        var first = try Self.pair(shop.node)
        try signIn(&first, "alice", "1234")
        XCTAssertEqual(try first.send("POST", "/pos/v1/shifts", #"{"id": "s-1", "float": 10000, "currency": "EUR"}"#).status, 201)
        let devices = try shop.node.adminJSON("/admin/v1/pos/devices")["devices"] as? [[String: Any]]
        let firstDevice = try XCTUnwrap(devices?.first?["id"] as? String)
        let revoked = try SettlementTests.nodectl(shop.node, ["pos", "revoke", firstDevice])
        XCTAssertEqual(revoked.status, 0, revoked.stderr)
        XCTAssertTrue(revoked.stderr.contains("shift s-1 is still open"), "revoking warns of the drawer left open: \(revoked.stderr)")

        var second = try Self.pair(shop.node)
        try signIn(&second, "alice", "1234")
        XCTAssertEqual(try second.send("POST", "/pos/v1/shifts/s-1/close", #"{"counted": 10000}"#).status, 409, "a cashier closes only their own till's shift")
        try signIn(&second, "mgr", "9999")
        let closed = try second.send("POST", "/pos/v1/shifts/s-1/close", #"{"counted": 10000}"#)
        XCTAssertEqual(closed.status, 200, "a manager closes it from another till: \(closed.response.text)")
        XCTAssertEqual(closed.json["device"] as? String, firstDevice, "the Z-report is the revoked till's")
        XCTAssertEqual(closed.json["variance"] as? Int, 0)

        // From the back office, with nodectl.
        try signIn(&second, "alice", "1234")
        XCTAssertEqual(try second.send("POST", "/pos/v1/shifts", #"{"id": "s-2", "float": 5000, "currency": "EUR"}"#).status, 201)
        let fromNodectl = try SettlementTests.nodectl(shop.node, ["pos", "close-shift", "s-2", "--counted", "5000"])
        XCTAssertEqual(fromNodectl.status, 0, fromNodectl.stderr)
        XCTAssertTrue(fromNodectl.stdout.contains("Variance"), fromNodectl.stdout)
    }
}
