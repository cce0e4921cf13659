import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// The hub settles every card payment of the fleet exactly once into its ledger, and the books
/// balance: a hub and two stores, real processes on loopback.
final class SettlementTests: XCTestCase {
    /// A hub and two stores selling LAMP-1 (49.00, tax included) from their own stock. Store B
    /// also peers with store A, so A's payments reach the hub twice (directly and through B).
    struct Fleet {
        let fleet: TestFleet
        var hub: NodeProcess
        let storeA: NodeProcess
        let storeB: NodeProcess

        static func start(hubExtra: String = "") throws -> Fleet {
            let fleet = try TestFleet()
            let hub = try fleet.start("hub", region: "eu", role: "hub", extra: Shop.terms + hubExtra)
            let hubPeer = (id: "hub", region: "eu", address: hub.syncAddress ?? "")
            let storeA = try fleet.start("store-a", region: "eu", peers: [hubPeer], extra: Shop.terms)
            let storeB = try fleet.start("store-b", region: "eu", peers: [hubPeer, (id: "store-a", region: "eu", address: storeA.syncAddress ?? "")],
                                         extra: Shop.terms)
            try Shop(node: hub).product("lamp", sku: "LAMP-1", price: 4_900, stock: 0)
            for store in [storeA, storeB] {
                XCTAssertTrue(eventually { try store.adminGet("/api/v1/products/lamp").status == 200 }, "the product reaches the stores")
                XCTAssertEqual(try store.adminPost("/admin/v1/inventory/receive", #"{"sku": "LAMP-1", "units": 40}"#).status, 200)
                XCTAssertTrue(eventually { try store.adminJSON("/admin/v1/payments/offline")["hub"] as? String == "hub" }, "the store knows its hub")
            }
            return Fleet(fleet: fleet, hub: hub, storeA: storeA, storeB: storeB)
        }

        func restartHub(_ extra: String = "") throws -> NodeProcess {
            try fleet.start("hub", region: "eu", role: "hub", extra: Shop.terms + extra)
        }
    }

    /// Buys `quantity` lamps at `store`; returns the status and order JSON.
    @discardableResult
    static func sell(_ store: NodeProcess, quantity: Int = 1, card: String = "tok_visa", key: String = UUID().uuidString) throws -> (status: Int, json: [String: Any]) {
        let shop = Shop(node: store)
        let cart = try shop.newCart()
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/LAMP-1", #"{"quantity": \#(quantity)}"#).status, 200)
        let placed = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(token: card), key: key)
        return (placed.status, placed.json)
    }

    static func ship(_ store: NodeProcess, _ order: String) throws {
        let shipped = try Shop(node: store).send("POST", "/admin/v1/orders/\(order)/events", #"{"kind": "shipped", "carrier": "DHL", "tracking": "T-\#(order)"}"#,
                                                 token: store.adminToken)
        XCTAssertEqual(shipped.status, 200, shipped.response.text)
    }

    static func payment(_ node: NodeProcess, order: String) throws -> [String: Any] {
        (try node.adminJSON("/api/v1/orders/\(order)")["payment"] as? [String: Any]) ?? [:]
    }

    /// The hub's journal as CSV rows (header dropped), over all time.
    static func journal(_ hub: NodeProcess) throws -> [[String]] {
        let csv = try hub.adminGet("/admin/v1/ledger/journal.csv?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z")
        XCTAssertEqual(csv.status, 200, csv.text)
        return csv.text.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    static func balance(_ hub: NodeProcess, _ account: String) throws -> Int {
        let accounts = try hub.adminJSON("/admin/v1/ledger/balances?account=\(account)")["accounts"] as? [[String: Any]] ?? []
        return accounts.first { $0["id"] as? String == account }?["balance"] as? Int ?? 0
    }

    static func nodectl(_ node: NodeProcess, _ arguments: [String]) throws -> CommandResult {
        try runExecutable("nodectl", arguments + ["--data-dir", node.dataDirectory])
    }

    func testSalesOnTwoStoresSettleOnceAtTheHubAndTheBooksBalance() throws {
        let fleet = try Fleet.start()
        var orders: [(store: NodeProcess, id: String, total: Int)] = []
        for (store, count) in [(fleet.storeA, 3), (fleet.storeB, 2)] {
            for _ in 0..<count {
                let sale = try Self.sell(store)
                XCTAssertEqual(sale.status, 201)
                orders.append((store, try XCTUnwrap(sale.json["id"] as? String), (sale.json["totals"] as? [String: Any])?["total"] as? Int ?? 0))
            }
        }
        // Four ship (the sale settles), one is cancelled (its authorization is voided).
        for order in orders.dropLast() { try Self.ship(order.store, order.id) }
        let cancelled = try XCTUnwrap(orders.last)
        XCTAssertEqual(try Shop(node: cancelled.store).send("POST", "/admin/v1/orders/\(cancelled.id)/events", #"{"kind": "cancelled", "reason": "changed mind"}"#,
                                                          token: cancelled.store.adminToken).status, 200)
        // A partial refund of one shipped order settles too.
        let refunded = orders[0]
        XCTAssertTrue(eventually { try Self.payment(refunded.store, order: refunded.id)["settlement"] as? String == "settled" })
        XCTAssertEqual(try Shop(node: refunded.store).send("POST", "/admin/v1/orders/\(refunded.id)/events", #"{"kind": "refunded", "amount": 1000}"#,
                                                         token: refunded.store.adminToken).status, 200)

        for order in orders {
            XCTAssertTrue(eventually { try Self.payment(order.store, order: order.id)["settlement"] as? String == "settled" },
                          "the hub's settlement of \(order.id) replicates back to the store that took it")
        }
        let journal = try Self.journal(fleet.hub)
        let ids = journal.map { $0[2] }
        XCTAssertEqual(Set(ids).count, ids.count)
        XCTAssertEqual(ids.filter { $0.hasPrefix("capture:") }.count, 4, "each shipped sale settles once, though store A's payments arrived twice")
        XCTAssertEqual(ids.filter { $0.hasPrefix("void:") }.count, 1)
        XCTAssertEqual(ids.filter { $0.hasPrefix("refund:") }.count, 1)
        XCTAssertEqual(journal.map { Int($0[0]) ?? 0 }, Array(1...journal.count), "the journal's sequence has no gap")

        let verified = try fleet.hub.adminJSON("/admin/v1/ledger/verify")
        XCTAssertEqual(verified["valid"] as? Bool, true, "\(verified)")
        let sales = orders.dropLast().reduce(0) { $0 + $1.total }
        let fees = orders.dropLast().reduce(0) { $0 + $1.total * 140 / 10_000 + 25 }
        XCTAssertEqual(try Self.balance(fleet.hub, "clearing:eu:EUR"), sales - fees - 1_000, "the acquirer owes the sales, less its fees and the refund")
        XCTAssertEqual(try Self.balance(fleet.hub, "fees:eu:EUR"), fees)
        let tax = try Self.balance(fleet.hub, "tax:eu:EUR"), revenue = try Self.balance(fleet.hub, "revenue:eu:EUR")
        XCTAssertEqual(revenue + tax - (try Self.balance(fleet.hub, "refunds:eu:EUR")), sales - 1_000, "revenue and tax make up what was paid")

        let check = try Self.nodectl(fleet.hub, ["ledger", "verify"])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stdout.contains("The ledger verifies"), check.stdout)
        let clean = try Self.nodectl(fleet.hub, ["ledger", "reconcile", "--from", "2000-01-01", "--to", "2100-01-01"])
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        XCTAssertTrue(clean.stdout.contains("no differences"), clean.stdout)

        // The acquirer's report, seeded with one sale missing and one amount changed: exactly those two.
        let report = try Self.nodectl(fleet.hub, ["ledger", "acquirer-report", "--from", "2000-01-01", "--to", "2100-01-01"])
        XCTAssertEqual(report.status, 0, report.stderr)
        var lines = report.stdout.split(separator: "\r\n").map(String.init)
        XCTAssertEqual(lines.count, 1 + 4 + 1, "a header, four sales and one refund")
        let sales3 = lines.indices.filter { lines[$0].contains(",sale,") }
        let dropped = lines.remove(at: sales3[1])
        let changedIndex = try XCTUnwrap(lines.firstIndex { $0.contains(",sale,") })
        var fields = lines[changedIndex].split(separator: ",").map(String.init)
        fields[5] = String((Int(fields[5]) ?? 0) + 100)
        lines[changedIndex] = fields.joined(separator: ",")
        let seeded = fleet.fleet.scratch.file("acquirer-report.csv")
        try (lines.joined(separator: "\r\n") + "\r\n").write(toFile: seeded, atomically: true, encoding: .utf8)
        let differences = try Self.nodectl(fleet.hub, ["ledger", "reconcile", "--from", "2000-01-01", "--to", "2100-01-01", "--acquirer-report", seeded, "--json"])
        XCTAssertEqual(differences.status, 2, differences.stderr)
        let found = (try JSONSerialization.jsonObject(with: Data(differences.stdout.utf8)) as? [String: Any])?["differences"] as? [[String: Any]] ?? []
        XCTAssertEqual(found.count, 2, "\(found)")
        let missing = try XCTUnwrap(found.first { $0["kind"] as? String == "missing_in_acquirer_report" })
        XCTAssertEqual(missing["payment"] as? String, dropped.split(separator: ",").map(String.init)[1])
        let mismatch = try XCTUnwrap(found.first { $0["kind"] as? String == "amount_mismatch" })
        XCTAssertEqual(mismatch["payment"] as? String, fields[1])
        XCTAssertEqual((mismatch["acquirer_amount"] as? Int).map { $0 - 100 }, mismatch["ledger_amount"] as? Int)

        // The chain: a journal row changed with the sqlite3 shell is caught, and named.
        XCTAssertEqual(try fleet.hub.stop(), 0)
        let database = fleet.hub.dataDirectory + "/node.sqlite"
        let tamper = try runCommand("/usr/bin/sqlite3", [database, """
            DROP TRIGGER ledger_journal_no_update; UPDATE ledger_journal SET amount = amount + 1 WHERE seq = 3;
            """])
        XCTAssertEqual(tamper.status, 0, tamper.stderr)
        let hub = try fleet.restartHub()
        let caught = try Self.nodectl(hub, ["ledger", "verify"])
        XCTAssertEqual(caught.status, 2, caught.stdout + caught.stderr)
        XCTAssertTrue(caught.stdout.contains("entry 3: hash does not chain"), caught.stdout)
    }
}
