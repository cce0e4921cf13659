import Foundation
import HTTP
import NodeTesting
import XCTest

/// The admin surface of the replicated collections on a real noded.
final class ReplicatedAdminTests: XCTestCase {
    private func post(_ client: HTTPClient, _ token: String, _ path: String, _ body: String) throws -> ClientResponse {
        try client.send("POST", path, headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")], body: Array(body.utf8))
    }

    private func json(_ response: ClientResponse) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func testChangesAreCommittedReadBackAndSurviveARestart() throws {
        let scratch = TemporaryDirectory()
        let dir = scratch.file("data")
        let node = try NodeProcess.start(dataDirectory: dir, arguments: ["--node-id", "store-a"])
        let client = try node.client(), token = node.adminToken
        let stock = try post(client, token, "/admin/v1/replicated/inventory/SKU-1@berlin", #"{"op":"increment","units":5}"#)
        XCTAssertEqual(stock.status, 200, stock.text)
        XCTAssertEqual(try json(stock)["dot"] as? String, "store-a:1")
        let oversell = try post(client, token, "/admin/v1/replicated/inventory/SKU-1@berlin", #"{"op":"decrement","units":6}"#)
        XCTAssertEqual(oversell.status, 409)
        XCTAssertEqual(try json(oversell)["type"] as? String, "/problems/insufficient-rights")
        XCTAssertEqual(try json(oversell)["available"] as? Int, 5)
        XCTAssertEqual(try post(client, token, "/admin/v1/replicated/inventory/SKU-1@berlin", #"{"op":"decrement","units":2}"#).status, 200)
        XCTAssertEqual(try post(client, token, "/admin/v1/replicated/carts/cart-9", #"{"op":"set","sku":"A","quantity":3}"#).status, 200)
        XCTAssertEqual(try post(client, token, "/admin/v1/replicated/catalog/p-1", #"{"op":"set","field":"title","value":"Tea"}"#).status, 200)
        XCTAssertEqual(try post(client, token, "/admin/v1/replicated/orders/o-1", #"{"op":"add","event":"placed"}"#).status, 200)

        // Bad input: clear problems, nothing changed.
        XCTAssertEqual(try post(client, token, "/admin/v1/replicated/nothing/x", #"{"op":"add"}"#).status, 404)
        XCTAssertEqual(try post(client, token, "/admin/v1/replicated/carts/cart-9", #"{"op":"explode"}"#).status, 422)
        XCTAssertEqual(try post(client, token, "/admin/v1/replicated/carts/cart-9", #"{"op":"set","sku":"A","quantity":0}"#).status, 422)
        XCTAssertEqual(try post(client, token, "/admin/v1/replicated/carts/cart-9", "not json").status, 400)
        XCTAssertEqual(try client.send("POST", "/admin/v1/replicated/carts/cart-9", headers: [("Content-Type", "application/json")], body: Array("{}".utf8)).status, 401)

        let listing = try client.get("/admin/v1/replicated", headers: [("Authorization", "Bearer \(token)")])
        let before = try json(listing)
        XCTAssertEqual((before["inventory"] as? [String: Any])?["applied"] as? [String: Int], ["store-a": 2])
        XCTAssertEqual(try node.stop(), 0)

        let again = try NodeProcess.start(dataDirectory: dir)
        let after = try json(try again.client().get("/admin/v1/replicated", headers: [("Authorization", "Bearer \(token)")]))
        for collection in ["carts", "catalog", "inventory", "orders", "payments"] {
            XCTAssertEqual((after[collection] as? [String: Any])?["digest"] as? String, (before[collection] as? [String: Any])?["digest"] as? String, collection)
        }
        let state = try json(try again.client().get("/admin/v1/replicated/inventory/SKU-1@berlin", headers: [("Authorization", "Bearer \(token)")]))
        XCTAssertEqual((state["state"] as? [String: Any])?["value"] as? Int, 3)
        let cart = try json(try again.client().get("/admin/v1/replicated/carts/cart-9", headers: [("Authorization", "Bearer \(token)")]))
        XCTAssertEqual(((cart["state"] as? [String: Any])?["lines"] as? [String: Int]), ["A": 3])
    }
}
