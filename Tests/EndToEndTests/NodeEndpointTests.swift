import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// A real noded on a loopback ephemeral port with its own data directory, over real sockets.
final class NodeEndpointTests: XCTestCase {
    private static func json(_ response: ClientResponse) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func testEveryEndpointAnswersAsDocumented() throws {
        let node = try NodeProcess.start(arguments: ["--node-id", "store-e2e", "--region", "eu-test", "--role", "store"])
        let client = try node.client()

        let health = try client.get("/healthz")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(try Self.json(health)["status"] as? String, "ok")

        let ready = try client.get("/readyz")
        XCTAssertEqual(ready.status, 200)
        XCTAssertEqual(try Self.json(ready)["status"] as? String, "ready")

        let info = try client.get("/api/v1/node")
        XCTAssertEqual(info.status, 200)
        XCTAssertEqual(info.headers["content-type"], "application/json")
        let infoJSON = try Self.json(info)
        XCTAssertEqual(infoJSON["id"] as? String, "store-e2e")
        XCTAssertEqual(infoJSON["region"] as? String, "eu-test")
        XCTAssertEqual(infoJSON["role"] as? String, "store")
        XCTAssertNotNil(infoJSON["version"] as? String)
        XCTAssertNotNil(infoJSON["uptime_seconds"] as? Int)

        let anonymous = try client.get("/admin/v1/status")
        XCTAssertEqual(anonymous.status, 401)
        XCTAssertEqual(anonymous.headers["content-type"], "application/problem+json")
        XCTAssertEqual(try Self.json(anonymous)["type"] as? String, "/problems/unauthorized")
        XCTAssertEqual(try client.get("/admin/v1/status", headers: [("Authorization", "Bearer wrong")]).status, 401)

        let status = try client.get("/admin/v1/status", headers: [("Authorization", "Bearer \(node.adminToken)")])
        XCTAssertEqual(status.status, 200)
        let statusJSON = try Self.json(status)
        XCTAssertEqual(statusJSON["node_id"] as? String, "store-e2e")
        XCTAssertEqual(statusJSON["addresses"] as? [String], [node.baseURL])
        XCTAssertGreaterThan(statusJSON["database_bytes"] as? Int ?? 0, 0)
        XCTAssertGreaterThan(statusJSON["resident_memory_bytes"] as? Int ?? 0, 0)

        let problem = try client.get("/problems/body-too-large")
        XCTAssertEqual(try Self.json(problem)["status"] as? Int, 413)

        XCTAssertNotNil(try client.get("/healthz").headers["x-request-id"])
        XCTAssertEqual(try node.stop(), 0)
    }

    func testMetricsPassPromtool() throws {
        let node = try NodeProcess.start()
        let client = try node.client()
        _ = try client.get("/healthz")
        _ = try client.get("/no/such/route")
        XCTAssertEqual(try client.get("/metrics").status, 401, "what a node is doing is an operator's business")
        let metrics = try node.adminGet("/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") ?? false)
        let text = metrics.text
        for family in ["outpost_http_requests_total{route=\"/healthz\",status=\"200\"} 1",
                       "outpost_http_requests_total{route=\"unmatched\",status=\"404\"} 1",
                       "outpost_http_request_duration_seconds_bucket", "outpost_http_connections_open",
                       "outpost_database_bytes", "process_resident_memory_bytes", "process_start_time_seconds"] {
            XCTAssertTrue(text.contains(family), "metrics lack \(family)")
        }
        let scratch = TemporaryDirectory()
        let file = scratch.file("metrics.txt")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try runCommand("/bin/sh", ["-c", "promtool check metrics < \(file)"])
        XCTAssertEqual(check.status, 0, "promtool check metrics: \(check.stdout)\(check.stderr)")
    }

    func testOpenAPIDocumentIsValidOpenAPI31() throws {
        let node = try NodeProcess.start()
        let document = try node.client().get("/openapi.json")
        XCTAssertEqual(document.status, 200)
        let scratch = TemporaryDirectory()
        let file = scratch.file("openapi.json")
        try Data(document.body).write(to: URL(fileURLWithPath: file))
        // .ci/setup puts the validator in a venv under .build/; fall back to python3 on PATH.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let venvPython = root.appendingPathComponent(".build/tools-venv/bin/python3").path
        let python = FileManager.default.isExecutableFile(atPath: venvPython) ? [venvPython] : ["python3"]
        let check = try runCommand("/usr/bin/env", python + ["-c",
            "import json,sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')", file])
        XCTAssertEqual(check.status, 0, "openapi-spec-validator: \(check.stderr)")
        let paths = try XCTUnwrap((try Self.json(document))["paths"] as? [String: Any])
        for path in ["/healthz", "/readyz", "/metrics", "/api/v1/node", "/admin/v1/status", "/openapi.json", "/problems/{slug}"] {
            XCTAssertNotNil(paths[path], "\(path) is documented")
        }
    }

    func testLimitsHoldOverARealSocket() throws {
        let node = try NodeProcess.start()
        func answer(_ raw: String) throws -> (status: Int?, closed: Bool) {
            let socket = try node.socket()
            try socket.send(raw)
            let bytes = try socket.receiveUntilClosed(timeoutMs: 10_000)
            let parser = ResponseParser()
            _ = parser.feed(bytes)
            return (parser.take().first?.status, true)
        }
        XCTAssertEqual(try answer("GET /healthz HTTP/1.1\r\nX: \(String(repeating: "a", count: 17_000))\r\n\r\n").status, 431)
        XCTAssertEqual(try answer("POST /api/v1/node HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n").status, 413)
        XCTAssertEqual(try answer("BLAH\r\n\r\n").status, 400)
        let method = try node.client().send("DELETE", "/healthz")
        XCTAssertEqual(method.status, 405)
        XCTAssertEqual(method.headers["allow"], "GET, HEAD, OPTIONS")
        XCTAssertEqual(try node.client().get("/healthz").status, 200, "still serving after bad input")
    }

    func testSIGTERMStopsGracefullyWithACleanDatabase() throws {
        let node = try NodeProcess.start()
        XCTAssertEqual(try node.client().get("/healthz").status, 200)
        let idle = try node.socket()  // an idle keep-alive connection must not hold up the stop
        _ = idle
        XCTAssertEqual(try node.stop(signal: SIGTERM), 0, node.log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: node.dataDirectory + "/node.address"), "the address file is removed")
        let database = try Database(path: node.dataDirectory + "/node.sqlite", options: .init(readOnly: true))
        XCTAssertEqual(try database.integrityCheck(), ["ok"])
        XCTAssertEqual(try database.queryOne("SELECT count(*) FROM node_starts") { $0.int(0) }, 1, "the start was committed")
        XCTAssertTrue(node.log.contains("\"msg\":\"stopped\""))
    }

    func testSIGINTStopsToo() throws {
        let node = try NodeProcess.start()
        XCTAssertEqual(try node.stop(signal: SIGINT), 0)
    }

    func testRestartKeepsIdentityAndCountsStarts() throws {
        let scratch = TemporaryDirectory()
        let dir = scratch.file("data")
        let first = try NodeProcess.start(dataDirectory: dir)
        let firstId = try first.client().get("/api/v1/node")
        let token = first.adminToken
        XCTAssertEqual(try first.stop(), 0)

        let second = try NodeProcess.start(dataDirectory: dir)
        XCTAssertEqual(second.adminToken, token)
        let secondInfo = try second.client().get("/api/v1/node")
        XCTAssertEqual(try Self.json(secondInfo)["id"] as? String, try Self.json(firstId)["id"] as? String)
        let status = try second.client().get("/admin/v1/status", headers: [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(try Self.json(status)["starts"] as? Int, 2)

        // A second noded on the same data directory is refused while the first runs.
        let clash = try runExecutable("noded", ["--data-dir", dir, "--listen", "127.0.0.1:0"])
        XCTAssertEqual(clash.status, 1)
        XCTAssertTrue(clash.stderr.contains("another noded is running"), clash.stderr)
        XCTAssertEqual(try second.stop(), 0)

        // A different id on an existing data directory is refused, naming the key.
        let renamed = try runExecutable("noded", ["--data-dir", dir, "--listen", "127.0.0.1:0", "--node-id", "someone-else"])
        XCTAssertEqual(renamed.status, 1)
        XCTAssertTrue(renamed.stderr.contains("node.id"), renamed.stderr)
    }

    func testBadConfigurationExitsNamingTheKeyAndChangesNothing() throws {
        let scratch = TemporaryDirectory()
        let config = scratch.file("bad.toml")
        try "[http]\nidle_timeout_ms = 'never'\n".write(toFile: config, atomically: true, encoding: .utf8)
        let result = try runExecutable("noded", ["--config", config, "--data-dir", scratch.file("data")])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("http.idle_timeout_ms"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("data")), "nothing was created")
        let flag = try runExecutable("noded", ["--listen", "nowhere", "--data-dir", scratch.file("data")])
        XCTAssertEqual(flag.status, 2)
        XCTAssertTrue(flag.stderr.contains("--listen"), flag.stderr)
    }

    func testListensOnIPv6Loopback() throws {
        let node = try NodeProcess.start(arguments: ["--listen", "[::1]:0"])
        XCTAssertTrue(node.baseURL.hasPrefix("http://[::1]:"), node.baseURL)
        XCTAssertEqual(try node.client().get("/healthz").status, 200)
    }

    /// A stop that could not write what it meant to (here a checkpoint failing as an I/O error
    /// would) exits non-zero and says so; a clean stop exits 0.
    func testAStopThatFailedToWriteExitsNonZero() throws {
        let clean = try NodeProcess.start()
        XCTAssertEqual(try clean.stop(), 0)
        XCTAssertTrue(clean.log.contains(#""clean":"true""#), clean.log)
        let failing = try NodeProcess.start(environment: ["OUTPOST_TEST_FAULT": "fail-checkpoint-at-stop"])
        XCTAssertEqual(try failing.client().get("/healthz").status, 200)
        XCTAssertEqual(try failing.stop(), 1, "SIGTERM after a failed checkpoint is not a clean exit")
        XCTAssertTrue(failing.log.contains("checkpoint failed at stop") && failing.log.contains(#""clean":"false""#), failing.log)
    }
}
