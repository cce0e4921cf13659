import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// Feeds the server thousands of random and mutated requests, split at random byte boundaries,
/// and checks after each batch that it still answers a valid request. SEED=<n> replays a run.
final class HTTPFuzzTests: XCTestCase {
    private static let seeds: [String] = [
        "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HEAD /items/42 HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
        "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /items/%41 HTTP/1.1\r\n\r\n",
        "OPTIONS /hello HTTP/1.1\r\nHost: a\r\n\r\n",
    ]

    func testRandomAndMutatedRequestsNeverStopTheServer() throws {
        let seed = ProcessInfo.processInfo.environment["SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        print("HTTPFuzzTests seed: \(seed) (SEED=\(seed) to replay)")
        var random = SeededRandom(seed: seed)
        let server = try InProcessServer(limits: {
            var limits = HTTPLimits()
            limits.headerReadTimeoutMs = 300
            limits.bodyReadTimeoutMs = 300
            limits.idleTimeoutMs = 300
            return limits
        }()) { router, _ in
            let doc = RouteDoc(operationId: "f", summary: "f", tags: [], replies: [])
            router.get("/hello", doc: doc) { _ in .text("hello") }
            router.add("POST", "/echo", doc: doc) { request in Response(status: 200, body: request.body) }
            router.get("/items/{id}", doc: doc) { request in .text(request.parameter("id") ?? "") }
        }
        defer { server.stop() }
        let cases = 3_000
        for index in 0..<cases {
            let input = Self.makeInput(&random)
            let socket = try server.socket()
            // Split at random boundaries.
            var offset = 0
            while offset < input.count {
                let length = min(input.count - offset, Int(random.next() % 64) + 1)
                try? socket.send(Array(input[offset..<offset + length]))
                offset += length
            }
            socket.shutdownSending()
            _ = try? socket.receiveUntilClosed(timeoutMs: 5_000)
            socket.close()
            if index % 250 == 249 {
                XCTAssertEqual(try server.client().get("/hello").status, 200, "server answers after case \(index) (SEED=\(seed))")
            }
        }
        XCTAssertEqual(try server.client().get("/hello").text, "hello")
    }

    private static func makeInput(_ random: inout SeededRandom) -> [UInt8] {
        switch random.next() % 4 {
        case 0:
            // Pure noise.
            return (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        default:
            // A valid request (or a pipeline of them) with a few mutations.
            var bytes: [UInt8] = []
            for _ in 0..<(1 + Int(random.next() % 3)) {
                bytes += Array(seeds[Int(random.next() % UInt64(seeds.count))].utf8)
            }
            for _ in 0..<Int(random.next() % 6) where !bytes.isEmpty {
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 5 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.remove(at: position)
                case 2: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
                case 3: bytes.insert(contentsOf: Array(repeating: bytes[position], count: Int(random.next() % 100)), at: position)
                default: bytes.insert(contentsOf: Array("\r\n".utf8), at: position)
                }
            }
            return bytes
        }
    }
}
