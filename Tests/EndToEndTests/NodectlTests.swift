import Foundation
import NodeTesting
import XCTest

/// `nodectl status` against a real noded.
final class NodectlTests: XCTestCase {
    func testStatusPrintsATableFromTheDataDirectory() throws {
        let node = try NodeProcess.start(arguments: ["--node-id", "store-ctl", "--region", "eu-ctl", "--role", "regional"])
        let result = try runExecutable("nodectl", ["status", "--data-dir", node.dataDirectory])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.map { $0.split(separator: " ").first.map(String.init) ?? "" },
                       ["Node", "Region", "Role", "Version", "Uptime", "Database", "Address", "Configuration"])
        XCTAssertTrue(lines[0].hasSuffix("store-ctl"))
        XCTAssertTrue(lines[1].hasSuffix("eu-ctl"))
        XCTAssertTrue(lines[2].hasSuffix("regional"))
        XCTAssertTrue(lines[5].contains("KiB"), lines[5])
        XCTAssertTrue(lines[6].hasSuffix(node.baseURL))
        XCTAssertTrue(lines[7].hasSuffix("embedded defaults (not provisioned)"), lines[7])
    }

    func testStatusWithNodeURLAndTokenFilePrintsJSON() throws {
        let node = try NodeProcess.start(arguments: ["--node-id", "store-json"])
        let result = try runExecutable("nodectl", ["status", "--node", node.baseURL, "--token-file", node.dataDirectory + "/admin.token", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["node_id"] as? String, "store-json")
        XCTAssertEqual(json["addresses"] as? [String], [node.baseURL])
        XCTAssertNotNil(json["database_bytes"] as? Int)
    }

    func testABadTokenIsOneLineAndNonZero() throws {
        let node = try NodeProcess.start()
        let scratch = TemporaryDirectory()
        let token = scratch.file("token")
        try "not-the-token\n".write(toFile: token, atomically: true, encoding: .utf8)
        let result = try runExecutable("nodectl", ["status", "--node", node.baseURL, "--token-file", token])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("refused the admin token"), result.stderr)
        XCTAssertEqual(result.stdout, "")
    }

    func testAnUnreachableNodeIsOneLineAndNonZero() throws {
        let scratch = TemporaryDirectory()
        let token = scratch.file("token")
        try "x\n".write(toFile: token, atomically: true, encoding: .utf8)
        // A port nothing listens on: bind one, note it, close it.
        let node = try NodeProcess.start()
        let url = node.baseURL
        XCTAssertEqual(try node.stop(), 0)
        let result = try runExecutable("nodectl", ["status", "--node", url, "--token-file", token, "--timeout-ms", "2000"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("cannot reach"), result.stderr)
    }

    func testAStoppedLocalNodeIsExplained() throws {
        let node = try NodeProcess.start()
        XCTAssertEqual(try node.stop(), 0)
        let result = try runExecutable("nodectl", ["status", "--data-dir", node.dataDirectory])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("is noded running"), result.stderr)
    }

    func testConflictingOrMissingOptionsAreUsageErrors() throws {
        let both = try runExecutable("nodectl", ["status", "--data-dir", "/tmp", "--node", "http://127.0.0.1:1"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("not both"), both.stderr)
        let neither = try runExecutable("nodectl", ["status"])
        XCTAssertNotEqual(neither.status, 0)
        XCTAssertTrue(neither.stderr.contains("say which node"), neither.stderr)
    }

    func testHelpListsStatus() throws {
        let help = try runExecutable("nodectl", ["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("status"))
    }
}
