import Foundation
import HTTP
import Node
import NodeTesting
import XCTest

/// Staff access tokens: issued by an operator with `nodectl token`, good on every node holding
/// the fleet's keys, limited to the roles a route takes.
final class StaffTokenTests: XCTestCase {
    private func token(_ node: NodeProcess, _ arguments: [String]) throws -> String {
        let result = try runExecutable("nodectl", ["token", "--data-dir", node.dataDirectory] + arguments)
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func send(_ node: NodeProcess, _ method: String, _ path: String, token: String, _ body: String? = nil) throws -> ClientResponse {
        var headers = [("Authorization", "Bearer " + token)]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        return try node.client().send(method, path, headers: headers, body: body.map { Array($0.utf8) })
    }

    private func problemType(_ response: ClientResponse) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["type"] as? String
    }

    func testACatalogAdminEditsTheCatalogAndNothingElse() throws {
        let node = try NodeProcess.start(config: "[node]\nid = \"shop\"\nregion = \"eu\"\n")
        let admin = try token(node, ["--subject", "alice", "--role", "catalog_admin"])
        XCTAssertEqual(admin.split(separator: ".").count, 3, admin)

        XCTAssertEqual(try send(node, "PUT", "/admin/v1/catalog/categories/tea", token: admin, #"{"name": {"en": "Tea"}}"#).status, 200)
        let created = try send(node, "POST", "/admin/v1/catalog/products", token: admin, """
            {"id": "sencha", "status": "active", "category": "tea", "name": {"en": "Sencha"},
             "variants": [{"sku": "SEN-50", "prices": [{"region": "eu", "currency": "EUR", "amount": 650}]}]}
            """)
        XCTAssertEqual(created.status, 201, String(decoding: created.body, as: UTF8.self))

        let peers = try send(node, "GET", "/admin/v1/sync/peers", token: admin)
        XCTAssertEqual(peers.status, 403)
        XCTAssertEqual(problemType(peers), "/problems/forbidden")
        XCTAssertEqual(try send(node, "GET", "/admin/v1/status", token: admin).status, 401, "the admin token's own routes take only it")
        XCTAssertEqual(try send(node, "POST", "/admin/v1/tokens", token: admin, #"{"subject": "mallory", "roles": ["hub_admin"]}"#).status, 401,
                       "a token cannot mint tokens")

        let operatorToken = try token(node, ["--subject", "bob", "--role", "operator", "--minutes", "5"])
        XCTAssertEqual(try send(node, "GET", "/admin/v1/sync/peers", token: operatorToken).status, 200)
        XCTAssertEqual(try send(node, "PUT", "/admin/v1/catalog/categories/coffee", token: operatorToken, #"{"name": {"en": "Coffee"}}"#).status, 403)
    }

    func testBadTokensAreRefusedWithAReason() throws {
        let node = try NodeProcess.start(config: "[node]\nid = \"shop\"\nregion = \"eu\"\n")
        let good = try token(node, ["--subject", "alice", "--role", "catalog_admin"])
        var parts = good.split(separator: ".").map(String.init)
        parts[2] = String(parts[2].reversed())
        for bad in ["not-a-token", parts.joined(separator: "."), good + "x"] {
            let response = try send(node, "PUT", "/admin/v1/catalog/categories/tea", token: bad, #"{"name": {"en": "Tea"}}"#)
            XCTAssertEqual(response.status, 401, bad)
            XCTAssertEqual(response.headers["www-authenticate"], "Bearer")
            XCTAssertEqual(problemType(response), "/problems/unauthorized")
        }
        let bare = try node.client().send("PUT", "/admin/v1/catalog/categories/tea", headers: [("Content-Type", "application/json")], body: Array(#"{"name": {"en": "Tea"}}"#.utf8))
        XCTAssertEqual(bare.status, 401)

        // What nodectl refuses to ask for, the node refuses too; nothing is issued.
        let unknownRole = try runExecutable("nodectl", ["token", "--data-dir", node.dataDirectory, "--subject", "x", "--role", "root"])
        XCTAssertEqual(unknownRole.status, 1)
        XCTAssertTrue(unknownRole.stderr.contains("root is not a staff role"), unknownRole.stderr)
        let tooLong = try runExecutable("nodectl", ["token", "--data-dir", node.dataDirectory, "--subject", "x", "--role", "operator", "--minutes", "60"])
        XCTAssertEqual(tooLong.status, 1)
        XCTAssertTrue(tooLong.stderr.contains("minutes"), tooLong.stderr)
    }

    func testATokenIsGoodOnEveryNodeOfItsRegionInTheFleetAndNowhereElse() throws {
        let fleet = try TestFleet()
        let first = try fleet.start("store-1", region: "eu")
        let token = try token(first, ["--subject", "alice", "--role", "operator"])
        let second = try fleet.start("store-2", region: "eu")
        XCTAssertEqual(try send(second, "GET", "/admin/v1/sync/peers", token: token).status, 200, "signed by store-1, vouched for by its certificate")

        let other = try fleet.start("store-us", region: "us")
        let refused = try send(other, "GET", "/admin/v1/sync/peers", token: token)
        XCTAssertEqual(refused.status, 401)
        XCTAssertTrue(String(decoding: refused.body, as: UTF8.self).contains("another audience"), "tokens are made for one region")
        // A node outside the fleet (never enrolled) cannot check the certificate: it refuses.
        let stranger = try NodeProcess.start(config: "[node]\nid = \"stranger\"\nregion = \"eu\"\n")
        XCTAssertTrue(String(decoding: try send(stranger, "GET", "/admin/v1/sync/peers", token: token).body, as: UTF8.self).contains("certificate of this fleet"))
    }

    func testEnrollmentSharesNoTokenSecretAndNamesTheRole() throws {
        let scratch = TemporaryDirectory()
        let ca = scratch.file("ca")
        XCTAssertEqual(try runExecutable("nodectl", ["fleet", "init", "--dir", ca]).status, 0)
        for (node, role) in [("store-1", "store"), ("hub", "hub")] {
            let result = try runExecutable("nodectl", ["enroll", "--ca-dir", ca, "--data-dir", scratch.file(node), "--node-id", node, "--region", "eu", "--role", role])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stdout.contains("role \(role)"), result.stdout)
        }
        for node in ["store-1", "hub"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("\(node)/auth.keys")), "no fleet-wide token key is handed out")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: ca + "/auth.keys"))
        let badRole = try runExecutable("nodectl", ["enroll", "--ca-dir", ca, "--data-dir", scratch.file("x"), "--node-id", "x", "--region", "eu", "--role", "root"])
        XCTAssertNotEqual(badRole.status, 0)
        XCTAssertTrue(badRole.stderr.contains("--role"), badRole.stderr)
        XCTAssertNotEqual(try runExecutable("nodectl", ["fleet", "rotate-token-key", "--dir", ca]).status, 0, "there is no fleet token key to rotate")
    }
}
