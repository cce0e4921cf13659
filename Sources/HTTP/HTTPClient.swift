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
        case .invalidURL(let url): return "invalid node URL \"\(url)\" (expected http://HOST:PORT)"
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
    public var timeoutMs: Int32

    /// `baseURL` is "http://HOST:PORT" (IPv6 hosts in brackets); a trailing path is ignored.
    public init(baseURL: String, timeoutMs: Int32 = 10_000) throws(HTTPClientError) {
        self.baseURL = baseURL
        self.timeoutMs = timeoutMs
        guard baseURL.hasPrefix("http://") else { throw .invalidURL(baseURL) }
        var authority = baseURL.dropFirst("http://".count)
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
        // A reused connection may have been closed by the server's idle timeout: retry once fresh.
        if socket != nil, let response = try? exchange(bytes, method: method) { return response }
        socket = nil
        return try exchange(bytes, method: method)
    }

    public func get(_ path: String, headers: [(String, String)] = []) throws(HTTPClientError) -> ClientResponse {
        try send("GET", path, headers: headers)
    }

    public func close() {
        socket?.close()
        socket = nil
    }

    private func exchange(_ bytes: [UInt8], method: String) throws(HTTPClientError) -> ClientResponse {
        let socket: BlockingSocket
        if let existing = self.socket {
            socket = existing
        } else {
            do { socket = try BlockingSocket(host: host, port: port, timeoutMs: timeoutMs) } catch { throw .unreachable(baseURL, error) }
            self.socket = socket
        }
        do { try socket.send(bytes, timeoutMs: timeoutMs) } catch { throw .exchangeFailed("sending to \(baseURL) failed: \(error.reason)") }
        let reader = ResponseReader(skipBody: method == "HEAD")
        while !reader.isComplete {
            let chunk: [UInt8]
            do { chunk = try socket.receive(timeoutMs: timeoutMs) } catch {
                self.socket = nil
                throw .exchangeFailed("reading from \(baseURL) failed: \(error.reason)")
            }
            if chunk.isEmpty {
                self.socket = nil
                if let error = reader.finish() { throw .exchangeFailed("\(baseURL) closed the connection mid-response (\(error))") }
                break
            }
            if let error = reader.feed(chunk) {
                self.socket = nil
                throw .exchangeFailed("\(baseURL) sent an invalid response (\(error))")
            }
        }
        guard let response = reader.response else { throw .exchangeFailed("\(baseURL) sent no response") }
        if !reader.keepAlive { self.socket = nil }
        return response
    }
}

/// Collects one response from the wire parser.
private final class ResponseReader: HTTPWireParserDelegate {
    private let parser = HTTPWireParser(mode: .response, headBytesMax: 64 * 1024)
    private let skipBody: Bool
    private var head: HTTPWireHead?
    private var body: [UInt8] = []
    private(set) var response: ClientResponse?
    private(set) var keepAlive = false

    init(skipBody: Bool) {
        self.skipBody = skipBody
        parser.delegate = self
    }

    var isComplete: Bool { response != nil }

    func feed(_ bytes: [UInt8]) -> HTTPWireError? {
        let outcome = bytes.withUnsafeBytes { parser.execute($0) }
        if case .failed(let error) = outcome { return error }
        return nil
    }

    func finish() -> HTTPWireError? {
        response == nil ? (parser.finish() ?? (response == nil ? .truncated : nil)) : nil
    }

    func wireHeadComplete(_ head: HTTPWireHead) -> HTTPWireBodyDecision {
        // 1xx interim responses (100 Continue) are skipped: the final one follows.
        if head.statusCode >= 100 && head.statusCode < 200 { return .read }
        self.head = head
        return skipBody ? .skip : .read
    }

    func wireBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        body.append(contentsOf: bytes)
        return true
    }

    func wireMessageComplete() -> Bool {
        guard let head else { return true }
        keepAlive = head.keepAlive
        response = ClientResponse(status: head.statusCode, headers: HTTPHeaders(head.headers), body: body)
        return false
    }
}
