import Foundation
import Glibc
import HTTP
import NodeTesting
import Platform
import XCTest

/// The server over real loopback sockets, on its own loop thread.
final class HTTPServerTests: XCTestCase {
    private static let doc = RouteDoc(operationId: "t", summary: "t", tags: [], replies: [])

    /// Routes every test here uses.
    private static func routes(_ router: Router, _ loop: EventLoop) {
        router.get("/hello", doc: doc) { _ in .text("hello") }
        router.add("POST", "/echo", doc: doc) { request in
            Response(status: 200, contentType: "application/octet-stream", body: request.body)
        }
        router.add("POST", "/small", bodyBytesMax: 10, doc: doc) { request in .text("\(request.body.count)") }
        router.get("/items/{id}", doc: doc) { request in .text(request.parameter("id") ?? "") }
        // Answers after a timer: a handler that completes later than the requests behind it.
        router.add("GET", "/slow", doc: doc) { _, responder in
            guard let timer = try? LoopTimer(loop: loop) else { return responder.send(.text("no timer", status: 500)) }
            timer.start(afterMs: 30) {
                responder.send(.text("slow"))
                timer.close()
            }
        }
        router.get("/fail", doc: doc) { _ in throw HTTPError(.validation, detail: "quantity must be positive") }
        router.get("/crash", doc: doc) { _ in
            struct Unexpected: Error {}
            throw Unexpected()
        }
        router.get("/secret", access: .adminToken, doc: doc) { _ in .text("secret") }
        router.add("POST", "/upload", access: .adminToken, bodyBytesMax: 1 << 30, spoolsBody: true, doc: doc) { request in
            let file = request.bodyFile ?? ""
            let size = Files.size(file)
            return .text("\(request.body.count) in memory, \(size) spooled in \(file)")
        }
        router.add("POST", "/lines", doc: doc) { request in
            struct Line: Codable { var sku: String; var quantity: Int }
            let line = try request.decodeJSON(Line.self)
            return .json(line, status: 201)
        }
    }

    private func startServer(_ configure: (inout HTTPLimits) -> Void = { _ in }) throws -> InProcessServer {
        var limits = HTTPLimits()
        configure(&limits)
        return try InProcessServer(limits: limits) { router, loop in HTTPServerTests.routes(router, loop) }
    }

    /// Sends raw bytes and reads responses until `count` arrived or the server closed.
    private func exchange(_ server: InProcessServer, _ raw: String, expecting count: Int = 1, closeAfterSending: Bool = false) throws -> (responses: [ClientResponse], closed: Bool) {
        let socket = try server.socket()
        try socket.send(raw)
        if closeAfterSending { socket.shutdownSending() }
        let methods = raw.components(separatedBy: "\r\n").filter { $0.hasSuffix("HTTP/1.1") || $0.hasSuffix("HTTP/1.0") }.map { $0.split(separator: " ").first.map(String.init) ?? "" }
        let parser = ResponseParser(isHeadResponse: { index in index < methods.count && methods[index] == "HEAD" })
        var responses: [ClientResponse] = []
        var closed = false
        while responses.count < count {
            let chunk = try socket.receive(timeoutMs: 5_000)
            if chunk.isEmpty { closed = true; break }
            XCTAssertNil(parser.feed(chunk))
            responses += parser.take()
        }
        if !closed && responses.count >= count && !parser.keepAlive {
            closed = (try? socket.receive(timeoutMs: 5_000))?.isEmpty ?? true
        }
        return (responses, closed)
    }

    func testKeepAliveServesManyRequestsOnOneConnection() throws {
        let server = try startServer()
        defer { server.stop() }
        let client = try server.client()
        for _ in 0..<20 {
            let response = try client.get("/hello")
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.text, "hello")
            XCTAssertNotNil(response.headers["date"])
        }
    }

    func testPipelinedResponsesComeBackInRequestOrder() throws {
        let server = try startServer()
        defer { server.stop() }
        let raw = "GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /items/7 HTTP/1.1\r\nHost: a\r\n\r\n"
        let (responses, _) = try exchange(server, raw, expecting: 3)
        XCTAssertEqual(responses.map(\.text), ["slow", "hello", "7"], "the slow first answer holds back the fast ones behind it")
    }

    func testManyPipelinedRequestsAllGetAnswers() throws {
        let server = try startServer()
        defer { server.stop() }
        let raw = String(repeating: "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", count: 200)
        let (responses, _) = try exchange(server, raw, expecting: 200)
        XCTAssertEqual(responses.count, 200)
        XCTAssertTrue(responses.allSatisfy { $0.status == 200 })
    }

    func testContentLengthAndChunkedBodiesAreRead() throws {
        let server = try startServer()
        defer { server.stop() }
        let (plain, _) = try exchange(server, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        XCTAssertEqual(plain.first?.text, "hello")
        let (chunked, _) = try exchange(server, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
        XCTAssertEqual(chunked.first?.text, "abcdefg")
    }

    func testExpectContinueGetsAnInterimResponseBeforeTheBody() throws {
        let server = try startServer()
        defer { server.stop() }
        let socket = try server.socket()
        try socket.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let interim = String(decoding: try socket.receive(timeoutMs: 5_000), as: UTF8.self)
        XCTAssertTrue(interim.hasPrefix("HTTP/1.1 100 Continue\r\n"), interim)
        try socket.send("body")
        let parser = ResponseParser()
        while parser.responses.isEmpty { XCTAssertNil(parser.feed(try socket.receive(timeoutMs: 5_000))) }
        XCTAssertEqual(parser.take().first?.text, "body")
    }

    func testUnknownExpectationIs417() throws {
        let server = try startServer()
        defer { server.stop() }
        let (responses, closed) = try exchange(server, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: magic\r\n\r\n")
        XCTAssertEqual(responses.first?.status, 417)
        XCTAssertTrue(closed)
    }

    func testHeadHasTheHeadersOfGetButNoBody() throws {
        let server = try startServer()
        defer { server.stop() }
        let (responses, _) = try exchange(server, "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n", expecting: 2)
        XCTAssertEqual(responses.first?.status, 200)
        XCTAssertEqual(responses.first?.headers["content-length"], "5")
        XCTAssertEqual(responses.first?.body, [])
        XCTAssertEqual(responses.last?.text, "hello", "the next response starts right after the HEAD headers")
    }

    func testWrongMethodIs405WithAllow() throws {
        let server = try startServer()
        defer { server.stop() }
        let response = try server.client().send("PUT", "/hello", body: [])
        XCTAssertEqual(response.status, 405)
        XCTAssertEqual(response.headers["allow"], "GET, HEAD, OPTIONS")
        XCTAssertEqual(response.headers["content-type"], "application/problem+json")
        let options = try server.client().send("OPTIONS", "/hello")
        XCTAssertEqual(options.status, 204)
        XCTAssertEqual(options.headers["allow"], "GET, HEAD, OPTIONS")
    }

    func testHandlerErrorsBecomeProblemsWithStableTypes() throws {
        let server = try startServer()
        defer { server.stop() }
        let client = try server.client()
        let validation = try client.get("/fail", headers: [("X-Request-Id", "trace-123")])
        XCTAssertEqual(validation.status, 422)
        XCTAssertEqual(validation.headers["x-request-id"], "trace-123", "a well-formed client request id is kept")
        let problem = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(validation.body)) as? [String: Any])
        XCTAssertEqual(problem["type"] as? String, "/problems/validation")
        XCTAssertEqual(problem["detail"] as? String, "quantity must be positive")
        XCTAssertEqual(problem["request_id"] as? String, "trace-123")
        let crash = try client.get("/crash")
        XCTAssertEqual(crash.status, 500)
        XCTAssertFalse(crash.text.contains("Unexpected"), "internal errors are not shown to clients")
        let missing = try client.get("/nope")
        XCTAssertEqual(missing.status, 404)
        XCTAssertTrue(missing.text.contains("/problems/not-found"))
    }

    func testJSONBodiesAreDecodedAndBadOnesAreProblems() throws {
        let server = try startServer()
        defer { server.stop() }
        let client = try server.client()
        let json = [("Content-Type", "application/json")]
        let created = try client.send("POST", "/lines", headers: json, body: Array(#"{"sku":"A-1","quantity":2}"#.utf8))
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(created.text, #"{"quantity":2,"sku":"A-1"}"#)
        let wrongType = try client.send("POST", "/lines", headers: [("Content-Type", "text/plain")], body: Array("x".utf8))
        XCTAssertEqual(wrongType.status, 415)
        let broken = try client.send("POST", "/lines", headers: json, body: Array("{not json".utf8))
        XCTAssertEqual(broken.status, 400)
        XCTAssertTrue(broken.text.contains("/problems/malformed-json"))
        let shape = try client.send("POST", "/lines", headers: json, body: Array(#"{"sku":"A-1","quantity":"two"}"#.utf8))
        XCTAssertEqual(shape.status, 422)
        XCTAssertTrue(shape.text.contains("quantity has the wrong type"), shape.text)
        let missing = try client.send("POST", "/lines", headers: json, body: Array(#"{"sku":"A-1"}"#.utf8))
        XCTAssertEqual(missing.status, 422)
        XCTAssertTrue(missing.text.contains("quantity is required"), missing.text)
    }

    func testUnsafeRequestIdsAreReplaced() throws {
        let server = try startServer()
        defer { server.stop() }
        let response = try server.client().get("/hello", headers: [("X-Request-Id", "evil\"id with spaces")])
        XCTAssertNotEqual(response.headers["x-request-id"], "evil\"id with spaces")
        XCTAssertFalse(response.headers["x-request-id"]?.isEmpty ?? true)
    }

    func testRoutesNeedingCredentialsAreRefusedWithout() throws {
        let server = try startServer()
        defer { server.stop() }
        let response = try server.client().get("/secret")
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(response.headers["www-authenticate"], "Bearer")
    }

    func testHeadOver16KiBIs431AndTheConnectionCloses() throws {
        let server = try startServer()
        defer { server.stop() }
        let raw = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Filler: \(String(repeating: "x", count: 17 * 1024))\r\n\r\n"
        let (responses, closed) = try exchange(server, raw)
        XCTAssertEqual(responses.first?.status, 431)
        XCTAssertTrue(closed)
    }

    func testHeadJustUnder16KiBIsServed() throws {
        let server = try startServer()
        defer { server.stop() }
        let raw = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Filler: \(String(repeating: "x", count: 15 * 1024))\r\n\r\n"
        XCTAssertEqual(try exchange(server, raw).responses.first?.status, 200)
    }

    func testOversizedBodyIs413WithoutBeingRead() throws {
        let server = try startServer()
        defer { server.stop() }
        // Only the head is sent: the answer must come without waiting for 5 MB that never arrive.
        let (responses, closed) = try exchange(server, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000000\r\n\r\n")
        XCTAssertEqual(responses.first?.status, 413)
        XCTAssertTrue(responses.first?.text.contains("/problems/body-too-large") ?? false)
        XCTAssertTrue(closed)
    }

    func testRoutesCanLowerTheBodyLimitAndChunkedBodiesAreCounted() throws {
        let server = try startServer()
        defer { server.stop() }
        XCTAssertEqual(try exchange(server, "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789").responses.first?.text, "10")
        XCTAssertEqual(try exchange(server, "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n").responses.first?.status, 413)
        let chunked = "POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n"
        XCTAssertEqual(try exchange(server, chunked).responses.first?.status, 413)
    }

    func testMalformedRequestIs400AndTheConnectionCloses() throws {
        let server = try startServer()
        defer { server.stop() }
        for raw in ["NOT HTTP AT ALL\r\n\r\n", "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",
                    "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"] {
            let (responses, closed) = try exchange(server, raw)
            XCTAssertEqual(responses.first?.status, 400, raw)
            XCTAssertTrue(closed, raw)
        }
    }

    func testOtherHTTPVersionsAre505() throws {
        let server = try startServer()
        defer { server.stop() }
        let (responses, closed) = try exchange(server, "GET /hello HTTP/9.9\r\nHost: a\r\n\r\n")
        XCTAssertEqual(responses.first?.status, 505)
        XCTAssertTrue(closed)
    }

    func testSlowHeadIsCutOffByTheHeaderTimeout() throws {
        let server = try startServer { $0.headerReadTimeoutMs = 10_000 }
        defer { server.stop() }
        let socket = try server.socket()
        try socket.send("GET /hello HTTP/1.1\r\nHost: a\r\n")
        server.waitForOpenConnections(1)
        server.advanceClock(byMs: 6_000)
        // Bytes keep trickling in, but the deadline runs from the first byte and is never extended.
        try socket.send("X-A: b\r\n")
        server.advanceClock(byMs: 3_000)
        try socket.send("X-B: c\r\n")
        XCTAssertThrowsError(try socket.receive(timeoutMs: 50), "no answer before the deadline")
        server.advanceClock(byMs: 1_001)
        let received = try socket.receiveUntilClosed(timeoutMs: 5_000)
        XCTAssertTrue(String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1 408 "), "slowloris gets 408 and is closed")
    }

    func testASilentNewConnectionIsClosedAfterTheHeaderTimeout() throws {
        let server = try startServer { $0.headerReadTimeoutMs = 10_000 }
        defer { server.stop() }
        let socket = try server.socket()
        server.waitForOpenConnections(1)
        server.advanceClock(byMs: 9_000)
        XCTAssertThrowsError(try socket.receive(timeoutMs: 50), "still open before the deadline")
        server.advanceClock(byMs: 1_001)
        XCTAssertEqual(try socket.receiveUntilClosed(timeoutMs: 5_000), [], "closed without a word")
    }

    func testIdleKeepAliveConnectionIsClosed() throws {
        let server = try startServer { $0.idleTimeoutMs = 75_000 }
        defer { server.stop() }
        let socket = try server.socket()
        try socket.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        let parser = ResponseParser()
        while parser.responses.isEmpty { XCTAssertNil(parser.feed(try socket.receive(timeoutMs: 5_000))) }
        server.advanceClock(byMs: 74_000)
        XCTAssertThrowsError(try socket.receive(timeoutMs: 50), "an idle connection is kept until the timeout")
        server.advanceClock(byMs: 1_001)
        XCTAssertEqual(try socket.receiveUntilClosed(timeoutMs: 5_000), [], "closed with no further bytes")
    }

    func testAStalledBodyIsCutOff() throws {
        let server = try startServer { $0.bodyReadTimeoutMs = 30_000 }
        defer { server.stop() }
        let socket = try server.socket()
        try socket.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        server.settle()  // the head was read, so the body deadline runs
        server.advanceClock(byMs: 30_001)
        XCTAssertEqual(try socket.receiveUntilClosed(timeoutMs: 5_000), [])
    }

    func testConnectionsBeyondTheLimitAreClosedAtOnce() throws {
        let server = try startServer { $0.connectionsMax = 2 }
        defer { server.stop() }
        let first = try server.client(), second = try server.client()
        XCTAssertEqual(try first.get("/hello").status, 200)
        XCTAssertEqual(try second.get("/hello").status, 200)
        let third = try server.socket()
        try? third.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual((try? third.receiveUntilClosed(timeoutMs: 5_000)) ?? [], [], "the third connection is closed unanswered")
        first.close()
        // Once one closes, a new connection is served again.
        var served = false
        for _ in 0..<100 where !served {
            served = (try? server.client().get("/hello").status) == 200
            if !served { usleep(10_000) }
        }
        XCTAssertTrue(served)
    }

    func testCredentialsAreRefusedAtTheHeadBeforeAByteOfTheBodyIsRead() throws {
        let server = try startServer()
        defer { server.stop() }
        let socket = try server.socket()
        // 200 MiB announced, not one byte of it sent: the answer comes from the head alone.
        try socket.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 209715200\r\nContent-Type: application/x-ndjson\r\n\r\n")
        let answer = String(decoding: try socket.receiveUntilClosed(timeoutMs: 5_000), as: UTF8.self)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 401 "), answer)
        XCTAssertTrue(answer.contains("WWW-Authenticate: Bearer"), answer)
        XCTAssertTrue(answer.contains("Connection: close"), "a refused upload's connection closes: \(answer)")
        // Without a body the connection stays usable.
        let client = try server.client()
        XCTAssertEqual(try client.get("/secret").status, 401)
        XCTAssertEqual(try client.get("/hello").status, 200, "the same connection answers the next request")
    }

    func testASpooledBodyIsOnDiskForTheHandlerAndGoneOnceAnswered() throws {
        let server = try startServer()
        defer { server.stop() }
        let spool = TemporaryDirectory(prefix: "spool")
        server.onLoop { server in
            server.spoolDirectory = spool.path
            server.authorize = { request, _ in request.bearerToken == "t" ? .allowed(subject: nil) : .refused(Problem(.unauthorized, detail: "no")) }
        }
        let client = try server.client()
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 3 << 20)
        let response = try client.send("POST", "/upload", headers: [("Authorization", "Bearer t")], body: body)
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.text.hasPrefix("0 in memory, \(3 << 20) spooled in \(spool.path)/body-"), response.text)
        XCTAssertEqual(try Files.list(spool.path), [], "the spool is removed once answered")
        // A body cut off halfway leaves nothing behind either.
        let socket = try server.socket()
        try socket.send("POST /upload HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\nContent-Length: 1000000\r\n\r\n" + String(repeating: "y", count: 5000))
        server.settle()
        XCTAssertEqual(try Files.list(spool.path).count, 1)
        socket.close()
        server.waitForOpenConnections(0)
        for _ in 0..<200 where server.onLoop({ $0.openConnectionCount }) > 0 { usleep(5_000) }
        XCTAssertEqual(try Files.list(spool.path), [])
    }

    func testABodyTrickledInByteByByteIsCutOffAtItsWholeDeadline() throws {
        let server = try startServer { $0.bodyReadTimeoutMs = 30_000; $0.bodyDeadlineMs = 30_000 }
        defer { server.stop() }
        let socket = try server.socket()
        try socket.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\n\r\nx")
        server.settle()
        // One byte every 20 s never trips the gap timeout, but the whole body is due within
        // 30 s plus its size at the slowest allowed rate (4000 B at 64 KiB/s: 61 ms).
        server.advanceClock(byMs: 20_000)
        try socket.send("x")
        server.settle()
        server.advanceClock(byMs: 10_000)
        XCTAssertThrowsError(try socket.receive(timeoutMs: 50), "still open just before the deadline")
        server.advanceClock(byMs: 62)
        XCTAssertEqual(try socket.receiveUntilClosed(timeoutMs: 5_000), [], "closed at the deadline")
    }

    func testOneAddressCannotHoldMoreThanItsShareOfConnections() throws {
        let server = try startServer { $0.connectionsPerAddressMax = 3 }
        defer { server.stop() }
        let held = try (0..<3).map { _ in try server.socket(from: "127.0.0.2") }
        server.waitForOpenConnections(3)
        let fourth = try server.socket(from: "127.0.0.2")
        try? fourth.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual((try? fourth.receiveUntilClosed(timeoutMs: 5_000)) ?? [], [], "a fourth connection from the same address is closed")
        let other = try server.socket(from: "127.0.0.3")
        try other.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertTrue(String(decoding: try other.receive(timeoutMs: 5_000), as: UTF8.self).hasPrefix("HTTP/1.1 200 "), "another address is served")
        XCTAssertEqual(held.count, 3)
    }

    func testAFullServerTakesTheSlotOfTheClientThatWaitedLongest() throws {
        let server = try startServer { $0.connectionsMax = 4 }
        defer { server.stop() }
        // Four slow uploads from four addresses fill every slot, the first one oldest.
        var slow: [BlockingSocket] = []
        for index in 0..<4 {
            let socket = try server.socket(from: "127.0.1.\(index + 1)")
            try socket.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\n\r\nx")
            slow.append(socket)
            server.waitForOpenConnections(index + 1)
            server.advanceClock(byMs: 1_000)
        }
        let client = try server.socket(from: "127.0.2.1")
        try client.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertTrue(String(decoding: try client.receive(timeoutMs: 5_000), as: UTF8.self).hasPrefix("HTTP/1.1 200 "), "a new client is served")
        XCTAssertEqual(try slow[0].receiveUntilClosed(timeoutMs: 5_000), [], "the longest-waiting slow upload gave up its slot")
        XCTAssertThrowsError(try slow[3].receive(timeoutMs: 50), "the newest slow upload is still open")
        XCTAssertEqual(server.onLoop { $0.metrics.connectionsEvicted }, 1)
    }

    func testClientThatHalfClosesStillGetsItsAnswers() throws {
        let server = try startServer()
        defer { server.stop() }
        let (responses, closed) = try exchange(server, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n", expecting: 2, closeAfterSending: true)
        XCTAssertEqual(responses.map(\.text), ["slow", "hello"])
        XCTAssertEqual(responses.last?.headers["connection"], "close")
        XCTAssertTrue(closed, "closed once answered, without waiting out the linger timeout")
    }

    func testGracefulShutdownFinishesRequestsInFlight() throws {
        let server = try startServer()
        let socket = try server.socket()
        try socket.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(5_000)  // let the request reach its handler; the answer comes 30 ms later
        let drained = Locked(false)
        server.requestStop { httpServer in
            httpServer.shutdown(graceMs: 5_000) {
                drained.withLock { $0 = true }
                httpServer.loop.stop()
            }
        }
        let bytes = try socket.receiveUntilClosed(timeoutMs: 5_000)
        let parser = ResponseParser()
        XCTAssertNil(parser.feed(bytes))
        let response = parser.take().first
        XCTAssertEqual(response?.text, "slow", "the request in flight was answered")
        XCTAssertEqual(response?.headers["connection"], "close")
        server.stop()
        XCTAssertTrue(drained.withLock { $0 })
    }

    func testMetricsCountRequestsByRouteAndStatus() throws {
        let server = try startServer()
        let client = try server.client()
        _ = try client.get("/hello")
        _ = try client.get("/hello")
        _ = try client.get("/nope")
        let counts = Locked<[UInt64]>([])
        server.stop { httpServer in
            counts.withLock { $0 = [httpServer.metrics.count(route: "/hello", status: 200), httpServer.metrics.count(route: "unmatched", status: 404)] }
        }
        XCTAssertEqual(counts.withLock { $0 }, [2, 1])
    }
}
