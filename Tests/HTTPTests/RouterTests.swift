import HTTP
import Platform
import XCTest

final class RouterTests: XCTestCase {
    private let doc = RouteDoc(operationId: "x", summary: "x", tags: [], replies: [])

    private func router() -> Router {
        let router = Router()
        router.get("/api/v1/products", doc: doc) { _ in .noContent() }
        router.get("/api/v1/products/{id}", doc: doc) { _ in .noContent() }
        router.add("DELETE", "/api/v1/products/{id}", doc: doc) { _ in .noContent() }
        router.get("/api/v1/products/{id}/reviews", doc: doc) { _ in .noContent() }
        return router
    }

    func testMatchesLiteralAndParameterSegments() {
        guard case .found(let route, let parameters) = router().match(method: "GET", path: "/api/v1/products/sku%2042") else {
            return XCTFail("expected a match")
        }
        XCTAssertEqual(route.pattern, "/api/v1/products/{id}")
        XCTAssertEqual(parameters.first?.value, "sku 42", "parameters are percent-decoded")
        guard case .found(let nested, _) = router().match(method: "GET", path: "/api/v1/products/9/reviews") else { return XCTFail() }
        XCTAssertEqual(nested.pattern, "/api/v1/products/{id}/reviews")
    }

    func testAnEncodedSlashStaysInsideItsSegment() {
        guard case .found(_, let parameters) = router().match(method: "GET", path: "/api/v1/products/a%2Fb") else { return XCTFail() }
        XCTAssertEqual(parameters.first?.value, "a/b")
    }

    func testWrongMethodListsTheAllowedOnes() {
        guard case .methodNotAllowed(let allow) = router().match(method: "POST", path: "/api/v1/products/1") else { return XCTFail() }
        XCTAssertEqual(allow, ["DELETE", "GET", "HEAD", "OPTIONS"])
    }

    func testHeadIsServedByGet() {
        guard case .found(let route, _) = router().match(method: "HEAD", path: "/api/v1/products") else { return XCTFail() }
        XCTAssertEqual(route.method, "GET")
    }

    func testUnknownPathsAreNotFound() {
        for path in ["/", "/api", "/api/v1/products/1/reviews/2", "/api/v1/nope", "/api/v1/products/%zz"] {
            guard case .notFound = router().match(method: "GET", path: path) else { return XCTFail(path) }
        }
    }

    func testRepeatedSlashesDoNotMatter() {
        guard case .found(let route, _) = router().match(method: "GET", path: "//api//v1/products/") else { return XCTFail() }
        XCTAssertEqual(route.pattern, "/api/v1/products")
    }
}

final class ProblemTests: XCTestCase {
    func testProblemJSONHasTheRFC9457Members() throws {
        var problem = Problem(.notFound, detail: "no product 42", instance: "/api/v1/products/42")
        problem.requestId = "r-1"
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(problem.encoded())) as? [String: Any])
        XCTAssertEqual(json["type"] as? String, "/problems/not-found")
        XCTAssertEqual(json["title"] as? String, "Not found")
        XCTAssertEqual(json["status"] as? Int, 404)
        XCTAssertEqual(json["detail"] as? String, "no product 42")
        XCTAssertEqual(json["instance"] as? String, "/api/v1/products/42")
        XCTAssertEqual(json["request_id"] as? String, "r-1")
    }

    func testProblemSlugsAreUnique() {
        let slugs = ProblemType.httpCatalog.map(\.slug)
        XCTAssertEqual(Set(slugs).count, slugs.count)
    }

    func testJSONStringsEscapeControlCharacters() {
        var out: [UInt8] = []
        JSONText.appendString("a\"b\\c\nd\u{1}", to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), #""a\"b\\c\nd\u0001""#)
    }
}
