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

    func testATokenIsGoodOnEveryNodeOfItsRegionHoldingTheFleetKeys() throws {
        let first = try NodeProcess.start(config: "[node]\nid = \"store-1\"\nregion = \"eu\"\n")
        let token = try token(first, ["--subject", "alice", "--role", "operator"])

        // A second node of the region with the fleet's keys (what nodectl enroll gives it).
        let scratch = TemporaryDirectory()
        let secondData = scratch.file("store-2")
        try FileManager.default.createDirectory(atPath: secondData, withIntermediateDirectories: true)
        let keys = try String(contentsOfFile: first.dataDirectory + "/" + NodeIdentity.tokenKeysFile, encoding: .utf8)
        XCTAssertTrue(FileManager.default.createFile(atPath: secondData + "/" + NodeIdentity.tokenKeysFile, contents: Data(keys.utf8),
                                                     attributes: [.posixPermissions: 0o600]))
        let second = try NodeProcess.start(dataDirectory: secondData, config: "[node]\nid = \"store-2\"\nregion = \"eu\"\n")
        XCTAssertEqual(try send(second, "GET", "/admin/v1/sync/peers", token: token).status, 200)

        // Another region's node, with the same keys, refuses it: tokens are made for one region.
        let otherData = scratch.file("store-us")
        try FileManager.default.createDirectory(atPath: otherData, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: otherData + "/" + NodeIdentity.tokenKeysFile, contents: Data(keys.utf8),
                                                     attributes: [.posixPermissions: 0o600]))
        let other = try NodeProcess.start(dataDirectory: otherData, config: "[node]\nid = \"store-us\"\nregion = \"us\"\n")
        let refused = try send(other, "GET", "/admin/v1/sync/peers", token: token)
        XCTAssertEqual(refused.status, 401)
        XCTAssertTrue(String(decoding: refused.body, as: UTF8.self).contains("another audience"))
        // A node with its own keys does not know the token's key.
        let stranger = try NodeProcess.start(config: "[node]\nid = \"stranger\"\nregion = \"eu\"\n")
        XCTAssertTrue(String(decoding: try send(stranger, "GET", "/admin/v1/sync/peers", token: token).body, as: UTF8.self).contains("key this node does not hold"))
    }

    func testEnrollmentSharesTheFleetKeysAndRotationAddsOne() throws {
        let scratch = TemporaryDirectory()
        let ca = scratch.file("ca")
        XCTAssertEqual(try runExecutable("nodectl", ["fleet", "init", "--dir", ca]).status, 0)
        for node in ["store-1", "store-2"] {
            let result = try runExecutable("nodectl", ["enroll", "--ca-dir", ca, "--data-dir", scratch.file(node), "--node-id", node, "--region", "eu"])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        let first = try String(contentsOfFile: scratch.file("store-1/auth.keys"), encoding: .utf8)
        XCTAssertEqual(first, try String(contentsOfFile: scratch.file("store-2/auth.keys"), encoding: .utf8))
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: scratch.file("store-1/auth.keys"))[.posixPermissions] as? Int, 0o600)

        let rotated = try runExecutable("nodectl", ["fleet", "rotate-token-key", "--dir", ca])
        XCTAssertEqual(rotated.status, 0, rotated.stderr)
        XCTAssertTrue(rotated.stdout.contains("2 keys"), rotated.stdout)
        XCTAssertEqual(try runExecutable("nodectl", ["enroll", "--ca-dir", ca, "--data-dir", scratch.file("store-1"), "--node-id", "store-1", "--region", "eu"]).status, 0)
        let after = try String(contentsOfFile: scratch.file("store-1/auth.keys"), encoding: .utf8)
        XCTAssertTrue(after.hasPrefix(first), "the old key stays, so its tokens still verify")
        XCTAssertEqual(after.split(separator: "\n").filter { !$0.hasPrefix("#") }.count, 2)
    }
}
