import Foundation
import Node
import NodeTesting
import Replication
import XCTest

/// Backups (docs/backups.md) as an operator uses them: a node with `[backup]` archives every
/// commit and takes fulls; `nodectl backup restore` brings a data directory back to any
/// millisecond of the archive, and refuses any file that does not verify.
final class BackupTests: XCTestCase {
    private var scratch: TemporaryDirectory!
    private var keyFile = ""
    private var backups = ""

    override func setUpWithError() throws {
        scratch = TemporaryDirectory(prefix: "outpost-backup")
        keyFile = scratch.file("backup.key")
        backups = scratch.file("backups")
        let made = try runExecutable("nodectl", ["backup", "key", "--out", keyFile])
        XCTAssertEqual(made.status, 0, made.stderr)
    }

    override func tearDown() { scratch = nil }

    private var backupConfig: String { "[backup]\ndirectory = \"\(backups)\"\nkey_file = \"\(keyFile)\"\n" }

    private func placeOrder(_ shop: Shop, _ n: Int) throws {
        let cart = try shop.newCart()
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/MUG-1", #"{"quantity": 1}"#).status, 200)
        let placed = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "order-\(n)")
        XCTAssertEqual(placed.status, 201, placed.response.text)
    }

    /// The orders a node restored into `directory` shows.
    private func orders(restoredIn directory: String) throws -> Int {
        let node = try NodeProcess.start(dataDirectory: directory, config: "[node]\nid = \"shop\"\nregion = \"eu\"\n" + Shop.terms)
        defer { _ = try? node.stop() }
        let listed = try node.adminJSON("/admin/v1/orders?limit=100")
        return (listed["orders"] as? [Any])?.count ?? -1
    }

    private func restore(to directory: String, at ms: Int64? = nil) throws -> CommandResult {
        try runExecutable("nodectl", ["backup", "restore", "--dir", backups, "--node", "shop", "--key-file", keyFile, "--to", directory]
                          + (ms.map { ["--at", isoMs($0)] } ?? []))
    }

    private func isoMs(_ ms: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    private func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private func archived(_ shop: Shop) -> Bool {
        eventually {
            let status = try shop.node.adminJSON("/admin/v1/backups")
            return status["archived_seq"] as? Int == status["committed_seq"] as? Int && status["full_running"] as? Bool == false
                && status["last_full"] != nil
        }
    }

    func testAFullTakenUnderCheckoutLoadAndTheArchiveRestoreEveryAcknowledgedOrderToTheMillisecond() throws {
        let shop = try Shop.start(extra: backupConfig)
        try shop.product("mug", sku: "MUG-1", price: 1_999, stock: 1_000)
        XCTAssertTrue(archived(shop), "the first full is written at start")

        for n in 1...4 { try placeOrder(shop, n) }
        let afterFirst = nowMs()
        usleep(3_000)
        // A full taken while checkouts go on.
        let create = Process()
        create.executableURL = URL(fileURLWithPath: Executables.path("nodectl"))
        create.arguments = ["backup", "create", "--data-dir", shop.node.dataDirectory]
        let createOutput = Pipe()
        create.standardOutput = createOutput
        try create.run()
        for n in 5...12 { try placeOrder(shop, n) }
        create.waitUntilExit()
        XCTAssertEqual(create.terminationStatus, 0)
        XCTAssertTrue(String(decoding: createOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("full backup full-"))
        let afterSecond = nowMs()
        usleep(3_000)
        for n in 13...15 { try placeOrder(shop, n) }
        XCTAssertTrue(archived(shop), "every acknowledged change reaches the backup disk")
        let status = try runExecutable("nodectl", ["backup", "status", "--data-dir", shop.node.dataDirectory])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("Archive: ") && status.stdout.contains("changes on the backup disk") && status.stdout.contains("Last full: full-"),
                      status.stdout)
        // The disk is lost: the node dies where it stands and its directory is not used again.
        kill(shop.node.processIdentifier, SIGKILL)
        _ = try? shop.node.waitForExit()

        let listed = try runExecutable("nodectl", ["backup", "list", "--dir", backups, "--node", "shop"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertEqual(listed.stdout.split(separator: "\n").filter { $0.hasSuffix(".obk") && $0.contains("  full-") }.count, 2,
                       "the full at start and the one taken under load: \(listed.stdout)")

        for (name, at, expected) in [("first", afterFirst, 4), ("second", afterSecond, 12), ("latest", nil, 15)] as [(String, Int64?, Int)] {
            let directory = scratch.file("restored-" + name)
            let restored = try restore(to: directory, at: at)
            XCTAssertEqual(restored.status, 0, "\(name): \(restored.stderr)")
            XCTAssertTrue(restored.stdout.contains("restored shop into \(directory)"), restored.stdout)
            XCTAssertEqual(try orders(restoredIn: directory), expected, "\(name): exactly the orders committed by then")
        }

        let verified = try runExecutable("nodectl", ["backup", "verify", "--dir", backups, "--node", "shop", "--key-file", keyFile])
        XCTAssertEqual(verified.status, 0, verified.stderr)
        XCTAssertTrue(verified.stdout.contains("noded starts on it and is ready: shop (store), schema"), verified.stdout)

        // Retention: nothing here is a day old; the newest full is never pruned.
        let pruned = try runExecutable("nodectl", ["backup", "prune", "--dir", backups, "--node", "shop", "--retention-days", "1", "--dry-run"])
        XCTAssertEqual(pruned.status, 0, pruned.stderr)
        XCTAssertTrue(pruned.stdout.contains("0 file(s) past 1 days (dry run)"), pruned.stdout)
        XCTAssertEqual(try runExecutable("nodectl", ["backup", "prune", "--dir", backups, "--node", "shop", "--retention-days", "0"]).status, 64,
                       "a retention under a day is refused")
    }

    func testAFileThatDoesNotVerifyOrAWrongKeyIsRefusedAndNothingIsRestored() throws {
        let shop = try Shop.start(extra: backupConfig)
        try shop.product("mug", sku: "MUG-1", price: 1_999, stock: 10)
        try placeOrder(shop, 1)
        XCTAssertTrue(archived(shop))
        _ = try shop.node.stop()

        let other = scratch.file("other.key")
        XCTAssertEqual(try runExecutable("nodectl", ["backup", "key", "--out", other]).status, 0)
        let wrongKey = try runExecutable("nodectl", ["backup", "restore", "--dir", backups, "--node", "shop", "--key-file", other, "--to", scratch.file("wrong")])
        XCTAssertEqual(wrongKey.status, 1)
        XCTAssertTrue(wrongKey.stderr.contains("was encrypted with another backup key"), wrongKey.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("wrong/node.sqlite")))

        let files = try FileManager.default.contentsOfDirectory(atPath: backups + "/shop")
        let full = try XCTUnwrap(files.first { $0.hasPrefix("full-") })
        let path = backups + "/shop/" + full
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: path))
        let damaged = try restore(to: scratch.file("damaged"))
        XCTAssertEqual(damaged.status, 1)
        XCTAssertTrue(damaged.stderr.contains("\(full) does not verify: record"), damaged.stderr)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: scratch.file("damaged"))) ?? [], [], "nothing is left behind")

        XCTAssertEqual(try runExecutable("nodectl", ["backup", "key", "--out", keyFile]).status, 1, "a key is never overwritten")
    }

    /// Opens a shift on `till`, sells one mug for cash, and closes the shift: its Z-report.
    private func tillShift(_ till: inout TillDayTests.Terminal, _ shift: String, staffPin: String = "1234") throws -> [String: Any] {
        let signedIn = try till.send("POST", "/pos/v1/sessions", #"{"staff": "alice", "pin": "\#(staffPin)"}"#, asDevice: true)
        XCTAssertEqual(signedIn.status, 201, signedIn.response.text)
        till.session = try XCTUnwrap(signedIn.json["token"] as? String)
        XCTAssertEqual(try till.send("POST", "/pos/v1/shifts", #"{"id": "\#(shift)", "float": 10000, "currency": "EUR"}"#).status, 201)
        XCTAssertEqual(try till.send("PUT", "/pos/v1/sales/\(shift)-s1", #"{"lines": [{"sku": "MUG-1", "quantity": 1}]}"#).status, 200)
        let sold = try till.send("POST", "/pos/v1/sales/\(shift)-s1/complete", #"{"tenders": [{"kind": "cash", "tendered": 2000}]}"#)
        XCTAssertEqual(sold.status, 201, sold.response.text)
        let closed = try till.send("POST", "/pos/v1/shifts/\(shift)/close", #"{"counted": 11999}"#)
        XCTAssertEqual(closed.status, 200, closed.response.text)
        return closed.json
    }

    /// A store's disk and its backup disk are both gone. It is rebuilt from the copy of its
    /// backups the hub kept, catches up with the fleet before it writes, and sells on: nothing it
    /// acknowledged is lost, its tills' Z-report chain goes on unbroken, and the hub's books verify.
    func testAStoreWhoseDisksAreGoneIsRebuiltFromTheHubsCopyAndTheMesh() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub")
        let usb = scratch.file("store-usb")
        let storeConfig = "[backup]\ndirectory = \"\(usb)\"\nkey_file = \"\(keyFile)\"\n" + Shop.terms
        let peers = [(id: "hub", region: "eu", address: hub.syncAddress ?? "")]
        let store = Shop(node: try fleet.start("store-1", region: "eu", peers: peers, extra: storeConfig))
        try store.product("mug", sku: "MUG-1", price: 1_999, stock: 50)
        XCTAssertEqual(try SettlementTests.nodectl(store.node, ["pos", "staff", "alice", "--name", "Alice", "--role", "cashier", "--pin", "1234"]).status, 0)
        var till = try TillDayTests.pair(store.node)
        let firstReport = try tillShift(&till, "shift-1")
        XCTAssertTrue(eventually { try SettlementTests.journal(hub).contains { $0[2].hasPrefix("z:store-1/") } }, "the Z-report is anchored at the hub")
        for n in 1...4 { try placeOrder(store, n) }
        let beforeTheLast = nowMs()
        usleep(3_000)
        try placeOrder(store, 5)
        XCTAssertTrue(eventually {
            let status = try store.node.adminJSON("/admin/v1/backups")
            return status["archived_seq"] as? Int == status["committed_seq"] as? Int && status["last_full"] != nil
                && status["full_running"] as? Bool == false && status["hub_behind_bytes"] as? Int == 0
        }, "the hub holds every byte of the store's backups: \((try? store.node.adminGet("/admin/v1/backups").text) ?? "")")

        kill(store.node.processIdentifier, SIGKILL)
        _ = try? store.node.waitForExit()
        let dataDirectory = fleet.dataDirectory("store-1")
        try FileManager.default.removeItem(atPath: dataDirectory)
        try FileManager.default.removeItem(atPath: usb)

        // Restored to before its last order, as if the archive had missed it: the fleet has it.
        let restored = try runExecutable("nodectl", ["backup", "restore", "--dir", hub.dataDirectory + "/store-backups", "--node", "store-1",
                                                     "--key-file", keyFile, "--to", dataDirectory, "--at", isoMs(beforeTheLast)])
        XCTAssertEqual(restored.status, 0, restored.stderr)
        let rebuilt = Shop(node: try fleet.start("store-1", region: "eu", peers: peers, extra: storeConfig))
        XCTAssertTrue(eventually { try runExecutable("nodectl", ["status", "--data-dir", dataDirectory]).stdout.contains("caught up with its peers at") },
                      "it writes again only once a peer shows it holds every change of its own that the peer holds")
        let status = try runExecutable("nodectl", ["status", "--data-dir", dataDirectory])
        XCTAssertTrue(status.stdout.contains("restored from full-"), status.stdout)
        let orders = try rebuilt.node.adminJSON("/admin/v1/orders?limit=100")["orders"] as? [Any]
        XCTAssertEqual(orders?.count, 6, "every sale the store acknowledged is back: the till's and four orders from its backup, the last from the fleet")
        XCTAssertEqual(try rebuilt.stock("MUG-1").here, 44)

        // It sells on: the fleet takes its new orders as new ones, and its till's next Z-report
        // follows the one before the disk was lost.
        try placeOrder(rebuilt, 6)
        XCTAssertTrue(eventually { (try hub.adminJSON("/admin/v1/orders?limit=100")["orders"] as? [Any])?.count == 7 }, "the hub has all seven")
        till = TillDayTests.Terminal(node: rebuilt.node, key: till.key)
        let secondReport = try tillShift(&till, "shift-2")
        XCTAssertEqual(secondReport["previous_hash"] as? String, firstReport["hash"] as? String, "the Z-report chain goes on")
        XCTAssertTrue(eventually {
            let tills = try hub.adminJSON("/admin/v1/pos/z-reports")["tills"] as? [[String: Any]] ?? []
            return tills.first?["chain_ok"] as? Bool == true && tills.first?["reports_total"] as? Int == 2
        }, "the hub holds both reports, chained")
        XCTAssertEqual(try hub.adminJSON("/admin/v1/ledger/verify")["valid"] as? Bool, true)
    }

    /// A peer with a valid certificate writes only its own folder on the hub, only at the end of
    /// a file, and is cut off when it asks for more at once than the hub keeps open.
    func testAPeerWritesOnlyItsOwnBackupsOnTheHubAndOnlyAFewAtATime() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub")
        let rogue = try RoguePeer(fleet: fleet, nodeId: "store-9", region: "eu", to: hub)
        try rogue.send(RoguePeer.hello("store-9", region: "eu"))
        let file = "archive-1-0a1b2c3d4e5f6071-0.obk"
        try rogue.send(.backupAppend(file: file, offset: 0, data: [1, 2, 3]))
        try rogue.send(.backupAppend(file: file, offset: 7, data: [9]))  // not at the end: nothing written
        XCTAssertFalse(rogue.waitForClose(timeoutMs: 1_000))
        XCTAssertTrue(rogue.received.contains(.backupAck(file: file, size: 3)), "\(rogue.received.suffix(3))")
        XCTAssertEqual(rogue.received.filter { $0 == .backupAck(file: file, size: 3) }.count, 2, "the misplaced append is answered with the size, not written")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: hub.dataDirectory + "/store-backups/store-9/" + file)), Data([1, 2, 3]))

        let appends = (0..<64).flatMap { SyncFrame.encode(.backupAppend(file: file, offset: 3 + UInt64($0), data: [UInt8($0)])) }
        try rogue.sendFrame(appends)
        XCTAssertTrue(rogue.waitForClose())
        XCTAssertEqual(rogue.closingError?.code, .tooManyRequests, String(describing: rogue.closingError))
        XCTAssertTrue(hub.isRunning)
    }

    /// The hub's disk is destroyed. Restored from its backup directory, it catches up with its
    /// stores, settles what they sold meanwhile, and settles nothing twice; its books verify.
    func testAHubRestoredFromItsBackupSettlesNothingTwiceWhenStoresReconnect() throws {
        var fleet = try SettlementTests.Fleet.start(hubExtra: backupConfig)
        var orders: [(NodeProcess, String)] = []
        func sellAndShip(_ count: Int) throws {
            for index in 0..<count {
                let store = index % 2 == 0 ? fleet.storeA : fleet.storeB
                let sale = try SettlementTests.sell(store)
                XCTAssertEqual(sale.status, 201)
                let id = try XCTUnwrap(sale.json["id"] as? String)
                try SettlementTests.ship(store, id)
                orders.append((store, id))
            }
        }
        try sellAndShip(6)
        for (store, id) in orders {
            XCTAssertTrue(eventually { try SettlementTests.payment(store, order: id)["settlement"] as? String == "settled" })
        }
        XCTAssertTrue(eventually {
            let status = try fleet.hub.adminJSON("/admin/v1/backups")
            return status["archived_seq"] as? Int == status["committed_seq"] as? Int && status["full_running"] as? Bool == false
        })
        kill(fleet.hub.processIdentifier, SIGKILL)
        _ = try? fleet.hub.waitForExit()
        try FileManager.default.removeItem(atPath: fleet.fleet.dataDirectory("hub"))
        // The stores sell on while the hub is gone.
        for store in [fleet.storeA, fleet.storeB] { XCTAssertTrue(eventually { try SettlementTests.offline(store)["online"] as? Bool == false }) }
        try sellAndShip(4)

        let restored = try runExecutable("nodectl", ["backup", "restore", "--dir", backups, "--node", "hub", "--key-file", keyFile,
                                                     "--to", fleet.fleet.dataDirectory("hub")])
        XCTAssertEqual(restored.status, 0, restored.stderr)
        fleet.hub = try fleet.restartHub()
        for (store, id) in orders {
            XCTAssertTrue(eventually(timeoutSeconds: 60) { try SettlementTests.payment(store, order: id)["settlement"] as? String == "settled" }, "\(id) settles")
        }
        let ids = try SettlementTests.journal(fleet.hub).map { $0[2] }
        XCTAssertEqual(Set(ids).count, ids.count, "no transfer twice")
        XCTAssertEqual(ids.filter { $0.hasPrefix("capture:") }.count, 10, "each sale captured once")
        let report = try SettlementTests.nodectl(fleet.hub, ["ledger", "acquirer-report", "--from", "2000-01-01", "--to", "2100-01-01"])
        XCTAssertEqual(report.stdout.split(separator: "\r\n").count, 11, "the acquirer settled each sale once")
        XCTAssertEqual(try fleet.hub.adminJSON("/admin/v1/ledger/verify")["valid"] as? Bool, true)
        let reconciled = try SettlementTests.nodectl(fleet.hub, ["ledger", "reconcile", "--from", "2000-01-01", "--to", "2100-01-01"])
        XCTAssertEqual(reconciled.status, 0, reconciled.stdout)
        let verified = try runExecutable("nodectl", ["backup", "verify", "--dir", backups, "--node", "hub", "--key-file", keyFile], timeoutSeconds: 120)
        XCTAssertEqual(verified.status, 0, verified.stderr)
        XCTAssertTrue(verified.stdout.contains("noded starts on it and is ready: hub (hub)"), verified.stdout)
        XCTAssertTrue(verified.stdout.contains("the ledger verifies:"), verified.stdout)
    }
}
