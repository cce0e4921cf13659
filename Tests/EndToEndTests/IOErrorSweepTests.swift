import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// Every write and every fsync a checkout makes, failed one at a time (issue 25's I/O error
/// sweep, over real processes and the real disk path: the fault library fails the Nth call).
/// Whichever call fails, the shopper gets a clean answer (never a 500), and after a restart the
/// invariants hold: the retried checkout places one order, and the stock it took is all that
/// left the shelf.
final class IOErrorSweepTests: XCTestCase {
    static let config = "[node]\nid = \"shop\"\nregion = \"eu\"\n[rate_limits]\nenabled = false\n" + Shop.terms

    /// One run with the Nth call of `mode` failing; returns whether the fault fired (false:
    /// N is past the checkout's last such call).
    /// Per mode, how the checkout ended across the sweep: "201", "503", "no answer".
    private var endings: [String: [String: Int]] = [:]

    private func run(_ mode: String, _ n: Int, template: String) throws -> Bool {
        let scratch = TemporaryDirectory(prefix: "outpost-sweep")
        let dir = scratch.file("data"), switchFile = scratch.file("switch")
        XCTAssertEqual(try runCommand("/bin/cp", ["-a", template, dir]).status, 0)
        let environment = ["LD_PRELOAD": Executables.path("libOutpostFaults.so"), "OUTPOST_FAULT_SWITCH": switchFile,
                           "OUTPOST_FAULT_DIR": URL(fileURLWithPath: dir).resolvingSymlinksInPath().path]
        var node = try NodeProcess.start(dataDirectory: dir, config: Self.config, environment: environment)
        var shop = Shop(node: node)
        let cart = try shop.newCart()
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/CUP-1", #"{"quantity": 2}"#).status, 200)
        try "\(mode) \(n)\n".write(toFile: switchFile, atomically: true, encoding: .utf8)
        let answer = try? shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "once")
        let fired = FileManager.default.fileExists(atPath: switchFile + ".fired")
        try FileManager.default.removeItem(atPath: switchFile)
        let what = "\(mode) \(n): \(answer.map { "\($0.status) \($0.response.text)" } ?? "no answer")"
        if fired { endings[mode, default: [:]][answer.map { "\($0.status)" } ?? "no answer", default: 0] += 1 }
        if let answer {
            XCTAssertTrue([201, 202, 503].contains(answer.status), what)
            XCTAssertNotEqual(answer.json["type"] as? String, "/problems/internal", what)
        }
        if answer?.json["reason"] as? String == "storage_failed" || node.log.contains("the storage failed") {
            XCTAssertEqual(try node.waitForExit(), 74, "\(what): it stops by itself, for its supervisor\n\(node.log.suffix(2000))")
        } else {
            XCTAssertEqual(try node.stop(), 0, "\(what): a full disk given room again stops cleanly\n\(node.log.suffix(2000))")
        }

        node = try NodeProcess.start(dataDirectory: dir, config: Self.config)
        shop = Shop(node: node)
        XCTAssertTrue(eventually(timeoutSeconds: 10) {
            let retried = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "once")
            return retried.status == 201
        }, "\(what): the retry places the order")
        let orders = try node.adminJSON("/admin/v1/orders")["orders"] as? [[String: Any]] ?? []
        XCTAssertEqual(orders.count, 1, "\(what): one order")
        XCTAssertEqual(try shop.stock("CUP-1").available, 8, "\(what): its two cups, and nothing else, left the shelf")
        XCTAssertEqual(try node.stop(), 0, what)
        return fired
    }

    func testEveryFailedWriteOrFsyncOfACheckoutEndsCleanAndLosesNothing() throws {
        let scratch = TemporaryDirectory(prefix: "outpost-sweep-template")
        let template = scratch.file("data")
        let seed = try NodeProcess.start(dataDirectory: template, config: Self.config)
        try Shop(node: seed).product("cup", sku: "CUP-1", price: 800, stock: 10)
        XCTAssertEqual(try seed.stop(), 0)
        for mode in ["fsync-nth", "eio-nth", "enospc-nth"] {
            var n = 1
            while try run(mode, n, template: template), n < 300 { n += 1 }
            XCTAssertGreaterThan(n, 1, "\(mode): the checkout's calls were failed one by one")
            XCTAssertGreaterThan(endings[mode]?["503"] ?? 0, 0, "\(mode): some failures reached the shopper as 503: \(endings[mode] ?? [:])")
            print("sweep \(mode): \(n - 1) calls failed in turn; the checkout answered \(endings[mode] ?? [:])")
        }
    }
}
