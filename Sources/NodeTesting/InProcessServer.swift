import Foundation
import HTTP
import Platform

/// An `HTTPServer` on its own loop thread inside the test process, reached over real loopback
/// sockets. Routes are added by `routes`, which runs on the loop thread. Connection deadlines run
/// on a clock the test moves (`advanceClock`), so timeouts are tested without sleeping.
public final class InProcessServer: @unchecked Sendable {
    // Sendable: `port` is written before `init` returns and only read after; the loop objects
    // live on the loop thread, and other threads only queue closures (under a lock) and call
    // `waker.wake()` (thread-safe).
    public private(set) var port: UInt16 = 0
    private var waker: LoopWaker?
    private let stopped = DispatchSemaphore(value: 0)
    /// Closures waiting to run on the loop thread.
    private let tasks = Locked<[(HTTPServer) -> Void]>([])
    /// Added to the loop's clock for connection deadlines.
    private let clockOffsetMs = Locked<UInt64>(0)
    /// Runs on the loop thread once the loop ended, before it is closed.
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
                let offset = self.clockOffsetMs
                server.clockMs = { [unowned loop] in loop.nowMs + offset.withLock { $0 } }
                let bound = try server.listen(on: SocketAddress(parsing: address))
                self.port = bound.port
                self.waker = try LoopWaker(loop: loop) { [self] in
                    for task in self.tasks.withLock({ queued in defer { queued = [] }; return queued }) { task(server) }
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

    /// A raw connection; `from` picks the client's address in 127.0.0.0/8 (a different client).
    public func socket(from sourceHost: String? = nil) throws -> BlockingSocket {
        try BlockingSocket(host: "127.0.0.1", port: port, sourceHost: sourceHost)
    }

    public func client() throws -> HTTPClient {
        try HTTPClient(baseURL: baseURL)
    }

    /// Queues `body` to run on the loop thread, without waiting.
    public func enqueue(_ body: @escaping (HTTPServer) -> Void) {
        tasks.withLock { $0.append(body) }
        waker?.wake()
    }

    /// Runs `body` on the loop thread and returns its result.
    public func onLoop<T>(_ body: @escaping (HTTPServer) -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Locked<T?>(nil)
        enqueue { server in
            result.withLock { $0 = body(server) }
            done.signal()
        }
        done.wait()
        return result.withLock { $0 }!  // set before done.signal()
    }

    /// Waits until the server has accepted `count` connections that are still open: a socket's
    /// connect() returns before the loop has accepted it.
    public func waitForOpenConnections(_ count: Int, timeoutSeconds: Double = 10) {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while onLoop({ $0.openConnectionCount }) < count && Date() < deadline { usleep(1_000) }
    }

    /// Returns once the loop has handled every byte the client sent before this call. The bytes
    /// were readable before the second wake-up, so the epoll batch that carries that wake-up or an
    /// earlier one also carried them; the loop handles a whole batch before the next.
    public func settle() {
        waitForOpenConnections(1)
        _ = onLoop { _ in 0 }
        _ = onLoop { _ in 0 }
    }

    /// Moves the server's deadline clock forward and runs its deadline sweep. The clock moves
    /// on the loop thread, between two callbacks, never in the middle of one.
    public func advanceClock(byMs delta: UInt64) {
        let offset = clockOffsetMs
        onLoop { server in
            offset.withLock { $0 += delta }
            server.sweep()
        }
    }

    /// Runs `body` on the loop thread instead of the default stop; `body` must end with
    /// `loop.stop()` eventually (e.g. from `server.shutdown`'s completion).
    public func requestStop(_ body: @escaping @Sendable (HTTPServer) -> Void) {
        enqueue(body)
    }

    /// Closes everything and waits for the loop thread to end. `inspect` runs on the loop thread
    /// first, for loop-owned state such as metrics.
    public func stop(inspect: (@Sendable (HTTPServer) -> Void)? = nil) {
        onStopped.withLock { $0 = inspect }
        enqueue { server in
            server.close()
            server.loop.stop()
        }
        stopped.wait()
    }
}
