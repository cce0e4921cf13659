import Foundation
import HTTP
import NodeTesting
import XCTest

/// The admin surface of the replicated collections on a real noded.
final class ReplicatedAdminTests: XCTestCase {
    private func json(_ response: ClientResponse) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func testChangesAreCommittedReadBackAndSurviveARestart() throws {
        let scratch = TemporaryDirectory()
        let dir = scratch.file("data")
        let node = try NodeProcess.start(dataDirectory: dir, arguments: ["--node-id", "store-a"])
        let client = try node.client(), token = node.adminToken
        let post = { (path: String, body: String) in try node.adminPost(path, body) }
        let stock = try post("/admin/v1/replicated/inventory/SKU-1@berlin", #"{"op":"increment","units":5}"#)
        XCTAssertEqual(stock.status, 200, stock.text)
        XCTAssertEqual(try json(stock)["dot"] as? String, "store-a:1")
        let oversell = try post("/admin/v1/replicated/inventory/SKU-1@berlin", #"{"op":"decrement","units":6}"#)
        XCTAssertEqual(oversell.status, 409)
        XCTAssertEqual(try json(oversell)["type"] as? String, "/problems/insufficient-rights")
        XCTAssertEqual(try json(oversell)["available"] as? Int, 5)
        XCTAssertEqual(try post("/admin/v1/replicated/inventory/SKU-1@berlin", #"{"op":"decrement","units":2}"#).status, 200)
        XCTAssertEqual(try post("/admin/v1/replicated/carts/cart-9", #"{"op":"set","sku":"A","quantity":3}"#).status, 200)
        XCTAssertEqual(try post("/admin/v1/replicated/catalog/p-1", #"{"op":"set","field":"title","value":"Tea"}"#).status, 200)
        XCTAssertEqual(try post("/admin/v1/replicated/orders/o-1", #"{"op":"add","event":"placed"}"#).status, 200)

        // Bad input: clear problems, nothing changed.
        XCTAssertEqual(try post("/admin/v1/replicated/nothing/x", #"{"op":"add"}"#).status, 404)
        XCTAssertEqual(try post("/admin/v1/replicated/carts/cart-9", #"{"op":"explode"}"#).status, 422)
        XCTAssertEqual(try post("/admin/v1/replicated/carts/cart-9", #"{"op":"set","sku":"A","quantity":0}"#).status, 422)
        XCTAssertEqual(try post("/admin/v1/replicated/carts/cart-9", "not json").status, 400)
        XCTAssertEqual(try client.send("POST", "/admin/v1/replicated/carts/cart-9", headers: [("Content-Type", "application/json")], body: Array("{}".utf8)).status, 401)

        let before = try node.adminJSON("/admin/v1/replicated")
        XCTAssertEqual((before["inventory"] as? [String: Any])?["applied"] as? [String: Int], ["store-a": 2])
        XCTAssertEqual(try node.stop(), 0)

        let again = try NodeProcess.start(dataDirectory: dir)
        XCTAssertEqual(again.adminToken, token, "the same admin token after the restart")
        let after = try again.adminJSON("/admin/v1/replicated")
        for collection in ["carts", "catalog", "inventory", "orders", "payments"] {
            XCTAssertEqual((after[collection] as? [String: Any])?["digest"] as? String, (before[collection] as? [String: Any])?["digest"] as? String, collection)
        }
        XCTAssertEqual(try again.replicatedState("inventory", "SKU-1@berlin")["value"] as? Int, 3)
        XCTAssertEqual(try again.replicatedState("carts", "cart-9")["lines"] as? [String: Int], ["A": 3])
    }
}
