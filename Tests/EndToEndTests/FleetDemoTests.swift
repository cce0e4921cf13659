import Foundation
import HTTP
import NodeTesting
import XCTest

/// `nodectl fleet demo` and `nodectl sync status` as an operator runs them.
final class FleetDemoTests: XCTestCase {
    func testTheDemoFleetStartsReplicatesAndStopsOnSIGTERM() throws {
        let scratch = TemporaryDirectory(prefix: "outpost-demo")
        // A random port block below Linux's ephemeral range (32768+), where the other tests' port-0
        // listeners and connections live; a clash with another program fails the start loudly.
        let base = Int.random(in: 20_000...32_000) & ~1
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("nodectl"))
        process.arguments = ["fleet", "demo", "--dir", scratch.path, "--stores", "3", "--base-port", String(base)]
        let output = Pipe()
        process.standardOutput = output
        let errors = scratch.file("nodectl.err")
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }

        // One JSON line per node, as each comes up.
        var lines: [[String: String]] = []
        var buffer = Data()
        let reader = output.fileHandleForReading
        while lines.count < 4 {
            let chunk = reader.availableData
            guard !chunk.isEmpty else { break }
            buffer += chunk
            while let newline = buffer.firstIndex(of: 10) {
                let line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[(newline + 1)...])
                lines.append((try JSONSerialization.jsonObject(with: line) as? [String: String]) ?? [:])
            }
        }
        guard lines.count == 4 else {
            return XCTFail("the demo fleet did not start: \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        }
        XCTAssertEqual(lines.map { $0["id"] ?? "" }, ["hub", "store-1", "store-2", "store-3"])
        XCTAssertEqual(lines.map { $0["region"] ?? "" }, ["eu", "eu", "us", "eu"])
        for line in lines {
            for field in ["role", "http", "sync", "data_dir", "config"] { XCTAssertNotNil(line[field], "\(field) of \(line["id"] ?? "?")") }
        }

        // An order placed at store-1 reaches store-2 in the other region (orders are global).
        let token = { (id: String) in (try? String(contentsOfFile: scratch.file("\(id)/admin.token"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" }
        let store1 = try XCTUnwrap(lines[1]["http"]), store2 = try XCTUnwrap(lines[2]["http"])
        let placed = try HTTPClientFactory.post(store1, "/admin/v1/replicated/orders/o-demo", #"{"op":"add","event":"placed"}"#, token: token("store-1"))
        XCTAssertEqual(placed, 200)
        XCTAssertTrue(eventually {
            try HTTPClientFactory.get(store2, "/admin/v1/replicated/orders/o-demo", token: token("store-2")).contains("placed")
        })

        // The demo catalog loaded into the hub reaches a store of the other region, priced for it.
        var found = ""
        XCTAssertTrue(eventually {
            found = try HTTPClientFactory.get(store2, "/api/v1/search?q=laptop&limit=1", token: "")
            return found.contains("\"USD\"")
        }, "the demo catalog reached store-2: \(found.prefix(300)); \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")

        // A new user's first search finds laptops to buy at store-1: the demo stocks most of the
        // catalog (every laptop once read "Out of stock" there).
        let store1Stock = { () throws -> (inStock: Int, outOfStock: Int) in
            let page = try HTTPClientFactory.get(store1, "/api/v1/search?q=laptop&limit=20", token: "")
            return (page.components(separatedBy: #""stock":"in_stock""#).count - 1 + page.components(separatedBy: #""stock":"low_stock""#).count - 1,
                    page.components(separatedBy: #""stock":"out_of_stock""#).count - 1)
        }
        XCTAssertTrue(eventually { let stock = try store1Stock(); return stock.inStock >= 10 && stock.inStock > 3 * stock.outOfStock },
                      "most laptops are for sale at store-1: \((try? store1Stock()).map { "\($0)" } ?? "")")

        // The hub's shipping methods reach the stores: post, express and collection at each store.
        var methods = ""
        XCTAssertTrue(eventually {
            methods = try HTTPClientFactory.get(store2, "/admin/v1/shipping-methods", token: token("store-2"))
            return ["eu-post", "us-express", "collect-store-3"].allSatisfy { methods.contains($0) }
        }, methods.prefix(300) + "")

        // nodectl sync status, as a table and as JSON, once every store has linked to the hub.
        var table = CommandResult(status: -1, stdout: "", stderr: "")
        XCTAssertTrue(eventually {
            table = try runExecutable("nodectl", ["sync", "status", "--data-dir", scratch.file("hub")])
            return table.status == 0 && ["store-1", "store-2", "store-3"].allSatisfy { table.stdout.contains($0) }
        }, table.stdout + table.stderr)
        XCTAssertTrue(table.stdout.contains("PEER") && table.stdout.contains("COLLECTION"))
        let json = try runExecutable("nodectl", ["sync", "status", "--data-dir", scratch.file("store-2"), "--json"])
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["node_id"] as? String, "store-2")
        XCTAssertEqual((report["peers"] as? [[String: Any]])?.first?["node_id"] as? String, "hub")

        // The back office opens on every node with the demo's accounts.
        for (id, account) in [("hub", "admin"), ("store-1", "manager")] {
            XCTAssertTrue(eventually {
                try runExecutable("nodectl", ["staff", "list", "--data-dir", scratch.file(id)]).stdout.contains(account)
            }, "\(id) has the demo account \(account)")
        }
        XCTAssertTrue(((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "").contains("/admin/ (account manager, password \"outpost demo\")"))

        // Each node can be started alone from its written configuration.
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.file("store-3/noded.toml")))

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        for id in ["hub", "store-1", "store-2", "store-3"] {
            let log = (try? String(contentsOfFile: scratch.file("\(id)/noded.log"), encoding: .utf8)) ?? ""
            XCTAssertTrue(log.contains("\"msg\":\"stopped\""), "\(id) stopped gracefully")
        }
    }
}

/// Tiny helpers around HTTPClient for absolute URLs.
enum HTTPClientFactory {
    static func post(_ base: String, _ path: String, _ body: String, token: String) throws -> Int {
        try HTTPClient(baseURL: base).send("POST", path, headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")], body: Array(body.utf8)).status
    }

    static func get(_ base: String, _ path: String, token: String) throws -> String {
        try HTTPClient(baseURL: base).get(path, headers: [("Authorization", "Bearer \(token)")]).text
    }
}
