import Platform

/// A response as a client received it.
public struct ClientResponse: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }

    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONCoding.decode(type, from: body)
    }
}

public enum HTTPClientError: Error, CustomStringConvertible, Sendable {
    case invalidURL(String)
    /// Could not connect: refused, unreachable, timed out.
    case unreachable(String, PlatformError)
    /// Connected, but the exchange failed or timed out.
    case exchangeFailed(String)

    public var description: String {
        switch self {
        case .invalidURL(let url): return "invalid node URL \"\(url)\" (expected http://HOST:PORT or https://HOST:PORT)"
        case .unreachable(let url, let error): return "cannot reach \(url): \(error.reason)"
        case .exchangeFailed(let why): return why
        }
    }
}

/// A small blocking HTTP/1.1 client for `nodectl` and tests: one keep-alive connection, reused
/// while the server keeps it open. Not for the loop thread.
public final class HTTPClient {
    public let baseURL: String
    public let host: String
    public let port: UInt16
    private var socket: BlockingSocket?
    /// HTTPS: the context that pins the CA the node's certificate must chain to, and the TLS of
    /// the open connection.
    private let tlsContext: TLSContext?
    private let checksServerName: Bool
    private var tls: TLSConnection?
    public var timeoutMs: Int32
    /// A receiver the node calls (a webhook) is not trusted: its answer's body is cut at this
    /// many bytes, and the whole exchange at `exchangeDeadlineMs` however the bytes trickle in.
    public var responseBodyBytesMax = Int.max
    public var exchangeDeadlineMs: Int64?
    /// The local address to connect from (tests play clients at 127.0.0.x); nil for any.
    public let sourceHost: String?

    /// `baseURL` is "http://HOST:PORT" or "https://HOST:PORT" (IPv6 hosts in brackets); a
    /// trailing path is ignored. HTTPS needs `trusting`: the PEM of the CA the node's certificate
    /// must chain to (the fleet's, for nodectl), and nothing else is trusted.
    public convenience init(baseURL: String, timeoutMs: Int32 = 10_000, sourceHost: String? = nil, trusting authorityPEM: String? = nil) throws(HTTPClientError) {
        var context: TLSContext?
        if baseURL.hasPrefix("https://") {
            guard let authorityPEM else { throw .exchangeFailed("\(baseURL) is HTTPS: give the CA its certificate must chain to (nodectl: --ca FILE)") }
            do { context = try TLSContext(clientTrusting: authorityPEM) } catch { throw .exchangeFailed("the CA for \(baseURL) does not read: \(error)") }
        }
        try self.init(baseURL: baseURL, timeoutMs: timeoutMs, sourceHost: sourceHost, tlsContext: context, checksServerName: false)
    }

    /// `tlsContext` for HTTPS (required then); `checksServerName`: the server's certificate must
    /// name the host dialed (servers on the web; not fleet nodes, whose certificates name node ids).
    public init(baseURL: String, timeoutMs: Int32, sourceHost: String? = nil, tlsContext: TLSContext?, checksServerName: Bool) throws(HTTPClientError) {
        self.baseURL = baseURL
        self.timeoutMs = timeoutMs
        self.sourceHost = sourceHost
        self.checksServerName = checksServerName
        let scheme: String
        if baseURL.hasPrefix("https://") {
            scheme = "https://"
            guard let tlsContext else { throw .exchangeFailed("\(baseURL) is HTTPS: a TLS context is needed") }
            self.tlsContext = tlsContext
        } else {
            guard baseURL.hasPrefix("http://") else { throw .invalidURL(baseURL) }
            scheme = "http://"
            self.tlsContext = nil
        }
        var authority = baseURL.dropFirst(scheme.count)
        if let slash = authority.firstIndex(of: "/") { authority = authority[..<slash] }
        let text = String(authority)
        if let address = try? SocketAddress(parsing: text) {
            host = address.host
            port = address.port
        } else if let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), !text[..<colon].isEmpty {
            host = String(text[..<colon])
            self.port = port
        } else {
            throw .invalidURL(baseURL)
        }
    }

    /// Sends one request and reads the whole response.
    public func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws(HTTPClientError) -> ClientResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        let bytes = Array(head.utf8) + (body ?? [])
        // A reused connection may have been closed by the server's idle timeout: retry once on a
        // fresh one, but only requests that are safe to send twice.
        if socket != nil {
            if method == "GET" || method == "HEAD" {
                if let response = try? exchange(bytes, method: method) { return response }
            } else {
                return try exchange(bytes, method: method)
            }
        }
        socket = nil
        return try exchange(bytes, method: method)
    }

    public func get(_ path: String, headers: [(String, String)] = []) throws(HTTPClientError) -> ClientResponse {
        try send("GET", path, headers: headers)
    }

    public func close() {
        socket?.close()
        socket = nil
        tls = nil
    }

    /// Connects (and over HTTPS completes the handshake, the node's certificate checked against
    /// the pinned CA).
    private func connect() throws(HTTPClientError) -> BlockingSocket {
        let socket: BlockingSocket
        do { socket = try BlockingSocket(host: host, port: port, sourceHost: sourceHost, timeoutMs: timeoutMs) } catch { throw .unreachable(baseURL, error) }
        self.socket = socket
        guard let tlsContext else { return socket }
        do {
            let tls = try TLSConnection(context: tlsContext, isServer: false, serverName: checksServerName ? host : nil)
            guard try tls.completeHandshake(over: socket, timeoutMs: timeoutMs) != nil else { throw TLSHandshakeIncomplete() }
            self.tls = tls
        } catch {
            close()
            throw .exchangeFailed("no TLS with \(baseURL): \(error) (is its certificate from the CA given?)")
        }
        return socket
    }

    private struct TLSHandshakeIncomplete: Error, CustomStringConvertible {
        var description: String { "the node closed the connection during the handshake" }
    }

    private func exchange(_ bytes: [UInt8], method: String) throws(HTTPClientError) -> ClientResponse {
        let socket: BlockingSocket
        if let open = self.socket { socket = open } else { socket = try connect() }
        var wire = bytes
        if let tls {
            do { try tls.writePlaintext(bytes) } catch { throw .exchangeFailed("TLS to \(baseURL) failed: \(error)") }
            wire = tls.takeCiphertext()
        }
        do { try socket.send(wire, timeoutMs: timeoutMs) } catch { throw .exchangeFailed("sending to \(baseURL) failed: \(error.reason)") }
        let isHead = method == "HEAD"
        let reader = ResponseParser(isHeadResponse: { _ in isHead })
        reader.bodyBytesMax = responseBodyBytesMax
        let deadlineNs = exchangeDeadlineMs.map { EventLoop.hrtimeNs() &+ UInt64(max(0, $0)) * 1_000_000 }
        while reader.responses.isEmpty {
            if let deadlineNs, EventLoop.hrtimeNs() > deadlineNs {
                self.socket = nil
                throw .exchangeFailed("\(baseURL) did not answer within \(exchangeDeadlineMs ?? 0) ms")
            }
            var chunk: [UInt8]
            do { chunk = try socket.receive(timeoutMs: timeoutMs) } catch {
                self.socket = nil
                throw .exchangeFailed("reading from \(baseURL) failed: \(error.reason)")
            }
            if let tls, !chunk.isEmpty {
                tls.receiveCiphertext(chunk)
                do { chunk = try tls.readPlaintext() } catch {
                    self.socket = nil
                    throw .exchangeFailed("TLS from \(baseURL) failed: \(error)")
                }
                if chunk.isEmpty { continue }
            }
            if chunk.isEmpty {
                self.socket = nil
                if let error = reader.finish() { throw .exchangeFailed("\(baseURL) closed the connection mid-response (\(error))") }
                if reader.responses.isEmpty { throw .exchangeFailed("\(baseURL) closed the connection without answering") }
                break
            }
            if let error = reader.feed(chunk) {
                self.socket = nil
                if reader.bodyTooLarge { throw .exchangeFailed("\(baseURL) answered with a body over \(responseBodyBytesMax) bytes") }
                throw .exchangeFailed("\(baseURL) sent an invalid response (\(error))")
            }
        }
        guard let response = reader.take().first else { throw .exchangeFailed("\(baseURL) sent no response") }
        if !reader.keepAlive { self.socket = nil }
        return response
    }
}

/// Parses a stream of responses (one or many, pipelined) as bytes arrive.
public final class ResponseParser: HTTPWireParserDelegate {
    private let parser = HTTPWireParser(mode: .response, headBytesMax: 64 * 1024)
    /// Whether the n-th response (0-based) answers a HEAD request and so has no body.
    private let isHeadResponse: (Int) -> Bool
    private var head: HTTPWireHead?
    private var body: [UInt8] = []
    /// Responses completed and not yet taken.
    public private(set) var responses: [ClientResponse] = []
    private var completed = 0
    /// Whether the last complete response allows the connection to be reused.
    public private(set) var keepAlive = false
    /// A body longer than this stops the parse (`bodyTooLarge`).
    public var bodyBytesMax = Int.max
    public private(set) var bodyTooLarge = false

    public init(isHeadResponse: @escaping (Int) -> Bool = { _ in false }) {
        self.isHeadResponse = isHeadResponse
        parser.delegate = self
    }

    /// Feeds bytes; returns the parse error if the stream is not valid HTTP.
    public func feed(_ bytes: [UInt8]) -> HTTPWireError? {
        let outcome = bytes.withUnsafeBytes { parser.execute($0) }
        if case .failed(let error) = outcome { return error }
        return nil
    }

    /// The peer closed: completes a response delimited by EOF, or reports a cut-off one.
    public func finish() -> HTTPWireError? {
        parser.finish()
    }

    /// Removes and returns the completed responses.
    public func take() -> [ClientResponse] {
        defer { responses.removeAll() }
        return responses
    }

    public func wireHeadComplete(_ head: HTTPWireHead) -> HTTPWireBodyDecision {
        // 1xx interim responses (100 Continue) are skipped: the final one follows.
        if head.statusCode >= 100 && head.statusCode < 200 { return .read }
        self.head = head
        body = []
        return isHeadResponse(completed) ? .skip : .read
    }

    public func wireBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= bodyBytesMax else {
            bodyTooLarge = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    public func wireMessageComplete() -> Bool {
        guard let head else { return true }
        self.head = nil
        keepAlive = head.keepAlive
        responses.append(ClientResponse(status: head.statusCode, headers: HTTPHeaders(head.headers), body: body))
        completed += 1
        return true
    }
}
