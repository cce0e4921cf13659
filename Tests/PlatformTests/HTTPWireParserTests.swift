import Platform
import XCTest

private final class Collector: HTTPWireParserDelegate {
    var heads: [HTTPWireHead] = []
    var body: [UInt8] = []
    var completed = 0
    var pauseAfterEach = false
    func wireHeadComplete(_ head: HTTPWireHead) -> HTTPWireBodyDecision { heads.append(head); return .read }
    func wireBody(_ bytes: UnsafeRawBufferPointer) -> Bool { body.append(contentsOf: bytes); return true }
    func wireMessageComplete() -> Bool { completed += 1; return !pauseAfterEach }
}

final class HTTPWireParserTests: XCTestCase {
    private let request = Array("POST /api/v1/carts?x=1 HTTP/1.1\r\nHost: shop\r\nX-Long: abc\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".utf8)

    func testSameResultWhateverTheSplitPoint() {
        for split in 0...request.count {
            let parser = HTTPWireParser(mode: .request)
            let collector = Collector()
            parser.delegate = collector
            XCTAssertEqual(request[..<split].withUnsafeBytes { parser.execute($0) }, .consumed)
            XCTAssertEqual(request[split...].withUnsafeBytes { parser.execute($0) }, .consumed)
            XCTAssertEqual(collector.completed, 1, "split at \(split)")
            XCTAssertEqual(collector.heads.first?.method, "POST")
            XCTAssertEqual(collector.heads.first?.target, "/api/v1/carts?x=1")
            XCTAssertEqual(collector.heads.first?.headers.map(\.name), ["Host", "X-Long", "Transfer-Encoding"])
            XCTAssertEqual(collector.heads.first?.isChunked, true)
            XCTAssertEqual(String(decoding: collector.body, as: UTF8.self), "hello world")
        }
    }

    func testHeadOverTheLimitIsReportedAsTooLarge() {
        let parser = HTTPWireParser(mode: .request, headBytesMax: 1024)
        let collector = Collector()
        parser.delegate = collector
        let big = Array("GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 2000))\r\n\r\n".utf8)
        XCTAssertEqual(big.withUnsafeBytes { parser.execute($0) }, .failed(.headTooLarge))
        XCTAssertEqual(collector.completed, 0)
    }

    func testGarbageIsMalformed() {
        let parser = HTTPWireParser(mode: .request)
        let collector = Collector()
        parser.delegate = collector
        guard case .failed(.malformed) = Array("HELLO\r\n\r\n".utf8).withUnsafeBytes({ parser.execute($0) }) else {
            return XCTFail("garbage must be malformed")
        }
    }

    func testPausesAfterAMessageAndResumesWithTheRest() {
        let parser = HTTPWireParser(mode: .request)
        let collector = Collector()
        collector.pauseAfterEach = true
        parser.delegate = collector
        let two = Array("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n".utf8)
        guard case .paused(let consumed) = two.withUnsafeBytes({ parser.execute($0) }) else { return XCTFail("expected a pause") }
        XCTAssertEqual(consumed, 19)
        parser.resume()
        _ = two[consumed...].withUnsafeBytes { parser.execute($0) }
        XCTAssertEqual(collector.heads.map(\.target), ["/a", "/b"])
    }

    func testKeepAliveFollowsVersionAndConnectionHeader() {
        func keepAlive(_ text: String) -> Bool? {
            let parser = HTTPWireParser(mode: .request)
            let collector = Collector()
            parser.delegate = collector
            _ = Array(text.utf8).withUnsafeBytes { parser.execute($0) }
            return collector.heads.first?.keepAlive
        }
        XCTAssertEqual(keepAlive("GET / HTTP/1.1\r\n\r\n"), true)
        XCTAssertEqual(keepAlive("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), false)
        XCTAssertEqual(keepAlive("GET / HTTP/1.0\r\n\r\n"), false)
        XCTAssertEqual(keepAlive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), true)
    }
}
