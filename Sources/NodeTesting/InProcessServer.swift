import Foundation
import HTTP
import Platform

/// An `HTTPServer` on its own loop thread inside the test process, reached over real loopback
/// sockets. Routes are added by `routes`, which runs on the loop thread.
public final class InProcessServer: @unchecked Sendable {
    // Sendable: `port` is written before `init` returns and only read after; the loop objects
    // live on the loop thread, and other threads touch only `waker.wake()` (thread-safe).
    public private(set) var port: UInt16 = 0
    private var waker: LoopWaker?
    private let stopped = DispatchSemaphore(value: 0)
    private let stopRequest = Locked<((HTTPServer) -> Void)?>(nil)
    /// Runs on the loop thread once the server is stopped: metrics and other loop-owned state.
    private let onStopped = Locked<((HTTPServer) -> Void)?>(nil)

    public init(limits: HTTPLimits = HTTPLimits(), address: String = "127.0.0.1:0",
                routes: @escaping @Sendable (Router, EventLoop) -> Void) throws {
        let ready = DispatchSemaphore(value: 0)
        let startError = Locked<(any Error)?>(nil)
        let thread = Thread { [self] in
            do {
                let loop = try EventLoop()
                let router = Router()
                routes(router, loop)
                let server = try HTTPServer(loop: loop, router: router, limits: limits)
                let bound = try server.listen(on: SocketAddress(parsing: address))
                self.port = bound.port
                self.waker = try LoopWaker(loop: loop) { [self] in
                    let request = self.stopRequest.withLock { $0 }
                    if let request {
                        request(server)
                    } else {
                        server.close()
                        loop.stop()
                    }
                }
                ready.signal()
                loop.run()
                self.onStopped.withLock { $0 }?(server)
                loop.close()
            } catch {
                startError.withLock { $0 = error }
                ready.signal()
            }
            self.stopped.signal()
        }
        thread.stackSize = 4 << 20
        thread.start()
        ready.wait()
        if let error = startError.withLock({ $0 }) { throw error }
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public func socket() throws -> BlockingSocket {
        try BlockingSocket(host: "127.0.0.1", port: port)
    }

    public func client() throws -> HTTPClient {
        try HTTPClient(baseURL: baseURL)
    }

    /// Runs `body` on the loop thread instead of the default stop; `body` must end with
    /// `loop.stop()` eventually (e.g. from `server.shutdown`'s completion).
    public func requestStop(_ body: @escaping @Sendable (HTTPServer) -> Void) {
        stopRequest.withLock { $0 = body }
        waker?.wake()
    }

    /// Closes everything and waits for the loop thread to end.
    public func stop(inspect: (@Sendable (HTTPServer) -> Void)? = nil) {
        onStopped.withLock { $0 = inspect }
        waker?.wake()
        stopped.wait()
    }
}
