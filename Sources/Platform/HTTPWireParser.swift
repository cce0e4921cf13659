import CHTTPParser

/// The head of one HTTP/1.x message as it came off the wire.
public struct HTTPWireHead: Sendable {
    /// Request method ("GET"); empty for responses.
    public var method: String = ""
    /// Request target as sent ("/api/v1/node?x=1"); empty for responses.
    public var target: String = ""
    /// Response status code; 0 for requests.
    public var statusCode: Int = 0
    public var versionMajor: Int = 1
    public var versionMinor: Int = 1
    /// Header fields in arrival order, names as sent.
    public var headers: [(name: String, value: String)] = []
    /// http_parser's verdict from version and `Connection`.
    public var keepAlive: Bool = true
    /// Declared `Content-Length`, if any.
    public var contentLength: UInt64?
    public var isChunked: Bool = false
    /// `Connection: upgrade` or CONNECT: the stream stops being HTTP after this message.
    public var isUpgrade: Bool = false
}

/// What to do with the body of a message whose head was just parsed.
public enum HTTPWireBodyDecision: Sendable {
    case read
    /// No body follows (responses to HEAD).
    case skip
    /// Stop parsing now; the owner answers and closes.
    case abort
}

public enum HTTPWireError: Error, Equatable, Sendable {
    /// Request line plus headers exceed the configured limit.
    case headTooLarge
    /// Not HTTP/1.x, with http_parser's reason ("invalid character in header").
    case malformed(String)
    /// The delegate asked to stop.
    case aborted
    /// The stream ended in the middle of a message.
    case truncated
}

public protocol HTTPWireParserDelegate: AnyObject {
    func wireHeadComplete(_ head: HTTPWireHead) -> HTTPWireBodyDecision
    /// A piece of the (de-chunked) body. Return false to abort.
    func wireBody(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// The message is complete. Return false to pause before the next message.
    func wireMessageComplete() -> Bool
}

/// Incremental HTTP/1.x parser over http_parser: feed it bytes as they arrive, in any split.
public final class HTTPWireParser {
    public enum Mode: Sendable { case request, response }

    public enum Outcome: Equatable, Sendable {
        /// Every byte was consumed.
        case consumed
        /// The delegate paused after a message; bytes from `consumed` on are not parsed yet.
        case paused(consumed: Int)
        /// The stream is no longer HTTP after an upgrade; bytes from `consumed` on belong to it.
        case upgraded(consumed: Int)
        case failed(HTTPWireError)
    }

    public weak var delegate: (any HTTPWireParserDelegate)?
    /// Limit on request line + header bytes of one message.
    public let headBytesMax: Int
    private let parser: UnsafeMutablePointer<http_parser>
    private let settings: UnsafeMutablePointer<http_parser_settings>
    private let mode: Mode

    private var head = HTTPWireHead()
    private var targetBytes: [UInt8] = []
    private var fieldBytes: [UInt8] = []
    private var valueBytes: [UInt8] = []
    private var lastWasValue = false
    private var headBytes = 0
    private var failure: HTTPWireError?
    /// True between the first byte of a message and its end.
    public private(set) var isInMessage = false

    public init(mode: Mode, headBytesMax: Int = 16 * 1024) {
        self.mode = mode
        self.headBytesMax = headBytesMax
        parser = .allocate(capacity: 1)
        settings = .allocate(capacity: 1)
        http_parser_init(parser, mode == .request ? HTTP_REQUEST : HTTP_RESPONSE)
        settings.initialize(to: http_parser_settings())
        http_parser_settings_init(settings)
        settings.pointee.on_message_begin = { p in HTTPWireParser.from(p).onMessageBegin() }
        settings.pointee.on_url = { p, at, length in HTTPWireParser.from(p).onTarget(at, length) }
        settings.pointee.on_header_field = { p, at, length in HTTPWireParser.from(p).onField(at, length) }
        settings.pointee.on_header_value = { p, at, length in HTTPWireParser.from(p).onValue(at, length) }
        settings.pointee.on_headers_complete = { p in HTTPWireParser.from(p).onHeadersComplete() }
        settings.pointee.on_body = { p, at, length in HTTPWireParser.from(p).onBody(at, length) }
        settings.pointee.on_message_complete = { p in HTTPWireParser.from(p).onMessageComplete() }
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        parser.deallocate()
        settings.deallocate()
    }

    @inline(__always)
    private static func from(_ p: UnsafeMutablePointer<http_parser>?) -> HTTPWireParser {
        Unmanaged<HTTPWireParser>.fromOpaque(p!.pointee.data!).takeUnretainedValue()  // set in init
    }

    /// Parses as much of `bytes` as possible.
    public func execute(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        guard failure == nil else { return .failed(failure!) }
        guard bytes.count > 0 else { return .consumed }
        let consumed = http_parser_execute(parser, settings, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count)
        if let failure { return .failed(failure) }
        let errno = http_errno(outpost_http_errno(parser))
        if errno == HPE_PAUSED { return .paused(consumed: consumed) }
        if errno != HPE_OK {
            if errno == HPE_HEADER_OVERFLOW { return fail(.headTooLarge) }
            return fail(.malformed(String(cString: http_errno_description(errno))))
        }
        if outpost_http_is_upgrade(parser) != 0 { return .upgraded(consumed: consumed) }
        if consumed != bytes.count { return fail(.malformed("unparsed bytes")) }
        return .consumed
    }

    /// Continues after `.paused`.
    public func resume() {
        http_parser_pause(parser, 0)
    }

    /// Tells the parser the peer closed. Completes a response delimited by EOF; otherwise
    /// reports whether a message was cut short.
    public func finish() -> HTTPWireError? {
        guard failure == nil else { return failure }
        _ = http_parser_execute(parser, settings, nil, 0)
        if failure != nil { return failure }
        if http_errno(outpost_http_errno(parser)) != HPE_OK || isInMessage { return .truncated }
        return nil
    }

    private func fail(_ error: HTTPWireError) -> Outcome {
        failure = error
        return .failed(error)
    }

    private func countHead(_ length: Int) -> Int32 {
        headBytes += length
        if headBytes > headBytesMax {
            failure = .headTooLarge
            return 1
        }
        return 0
    }

    private func onMessageBegin() -> Int32 {
        isInMessage = true
        head = HTTPWireHead()
        // removeAll is not free even on an empty array; most of these are empty here.
        if !targetBytes.isEmpty { targetBytes.removeAll(keepingCapacity: true) }
        if !fieldBytes.isEmpty { fieldBytes.removeAll(keepingCapacity: true) }
        if !valueBytes.isEmpty { valueBytes.removeAll(keepingCapacity: true) }
        lastWasValue = false
        headBytes = 16  // method, version and line ends of the request or status line
        return 0
    }

    private func onTarget(_ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        targetBytes.append(contentsOf: Self.bytes(at, length))
        return countHead(length)
    }

    private func onField(_ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        if lastWasValue {
            commitHeader()
            lastWasValue = false
        }
        if fieldBytes.isEmpty { headBytes += 4 }  // ": " and CRLF of this line
        fieldBytes.append(contentsOf: Self.bytes(at, length))
        return countHead(length)
    }

    private func onValue(_ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        lastWasValue = true
        valueBytes.append(contentsOf: Self.bytes(at, length))
        return countHead(length)
    }

    /// http_parser's (pointer, length) as typed bytes: appending these takes Array's contiguous
    /// fast path (a raw buffer goes through a generic path with a dynamic cast per call).
    @inline(__always)
    private static func bytes(_ at: UnsafePointer<CChar>?, _ length: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: UnsafeRawPointer(at)?.assumingMemoryBound(to: UInt8.self), count: length)
    }

    private func commitHeader() {
        head.headers.append((String(decoding: fieldBytes, as: UTF8.self), String(decoding: valueBytes, as: UTF8.self)))
        fieldBytes.removeAll(keepingCapacity: true)
        valueBytes.removeAll(keepingCapacity: true)
    }

    private func onHeadersComplete() -> Int32 {
        if lastWasValue || !fieldBytes.isEmpty { commitHeader() }
        let p = parser.pointee
        if mode == .request {
            head.method = Self.methodName(outpost_http_method(parser))
            head.target = String(decoding: targetBytes, as: UTF8.self)
        } else {
            head.statusCode = Int(outpost_http_status(parser))
        }
        head.versionMajor = Int(p.http_major)
        head.versionMinor = Int(p.http_minor)
        head.keepAlive = http_should_keep_alive(parser) != 0
        head.isChunked = outpost_http_is_chunked(parser) != 0
        head.contentLength = outpost_http_has_content_length(parser) != 0 ? p.content_length : nil
        head.isUpgrade = outpost_http_is_upgrade(parser) != 0
        guard let delegate else { return 0 }
        switch delegate.wireHeadComplete(head) {
        case .read: return 0
        case .skip: return 1  // http_parser's "no body follows"
        case .abort:
            failure = .aborted
            return 2  // anything else aborts
        }
    }

    private func onBody(_ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        guard let delegate else { return 0 }
        if delegate.wireBody(UnsafeRawBufferPointer(start: at, count: length)) { return 0 }
        failure = .aborted
        return 1
    }

    private func onMessageComplete() -> Int32 {
        isInMessage = false
        guard let delegate else { return 0 }
        if !delegate.wireMessageComplete() { http_parser_pause(parser, 1) }
        return 0
    }

    /// Method names by http_parser's method number, made once.
    private static let methodNames: [String] = (0..<64).map { String(cString: http_method_str(http_method(rawValue: UInt32($0)))) }

    private static func methodName(_ number: UInt32) -> String {
        number < methodNames.count ? methodNames[Int(number)] : "UNKNOWN"
    }
}
