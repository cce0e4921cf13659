import Foundation
import HTTP
import Ledger
import NodeTesting
import Platform
import XCTest

/// The hub settles every card payment of the fleet exactly once into its ledger, and the books
/// balance: a hub and two stores, real processes on loopback.
final class SettlementTests: XCTestCase {
    /// A hub and two stores selling LAMP-1 (49.00, tax included) from their own stock. The hub
    /// dials the stores (so it can be restarted where they listen); store B also peers with
    /// store A, so A's payments reach the hub twice (directly and through B).
    struct Fleet {
        let fleet: TestFleet
        var hub: NodeProcess
        let storeA: NodeProcess
        let storeB: NodeProcess
        let stores: [(id: String, region: String, address: String)]
        /// More of the hub's configuration (a [backup] table).
        var hubExtra = ""

        static func start(hubExtra: String = "") throws -> Fleet {
            let fleet = try TestFleet()
            let storeA = try fleet.start("store-a", region: "eu", extra: Shop.terms)
            let storeB = try fleet.start("store-b", region: "eu", peers: [(id: "store-a", region: "eu", address: storeA.syncAddress ?? "")], extra: Shop.terms)
            let stores = [(id: "store-a", region: "eu", address: storeA.syncAddress ?? ""), (id: "store-b", region: "eu", address: storeB.syncAddress ?? "")]
            let hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: stores, extra: Shop.terms + hubExtra)
            try Shop(node: hub).product("lamp", sku: "LAMP-1", price: 4_900, stock: 0)
            for store in [storeA, storeB] {
                XCTAssertTrue(eventually { try store.adminGet("/api/v1/products/lamp").status == 200 }, "the product reaches the stores")
                XCTAssertEqual(try store.adminPost("/admin/v1/inventory/receive", #"{"sku": "LAMP-1", "units": 100}"#).status, 200)
                XCTAssertTrue(eventually { try store.adminJSON("/admin/v1/payments/offline")["hub"] as? String == "hub" }, "the store knows its hub")
            }
            return Fleet(fleet: fleet, hub: hub, storeA: storeA, storeB: storeB, stores: stores, hubExtra: hubExtra)
        }

        func restartHub(environment: [String: String] = [:]) throws -> NodeProcess {
            try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: stores, extra: Shop.terms + hubExtra, environment: environment)
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

    /// The attack docs/ledger.md answers: with the hub's disk, change a fee's amount, recompute
    /// every later hash with the documented encoding and adjust both accounts' sums. The chain
    /// and the balances agree again; only a checkpoint signed before the edit can tell.
    static func rewriteAFee(in database: String) throws {
        let db = try Database(path: database)
        defer { db.close() }
        let ledger = Ledger(database: db)
        var entries = try ledger.journal(from: 1, limit: 100_000)
        let index = try XCTUnwrap(entries.firstIndex { $0.code == "acquirer_fee" })
        try db.transaction {
            try db.execute("DROP TRIGGER ledger_journal_no_update")
            entries[index].amount += 1
            let fee = entries[index]
            try db.execute("UPDATE ledger_journal SET amount = ? WHERE seq = ?", [fee.amount, fee.seq])
            try db.execute("UPDATE ledger_accounts SET debits_posted = debits_posted + 1 WHERE id = ?", [fee.debit])
            try db.execute("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = ?", [fee.credit])
            var previous = index == 0 ? [] : entries[index - 1].hash
            for i in index..<entries.count {
                entries[i].hash = entries[i].chainedHash(after: previous)
                try db.execute("UPDATE ledger_journal SET hash = ? WHERE seq = ?", [entries[i].hash, entries[i].seq])
                previous = entries[i].hash
            }
        }
    }

    func testAConsistentRewriteOfTheHubsBooksIsCaughtAgainstTheCheckpointsItsStoresKeep() throws {
        var fleet = try Fleet.start()
        for _ in 0..<2 {
            let sale = try Self.sell(fleet.storeA)
            let id = try XCTUnwrap(sale.json["id"] as? String)
            try Self.ship(fleet.storeA, id)
            XCTAssertTrue(eventually { try Self.payment(fleet.storeA, order: id)["settlement"] as? String == "settled" })
        }
        let signed = try Self.nodectl(fleet.hub, ["ledger", "checkpoints", "--sign"])
        XCTAssertEqual(signed.status, 0, signed.stderr)
        let headLine = try XCTUnwrap(signed.stdout.split(separator: "\n").last.map(String.init))
        XCTAssertNotNil(LedgerCheckpoint(text: headLine), headLine)
        XCTAssertTrue(eventually { try Self.nodectl(fleet.storeA, ["ledger", "checkpoints"]).stdout.contains(headLine) }, "the store keeps the hub's checkpoint")
        let export = TemporaryDirectory(prefix: "outpost-checkpoints")
        let storeFile = export.file("store-a.txt")
        try Self.nodectl(fleet.storeA, ["ledger", "checkpoints"]).stdout.write(toFile: storeFile, atomically: true, encoding: .utf8)
        let clean = try Self.nodectl(fleet.hub, ["ledger", "verify", "--checkpoints", storeFile])
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        XCTAssertTrue(clean.stdout.contains("anchored through entry"), clean.stdout)
        // A store refuses a checkpoint that is not the hub's.
        let forged = try fleet.storeA.adminPost("/admin/v1/ledger/checkpoints", "")
        XCTAssertEqual(forged.status, 409, "only the hub signs its head")

        // Rewritten with the hub's disk: the hub's own checkpoints catch it...
        XCTAssertEqual(try fleet.hub.stop(), 0)
        try Self.rewriteAFee(in: fleet.hub.dataDirectory + "/node.sqlite")
        fleet.hub = try fleet.restartHub()
        let caught = try Self.nodectl(fleet.hub, ["ledger", "verify"])
        XCTAssertEqual(caught.status, 2, caught.stdout + caught.stderr)
        XCTAssertTrue(caught.stdout.contains("rewritten"), caught.stdout)

        // ...and with those deleted too, the store's copy does.
        XCTAssertEqual(try fleet.hub.stop(), 0)
        let wiped = try runCommand("/usr/bin/sqlite3", [fleet.hub.dataDirectory + "/node.sqlite",
                                                        "DELETE FROM replicated_state WHERE collection = 'ledger'; DELETE FROM op_log_segments WHERE collection = 'ledger';"])
        XCTAssertEqual(wiped.status, 0, wiped.stderr)
        fleet.hub = try fleet.restartHub()
        let againstStore = try Self.nodectl(fleet.hub, ["ledger", "verify", "--checkpoints", storeFile])
        XCTAssertEqual(againstStore.status, 2, againstStore.stdout + againstStore.stderr)
        XCTAssertTrue(againstStore.stdout.contains("the hash differs from the checkpoint signed at"), againstStore.stdout)
        // A file that is not checkpoints is refused, naming its line.
        try "not a checkpoint\n".write(toFile: export.file("bad.txt"), atomically: true, encoding: .utf8)
        let bad = try Self.nodectl(fleet.hub, ["ledger", "verify", "--checkpoints", export.file("bad.txt")])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("line 1"), bad.stderr)
    }

    static func offline(_ store: NodeProcess) throws -> [String: Any] { try store.adminJSON("/admin/v1/payments/offline") }

    func testWithTheHubDownStoresSellWithinPolicyAndEveryPaymentSettlesOnceWhenItReturns() throws {
        var fleet = try Fleet.start()
        let policy = try Self.nodectl(fleet.hub, ["ledger", "policy", "--for", "store-a", "--floor-limit", "10000", "--exposure-cap", "15000"])
        XCTAssertEqual(policy.status, 0, policy.stderr)
        let listed = try Self.nodectl(fleet.hub, ["ledger", "policy"])
        XCTAssertTrue(listed.stdout.contains("store-a  10000        15000         24 h"), listed.stdout)
        XCTAssertTrue(eventually { (try Self.offline(fleet.storeA)["policy"] as? [String: Any])?["floor_limit"] as? Int == 10_000 },
                      "the hub's policy reaches the store as configuration")
        XCTAssertEqual(try fleet.hub.stop(), 0)
        for store in [fleet.storeA, fleet.storeB] {
            XCTAssertTrue(eventually { try Self.offline(store)["online"] as? Bool == false }, "card payments go offline with the hub out of reach")
        }

        // Store A: 53.95 a lamp, at most 100.00 a payment and 150.00 in all until the hub is back.
        let first = try Self.sell(fleet.storeA)
        XCTAssertEqual(first.status, 201)
        XCTAssertEqual((first.json["payment"] as? [String: Any])?["status"] as? String, "stored")
        let tooBig = try Self.sell(fleet.storeA, quantity: 3)
        XCTAssertEqual(tooBig.status, 402)
        XCTAssertEqual(tooBig.json["type"] as? String, "/problems/offline-payment-refused")
        XCTAssertEqual(tooBig.json["reason"] as? String, "over_floor_limit")
        XCTAssertTrue((tooBig.json["detail"] as? String ?? "").contains("pay another way"), "the cashier can read why")
        let declinedLater = try Self.sell(fleet.storeA, card: "tok_decline_insufficient_funds")
        XCTAssertEqual(declinedLater.status, 201, "offline, the card cannot be checked: it is taken within the policy")
        let overCap = try Self.sell(fleet.storeA)
        XCTAssertEqual(overCap.status, 402)
        XCTAssertEqual(overCap.json["reason"] as? String, "exposure_cap_reached")
        XCTAssertEqual(try Shop(node: fleet.storeA).stock("LAMP-1").here, 98, "refused sales keep no stock")
        // In the storefront, the shopper reads why and what to do (not "declined").
        let cart = try Shop(node: fleet.storeA).newCart()
        XCTAssertEqual(try Shop(node: fleet.storeA).send("PUT", "/api/v1/carts/\(cart)/lines/LAMP-1", #"{"quantity": 3}"#).status, 200)
        let formToken = String(repeating: "ab", count: 16)
        let cookie = [("Cookie", "outpost_cart=\(cart); outpost_form=\(formToken)")]
        let form = try fleet.storeA.client().get("/checkout", headers: cookie).text
        let keyField = try XCTUnwrap(form.range(of: #"name="key" value=""#)).upperBound
        let formKey = String(form[keyField...].prefix { $0 != "\"" })
        let fields = "email=kim%40example.com&name=Kim&line1=2+Mill+Lane&city=Berlin&postal_code=10115&country=DE&card=tok_visa&key=\(formKey)&csrf=\(formToken)"
        let page = try fleet.storeA.client().send("POST", "/checkout", headers: cookie + [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", fleet.storeA.baseURL)],
                                                  body: Array(fields.utf8))
        XCTAssertEqual(page.status, 402)
        XCTAssertTrue(page.text.contains("above the offline limit of €100.00") && !page.text.contains("it was declined"), page.text)
        // Store B has the fleet's default policy.
        let other = try Self.sell(fleet.storeB, quantity: 2)
        XCTAssertEqual(other.status, 201)

        let shown = try Self.nodectl(fleet.storeA, ["ledger", "offline"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("OFFLINE"), shown.stdout)
        XCTAssertTrue(shown.stdout.contains("Open: 2 payment(s), exposure 10790"), shown.stdout)
        let metrics = try fleet.storeA.adminGet("/metrics").text
        XCTAssertTrue(metrics.contains("outpost_offline_exposure_minor 10790"), metrics)

        // Shipped while offline: the capture waits for the hub, which holds the authorization.
        let firstId = try XCTUnwrap(first.json["id"] as? String), otherId = try XCTUnwrap(other.json["id"] as? String)
        let declinedId = try XCTUnwrap(declinedLater.json["id"] as? String)
        try Self.ship(fleet.storeA, firstId)

        fleet.hub = try fleet.restartHub()
        XCTAssertTrue(eventually { try Self.offline(fleet.storeA)["open"] as? Int == 0 && Self.offline(fleet.storeB)["open"] as? Int == 0 },
                      "the hub answers every payment taken offline")
        XCTAssertTrue(eventually { try Self.payment(fleet.storeA, order: firstId)["settlement"] as? String == "settled" }, "forwarded, captured and settled")
        XCTAssertEqual(try Self.payment(fleet.storeA, order: declinedId)["status"] as? String, "declined", "the acquirer declined it when the hub forwarded it")
        XCTAssertEqual(try Self.payment(fleet.storeB, order: otherId)["status"] as? String, "authorized")
        try Self.ship(fleet.storeB, otherId)
        XCTAssertTrue(eventually { try Self.payment(fleet.storeB, order: otherId)["settlement"] as? String == "settled" })
        XCTAssertTrue(eventually { try Self.offline(fleet.storeA)["online"] as? Bool == true })
        XCTAssertEqual(try Self.sell(fleet.storeA, quantity: 3).status, 201, "online again, the floor limit does not apply")

        let ids = try Self.journal(fleet.hub).map { $0[2] }
        XCTAssertEqual(ids.filter { $0.hasPrefix("exposure:") }.count, 3, "each offline sale was held against its store's budget")
        XCTAssertEqual(ids.filter { $0.hasPrefix("exposure-release:") }.count, 3)
        XCTAssertEqual(ids.filter { $0.hasPrefix("capture:") }.count, 2)
        XCTAssertEqual(try Self.balance(fleet.hub, "exposure:store-a:EUR"), 15_000, "store A's budget is its cap, nothing held any more")
        let verified = try fleet.hub.adminJSON("/admin/v1/ledger/verify")
        XCTAssertEqual(verified["valid"] as? Bool, true, "\(verified)")
        let balances = try Self.nodectl(fleet.hub, ["ledger", "balances", "--account", "exposure:"])
        XCTAssertEqual(balances.status, 0, balances.stderr)
        XCTAssertTrue(balances.stdout.contains("exposure:store-a:EUR  equity  EUR       15000"), balances.stdout)
    }

    func testACardDeclinedAfterAnOfflineSaleStopsTheOrderUntilAnotherTenderOrItsCancellation() throws {
        var fleet = try Fleet.start()
        XCTAssertEqual(try fleet.hub.stop(), 0)
        XCTAssertTrue(eventually { try Self.offline(fleet.storeA)["online"] as? Bool == false })
        // Three cards the acquirer will refuse, taken within the offline policy; one parcel leaves at once.
        var ids: [String] = [], guestLink = ""
        for card in ["tok_decline_insufficient_funds", "tok_decline_stolen", "tok_decline_expired"] {
            let sale = try Self.sell(fleet.storeA, card: card)
            XCTAssertEqual(sale.status, 201)
            ids.append(try XCTUnwrap(sale.json["id"] as? String))
            if guestLink.isEmpty { guestLink = "/orders/\(ids[0])?token=\(try XCTUnwrap(sale.json["order_token"] as? String))" }
        }
        let (unshipped, shipped, toCancel) = (ids[0], ids[1], ids[2])
        try Self.ship(fleet.storeA, shipped)
        XCTAssertEqual(try Shop(node: fleet.storeA).stock("LAMP-1").here, 97)

        fleet.hub = try fleet.restartHub()
        let order = { (node: NodeProcess, id: String) in try node.adminJSON("/api/v1/orders/\(id)") }
        for id in ids {
            XCTAssertTrue(eventually { try order(fleet.storeA, id)["status"] as? String == "payment_failed" },
                          "the hub's decline reaches the store that sold it, and the order owes its payment")
        }
        XCTAssertTrue(eventually { try order(fleet.storeB, unshipped)["status"] as? String == "payment_failed" }, "and every other node")
        let listed = try fleet.storeA.adminJSON("/admin/v1/orders?status=payment_failed")["orders"] as? [[String: Any]] ?? []
        XCTAssertEqual(Set(listed.compactMap { $0["id"] as? String }), Set(ids), "the list shows what to act on")
        let due = try XCTUnwrap(order(fleet.storeA, unshipped)["payment_due"] as? [String: Any])
        XCTAssertEqual(due["reason"] as? String, "insufficient_funds")
        XCTAssertTrue((due["what_to_do"] as? String ?? "").contains("collect another tender") && (due["what_to_do"] as? String ?? "").contains("cancel"), "\(due)")
        XCTAssertTrue(try fleet.storeA.adminGet("/metrics").text.contains("outpost_orders_payment_failed 3"))
        let report = try Self.nodectl(fleet.storeA, ["ledger", "offline"])
        XCTAssertTrue(report.stdout.contains("Declined after the sale: 3 order(s)"), report.stdout)
        let shopperPage = try fleet.storeA.client().get(guestLink).text
        XCTAssertTrue(shopperPage.contains("is still to pay") && shopperPage.contains("contact the store"), "the shopper is told too")

        // Fulfilment stops: nothing unpaid leaves.
        let refusedShipment = try Shop(node: fleet.storeA).send("POST", "/admin/v1/orders/\(unshipped)/events", #"{"kind": "shipped", "carrier": "DHL", "tracking": "T-1"}"#,
                                                               token: fleet.storeA.adminToken)
        XCTAssertEqual(refusedShipment.status, 409, refusedShipment.response.text)
        XCTAssertEqual(refusedShipment.json["order_status"] as? String, "payment_failed")

        // Another tender: a second bad card changes nothing; a good one pays the order again.
        let tender = { (id: String, token: String) in
            try Shop(node: fleet.storeA).send("POST", "/admin/v1/orders/\(id)/payment", #"{"token": "\#(token)"}"#, token: fleet.storeA.adminToken)
        }
        let again = try tender(unshipped, "tok_decline_stolen")
        XCTAssertEqual(again.status, 402, again.response.text)
        XCTAssertEqual(try order(fleet.storeA, unshipped)["status"] as? String, "payment_failed")
        XCTAssertEqual(try tender(unshipped, "4242424242424242").status, 422, "a card number is refused before anything is stored")
        let paid = try tender(unshipped, "tok_visa")
        XCTAssertEqual(paid.status, 200, paid.response.text)
        XCTAssertEqual(paid.json["status"] as? String, "paid")
        XCTAssertNil(paid.json["payment_due"])
        XCTAssertEqual(try tender(unshipped, "tok_visa").status, 409, "paid again, it owes nothing")
        try Self.ship(fleet.storeA, unshipped)
        XCTAssertTrue(eventually { try Self.payment(fleet.storeA, order: unshipped)["settlement"] as? String == "settled" }, "the new card is captured and settled")

        // Goods that left cannot be cancelled back onto the shelf: the store collects the money.
        let cancelShipped = try Shop(node: fleet.storeA).send("POST", "/admin/v1/orders/\(shipped)/events", #"{"kind": "cancelled"}"#, token: fleet.storeA.adminToken)
        XCTAssertEqual(cancelShipped.status, 409, cancelShipped.response.text)
        let collected = try tender(shipped, "tok_visa")
        XCTAssertEqual(collected.status, 200, collected.response.text)
        XCTAssertEqual(collected.json["status"] as? String, "shipped")
        XCTAssertEqual((collected.json["payment"] as? [String: Any])?["status"] as? String, "captured", "the goods left, so the new card is captured at once")
        XCTAssertTrue(eventually { try Self.payment(fleet.storeA, order: shipped)["settlement"] as? String == "settled" })

        // Or the store cancels: the stock comes back.
        let cancelled = try Shop(node: fleet.storeA).send("POST", "/admin/v1/orders/\(toCancel)/events", #"{"kind": "cancelled"}"#, token: fleet.storeA.adminToken)
        XCTAssertEqual(cancelled.status, 200, cancelled.response.text)
        XCTAssertEqual(cancelled.json["status"] as? String, "cancelled")
        XCTAssertTrue(eventually { try Shop(node: fleet.storeA).stock("LAMP-1").here == 98 }, "the cancelled order's lamp is back on the shelf")
        XCTAssertTrue(eventually { try fleet.storeA.adminGet("/metrics").text.contains("outpost_orders_payment_failed 0") })
        let verified = try fleet.hub.adminJSON("/admin/v1/ledger/verify")
        XCTAssertEqual(verified["valid"] as? Bool, true, "\(verified)")
    }

    func testAHubKilledDuringSettlementLosesNothingAndDoublesNothingAndAReplayAddsNothing() throws {
        var fleet = try Fleet.start()
        XCTAssertEqual(try fleet.hub.stop(), 0)
        for store in [fleet.storeA, fleet.storeB] { XCTAssertTrue(eventually { try Self.offline(store)["online"] as? Bool == false }) }
        var orders: [(NodeProcess, String)] = []
        for index in 0..<40 {
            let store = index % 2 == 0 ? fleet.storeA : fleet.storeB
            let sale = try Self.sell(store)
            XCTAssertEqual(sale.status, 201)
            let id = try XCTUnwrap(sale.json["id"] as? String)
            try Self.ship(store, id)
            orders.append((store, id))
        }

        // The hub returns to a backlog and dies (as kill -9 would) after the acquirer authorized,
        // captured and cleared a batch, before the batch's commit; then again, by SIGKILL, as
        // soon as transfers are being written.
        fleet.hub = try fleet.restartHub(environment: ["OUTPOST_TEST_FAULT": "exit-before-settlement-commit"])
        XCTAssertEqual(try fleet.hub.waitForExit(), 137)
        fleet.hub = try fleet.restartHub()
        XCTAssertTrue(eventually(timeoutSeconds: 60) {
            try fleet.hub.adminGet("/metrics").text.contains("outpost_settlement_transfers_total 0") == false
        })
        XCTAssertEqual(try fleet.hub.stop(signal: SIGKILL), SIGKILL)
        fleet.hub = try fleet.restartHub()
        for (store, id) in orders {
            XCTAssertTrue(eventually { try Self.payment(store, order: id)["settlement"] as? String == "settled" }, "\(id) settles after the crash")
        }
        let ids = try Self.journal(fleet.hub).map { $0[2] }
        XCTAssertEqual(Set(ids).count, ids.count)
        for prefix in ["exposure:", "exposure-release:", "auth:", "capture:"] {
            XCTAssertEqual(ids.filter { $0.hasPrefix(prefix) }.count, 40, "one \(prefix) per payment")
        }
        let report = try Self.nodectl(fleet.hub, ["ledger", "acquirer-report", "--from", "2000-01-01", "--to", "2100-01-01"])
        XCTAssertEqual(report.stdout.split(separator: "\r\n").count, 41, "the acquirer settled each sale once")

        // A replay of every payment (as after a lost queue) records nothing new.
        XCTAssertEqual(try fleet.hub.stop(), 0)
        let forget = try runCommand("/usr/bin/sqlite3", [fleet.hub.dataDirectory + "/node.sqlite", "DELETE FROM node_meta WHERE key = 'settlement_seeded'"])
        XCTAssertEqual(forget.status, 0, forget.stderr)
        fleet.hub = try fleet.restartHub()
        XCTAssertTrue(eventually { try fleet.hub.adminGet("/metrics").text.contains("outpost_settlement_queue 0") })
        XCTAssertEqual(try Self.journal(fleet.hub).count, ids.count, "the replay found every transfer recorded")
        XCTAssertEqual(try fleet.hub.adminJSON("/admin/v1/ledger/verify")["valid"] as? Bool, true)
        let clean = try Self.nodectl(fleet.hub, ["ledger", "reconcile", "--from", "2000-01-01", "--to", "2100-01-01"])
        XCTAssertEqual(clean.status, 0, clean.stdout)
    }

    func testLedgerToolsRefuseBadInputClearlyAndLiveOnlyOnTheHub() throws {
        let hub = try NodeProcess.start(config: "[node]\nid = \"hub\"\nregion = \"eu\"\nrole = \"hub\"\n")
        let store = try NodeProcess.start(config: "[node]\nid = \"store-1\"\nregion = \"eu\"\n")

        let elsewhere = try store.adminGet("/admin/v1/ledger/verify")
        XCTAssertEqual(elsewhere.status, 409)
        XCTAssertTrue(elsewhere.text.contains("/problems/not-the-hub"), elsewhere.text)
        let cli = try Self.nodectl(store, ["ledger", "verify"])
        XCTAssertEqual(cli.status, 1)
        XCTAssertTrue(cli.stderr.contains("the ledger is on the hub"), cli.stderr)

        let report = try hub.client().send("POST", "/admin/v1/ledger/reconcile", headers: [("Authorization", "Bearer \(hub.adminToken)"), ("Content-Type", "text/csv")],
                                           body: Array("settled_at,payment_id,reference,kind,currency,gross,fee,net\nyesterday,p-1,sale,sale,EUR,12.50,0,0\n".utf8))
        XCTAssertEqual(report.status, 422)
        XCTAssertTrue(report.text.contains("/problems/acquirer-report-malformed") && report.text.contains("\"line\":2"), report.text)
        XCTAssertEqual(try hub.adminGet("/admin/v1/ledger/journal.csv?from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z").status, 400)
        XCTAssertEqual(try hub.adminGet("/admin/v1/ledger/balances?at=yesterday").status, 400)
        let badPolicy = try hub.adminSend("PUT", "/admin/v1/ledger/policies/store-1", #"{"floor_limit": 50000, "exposure_cap": 100, "colour": "red"}"#)
        XCTAssertEqual(badPolicy.status, 422)
        XCTAssertTrue(badPolicy.text.contains("floor_limit") && badPolicy.text.contains("colour"), badPolicy.text)
        XCTAssertEqual(try hub.adminSend("PUT", "/admin/v1/ledger/policies/Store_1", #"{"floor_limit": 1, "exposure_cap": 1}"#).status, 422)
        let policies = try hub.adminJSON("/admin/v1/ledger/policies")
        XCTAssertEqual((policies["nodes"] as? [String: Any])?.count, 0, "a refused policy changes nothing")
        let badTime = try Self.nodectl(hub, ["ledger", "export", "--from", "last tuesday", "--to", "2026-11-22"])
        XCTAssertNotEqual(badTime.status, 0)
        XCTAssertTrue(badTime.stderr.contains("--from"), badTime.stderr)
        let typo = try Self.nodectl(hub, ["ledger", "policy", "--for", "store-9", "--floor-limit", "100", "--exposure-cap", "1000"])
        XCTAssertEqual(typo.status, 1, "a node the hub never heard of gets no policy by a typo: " + typo.stdout)
        XCTAssertTrue(typo.stderr.contains("no node store-9 is known") && typo.stderr.contains("answered 404"), typo.stderr)
        let ahead = try Self.nodectl(hub, ["ledger", "policy", "--for", "store-9", "--floor-limit", "100", "--exposure-cap", "1000", "--allow-unknown"])
        XCTAssertEqual(ahead.status, 0, "for a node not yet enrolled, said so: " + ahead.stderr)
        let setWithoutCap = try Self.nodectl(hub, ["ledger", "policy", "--for", "store-1", "--floor-limit", "100"])
        XCTAssertNotEqual(setWithoutCap.status, 0)
        XCTAssertTrue(setWithoutCap.stderr.contains("--exposure-cap"), setWithoutCap.stderr)
        let verified = try Self.nodectl(hub, ["ledger", "verify"])
        XCTAssertEqual(verified.status, 0, "an empty ledger verifies: " + verified.stdout)
    }

    /// A frozen hub (SIGSTOP: its sockets stay open, nothing answers) shows as gone within the
    /// link timeout (8 s by default, `sync.link_timeout_ms`), and as back when it wakes.
    func testAFrozenHubShowsAsOfflineWithinTheLinkTimeout() throws {
        let fleet = try Fleet.start()
        XCTAssertTrue(eventually { try Self.offline(fleet.storeA)["online"] as? Bool == true })
        kill(fleet.hub.processIdentifier, SIGSTOP)
        defer { kill(fleet.hub.processIdentifier, SIGCONT) }
        XCTAssertTrue(eventually(timeoutSeconds: 15) { try Self.offline(fleet.storeA)["online"] as? Bool == false },
                      "card payments go offline: the store no longer counts on the frozen hub")
        kill(fleet.hub.processIdentifier, SIGCONT)
        XCTAssertTrue(eventually(timeoutSeconds: 30) { try Self.offline(fleet.storeA)["online"] as? Bool == true }, "and back once it answers")
    }
}
