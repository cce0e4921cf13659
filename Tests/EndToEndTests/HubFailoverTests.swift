import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// Two hubs on one replicated PostgreSQL cluster (docs/ledger.md, "The hub on PostgreSQL"):
/// the leading hub dies, then the database's primary dies and its standby is promoted, while two
/// stores sell; every payment settles exactly once. Real processes on loopback: two PostgreSQL
/// servers (a primary and its synchronous standby), two hubs, two stores.
final class HubFailoverTests: XCTestCase {
    var primary: PostgresCluster?
    var standby: PostgresCluster?
    var fleet: TestFleet?
    var nodes: [NodeProcess] = []

    override func tearDown() {
        for node in nodes { _ = try? node.stop(signal: SIGKILL, timeoutSeconds: 5) }
        nodes = []
        fleet = nil
        primary = nil
        standby = nil
    }

    /// The hubs listen on fixed ports (a killed hub comes back where the stores dial it); each
    /// store lists both.
    struct Hubs {
        let fleet: TestFleet
        let addresses: [String: String]
        let ledger: String

        func start(_ id: String) throws -> NodeProcess {
            let others = addresses.filter { $0.key != id }.map { (id: $0.key, region: "eu", address: $0.value) }
            return try fleet.start(id, region: "eu", role: "hub", listen: false, peers: others,
                                   extra: "listen = \"\(addresses[id] ?? "")\"\n" + Shop.terms + ledger)
        }
    }

    /// A fleet with two hubs on the cluster at `conninfo`, each on a port of its own below the
    /// ephemeral range (not started yet).
    func twoHubs(conninfo: String, leaseSeconds: Int) throws -> Hubs {
        let fleet = try TestFleet()
        self.fleet = fleet
        var ports: Set<UInt16> = []
        while ports.count < 2 { ports.insert(try PostgresCluster.freePort()) }
        let sorted = ports.sorted()
        return Hubs(fleet: fleet, addresses: ["hub-a": "127.0.0.1:\(sorted[0])", "hub-b": "127.0.0.1:\(sorted[1])"],
                    ledger: "[ledger]\nstore = \"postgresql\"\npostgresql = \"\(conninfo)\"\nlease_s = \(leaseSeconds)\n")
    }

    static func status(_ node: NodeProcess) throws -> [String: Any] { try node.adminJSON("/admin/v1/ledger/status") }
    static func leads(_ node: NodeProcess) -> Bool { (try? status(node)["leads"] as? Bool) == true }

    /// Every payment's settlement as its store shows it.
    static func settled(_ sales: [(store: NodeProcess, order: String)]) -> Bool {
        sales.allSatisfy { (try? SettlementTests.payment($0.store, order: $0.order)["settlement"] as? String) == "settled" }
    }

    /// What a failure shows: the unsettled payments and the hub's log without its requests.
    static func explain(_ sales: [(store: NodeProcess, order: String)], _ hub: NodeProcess) -> String {
        let unsettled = sales.filter { (try? SettlementTests.payment($0.store, order: $0.order)["settlement"] as? String) != "settled" }
        return unsettled.map { "\($0.order): \((try? SettlementTests.payment($0.store, order: $0.order)) ?? [:])" }.joined(separator: "\n") + "\n"
            + hub.log.split(separator: "\n").filter { !$0.contains("\"msg\":\"request\"") }.suffix(60).joined(separator: "\n")
    }

    func testTwoHubsSettleEveryPaymentOnceThroughTheLeadersDeathAndTheDatabasesFailover() throws {
        let primary = try PostgresCluster.start()
        self.primary = primary
        let standby = try primary.startStandby()
        self.standby = standby
        let conninfo = "host=127.0.0.1,127.0.0.1 port=\(primary.port),\(standby.port) dbname=postgres user=postgres target_session_attrs=read-write connect_timeout=2"
        let hubs = try twoHubs(conninfo: conninfo, leaseSeconds: 2)
        let fleet = hubs.fleet

        var hubA = try hubs.start("hub-a")
        nodes.append(hubA)
        XCTAssertTrue(eventually { Self.leads(hubA) }, "the first hub takes the lease")
        var hubB = try hubs.start("hub-b")
        nodes.append(hubB)
        let hubPeers = hubs.addresses.sorted { $0.key < $1.key }.map { (id: $0.key, region: "eu", address: $0.value) }
        let storeA = try fleet.start("store-a", region: "eu", peers: hubPeers, extra: Shop.terms + "[rate_limits]\nenabled = false\n")
        let storeB = try fleet.start("store-b", region: "eu", peers: hubPeers, extra: Shop.terms + "[rate_limits]\nenabled = false\n")
        nodes += [storeA, storeB]
        try Shop(node: hubA).product("lamp", sku: "LAMP-1", price: 4_900, stock: 0)
        for store in [storeA, storeB] {
            XCTAssertTrue(eventually { try store.adminGet("/api/v1/products/lamp").status == 200 }, "the product reaches the stores")
            XCTAssertEqual(try store.adminPost("/admin/v1/inventory/receive", #"{"sku": "LAMP-1", "units": 200}"#).status, 200)
            XCTAssertTrue(eventually { try SettlementTests.offline(store)["hub"] as? String != nil }, "the store knows a hub")
        }
        XCTAssertFalse(Self.leads(hubB), "one hub leads; the other follows")
        XCTAssertTrue(eventually { (try? Self.status(storeA)["leader"] as? [String: Any])?["hub"] as? String == "hub-a" }, "the stores learn the leader")
        let syncStatus = try SettlementTests.nodectl(storeA, ["sync", "status"])
        XCTAssertTrue(syncStatus.stdout.contains("Settlement leader: hub-a"), syncStatus.stdout)

        var sales: [(store: NodeProcess, order: String)] = []
        func web(_ store: NodeProcess) throws {
            let sale = try SettlementTests.sell(store)
            XCTAssertEqual(sale.status, 201, "\(sale.json)")
            let order = try XCTUnwrap(sale.json["id"] as? String)
            try SettlementTests.ship(store, order)
            sales.append((store, order))
        }

        // A graceful stop hands the lease over at once.
        XCTAssertEqual(try hubA.stop(), 0)
        let stoppedAt = Date()
        XCTAssertTrue(eventually { Self.leads(hubB) }, "the other hub takes over")
        let handover = Date().timeIntervalSince(stoppedAt)
        XCTAssertTrue(hubA.log.contains("this hub gave up the settlement lease"), hubA.log)

        // Both hubs down: the stores take cards offline, within the fleet's policy.
        XCTAssertEqual(try hubB.stop(), 0)
        for store in [storeA, storeB] {
            XCTAssertTrue(eventually { try SettlementTests.offline(store)["online"] as? Bool == false }, "card payments go offline")
            try web(store)
        }
        let offlineSales = sales
        hubA = try hubs.start("hub-a")
        hubB = try hubs.start("hub-b")
        nodes += [hubA, hubB]
        XCTAssertTrue(eventually { Self.settled(offlineSales) }, "the payments taken offline are forwarded, captured and settled")

        // Web and till, card and cash, on both stores, while the leading hub settles.
        var till = try TillDayTests.pair(storeA)
        XCTAssertEqual(try SettlementTests.nodectl(storeA, ["pos", "staff", "alice", "--name", "Alice", "--role", "cashier", "--pin", "1234"]).status, 0)
        till.session = try XCTUnwrap(try till.send("POST", "/pos/v1/sessions", #"{"staff": "alice", "pin": "1234"}"#, asDevice: true).json["token"] as? String)
        XCTAssertEqual(try till.send("POST", "/pos/v1/shifts", #"{"id": "shift-1", "float": 10000, "currency": "EUR"}"#).status, 201)
        var tillSales = 0
        func atTill(_ tender: String) throws {
            tillSales += 1
            XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/t\(tillSales)", #"{"lines": [{"sku": "LAMP-1", "quantity": 1}]}"#).status, 200)
            let done = try till.send("POST", "/pos/v1/sales/t\(tillSales)/complete", #"{"tenders": [\#(tender)]}"#)
            XCTAssertEqual(done.status, 201, done.response.text)
            let receipt = try till.send("GET", "/pos/v1/sales/t\(tillSales)", asDevice: true).json["receipt"] as? [String: Any]
            sales.append((storeA, try XCTUnwrap(receipt?["order_id"] as? String)))
        }
        func round() throws {
            try web(storeA)
            try web(storeB)
            try atTill(#"{"kind": "cash", "tendered": 5000}"#)
            try atTill(#"{"kind": "card", "token": "tok_visa"}"#)
        }
        let leader = Self.leads(hubA) ? hubA : hubB
        let follower = leader === hubA ? hubB : hubA
        let leaderId = leader === hubA ? "hub-a" : "hub-b", followerId = leader === hubA ? "hub-b" : "hub-a"
        for _ in 0..<3 { try round() }

        // The leader dies mid-flight; the stores keep selling; the other hub takes over.
        XCTAssertEqual(try leader.stop(signal: SIGKILL), SIGKILL)
        let killedAt = Date()
        try round()
        XCTAssertTrue(eventually { Self.leads(follower) }, "the other hub takes the lease")
        let takeover = Date().timeIntervalSince(killedAt)
        try round()
        XCTAssertTrue(eventually(timeoutSeconds: 60) { Self.settled(sales) }, "every payment settles under the new leader:\n" + Self.explain(sales, follower))

        // The database's primary dies; its synchronous standby is promoted; the hub finds it by
        // the multi-host connection string.
        try primary.kill()
        try standby.promote()
        let promotedAt = Date()
        try round()
        XCTAssertTrue(eventually(timeoutSeconds: 60) { Self.settled(sales) }, "settlement goes on against the promoted standby")
        let recovery = Date().timeIntervalSince(promotedAt)
        // A refund of a sale the surviving hub settled: the sandbox acquirer clears a refund only
        // against a sale in its own books, which are each hub's (docs/ledger.md).
        let refunded = sales[sales.count - 8]
        XCTAssertEqual(try Shop(node: refunded.store).send("POST", "/admin/v1/orders/\(refunded.order)/events", #"{"kind": "refunded", "amount": 1000}"#,
                                                          token: refunded.store.adminToken).status, 200)
        XCTAssertTrue(eventually { Self.settled(sales) }, "the refund settles:\n" + Self.explain(sales, follower))

        // The dead hub returns as a follower, and reads the same books.
        let returned = try hubs.start(leaderId)
        nodes.append(returned)
        XCTAssertTrue(eventually { (try? Self.status(returned)["leader"] as? [String: Any])?["hub"] as? String == followerId })
        XCTAssertFalse(Self.leads(returned))
        let shown = try SettlementTests.nodectl(returned, ["ledger", "status"])
        XCTAssertTrue(shown.stdout.contains("Settlement leader: \(followerId)") && shown.stdout.contains("This hub settles: no"), shown.stdout)
        XCTAssertTrue(eventually { try SettlementTests.nodectl(storeB, ["sync", "status"]).stdout.contains("Settlement leader: \(followerId)") })

        // Exactly once: one capture per payment, no id twice; the journal verifies (its balances
        // replayed); the same books from either hub.
        let journal = try SettlementTests.journal(follower)
        XCTAssertEqual(try SettlementTests.journal(returned), journal, "both hubs read one journal")
        let ids = journal.map { $0[2] }
        XCTAssertEqual(Set(ids).count, ids.count)
        XCTAssertEqual(journal.map { Int($0[0]) ?? 0 }, Array(1...journal.count), "the journal's sequence has no gap")
        var captures: [String: Int] = [:]
        for id in ids where id.hasPrefix("capture:") { captures[id, default: 0] += 1 }
        let payments = try sales.map { try XCTUnwrap(SettlementTests.payment($0.store, order: $0.order)["id"] as? String) }
        let lost = payments.filter { captures["capture:" + $0] == nil }.count
        let doubled = captures.values.filter { $0 > 1 }.count
        XCTAssertEqual(lost, 0)
        XCTAssertEqual(doubled, 0)
        XCTAssertEqual(captures.count, sales.count)
        XCTAssertEqual(ids.filter { $0.hasPrefix("refund:") }.count, 1)
        let verified = try SettlementTests.nodectl(follower, ["ledger", "verify"])
        XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)

        // Reconciled against the acquirer's report. The sandbox acquirer keeps its books in each
        // hub's own database: the fleet's report is both hubs' reports, a clearing asked of both
        // counted once (a real acquirer clears a payment's sale once).
        var report: [String: String] = [:]
        var header = ""
        var clearedByBoth = 0
        for hub in [follower, returned] {
            let csv = try SettlementTests.nodectl(hub, ["ledger", "acquirer-report", "--from", "2000-01-01", "--to", "2100-01-01"])
            XCTAssertEqual(csv.status, 0, csv.stderr)
            let lines = csv.stdout.split(separator: "\r\n").map(String.init)
            header = lines.first ?? ""
            for line in lines.dropFirst() {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                let key = fields[1] + "/" + fields[2]
                if report[String(key)] != nil { clearedByBoth += 1 } else { report[String(key)] = line }
            }
        }
        let merged = fleet.scratch.file("acquirer-report.csv")
        try ([header] + report.values.sorted()).joined(separator: "\r\n").appending("\r\n").write(toFile: merged, atomically: true, encoding: .utf8)
        let reconciled = try SettlementTests.nodectl(follower, ["ledger", "reconcile", "--from", "2000-01-01", "--to", "2100-01-01", "--acquirer-report", merged])
        XCTAssertEqual(reconciled.status, 0, reconciled.stdout + reconciled.stderr)
        XCTAssertTrue(reconciled.stdout.contains("no differences"), reconciled.stdout)

        print(String(format: "HUB-FAILOVER payments=%d handover_after_stop_s=%.2f takeover_after_kill_s=%.2f pg_failover_settled_s=%.2f lost=%d doubled=%d cleared_by_both_sandboxes=%d",
                     sales.count, handover, takeover, recovery, lost, doubled, clearedByBoth))
    }

    /// The window between the two commits of a hub on shared books: the transfers are in
    /// PostgreSQL, the events that say so are not in the hub's database. The hub that runs next
    /// adds the events from the journal, and asks the acquirer nothing again.
    func testAHubThatDiesBetweenItsBooksAndItsEventsSettlesOnceWhenItReturns() throws {
        let primary = try PostgresCluster.start()
        self.primary = primary
        let fleet = try TestFleet()
        self.fleet = fleet
        let ledger = "[ledger]\nstore = \"postgresql\"\npostgresql = \"\(primary.conninfo)\"\nlease_s = 1\n"
        let store = try fleet.start("store-a", region: "eu", extra: Shop.terms + "[rate_limits]\nenabled = false\n")
        nodes.append(store)
        let peers = [(id: "store-a", region: "eu", address: store.syncAddress ?? "")]
        var hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: peers, extra: Shop.terms + ledger)
        nodes.append(hub)
        try Shop(node: hub).product("lamp", sku: "LAMP-1", price: 4_900, stock: 0)
        XCTAssertTrue(eventually { try store.adminGet("/api/v1/products/lamp").status == 200 })
        XCTAssertEqual(try store.adminPost("/admin/v1/inventory/receive", #"{"sku": "LAMP-1", "units": 20}"#).status, 200)
        XCTAssertTrue(eventually { Self.leads(hub) })
        XCTAssertEqual(try hub.stop(), 0)

        var sales: [(store: NodeProcess, order: String)] = []
        for _ in 0..<3 {
            let sale = try SettlementTests.sell(store)
            XCTAssertEqual(sale.status, 201, "\(sale.json)")
            let order = try XCTUnwrap(sale.json["id"] as? String)
            try SettlementTests.ship(store, order)
            sales.append((store, order))
        }
        hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: peers, extra: Shop.terms + ledger,
                              environment: ["OUTPOST_TEST_FAULT": "exit-after-books-commit"])
        nodes.append(hub)
        XCTAssertEqual(try hub.waitForExit(), 137)
        hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: peers, extra: Shop.terms + ledger)
        nodes.append(hub)
        XCTAssertTrue(eventually { Self.settled(sales) }, "the events the crash left out are added:\n" + Self.explain(sales, hub))
        let ids = try SettlementTests.journal(hub).map { $0[2] }
        XCTAssertEqual(ids.filter { $0.hasPrefix("capture:") }.count, 3)
        XCTAssertEqual(Set(ids).count, ids.count)
        let report = try SettlementTests.nodectl(hub, ["ledger", "acquirer-report", "--from", "2000-01-01", "--to", "2100-01-01"])
        XCTAssertEqual(report.stdout.split(separator: "\r\n").count, 1 + 3, "the acquirer cleared each sale once: \(report.stdout)")
        let clean = try SettlementTests.nodectl(hub, ["ledger", "reconcile", "--from", "2000-01-01", "--to", "2100-01-01"])
        XCTAssertEqual(clean.status, 0, clean.stdout)
    }

    /// A leader frozen (SIGSTOP: a paused VM, a stuck disk) loses the lease; woken up, it finds
    /// it lost it and posts nothing, while the hub that took over settled everything once.
    func testAFrozenLeaderThatWakesUpAfterATakeoverPostsNothing() throws {
        let primary = try PostgresCluster.start()
        self.primary = primary
        let hubs = try twoHubs(conninfo: primary.conninfo, leaseSeconds: 1)
        let fleet = hubs.fleet
        let hubA = try hubs.start("hub-a")
        nodes.append(hubA)
        XCTAssertTrue(eventually { Self.leads(hubA) })
        let hubB = try hubs.start("hub-b")
        nodes.append(hubB)
        let peers = hubs.addresses.sorted { $0.key < $1.key }.map { (id: $0.key, region: "eu", address: $0.value) }
        let store = try fleet.start("store-a", region: "eu", peers: peers, extra: Shop.terms + "[rate_limits]\nenabled = false\n")
        nodes.append(store)
        try Shop(node: hubA).product("lamp", sku: "LAMP-1", price: 4_900, stock: 0)
        XCTAssertTrue(eventually { try store.adminGet("/api/v1/products/lamp").status == 200 })
        XCTAssertEqual(try store.adminPost("/admin/v1/inventory/receive", #"{"sku": "LAMP-1", "units": 20}"#).status, 200)

        var sales: [(store: NodeProcess, order: String)] = []
        func sell() throws {
            let sale = try SettlementTests.sell(store)
            XCTAssertEqual(sale.status, 201, "\(sale.json)")
            let order = try XCTUnwrap(sale.json["id"] as? String)
            try SettlementTests.ship(store, order)
            sales.append((store, order))
        }
        try sell()
        XCTAssertTrue(eventually { Self.settled(sales) })
        kill(hubA.processIdentifier, SIGSTOP)
        for _ in 0..<3 { try sell() }
        XCTAssertTrue(eventually { Self.leads(hubB) }, "the other hub takes over from the frozen one")
        XCTAssertTrue(eventually { Self.settled(sales) }, Self.explain(sales, hubB))
        kill(hubA.processIdentifier, SIGCONT)
        XCTAssertTrue(eventually { !Self.leads(hubA) }, "woken up, it learns it lost the lease")
        for _ in 0..<2 { try sell() }
        XCTAssertTrue(eventually { Self.settled(sales) })
        XCTAssertFalse(Self.leads(hubA))
        let ids = try SettlementTests.journal(hubB).map { $0[2] }
        XCTAssertEqual(ids.filter { $0.hasPrefix("capture:") }.count, sales.count, "one capture per sale")
        XCTAssertEqual(Set(ids).count, ids.count)
        XCTAssertEqual(try SettlementTests.nodectl(hubB, ["ledger", "verify"]).status, 0)
    }
}
