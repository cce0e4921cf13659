import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// The guarantee of the inventory: stores cut off from each other sell the same SKU at once and
/// still never sell more than was received; once healed every node shows the same stock.
final class PartitionSaleTests: XCTestCase {
    private func buyOne(_ node: NodeProcess, sku: String, key: String) throws -> Int {
        let shop = Shop(node: node)
        let cart = try shop.newCart()
        let added = try shop.send("PUT", "/api/v1/carts/\(cart)/lines/\(sku)", #"{"quantity": 1}"#)
        guard added.status == 200 else { return added.status }
        return try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: key).status
    }

    func testTwoPartitionedStoresSellingOneSKUNeverSellMoreThanWasReceived() throws {
        let fleet = try TestFleet()
        let terms = Shop.terms
        let storeA = try fleet.start("store-a", region: "eu", extra: terms)
        let storeB = try fleet.start("store-b", region: "eu", extra: terms)
        let peers = [("store-a", "eu", storeA.syncAddress ?? ""), ("store-b", "eu", storeB.syncAddress ?? "")].map { (id: $0.0, region: $0.1, address: $0.2) }
        // The hub dials the stores: stopping it cuts them off from each other (they peer with it only).
        var hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: peers, extra: terms)
        try Shop(node: hub).product("lamp", sku: "LAMP-1", price: 4_900, stock: 10)
        for store in ["store-a", "store-b"] {
            XCTAssertEqual(try hub.adminPost("/admin/v1/replicated/inventory/LAMP-1@hub", #"{"op":"transfer","units":5,"to":"\#(store)"}"#).status, 200)
        }
        for store in [storeA, storeB] {
            XCTAssertTrue(eventually { try Shop(node: store).stock("LAMP-1") == (10, 5) }, "each store holds rights to 5 of the 10")
        }

        XCTAssertEqual(try hub.stop(), 0)
        var sold: [String: Int] = [:], refused: [String: Int] = [:]
        // Interleaved, as two tills would: each store sells within its own rights only.
        for round in 0..<8 {
            for (name, store) in [("store-a", storeA), ("store-b", storeB)] {
                let status = try buyOne(store, sku: "LAMP-1", key: "\(name)-\(round)")
                if status == 201 { sold[name, default: 0] += 1 } else { refused[name, default: 0] += 1; XCTAssertEqual(status, 409) }
            }
        }
        XCTAssertEqual(sold, ["store-a": 5, "store-b": 5])
        XCTAssertEqual(refused, ["store-a": 3, "store-b": 3], "a store out of rights refuses rather than oversells")

        hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: peers, extra: terms)
        let nodes = [hub, storeA, storeB]
        XCTAssertTrue(eventually {
            let summaries = try nodes.map { try $0.replicatedSummary() }
            return ["inventory", "orders", "payments"].allSatisfy { name in summaries.allSatisfy { $0[name]?.digest == summaries[0][name]?.digest } }
        }, "the fleet converges after the partition heals")
        for node in nodes {
            XCTAssertEqual(try Shop(node: node).stock("LAMP-1").available, 0, "every node shows the same stock")
        }
        let orders = try hub.adminJSON("/admin/v1/orders?status=paid&limit=100")["orders"] as? [[String: Any]] ?? []
        XCTAssertEqual(orders.count, 10, "units sold (10) never exceed units received (10)")
        XCTAssertEqual(Set(orders.compactMap { $0["node"] as? String }), ["store-a", "store-b"])
    }

    /// A store with no rights of its own asks the hub while the shopper's checkout waits, and
    /// the sale goes through; rights have moved toward the store that sells.
    func testAStoreShortOfRightsAsksTheHubDuringTheCheckout() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub", extra: Shop.terms)
        let store = try fleet.start("store-a", region: "eu", peers: [("hub", "eu", hub.syncAddress ?? "")], extra: Shop.terms)
        try Shop(node: hub).product("lamp", sku: "LAMP-1", price: 4_900, stock: 10)
        let shop = Shop(node: store)
        XCTAssertTrue(eventually { try shop.stock("LAMP-1") == (10, 0) }, "the store sees the stock, holds no rights to it")
        let cart = try shop.newCart()
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/LAMP-1", #"{"quantity": 3}"#).status, 200)
        let placed = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "k")
        XCTAssertEqual(placed.status, 201, placed.response.text)
        XCTAssertEqual(try shop.stock("LAMP-1").available, 7)
        XCTAssertTrue(eventually { try Shop(node: hub).stock("LAMP-1").available == 7 })
        XCTAssertTrue(store.log.contains("no connected peer holds rights") == false)
    }
}
