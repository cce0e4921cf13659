import Glibc

/// A blocking TCP client socket with deadlines, for command-line tools and tests, never for the
/// loop thread.
public final class BlockingSocket {
    private var fd: Int32
    public private(set) var isClosed = false

    /// Connects to `host:port`; `host` may be a name (resolved with getaddrinfo) or numeric.
    /// `sourceHost` binds the local end first (tests play many clients from 127.0.0.x).
    public init(host: String, port: UInt16, sourceHost: String? = nil, timeoutMs: Int32 = 5_000) throws(PlatformError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw PlatformError(code: -EHOSTUNREACH, operation: "resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        var lastError = PlatformError(code: -ECONNREFUSED, operation: "connect to \(host):\(port)")
        var entry: UnsafeMutablePointer<addrinfo>? = first
        fd = -1
        while let info = entry {
            entry = info.pointee.ai_next
            let candidate = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard candidate >= 0 else { continue }
            if let sourceHost {
                var local = sockaddr_storage()
                guard SocketAddress.fill(&local, host: sourceHost, port: 0),
                      withUnsafePointer(to: &local, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(candidate, $0, info.pointee.ai_addrlen) } }) == 0 else {
                    lastError = PlatformError.errno("bind to \(sourceHost)")
                    Glibc.close(candidate)
                    continue
                }
            }
            if Glibc.connect(candidate, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 || errno == EINPROGRESS {
                var pfd = pollfd(fd: candidate, events: Int16(POLLOUT), revents: 0)
                if poll(&pfd, 1, timeoutMs) == 1 {
                    var soError: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(candidate, SOL_SOCKET, SO_ERROR, &soError, &length)
                    if soError == 0 {
                        fd = candidate
                        break
                    }
                    lastError = PlatformError(code: -soError, operation: "connect to \(host):\(port)")
                } else {
                    lastError = PlatformError(code: -ETIMEDOUT, operation: "connect to \(host):\(port)")
                }
            }
            Glibc.close(candidate)
        }
        guard fd >= 0 else { throw lastError }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
    }

    /// Sends every byte or throws (the peer closed, or `timeoutMs` passed without progress).
    public func send(_ bytes: [UInt8], timeoutMs: Int32 = 5_000) throws(PlatformError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                guard try wait(for: Int16(POLLOUT), timeoutMs: timeoutMs) else {
                    throw PlatformError(code: -ETIMEDOUT, operation: "send")
                }
                continue
            }
            throw PlatformError.errno("send")
        }
    }

    public func send(_ text: String, timeoutMs: Int32 = 5_000) throws(PlatformError) {
        try send(Array(text.utf8), timeoutMs: timeoutMs)
    }

    /// Receives what is available, waiting up to `timeoutMs`. Returns [] when the peer closed.
    /// Throws ETIMEDOUT if nothing arrived in time, or the error (e.g. ECONNRESET).
    public func receive(maxBytes: Int = 64 * 1024, timeoutMs: Int32 = 5_000) throws(PlatformError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, maxBytes, 0) }
            if n > 0 { return Array(buffer[0..<n]) }
            if n == 0 { return [] }
            if errno == EAGAIN || errno == EINTR {
                guard try wait(for: Int16(POLLIN), timeoutMs: timeoutMs) else {
                    throw PlatformError(code: -ETIMEDOUT, operation: "receive")
                }
                continue
            }
            throw PlatformError.errno("receive")
        }
    }

    /// Reads until the peer closes the connection (EOF or reset), up to `maxBytes`.
    public func receiveUntilClosed(maxBytes: Int = 4 << 20, timeoutMs: Int32 = 10_000) throws(PlatformError) -> [UInt8] {
        var out: [UInt8] = []
        while out.count < maxBytes {
            let chunk: [UInt8]
            do { chunk = try receive(timeoutMs: timeoutMs) } catch where error.code == -ECONNRESET { return out }
            if chunk.isEmpty { return out }
            out.append(contentsOf: chunk)
        }
        return out
    }

    /// Half-closes the sending side (the peer reads EOF).
    public func shutdownSending() {
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    private func wait(for events: Int16, timeoutMs: Int32) throws(PlatformError) -> Bool {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        let rc = poll(&pfd, 1, timeoutMs)
        if rc < 0 && errno != EINTR { throw PlatformError.errno("poll") }
        return rc > 0
    }
}

extension TLSConnection {
    /// Completes a client's handshake over a blocking socket (nodectl, tests), for tools, never
    /// the loop. Returns what application bytes arrived with the handshake's last flight, or nil
    /// if the peer closed first. Throws what TLS refuses, or the socket's failure (a timeout).
    public func completeHandshake(over socket: BlockingSocket, timeoutMs: Int32 = 5_000) throws -> [UInt8]? {
        var early = try readPlaintext()
        try socket.send(takeCiphertext(), timeoutMs: timeoutMs)
        while !isHandshakeComplete {
            let chunk = try socket.receive(timeoutMs: timeoutMs)
            guard !chunk.isEmpty else { return nil }
            receiveCiphertext(chunk)
            early += try readPlaintext()
            let out = takeCiphertext()
            if !out.isEmpty { try socket.send(out, timeoutMs: timeoutMs) }
        }
        return early
    }
}
