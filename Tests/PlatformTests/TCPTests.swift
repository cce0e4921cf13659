import Foundation
import NodeTesting
import Platform
import XCTest

/// Echoes what it reads; records what the stream reports.
private final class EchoPeer: TCPStreamDelegate {
    var ended = false
    var drained = 0
    var closed = false
    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) { stream.write(bytes) }
    func streamDidEnd(_ stream: TCPStream, error: PlatformError?) { ended = true; stream.close() }
    func streamDidDrain(_ stream: TCPStream) { drained += 1 }
    func streamDidClose(_ stream: TCPStream) { closed = true }
}

final class TCPTests: XCTestCase {
    private func echoRoundTrip(host: String) throws {
        let loop = try EventLoop()
        let peer = EchoPeer()
        var listener: TCPListener?
        listener = try TCPListener(loop: loop, address: SocketAddress(host: host, port: 0)) { stream in
            stream.delegate = peer
            stream.startReading()
            listener?.close()
        }
        let port = try XCTUnwrap(listener?.localAddress.port)
        XCTAssertNotEqual(port, 0, "port 0 is replaced by the port the kernel chose")
        let reply = Locked<[UInt8]>([])
        let clientDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { clientDone.signal() }
            guard let socket = try? BlockingSocket(host: host, port: port) else { return }
            try? socket.send("hello outpost")
            socket.shutdownSending()
            let bytes = (try? socket.receiveUntilClosed(timeoutMs: 5_000)) ?? []
            reply.withLock { $0 = bytes }
        }
        loop.run()
        clientDone.wait()
        XCTAssertEqual(String(decoding: reply.withLock { $0 }, as: UTF8.self), "hello outpost")
        XCTAssertTrue(peer.ended)
        XCTAssertTrue(peer.closed)
        loop.close()
    }

    func testListensOnIPv4PortZeroAndEchoes() throws {
        try echoRoundTrip(host: "127.0.0.1")
    }

    func testListensOnIPv6PortZeroAndEchoes() throws {
        try echoRoundTrip(host: "::1")
    }

    func testListeningOnABusyPortFailsWithoutCallbacks() throws {
        let loop = try EventLoop()
        let first = try TCPListener(loop: loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { _ in XCTFail("no connection expected") }
        XCTAssertThrowsError(try TCPListener(loop: loop, address: first.localAddress) { _ in XCTFail("no callback after a failed start") }) { error in
            XCTAssertEqual((error as? PlatformError)?.name, "EADDRINUSE")
        }
        loop.close()
    }

    func testAddressParsing() throws {
        XCTAssertEqual(try SocketAddress(parsing: "127.0.0.1:8080"), SocketAddress(host: "127.0.0.1", port: 8080))
        XCTAssertEqual(try SocketAddress(parsing: "[::1]:0"), SocketAddress(host: "::1", port: 0))
        XCTAssertEqual(try SocketAddress(parsing: "localhost:80").host, "127.0.0.1")
        XCTAssertEqual(SocketAddress(host: "::1", port: 9).description, "[::1]:9")
        for bad in ["127.0.0.1", "example.com:80", "1.2.3.4:99999", "::1:80", "[::1]80", ":80", "999.1.1.1:1"] {
            XCTAssertThrowsError(try SocketAddress(parsing: bad), bad)
        }
    }

    /// A writer whose peer does not read sees bytes queue up, and is told when they drain.
    func testWritesQueueWhileThePeerDoesNotReadAndDrainLater() throws {
        let loop = try EventLoop()
        let payload = [UInt8](repeating: 0x61, count: 8 << 20)
        final class Writer: TCPStreamDelegate {
            var queuedPeak = 0
            var drained = false
            func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {}
            func streamDidEnd(_ stream: TCPStream, error: PlatformError?) { stream.close() }
            func streamDidDrain(_ stream: TCPStream) { drained = true; stream.close() }
            func streamDidClose(_ stream: TCPStream) {}
        }
        let writer = Writer()
        var listener: TCPListener?
        listener = try TCPListener(loop: loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { stream in
            stream.delegate = writer
            stream.write(payload)
            writer.queuedPeak = stream.queuedWriteBytes
            stream.startReading()
            listener?.close()
        }
        let port = try XCTUnwrap(listener?.localAddress.port)
        let received = Locked(0)
        let release = DispatchSemaphore(value: 0)
        let clientDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { clientDone.signal() }
            guard let socket = try? BlockingSocket(host: "127.0.0.1", port: port) else { return }
            release.wait()  // do not read until the server has seen its writes queue
            let bytes = (try? socket.receiveUntilClosed(maxBytes: 16 << 20, timeoutMs: 10_000)) ?? []
            received.withLock { $0 = bytes.count }
        }
        let check = try LoopTimer(loop: loop)
        check.start(afterMs: 50) { release.signal(); check.close() }
        loop.run()
        clientDone.wait()
        XCTAssertGreaterThan(writer.queuedPeak, 0, "the kernel cannot take 8 MiB at once from a peer that does not read")
        XCTAssertTrue(writer.drained)
        XCTAssertEqual(received.withLock { $0 }, payload.count, "every byte arrives, in one piece")
        loop.close()
    }
}
