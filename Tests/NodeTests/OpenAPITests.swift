@testable import HTTP
import Logging
@testable import Node
import NodeTesting
import XCTest

final class OpenAPITests: XCTestCase {
    /// Every route is in /openapi.json with its method, and every operation there is a route.
    func testTheDocumentDescribesExactlyTheRoutesServed() throws {
        let dir = TemporaryDirectory()
        var config = NodeConfig()
        config.dataDirectory = dir.file("data")
        let node = try OutpostNode(config: config, logSink: LogSinkForTests.discard, logger: Logger(label: "test"))
        let document = node.openAPIDocument()
        guard case .object(let paths)? = document["paths"] else { return XCTFail("no paths") }
        var documented = Set<String>()
        for path in paths {
            guard case .object(let operations) = path.value else { continue }
            for operation in operations { documented.insert("\(operation.key.uppercased()) \(path.key)") }
        }
        let served = Set(node.router.routes.map { "\($0.method) \($0.pattern)" })
        XCTAssertEqual(documented, served)
        let operationIds = node.router.routes.map(\.doc.operationId)
        XCTAssertEqual(Set(operationIds).count, operationIds.count, "operation ids are unique")
        XCTAssertEqual(document["openapi"], "3.1.0")
    }

    func testEveryProblemTypeIsInTheCatalog() {
        let slugs = Set(OutpostNode.problemCatalog.map(\.slug))
        for type in ProblemType.httpCatalog { XCTAssertTrue(slugs.contains(type.slug), type.slug) }
    }
}

final class ProblemDocsTests: XCTestCase {
    /// docs/problems.md lists every problem type the node answers with, with its status.
    func testTheProblemCatalogIsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("docs/problems.md"), encoding: .utf8)
        for type in OutpostNode.problemCatalog {
            XCTAssertTrue(doc.contains("| `\(type.uri)` | \(type.status) |"), "docs/problems.md lacks \(type.uri) (\(type.status))")
        }
    }

    /// Every problem type the node answers with has its status's reason phrase on the status
    /// line (402 once read "Status 402"), and its body keeps `status` for the HTTP code.
    func testEveryProblemTypeHasAReasonPhraseAndItsHTTPStatusInItsBody() throws {
        for type in OutpostNode.problemCatalog {
            let line = String(decoding: HTTPConnection.statusLine(type.status), as: UTF8.self)
            XCTAssertFalse(line.contains("Status"), "\(type.slug): \(line)")
            var problem = Problem(type, detail: "d", instance: "/x")
            problem.requestId = "r-1"
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(problem.encoded())) as? [String: Any])
            XCTAssertEqual(json["status"] as? Int, type.status, type.slug)
            XCTAssertEqual(json["type"] as? String, type.uri)
            XCTAssertEqual(json["instance"] as? String, "/x")
            XCTAssertEqual(json["request_id"] as? String, "r-1")
        }
        let stored = Problem(.paymentDeclined, detail: "declined").encoded()
        let replayed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(Problem.body(stored, instance: "/api/v1/carts/c/checkout", requestId: "r-2"))) as? [String: Any])
        XCTAssertEqual(replayed["instance"] as? String, "/api/v1/carts/c/checkout")
        XCTAssertEqual(replayed["request_id"] as? String, "r-2")
    }
}
