import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// Orders and carts across nodes of one region: a shopper continues their cart on another node,
/// and a shipment on one node racing a cancellation on another ends the same on every node.
final class OrderRaceTests: XCTestCase {
    private func stores() throws -> (fleet: TestFleet, a: NodeProcess, b: NodeProcess, peers: [(id: String, region: String, address: String)]) {
        let fleet = try TestFleet()
        let a = try fleet.start("store-a", region: "eu", extra: Shop.terms + "[auth]\npassword_cost = 10\n")
        let b = try fleet.start("store-b", region: "eu", extra: Shop.terms + "[auth]\npassword_cost = 10\n")
        return (fleet, a, b, [("store-a", "eu", a.syncAddress ?? ""), ("store-b", "eu", b.syncAddress ?? "")])
    }

    func testACustomerContinuesTheirCartOnAnotherNodeOfTheRegion() throws {
        let (fleet, a, b, peers) = try stores()
        let hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: peers, extra: Shop.terms)
        try Shop(node: hub).product("mug", sku: "MUG-1", price: 900, stock: 20)
        XCTAssertTrue(eventually { try Shop(node: b).stock("MUG-1").available == 20 })
        let ann = try Shop(node: a).register("ann@example.com")
        let cart = try Shop(node: a).newCart(token: ann.token)
        XCTAssertEqual(try Shop(node: a).send("PUT", "/api/v1/carts/\(cart)/lines/MUG-1", #"{"quantity": 2}"#, token: ann.token).status, 200)
        XCTAssertTrue(eventually {
            let lines = try Shop(node: b).send("GET", "/api/v1/me/cart", token: ann.token).json["lines"] as? [[String: Any]] ?? []
            return lines.first?["quantity"] as? Int == 2
        }, "the same token and the same cart on the other store")
        let guest = try Shop(node: b).newCart()
        XCTAssertEqual(try Shop(node: b).send("PUT", "/api/v1/carts/\(guest)/lines/MUG-1", #"{"quantity": 1}"#).status, 200)
        XCTAssertTrue(eventually { (try Shop(node: a).send("GET", "/api/v1/carts/\(guest)").json["lines"] as? [Any])?.count == 1 },
                      "a guest's cart too, by its id")
    }

    func testAShipmentRacingACancellationEndsShippedEverywhereAndStockStaysSold() throws {
        let (fleet, a, b, peers) = try stores()
        var hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: peers, extra: Shop.terms)
        try Shop(node: hub).product("lamp", sku: "LAMP-1", price: 4_900, stock: 10)
        XCTAssertEqual(try hub.adminPost("/admin/v1/replicated/inventory/LAMP-1@hub", #"{"op":"transfer","units":5,"to":"store-a"}"#).status, 200)
        let shopA = Shop(node: a)
        XCTAssertTrue(eventually { try shopA.stock("LAMP-1") == (10, 5) })
        let cart = try shopA.newCart()
        try shopA.send("PUT", "/api/v1/carts/\(cart)/lines/LAMP-1", #"{"quantity": 2}"#)
        let placed = try shopA.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "k")
        XCTAssertEqual(placed.status, 201, placed.response.text)
        let order = try XCTUnwrap(placed.json["id"] as? String)
        XCTAssertTrue(eventually { (try b.adminJSON("/api/v1/orders/\(order)")["status"] as? String) == "paid" }, "the order reached store-b")

        XCTAssertEqual(try hub.stop(), 0)  // store-a and store-b are cut off from each other
        let shipped = try a.adminPost("/admin/v1/orders/\(order)/events", #"{"kind": "shipped", "carrier": "DHL", "tracking": "JD1"}"#)
        XCTAssertEqual(shipped.status, 200, shipped.text)
        let cancelled = try b.adminPost("/admin/v1/orders/\(order)/events", #"{"kind": "cancelled", "reason": "customer called"}"#)
        XCTAssertEqual(cancelled.status, 200, "store-b has not heard of the shipment: \(cancelled.text)")

        hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: peers, extra: Shop.terms)
        for node in [a, b, hub] {
            XCTAssertTrue(eventually {
                let seen = try node.adminJSON("/api/v1/orders/\(order)")
                return seen["status"] as? String == "shipped" && seen["cancellation_raced"] as? Bool == true
            }, "every node folds the same events to the same status")
        }
        for node in [a, b, hub] {
            XCTAssertTrue(eventually { try Shop(node: node).stock("LAMP-1").available == 8 }, "the shipped units stay sold")
        }
        let raced = try a.adminJSON("/admin/v1/orders?status=shipped")["orders"] as? [[String: Any]] ?? []
        XCTAssertEqual(raced.first?["cancellation_raced"] as? Bool, true, "a manager finds it in the order search")
    }
}
