import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// kill -9 in the middle of checkout load, again and again: every order that got a 2xx is there
/// and whole, nothing is half-written, and stock is conserved.
final class CheckoutCrashTests: XCTestCase {
    private final class Tally: @unchecked Sendable {
        // Guarded by `lock`: the workers are threads.
        private let lock = NSLock()
        private var acknowledged: [String] = []
        private var stopped = false
        func add(_ id: String) { lock.lock(); acknowledged.append(id); lock.unlock() }
        var ids: [String] { lock.lock(); defer { lock.unlock() }; return acknowledged }
        func stop() { lock.lock(); stopped = true; lock.unlock() }
        func resume() { lock.lock(); stopped = false; lock.unlock() }
        var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
    }

    func testOrdersAcknowledgedBeforeAKillSurviveItAndStockIsConserved() throws {
        let scratch = TemporaryDirectory(prefix: "outpost-crash")
        let dir = scratch.file("data")
        let config = "[node]\nid = \"shop\"\nregion = \"eu\"\n" + Shop.terms
        var node = try NodeProcess.start(dataDirectory: dir, config: config)
        try Shop(node: node).product("cup", sku: "CUP-1", price: 800, stock: 1_000)
        let tally = Tally()
        var generator = SystemRandomNumberGenerator()
        for round in 0..<3 {
            let baseURL = node.baseURL
            let before = tally.ids.count
            let killAfter = Int.random(in: 3...15, using: &generator)
            let group = DispatchGroup()
            for worker in 0..<4 {
                DispatchQueue.global().async(group: group) {
                    var n = 0
                    while !tally.isStopped {
                        n += 1
                        if let id = Self.buy(baseURL, key: "r\(round)-w\(worker)-\(n)") { tally.add(id) }
                    }
                }
            }
            _ = eventually(timeoutSeconds: 60) { tally.ids.count - before >= killAfter }
            try node.stop(signal: SIGKILL)
            tally.stop()
            group.wait()
            let acknowledged = tally.ids
            print("round \(round): killed after \(acknowledged.count - before) acknowledged checkouts")
            try Self.checkIntegrity(dir + "/node.sqlite")
            node = try NodeProcess.start(dataDirectory: dir, config: config)
            let restarted = Shop(node: node)
            for id in acknowledged {
                let order = try node.adminJSON("/api/v1/orders/\(id)")
                XCTAssertEqual(order["status"] as? String, "paid", "order \(id) was acknowledged")
                XCTAssertEqual((order["lines"] as? [[String: Any]])?.first?["quantity"] as? Int, 2)
            }
            // A checkout cut short is released at start; after that stock adds up.
            XCTAssertTrue(eventually {
                let orders = try node.adminJSON("/admin/v1/orders?limit=100")["orders"] as? [[String: Any]] ?? []
                let held = orders.filter { $0["status"] as? String != "cancelled" }.count * 2
                return try restarted.stock("CUP-1").available + held == 1_000
            }, "received = in stock + sold")
            let unfinished = try node.adminJSON("/admin/v1/orders?status=placed")["orders"] as? [Any] ?? []
            XCTAssertEqual(unfinished.count, 0, "no order is left half-placed")
            tally.resume()
        }
        XCTAssertEqual(try node.stop(), 0)
        try Self.checkIntegrity(dir + "/node.sqlite")
    }

    /// A crash after the reservation and before the acquirer answered: at the next start the
    /// stock comes back and the payment is voided; the shopper's retry (same key, same body)
    /// places the same order (id and number made the first time) with a new payment.
    func testACheckoutCutShortIsReleasedAtStartAndItsRetryReusesItsIds() throws {
        let scratch = TemporaryDirectory(prefix: "outpost-crash")
        let dir = scratch.file("data")
        let config = "[node]\nid = \"shop\"\nregion = \"eu\"\n" + Shop.terms
        var node = try NodeProcess.start(dataDirectory: dir, config: config, environment: ["OUTPOST_TEST_FAULT": "exit-after-reservation"])
        var shop = Shop(node: node)
        try shop.product("cup", sku: "CUP-1", price: 800, stock: 10)
        let cart = try shop.newCart()
        try shop.send("PUT", "/api/v1/carts/\(cart)/lines/CUP-1", #"{"quantity": 3}"#)
        XCTAssertThrowsError(try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "once"), "no answer: the node died")
        XCTAssertNotEqual(try node.waitForExit(), 0)

        node = try NodeProcess.start(dataDirectory: dir, config: config)
        shop = Shop(node: node)
        XCTAssertTrue(eventually { try shop.stock("CUP-1").available == 10 }, "the reservation's stock came back")
        XCTAssertTrue(node.log.contains("abandoned checkout released"))
        let retried = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "once")
        XCTAssertEqual(retried.status, 201, retried.response.text)
        XCTAssertEqual(retried.json["number"] as? String, "SHOP-000001", "the retry is the order whose id and number were made before the crash")
        XCTAssertEqual(try shop.stock("CUP-1").available, 7)
        let payment = try XCTUnwrap(retried.json["payment"] as? [String: Any])
        XCTAssertEqual(payment["status"] as? String, "authorized")
    }

    /// Issue 24, item 22: a restarted store does not read its order history to become ready; an
    /// order is read when it is asked for, and every one is there.
    func testARestartedStoreReadsItsOrdersOnFirstUse() throws {
        let scratch = TemporaryDirectory(prefix: "outpost-restart")
        let dir = scratch.file("data")
        let config = "[node]\nid = \"shop\"\nregion = \"eu\"\n" + Shop.terms
        var node = try NodeProcess.start(dataDirectory: dir, config: config)
        var shop = Shop(node: node)
        try shop.product("cup", sku: "CUP-1", price: 800, stock: 10)
        var ids: [String] = []
        for index in 0..<5 {
            let cart = try shop.newCart()
            try shop.send("PUT", "/api/v1/carts/\(cart)/lines/CUP-1", #"{"quantity": 1}"#)
            let placed = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "k\(index)")
            ids.append(try XCTUnwrap(placed.json["id"] as? String))
        }
        XCTAssertEqual(try node.stop(), 0)
        node = try NodeProcess.start(dataDirectory: dir, config: config)
        shop = Shop(node: node)
        let orders = try XCTUnwrap(try node.adminJSON("/admin/v1/replicated?digests=false")["orders"] as? [String: Any])
        XCTAssertEqual(orders["resident"] as? Bool, false, "the history stayed on disk at start")
        XCTAssertEqual(orders["keys"] as? Int, 5, "and is all counted")
        for id in ids { XCTAssertEqual(try node.adminJSON("/api/v1/orders/\(id)")["status"] as? String, "paid", "read on first use") }
        XCTAssertEqual((try node.adminJSON("/admin/v1/orders")["orders"] as? [Any])?.count, 5)
        let whole = try XCTUnwrap(try node.adminJSON("/admin/v1/replicated")["orders"] as? [String: Any])
        XCTAssertEqual(whole["resident"] as? Bool, true, "a digest reads it whole")
        XCTAssertEqual(whole["keys"] as? Int, 5)
        XCTAssertEqual(try shop.stock("CUP-1").available, 5)
    }

    /// One checkout of two cups over its own connection: the order id if it was acknowledged.
    private static func buy(_ baseURL: String, key: String) -> String? {
        guard let client = try? HTTPClient(baseURL: baseURL, timeoutMs: 5_000) else { return nil }
        defer { client.close() }
        let json = [("Content-Type", "application/json")]
        func object(_ response: ClientResponse?) -> [String: Any] {
            response.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any] } ?? [:]
        }
        guard let cart = object(try? client.send("POST", "/api/v1/carts"))["id"] as? String,
              (try? client.send("PUT", "/api/v1/carts/\(cart)/lines/CUP-1", headers: json, body: Array(#"{"quantity": 2}"#.utf8)))?.status == 200,
              let placed = try? client.send("POST", "/api/v1/carts/\(cart)/checkout", headers: json + [("Idempotency-Key", key)], body: Array(Shop.checkoutBody().utf8)),
              placed.status == 201 else { return nil }
        return object(placed)["id"] as? String
    }

    private static func checkIntegrity(_ path: String) throws {
        let database = try Database(path: path)
        defer { database.close() }
        XCTAssertEqual(try database.queryOne("PRAGMA integrity_check") { $0.string(0) }, "ok")
        XCTAssertEqual(try database.queryOne("SELECT count(*) FROM checkouts WHERE state = 'answered' AND status IS NULL") { $0.int(0) }, 0,
                       "an answered checkout has its answer")
    }
}
