/// How a node reaches its mail relay.
public struct SMTPRelay: Sendable {
    public enum Security: String, Sendable, CaseIterable {
        /// Plain TCP, then STARTTLS before anything else; a relay that does not offer it gets nothing.
        case starttls
        /// TLS from the first byte (port 465).
        case tls
        /// No TLS at all: a relay on the box or a trusted network only.
        case none
    }

    public var host: String
    public var port: UInt16
    public var security: Security
    /// AUTH PLAIN with these, over TLS only.
    public var username: String?
    public var password: String?
    /// The name this node gives in EHLO.
    public var heloName: String
    /// Trusts the system's CAs (and a configured file); the relay's certificate must name `host`.
    public var tls: TLSContext?
    public var timeoutMs: Int32

    public init(host: String, port: UInt16, security: Security, username: String? = nil, password: String? = nil, heloName: String,
                tls: TLSContext?, timeoutMs: Int32 = 30_000) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.heloName = heloName
        self.tls = tls
        self.timeoutMs = timeoutMs
    }
}

/// Why a message was not handed over. `permanent`: the relay said no for good (5xx); trying
/// again would not help.
public struct SMTPFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let permanent: Bool

    init(_ description: String, permanent: Bool = false) {
        self.description = description
        self.permanent = permanent
    }
}

/// Hands one message to a relay (RFC 5321): blocking, for a work-queue thread, never the loop.
/// Everything the relay says is bounded: a reply is at most 64 KiB, each read waits at most the
/// relay's timeout, and the whole exchange at most three times that.
public final class SMTPSession {
    private let relay: SMTPRelay
    private var socket: BlockingSocket?
    private var tls: TLSConnection?
    private var buffered: [UInt8] = []
    private let deadlineNs: UInt64

    public static func send(_ message: [UInt8], from: String, to recipients: [String], via relay: SMTPRelay) throws(SMTPFailure) {
        let session = SMTPSession(relay: relay)
        defer { session.close() }
        try session.deliver(message, from: from, to: recipients)
    }

    private init(relay: SMTPRelay) {
        self.relay = relay
        deadlineNs = EventLoop.hrtimeNs() &+ UInt64(relay.timeoutMs) * 3_000_000
    }

    private func deliver(_ message: [UInt8], from: String, to recipients: [String]) throws(SMTPFailure) {
        for address in [from] + recipients where address.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 60 || $0 == 62 }) {
            throw SMTPFailure("the address \(address) holds characters SMTP cannot carry", permanent: true)
        }
        do { socket = try BlockingSocket(host: relay.host, port: relay.port, timeoutMs: relay.timeoutMs) } catch {
            throw SMTPFailure("cannot reach the relay \(relay.host):\(relay.port): \(error.reason)")
        }
        if relay.security == .tls { try startTLS() }
        try expect(220, after: nil)
        var extensions = try hello()
        if relay.security == .starttls {
            guard extensions.contains("STARTTLS") else { throw SMTPFailure("the relay does not offer STARTTLS; nothing was sent in the clear") }
            try expect(220, after: "STARTTLS")
            try startTLS()
            extensions = try hello()
        }
        if let username = relay.username {
            guard tls != nil else { throw SMTPFailure("a password goes to the relay over TLS only", permanent: true) }
            guard extensions.contains(where: { $0.hasPrefix("AUTH") && $0.split(separator: " ").contains("PLAIN") }) else {
                throw SMTPFailure("the relay does not offer AUTH PLAIN", permanent: true)
            }
            let credentials = Base64.encode([0] + Array(username.utf8) + [0] + Array((relay.password ?? "").utf8), url: false, padded: true)
            try expect(235, after: "AUTH PLAIN " + credentials, shown: "AUTH PLAIN ***")
        }
        try expect(250, after: "MAIL FROM:<\(from)>")
        for recipient in recipients { try expect(250, 251, after: "RCPT TO:<\(recipient)>") }
        try expect(354, after: "DATA")
        try write(Self.dotStuffed(message) + Array("\r\n.\r\n".utf8))
        try expect(250, after: nil)
        try? write(Array("QUIT\r\n".utf8))
    }

    /// EHLO; the extensions the relay announced.
    private func hello() throws(SMTPFailure) -> [String] {
        let lines = try expect(250, after: "EHLO \(relay.heloName)")
        return lines.dropFirst().map { $0.uppercased() }
    }

    private func startTLS() throws(SMTPFailure) {
        guard let context = relay.tls, let socket else { throw SMTPFailure("no TLS context for the relay", permanent: true) }
        do {
            let connection = try TLSConnection(context: context, isServer: false, serverName: relay.host)
            guard let early = try connection.completeHandshake(over: socket, timeoutMs: relay.timeoutMs) else {
                throw SMTPFailure("the relay closed the connection during the TLS handshake")
            }
            tls = connection
            buffered = early
        } catch let failure as SMTPFailure {
            throw failure
        } catch {
            throw SMTPFailure("no TLS with the relay \(relay.host): \(error)")
        }
    }

    /// Sends a command (if any) and reads the reply; anything but `codes` is a failure, permanent
    /// for 5xx. Returns the reply's lines without their codes.
    @discardableResult
    private func expect(_ codes: Int..., after command: String?, shown: String? = nil) throws(SMTPFailure) -> [String] {
        if let command { try write(Array((command + "\r\n").utf8)) }
        let (code, lines) = try readReply()
        guard codes.contains(code) else {
            let what = shown ?? command ?? "the greeting"
            throw SMTPFailure("the relay answered \(what) with \(code) \(lines.joined(separator: " "))", permanent: (500...599).contains(code))
        }
        return lines
    }

    private func readReply() throws(SMTPFailure) -> (Int, [String]) {
        var lines: [String] = []
        while true {
            let line = try readLine()
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)), (200...599).contains(code) else {
                throw SMTPFailure("the relay sent something that is not an SMTP reply")
            }
            lines.append(String(decoding: bytes.dropFirst(4), as: UTF8.self))
            if bytes.count == 3 || bytes[3] == UInt8(ascii: " ") { return (code, lines) }
            guard lines.count < 100 else { throw SMTPFailure("the relay's reply does not end") }
        }
    }

    private func readLine() throws(SMTPFailure) -> String {
        while true {
            if let newline = buffered.firstIndex(of: 10) {
                var line = Array(buffered[..<newline])
                buffered.removeFirst(newline + 1)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard buffered.count < 64 << 10 else { throw SMTPFailure("the relay sent a reply line over 64 KiB") }
            guard EventLoop.hrtimeNs() < deadlineNs, let socket else { throw SMTPFailure("the relay did not finish within its time") }
            var chunk: [UInt8]
            do { chunk = try socket.receive(timeoutMs: relay.timeoutMs) } catch { throw SMTPFailure("reading from the relay failed: \(error.reason)") }
            guard !chunk.isEmpty else { throw SMTPFailure("the relay closed the connection") }
            if let tls {
                tls.receiveCiphertext(chunk)
                do { chunk = try tls.readPlaintext() } catch { throw SMTPFailure("TLS from the relay failed: \(error)") }
                let out = tls.takeCiphertext()
                if !out.isEmpty { try? socket.send(out, timeoutMs: relay.timeoutMs) }
            }
            buffered += chunk
        }
    }

    private func write(_ bytes: [UInt8]) throws(SMTPFailure) {
        guard let socket else { throw SMTPFailure("not connected") }
        var wire = bytes
        if let tls {
            do { try tls.writePlaintext(bytes) } catch { throw SMTPFailure("TLS to the relay failed: \(error)") }
            wire = tls.takeCiphertext()
        }
        do { try socket.send(wire, timeoutMs: relay.timeoutMs) } catch { throw SMTPFailure("sending to the relay failed: \(error.reason)") }
    }

    /// A line that starts with "." gets another (RFC 5321 4.5.2), so it cannot end the message.
    public static func dotStuffed(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 64)
        var lineStart = true
        for byte in message {
            if lineStart && byte == UInt8(ascii: ".") { out.append(byte) }
            out.append(byte)
            lineStart = byte == 10
        }
        return out
    }

    private func close() {
        socket?.close()
        socket = nil
        tls = nil
    }
}
