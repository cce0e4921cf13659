import Platform

/// An HTTP/1.1 server on one event loop.
///
/// Connections are tracked in one table; a single sweep timer enforces every connection's
/// deadline (header read, body read, idle keep-alive, linger) instead of one timer each.
///
/// ```swift
/// let server = try HTTPServer(loop: loop, router: router)
/// let bound = try server.listen(on: SocketAddress(parsing: "127.0.0.1:0"))
/// loop.run()
/// ```
public final class HTTPServer {
    /// How often deadlines are checked and the `Date` header refreshed.
    public static let sweepIntervalMs: UInt64 = 100

    public let loop: EventLoop
    public let router: Router
    public let limits: HTTPLimits
    public let metrics: HTTPMetrics
    public var accessLog: AccessLog?
    /// Decides whether a request may use a route with the given access.
    public var authorize: (Request, Access) -> Authorization = { _, access in
        access == .anyone ? .allowed(subject: nil) : .refused(Problem(.unauthorized, detail: "no authorizer configured"))
    }
    /// Milliseconds on a monotonic clock, for connection deadlines. The loop's clock unless a
    /// test injects one (and then calls `sweep()` itself instead of waiting).
    public var clockMs: () -> UInt64

    /// Told about errors handlers threw that were not `HTTPError`s (answered 500).
    public var onInternalError: (Request, any Error) -> Void = { _, _ in }
    /// Where routes that spool their bodies write them (created by the owner, 0700).
    public var spoolDirectory = "/tmp"
    /// Checks a browser form's post (`Route.formProtection`) once its body is read: nil lets it
    /// through, a problem refuses it. Without one, protected forms are refused.
    public var formCheck: ((Request, FormProtection) -> Problem?)?
    /// Renders a refusal of a browser form's post (too large, too many, not from this site) as
    /// the page a browser shows instead of problem+json; nil for problem+json everywhere.
    public var formErrorPage: ((Problem, Request) -> Response)?
    /// When set, every listener speaks HTTPS with it; replaced (reloaded certificate) for new
    /// connections while old ones keep theirs.
    public var tlsContext: TLSContext?
    /// Allowances per client address and route class; nil for none (tests of other things).
    public var rateLimiter: RateLimiter?
    /// Requests the allowances do not refuse: the node's own operator (its admin token), who is
    /// not the flood they guard against and must be able to act during one. Asked only of a
    /// request they would refuse (it still draws on its address's allowance).
    public var isExemptFromRateLimits: (Request) -> Bool = { _ in false }
    private var lastPruneMs: UInt64 = 0

    private var listeners: [TCPListener] = []
    private var connections: [HTTPConnection] = []
    /// Open connections per client address (the host part), for `connectionsPerAddressMax`.
    private var connectionsPerAddress: [String: Int] = [:]
    private var sweepTimer: LoopTimer?
    /// "Date: <IMF-fixdate>\r\n", refreshed each second by the sweep.
    private(set) var dateLine: [UInt8] = []
    private var dateSecond: Int64 = -1
    private var requestCounter: UInt64 = 0
    /// Random per process so ids from different runs do not collide.
    private let requestIdPrefix: String
    public private(set) var isDraining = false
    private var drained: (() -> Void)?
    private var drainTimer: LoopTimer?

    public init(loop: EventLoop, router: Router, limits: HTTPLimits = HTTPLimits(), metrics: HTTPMetrics = HTTPMetrics()) throws(PlatformError) {
        self.loop = loop
        self.router = router
        self.limits = limits
        self.metrics = metrics
        clockMs = { [unowned loop] in loop.nowMs }
        requestIdPrefix = String(Hex.encode(SecureRandom.bytes(4)))
        requestIdScratch = Array((requestIdPrefix + "-").utf8)
        requestIdPrefixBytes = requestIdScratch.count
        requestIdScratch += [UInt8](repeating: 0, count: 16)  // room for a 64-bit counter in hex
        refreshDate()
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMs: Self.sweepIntervalMs, repeatMs: Self.sweepIntervalMs) { [unowned self] in self.sweep() }
        timer.unref()
        sweepTimer = timer
    }

    /// Starts listening; returns the bound address (the real port when `address` has port 0).
    @discardableResult
    public func listen(on address: SocketAddress) throws(PlatformError) -> SocketAddress {
        // Routes are complete once serving starts; label metrics by them.
        if !metrics.isConfigured(for: router.routes.count) { metrics.configure(routes: router.routes) }
        let listener = try TCPListener(loop: loop, address: address) { [unowned self] stream in self.accept(stream) }
        listeners.append(listener)
        return listener.localAddress
    }

    public var addresses: [SocketAddress] { listeners.map(\.localAddress) }
    public var openConnectionCount: Int { connections.count }

    private func accept(_ stream: TCPStream) {
        let address = stream.peerAddress?.host ?? ""
        guard !isDraining, connectionsPerAddress[address, default: 0] < limits.connectionsPerAddressMax,
              connections.count < limits.connectionsMax || evictLongestWaiting() else {
            metrics.connectionRefused()
            stream.close()
            return
        }
        metrics.connectionAccepted()
        connectionsPerAddress[address, default: 0] += 1
        let connection = HTTPConnection(server: self, stream: stream, index: connections.count, address: address)
        connections.append(connection)
        connection.start()
    }

    /// Makes room for a new connection: closes the one that has waited longest for its client
    /// (idle between requests, or reading a head or body that trickles in). Connections whose
    /// requests are being answered are never taken. Returns false if none waits.
    ///
    /// - Complexity: O(open connections); runs only when the table is full.
    private func evictLongestWaiting() -> Bool {
        var victim: HTTPConnection?
        for connection in connections where connection.isWaitingForClient {
            if victim.map({ connection.waitingSinceMs < $0.waitingSinceMs }) ?? true { victim = connection }
        }
        guard let victim else { return false }
        metrics.connectionEvicted()
        victim.forceClose()
        // Its slot frees when libuv has closed the handle; the table may briefly hold one more.
        return true
    }

    func remove(_ connection: HTTPConnection) {
        let index = connection.index
        precondition(connections[index] === connection, "connection table out of step")
        if let count = connectionsPerAddress[connection.address] {
            connectionsPerAddress[connection.address] = count > 1 ? count - 1 : nil
        }
        let last = connections.removeLast()
        if index < connections.count {
            connections[index] = last
            last.index = index
        }
        metrics.connectionClosed()
        if isDraining && connections.isEmpty { finishDrain() }
    }

    /// "<8 random hex>-<counter in hex>": unique per process run, no formatting library.
    func nextRequestId() -> String {
        requestCounter &+= 1
        let counter = requestCounter
        let digits = (64 - counter.leadingZeroBitCount + 3) / 4
        return requestIdScratch.withUnsafeMutableBufferPointer { buffer in
            var value = counter
            for position in stride(from: requestIdPrefixBytes + digits - 1, through: requestIdPrefixBytes, by: -1) {
                buffer[position] = Self.hexDigits[Int(value & 0xF)]
                value >>= 4
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<(requestIdPrefixBytes + digits)]), as: UTF8.self)
        }
    }

    /// Prefix bytes plus room for the counter; a stored property (a lazy one would copy the
    /// array on every mutation).
    private var requestIdScratch: [UInt8]
    private let requestIdPrefixBytes: Int

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private func refreshDate() {
        let second = WallClock.nowMs() / 1000
        guard second != dateSecond else { return }
        dateSecond = second
        dateLine = Array("Date: \(WallClock.httpDate(seconds: second))\r\n".utf8)
    }

    /// Expires connections whose deadline has passed, refreshes the `Date` header and flushes
    /// the access log. Runs from the sweep timer; tests with an injected clock call it directly.
    public func sweep() {
        refreshDate()
        accessLog?.sink.flush()
        let now = clockMs()
        if let rateLimiter, now >= lastPruneMs + 10_000 {
            lastPruneMs = now
            rateLimiter.prune(nowMs: Int64(now))
        }
        // Iterate over a copy: an expiring connection may remove itself.
        for connection in connections where connection.deadlineMs != 0 && now >= connection.deadlineMs {
            connection.deadlineExpired()
        }
    }

    /// Graceful stop: stop accepting, close idle connections, let requests in flight finish and
    /// close their connections; after `graceMs` close whatever is left. `completion` runs once,
    /// when no connection is open.
    public func shutdown(graceMs: UInt64, completion: @escaping () -> Void) {
        guard !isDraining else { return }
        isDraining = true
        drained = completion
        for listener in listeners { listener.close() }
        listeners.removeAll()
        for connection in connections { connection.drain() }
        if connections.isEmpty {
            finishDrain()
            return
        }
        do {
            let timer = try LoopTimer(loop: loop)
            timer.start(afterMs: graceMs) { [unowned self] in
                for connection in self.connections { connection.forceClose() }
            }
            drainTimer = timer
        } catch {
            for connection in connections { connection.forceClose() }
        }
    }

    private func finishDrain() {
        drainTimer?.close()
        drainTimer = nil
        sweepTimer?.close()
        sweepTimer = nil
        accessLog?.sink.flush()
        let done = drained
        drained = nil
        done?()
    }

    /// Closes listeners and every connection at once (tests; shutdown uses `shutdown`).
    public func close() {
        for listener in listeners { listener.close() }
        listeners.removeAll()
        for connection in connections { connection.forceClose() }
        sweepTimer?.close()
        sweepTimer = nil
        drainTimer?.close()
        drainTimer = nil
        accessLog?.sink.flush()
    }

    // MARK: In-process requests

    /// Runs a request through its route as if it had come over a connection: matched,
    /// authorized by `authorize`, its body held to the route's limit, handled. For pages that
    /// act through the node's own API (the back office), so an action there passes exactly the
    /// checks of the API. Browser-form routes and spooled uploads are not for this.
    public func dispatch(_ request: Request, completion: @escaping (Response) -> Void) {
        var request = request
        func refuse(_ problem: Problem) {
            var problem = problem
            problem.instance = request.path
            problem.requestId = request.requestId
            completion(.problem(problem))
        }
        switch router.match(method: request.method, path: request.path) {
        case .notFound: refuse(Problem(.notFound, detail: "no route for \(request.path)"))
        case .methodNotAllowed: refuse(Problem(.methodNotAllowed, detail: "\(request.method) is not allowed here"))
        case .found(let route, let parameters):
            precondition(route.formProtection == .none && !route.spoolsBody, "\(route.pattern) is not an API route")
            if request.body.count > route.bodyBytesMax ?? limits.bodyBytesMax {
                return refuse(Problem(.bodyTooLarge, detail: "the body is over the \(route.bodyBytesMax ?? limits.bodyBytesMax) bytes this route takes"))
            }
            request.pathParameters = parameters
            if route.access != .anyone {
                switch authorize(request, route.access) {
                case .allowed(let subject): request.subject = subject
                case .refused(let problem): return refuse(problem)
                }
            }
            route.handler(request, Responder(local: LocalAnswer(request: request, onInternalError: onInternalError, completion: completion)))
        }
    }

    /// A request id for a request made within the process.
    public func makeRequestId() -> String { nextRequestId() }
}
