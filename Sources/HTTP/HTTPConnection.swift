import Platform

/// One client connection: parses requests, dispatches them, and writes responses in request
/// order (pipelining), whatever order handlers finish in.
///
///     ┌──────┐ closing response, client EOF, drain ┌───────────┐ all answered,  ┌───────────┐ EOF or    ┌────────┐
///     │ open │────────────────────────────────────▶│ answering │───────────────▶│ lingering │──────────▶│ closed │
///     └──────┘                                     └───────────┘ writes drained └───────────┘ linger    └────────┘
///        │ error, timeout, force close                                                     timeout        ▲
///        └────────────────────────────────────────────────────────────────────────────────────────────────┘
///
/// Lingering: after the last response we half-close and keep reading (and discarding) until the
/// client closes or `lingerTimeoutMs`, so a client still sending a refused body reads our answer
/// instead of a reset.
final class HTTPConnection: TCPStreamDelegate, HTTPWireParserDelegate {
    enum State { case open, answering, lingering, closed }
    enum Deadline { case none, header, body, idle, linger }

    /// A request read and not yet written back.
    private struct Exchange {
        let method: String
        let path: String
        let routeIndex: Int?
        let startNs: UInt64
        let requestId: String
        let keepAlive: Bool
        let isHTTP10: Bool
        var response: Response?
    }

    let server: HTTPServer
    let stream: TCPStream
    /// The client's address (host part), as counted for `connectionsPerAddressMax`.
    let address: String
    /// TLS over the stream when the server serves HTTPS; nil for plain HTTP.
    private let tls: TLSConnection?
    private let parser: HTTPWireParser
    /// Position in the server's connection table.
    var index: Int
    private(set) var state = State.open
    /// Loop time (ms) at which `deadline` expires; 0 for none.
    private(set) var deadlineMs: UInt64 = 0
    private var deadline = Deadline.none
    /// Loop time since which this connection waits for its client with nothing to answer
    /// (see `isWaitingForClient`); the server evicts the longest waiting when it is full.
    private(set) var waitingSinceMs: UInt64 = 0

    // The message being read.
    private var head: HTTPWireHead?
    private var match: RouteMatch = .notFound
    /// The request whose head was read: routed and its credentials checked before any body.
    private var pending: Request?
    /// Credentials refused at the head of a request without a body: answered when it ends.
    private var refusal: Problem?
    private var body: [UInt8] = []
    /// The body of a spooling route, on disk.
    private var spool: SpoolFile?
    /// Spools of requests being answered, by sequence: removed once answered.
    private var answeredSpools: [UInt64: SpoolFile] = [:]
    private var bodyLimit = 0
    /// Loop time by which the whole body must have arrived (`HTTPLimits.bodyDeadlineMs`).
    private var bodyDeadlineAtMs: UInt64 = 0
    private var startNs: UInt64 = 0
    private var requestId = ""
    private var path = ""
    private var query: String?

    /// Requests in order; `exchanges[0]` has sequence `firstSequence`.
    private var exchanges: [Exchange] = []
    private var firstSequence: UInt64 = 0
    private var nextSequence: UInt64 = 0
    /// Bytes read but not parsed while paused for pipelining.
    private var savedInput: [UInt8] = []
    private var pausedForPipeline = false
    private var pausedForBackpressure = false
    /// Responses serialized during this read, written with one call.
    private var out: [UInt8] = []
    private var processingInput = false
    private var closeWhenWritten = false

    init(server: HTTPServer, stream: TCPStream, index: Int, address: String) {
        self.server = server
        self.stream = stream
        self.index = index
        self.address = address
        // A context that cannot make a connection (out of memory) leaves it plain: refuse it.
        tls = server.tlsContext.flatMap { try? TLSConnection(context: $0, isServer: true) }
        parser = HTTPWireParser(mode: .request, headBytesMax: server.limits.headBytesMax)
        out.reserveCapacity(1024)
    }

    /// Open with no request being answered (idle, or reading a head or body), or lingering
    /// after its last answer: nothing is lost by closing it.
    var isWaitingForClient: Bool { (state == .open && exchanges.isEmpty) || state == .lingering }

    func start() {
        parser.delegate = self
        stream.delegate = self
        if server.tlsContext != nil && tls == nil { return forceClose() }  // never plain on an HTTPS listener
        waitingSinceMs = server.clockMs()
        setDeadline(.header, server.limits.headerReadTimeoutMs)
        stream.startReading()
    }

    // MARK: Reading

    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .lingering, .answering, .closed: return  // nothing more is parsed; lingering discards
        case .open:
            guard let tls else { return process(bytes) }
            tls.receiveCiphertext(bytes)
            let plaintext: [UInt8]
            do { plaintext = try tls.readPlaintext() } catch {
                server.metrics.malformedRequest()
                return forceClose()  // a failed handshake or a broken record: nothing to answer in
            }
            let handshake = tls.takeCiphertext()
            if !handshake.isEmpty { stream.write(handshake) }
            if !plaintext.isEmpty { plaintext.withUnsafeBytes { process($0) } }
        }
    }

    /// Writes response bytes, through TLS when there is TLS.
    private func send(_ bytes: [UInt8]) {
        guard let tls else { return stream.write(bytes) }
        do { try tls.writePlaintext(bytes) } catch { return forceClose() }
        stream.write(tls.takeCiphertext())
    }

    private func process(_ bytes: UnsafeRawBufferPointer) {
        processingInput = true
        if pausedForPipeline {
            savedInput.append(contentsOf: bytes)
        } else {
            feed(bytes)
        }
        while pausedForPipeline && state == .open && exchanges.count < server.limits.pipelinedRequestsMax {
            pausedForPipeline = false
            parser.resume()
            let input = savedInput
            savedInput = []
            input.withUnsafeBytes { feed($0) }
        }
        processingInput = false
        flush()
        updateDeadline()
        updateReading()
    }

    private func feed(_ bytes: UnsafeRawBufferPointer) {
        switch parser.execute(bytes) {
        case .consumed:
            break
        case .paused(let consumed):
            savedInput = Array(bytes[consumed...])
            if state == .open { pausedForPipeline = true }
        case .upgraded:
            // No protocol upgrades are offered: answer what was asked, then close.
            if state == .open { state = .answering }
        case .failed(.headTooLarge):
            answerEarly(.headersTooLarge, detail: "the request line and headers exceed \(server.limits.headBytesMax) bytes")
        case .failed(.malformed(let reason)):
            server.metrics.malformedRequest()
            answerEarly(.malformedRequest, detail: reason)
        case .failed(.aborted), .failed(.truncated):
            break  // answered where the parse was aborted
        }
    }

    func wireHeadComplete(_ head: HTTPWireHead) -> HTTPWireBodyDecision {
        startNs = EventLoop.hrtimeNs()
        requestId = Self.acceptableRequestId(head.headers) ?? server.nextRequestId()
        self.head = head
        if !body.isEmpty { body.removeAll(keepingCapacity: true) }
        guard head.versionMajor == 1 else {
            answerEarly(.versionNotSupported, detail: "HTTP/\(head.versionMajor).\(head.versionMinor) is not served")
            return .abort
        }
        (path, query) = Request.split(head.target)
        match = server.router.match(method: head.method, path: path)
        bodyLimit = server.limits.bodyBytesMax
        if case .found(let route, _) = match, let max = route.bodyBytesMax { bodyLimit = max }
        if let length = head.contentLength, length > UInt64(bodyLimit) {
            // A route that takes no body is asked the wrong thing, not too much of it.
            if bodyLimit == 0 {
                answerEarly(.unsupportedMediaType, detail: "this route takes no body")
            } else {
                answerEarly(.bodyTooLarge, detail: "the body is \(length) bytes; this route takes at most \(bodyLimit)")
            }
            return .abort
        }
        // Credentials are checked now, before a byte of the body is read: a stranger's upload
        // costs one refused head, whatever its size.
        let hasBody = head.isChunked || (head.contentLength ?? 0) > 0
        var request = Request(method: head.method, target: head.target, path: path, query: query, headers: HTTPHeaders(head.headers),
                              body: [], requestId: requestId, remoteAddress: stream.peerAddress)
        request.isSecure = tls != nil
        refusal = nil
        if case .found(let route, let parameters) = match {
            // Allowances first: a flood is turned away before any work, credentials included.
            // The exemption (the operator's token) is asked only of a request the limits refuse:
            // no header is parsed for the rest.
            if let limiter = server.rateLimiter,
               case .limited(let seconds) = limiter.admit(route.rateClass, address: address, nowMs: Int64(server.clockMs())),
               !server.isExemptFromRateLimits(request) {
                var problem = Problem(.rateLimited, detail: "too many \(route.rateClass.name) requests from this address; retry in \(seconds) s")
                problem.extensions = [("class", .string(route.rateClass.name))]
                answerEarly(problem, headers: [("Retry-After", String(seconds))])
                return .abort
            }
            request.pathParameters = parameters
            if route.access != .anyone {
                switch server.authorize(request, route.access) {
                case .allowed(let subject):
                    request.subject = subject
                case .refused(let problem):
                    guard !hasBody else {
                        answerEarly(problem)
                        return .abort
                    }
                    refusal = problem
                }
            }
            if route.spoolsBody && hasBody && refusal == nil {
                do { spool = try SpoolFile(directory: server.spoolDirectory) } catch {
                    server.onInternalError(request, error)
                    answerEarly(Problem(.internalError, detail: "the node cannot take an upload now; see its log for request \(requestId)"))
                    return .abort
                }
            }
        }
        pending = request
        let expectedBytes = UInt64(head.contentLength.map { Int($0) } ?? min(bodyLimit, server.limits.bodyBytesPerSecondMin))
        bodyDeadlineAtMs = server.clockMs() + server.limits.bodyDeadlineMs
            + expectedBytes * 1000 / UInt64(max(1, server.limits.bodyBytesPerSecondMin))
        if let expect = head.headers.first(where: { HTTPHeaders.sameName($0.name, "expect") })?.value {
            guard expect.lowercased() == "100-continue" else {
                answerEarly(.expectationFailed, detail: "only 100-continue is supported")
                return .abort
            }
            // Only when no earlier response is pending, so responses stay in order; otherwise the
            // client sends the body after its own short wait.
            if exchanges.isEmpty && (head.isChunked || (head.contentLength ?? 0) > 0) {
                out.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
            }
        }
        return .read
    }

    func wireBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let received = spool?.bytesWritten ?? body.count
        guard received + bytes.count <= bodyLimit else {
            discardSpool()
            if bodyLimit == 0 {
                answerEarly(.unsupportedMediaType, detail: "this route takes no body")
            } else {
                answerEarly(.bodyTooLarge, detail: "the body exceeds \(bodyLimit) bytes")
            }
            return false
        }
        guard let spool else {
            body.append(contentsOf: bytes)
            return true
        }
        do { try spool.write(bytes) } catch {
            discardSpool()
            if let pending { server.onInternalError(pending, error) }
            answerEarly(Problem(.internalError, detail: "the upload could not be stored; see the node's log for request \(requestId)"))
            return false
        }
        return true
    }

    private func discardSpool() {
        spool?.discard()
        spool = nil
    }

    func wireMessageComplete() -> Bool {
        guard let head else { return true }
        self.head = nil
        dispatch(head)
        if !head.keepAlive || server.isDraining {
            if state == .open { state = .answering }
            return false
        }
        return exchanges.count < server.limits.pipelinedRequestsMax
    }

    // MARK: Dispatch

    private func dispatch(_ head: HTTPWireHead) {
        let sequence = nextSequence
        nextSequence += 1
        guard var request = pending else { preconditionFailure("a message completed without its head") }
        pending = nil
        request.body = body
        body = []
        if let spool {
            spool.finish()
            request.bodyFile = spool.path
            answeredSpools[sequence] = spool
            self.spool = nil
        }
        var routeIndex: Int?
        if case .found(let route, _) = match { routeIndex = route.index }
        exchanges.append(Exchange(method: head.method, path: request.path, routeIndex: routeIndex, startNs: startNs,
                                  requestId: requestId, keepAlive: head.keepAlive, isHTTP10: head.versionMinor == 0))
        switch match {
        case .notFound:
            complete(sequence, problemResponse(Problem(.notFound, detail: "no route for \(request.path)"), request: request))
        case .methodNotAllowed(let allow):
            var response: Response
            if head.method == "OPTIONS" {
                response = .noContent()
            } else {
                response = problemResponse(Problem(.methodNotAllowed, detail: "\(head.method) is not allowed here"), request: request)
            }
            response.headers.set("Allow", allow.joined(separator: ", "))
            complete(sequence, response)
        case .found(let route, _):
            if let problem = refusal {
                refusal = nil
                complete(sequence, Self.refusalResponse(problemResponse(problem, request: request)))
                return
            }
            if route.formProtection != .none,
               let problem = server.formCheck.map({ $0(request, route.formProtection) }) ?? Problem(.forbidden, detail: "no form check configured") {
                complete(sequence, formPage(problem, request: request) ?? problemResponse(problem, request: request))
                return
            }
            route.handler(request, Responder(connection: self, sequence: sequence))
        }
    }

    /// A 401 names the scheme it wants (RFC 9110 §11.6.1).
    private static func refusalResponse(_ response: Response) -> Response {
        var response = response
        if response.status == 401 { response.headers.set("WWW-Authenticate", "Bearer") }
        return response
    }

    private func problemResponse(_ problem: Problem, request: Request) -> Response {
        var problem = problem
        problem.instance = request.path
        problem.requestId = request.requestId
        return .problem(problem)
    }

    /// Answers the message being read without dispatching it, then stops reading requests.
    private func answerEarly(_ type: ProblemType, detail: String) {
        answerEarly(Problem(type, detail: detail))
    }

    private func answerEarly(_ problem: Problem, headers: [(String, String)] = []) {
        guard state == .open else { return }
        pending = nil
        discardSpool()
        let sequence = nextSequence
        nextSequence += 1
        let target = head?.target ?? ""
        let path = Self.path(of: target)
        if requestId.isEmpty || head == nil { requestId = server.nextRequestId() }
        exchanges.append(Exchange(method: head?.method ?? "-", path: path, routeIndex: nil, startNs: EventLoop.hrtimeNs(),
                                  requestId: requestId, keepAlive: false, isHTTP10: false))
        var problem = problem
        problem.instance = path.isEmpty ? nil : path
        problem.requestId = requestId
        var response = Self.refusalResponse(formPage(problem) ?? Response.problem(problem))
        head = nil
        state = .answering
        for (name, value) in headers { response.headers.set(name, value) }
        response.closesConnection = true
        complete(sequence, response)
    }

    /// For a browser form's route, the refusal as the page a browser shows (`formErrorPage`).
    private func formPage(_ problem: Problem, request: Request? = nil) -> Response? {
        guard let render = server.formErrorPage, case .found(let route, _) = match, route.formProtection != .none,
              let request = request ?? head.map({ Request(method: $0.method, target: $0.target, headers: HTTPHeaders($0.headers), requestId: requestId) })
        else { return nil }
        return render(problem, request)
    }

    // MARK: Writing

    func fail(_ sequence: UInt64, _ error: any Error) {
        guard let exchange = exchange(sequence) else { return }
        complete(sequence, Response.failure(error, method: exchange.method, path: exchange.path, requestId: exchange.requestId,
                                            onInternalError: server.onInternalError))
    }

    private func exchange(_ sequence: UInt64) -> Exchange? {
        guard sequence >= firstSequence else { return nil }
        let position = Int(sequence - firstSequence)
        return position < exchanges.count ? exchanges[position] : nil
    }

    func complete(_ sequence: UInt64, _ response: Response) {
        answeredSpools.removeValue(forKey: sequence)?.discard()
        guard state != .closed else { return }  // the client left; nothing to write to
        precondition(sequence >= firstSequence && Int(sequence - firstSequence) < exchanges.count, "answer for an unknown request")
        let position = Int(sequence - firstSequence)
        precondition(exchanges[position].response == nil, "a request was answered twice")
        exchanges[position].response = response
        while let first = exchanges.first, let ready = first.response {
            exchanges.removeFirst()
            firstSequence += 1
            write(ready, for: first)
        }
        if exchanges.isEmpty { waitingSinceMs = server.clockMs() }
        if !processingInput {
            flush()
            if pausedForPipeline && exchanges.count < server.limits.pipelinedRequestsMax && state == .open {
                process(UnsafeRawBufferPointer(start: nil, count: 0))
            } else {
                updateDeadline()
                updateReading()
            }
        }
    }

    private func write(_ response: Response, for exchange: Exchange) {
        let isLast = response.closesConnection || !exchange.keepAlive || (state != .open && exchanges.isEmpty && !pausedForPipeline)
        let start = out.count
        HTTPConnection.serialize(response, requestId: exchange.requestId, dateLine: server.dateLine, secure: tls != nil,
                                 omitBody: exchange.method == "HEAD", closing: isLast, http10KeepAlive: exchange.isHTTP10 && !isLast, into: &out)
        let durationNs = EventLoop.hrtimeNs() &- exchange.startNs
        server.metrics.record(routeIndex: exchange.routeIndex, status: response.status, durationNs: durationNs)
        server.accessLog?.record(method: exchange.method, path: exchange.path,
                                 route: exchange.routeIndex.map { server.router.routes[$0].pattern },
                                 status: response.status, bytes: out.count - start, durationNs: durationNs,
                                 requestId: exchange.requestId, remote: stream.peerAddress)
        if isLast {
            closeWhenWritten = true
            if state == .open { state = .answering }
            exchanges.removeAll()  // nothing after a closing response is answered
            savedInput = []
        }
    }

    private func flush() {
        if !out.isEmpty {
            send(out)
            out.removeAll(keepingCapacity: true)
        }
        if closeWhenWritten && state == .answering {
            if stream.queuedWriteBytes == 0 { beginLinger() }
        } else if state == .answering && exchanges.isEmpty && !parser.isInMessage {
            // Every request was answered and no more will be read (client EOF or drain).
            closeWhenWritten = true
            if stream.queuedWriteBytes == 0 { beginLinger() }
        }
    }

    func streamDidDrain(_ stream: TCPStream) {
        if closeWhenWritten && state == .answering {
            beginLinger()
        } else {
            updateReading()
        }
    }

    private func updateReading() {
        guard state == .open else { return }
        pausedForBackpressure = stream.queuedWriteBytes > server.limits.writeQueueBytesHigh
        if pausedForPipeline || pausedForBackpressure {
            stream.stopReading()
        } else {
            stream.startReading()
        }
    }

    // MARK: Closing

    private func beginLinger() {
        guard state == .answering else { return }
        // A client that already closed its side has nothing left to send: close now.
        if stream.hasEnded {
            forceClose()
            return
        }
        state = .lingering
        if let tls {
            tls.shutdown()  // close_notify: the client knows the answer is whole
            let closing = tls.takeCiphertext()
            if !closing.isEmpty { stream.write(closing) }
        }
        stream.shutdownWrites()
        setDeadline(.linger, server.limits.lingerTimeoutMs)
        stream.startReading()
    }

    func streamDidEnd(_ stream: TCPStream, error: PlatformError?) {
        if error != nil || state == .lingering || parser.isInMessage {
            forceClose()
            return
        }
        // The client half-closed: answer what it already asked, then close.
        if state == .open { state = .answering }
        if exchanges.isEmpty {
            forceClose()
        } else {
            closeWhenWritten = true
        }
    }

    /// Server drain: idle connections close now; busy ones after their answers.
    func drain() {
        switch state {
        case .open:
            if exchanges.isEmpty && !parser.isInMessage {
                forceClose()
            } else if !parser.isInMessage {
                state = .answering
            }
        case .answering, .lingering, .closed:
            break
        }
    }

    func forceClose() {
        guard state != .closed else { return }
        state = .closed
        deadlineMs = 0
        stream.close()
    }

    func streamDidClose(_ stream: TCPStream) {
        state = .closed
        discardSpool()  // a body cut off; spools of dispatched requests go when they are answered
        parser.delegate = nil
        server.remove(self)
    }

    // MARK: Deadlines

    private func setDeadline(_ kind: Deadline, _ afterMs: UInt64) {
        deadline = kind
        deadlineMs = server.clockMs() + afterMs
    }

    private func updateDeadline() {
        switch state {
        case .closed, .lingering: return
        case .open, .answering: break
        }
        if parser.isInMessage && head == nil {
            // Head still arriving: the header deadline runs from the request's first byte and is
            // never extended, however slowly bytes trickle in.
            if deadline != .header { setDeadline(.header, server.limits.headerReadTimeoutMs) }
        } else if parser.isInMessage {
            // The gap between reads, but never past the whole body's deadline.
            deadline = .body
            deadlineMs = min(server.clockMs() + server.limits.bodyReadTimeoutMs, bodyDeadlineAtMs)
        } else if !exchanges.isEmpty {
            deadline = .none
            deadlineMs = 0
        } else if deadline != .idle && state == .open {
            setDeadline(.idle, server.limits.idleTimeoutMs)
        }
    }

    func deadlineExpired() {
        server.metrics.connectionTimedOut()
        switch deadline {
        case .header where parser.isInMessage && exchanges.isEmpty:
            answerEarly(.requestTimeout, detail: "the request head did not arrive within \(server.limits.headerReadTimeoutMs) ms")
            flush()
        default:
            forceClose()
        }
    }

    // MARK: Helpers

    static func path(of target: String) -> String {
        Request.split(target).path
    }

    /// A client's X-Request-Id is kept if short and made of safe characters; logs must not be
    /// injectable through it.
    static func acceptableRequestId(_ headers: [(name: String, value: String)]) -> String? {
        guard let value = headers.first(where: { HTTPHeaders.sameName($0.name, "x-request-id") })?.value,
              !value.isEmpty, value.utf8.count <= 64,
              value.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 || $0 == 46 })
        else { return nil }
        return value
    }
}
