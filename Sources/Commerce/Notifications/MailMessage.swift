import Platform

/// One mail as it goes over SMTP (RFC 5322 with MIME): headers, then a multipart/alternative of
/// a plain-text part and an HTML part, both UTF-8 in base64 so no line is too long and no byte
/// is mangled on the way.
public struct MailMessage: Sendable {
    public var fromName: String
    public var fromAddress: String
    public var to: String
    public var subject: String
    public var text: String
    public var html: String
    /// `<…@…>`, unique per message: the same queued mail sent twice carries the same one.
    public var messageId: String
    public var dateMs: Int64
    /// Further headers (List-Unsubscribe…); values must be one line.
    public var extraHeaders: [(String, String)] = []

    public init(fromName: String, fromAddress: String, to: String, subject: String, text: String, html: String, messageId: String, dateMs: Int64) {
        self.fromName = fromName
        self.fromAddress = fromAddress
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.messageId = messageId
        self.dateMs = dateMs
    }

    /// Whether `address` is one this node writes to: one @, a dot in the domain, no spaces,
    /// angle brackets or line breaks, at most 254 characters.
    public static func isAddress(_ address: String) -> Bool {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        return address.utf8.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".")
            && !address.utf8.contains { $0 <= 32 || $0 == 127 || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "\"") }
    }

    /// The message with CRLF line ends, ready for DATA.
    public func rendered() -> [UInt8] {
        let boundary = "=_outpost_" + String(Fingerprint.of(Array(messageId.utf8)), radix: 16)
        var head = [
            ("From", Self.encodedPhrase(fromName) + " <\(fromAddress)>"),
            ("To", "<\(to)>"),
            ("Subject", Self.encodedText(subject)),
            ("Date", Self.date(dateMs)),
            ("Message-ID", messageId),
            ("MIME-Version", "1.0"),
            ("Content-Type", "multipart/alternative; boundary=\"\(boundary)\""),
        ]
        head += extraHeaders
        var out = ""
        for (name, value) in head { out += name + ": " + Self.oneLine(value) + "\r\n" }
        out += "\r\n"
        for (type, body) in [("text/plain", text), ("text/html", html)] {
            out += "--\(boundary)\r\nContent-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            out += Self.base64Lines(Array(body.utf8))
        }
        out += "--\(boundary)--\r\n"
        return Array(out.utf8)
    }

    /// A header value never breaks the header block, whatever a template or a name holds.
    private static func oneLine(_ value: String) -> String {
        String(value.map { $0 == "\r" || $0 == "\n" ? " " : $0 })
    }

    /// Unstructured text (Subject): ASCII as it is, anything else as RFC 2047 encoded words of at
    /// most 45 bytes each, folded onto continuation lines.
    public static func encodedText(_ text: String) -> String {
        let clean = oneLine(text)
        guard !clean.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) else { return clean }
        var words: [String] = [], chunk: [UInt8] = []
        for character in clean {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?" + Base64.encode(chunk, url: false, padded: true) + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?" + Base64.encode(chunk, url: false, padded: true) + "?=") }
        return words.joined(separator: "\r\n ")
    }

    /// A display name: quoted when ASCII, encoded words otherwise.
    static func encodedPhrase(_ name: String) -> String {
        let clean = oneLine(name)
        guard clean.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) else { return encodedText(clean) }
        return "\"" + clean.replacingBackslashesAndQuotes() + "\""
    }

    /// RFC 5322 date in UTC: `Mon, 07 Dec 2026 06:39:39 +0000`.
    static func date(_ ms: Int64) -> String {
        let iso = WallClock.iso8601(ms: ms)  // 2026-12-07T06:39:39.123Z
        let parts = Array(iso.utf8)
        func number(_ range: Range<Int>) -> Int { Int(String(decoding: parts[range], as: UTF8.self)) ?? 0 }
        let (year, month, day) = (number(0..<4), number(5..<7), number(8..<10))
        // Sakamoto's day of the week.
        let offsets = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
        let y = month < 3 ? year - 1 : year
        let weekday = (y + y / 4 - y / 100 + y / 400 + offsets[month - 1] + day) % 7
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"], months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let time = String(decoding: parts[11..<19], as: UTF8.self)
        return "\(days[weekday]), \(day < 10 ? "0" : "")\(day) \(months[month - 1]) \(year) \(time) +0000"
    }

    private static func base64Lines(_ bytes: [UInt8]) -> String {
        let encoded = Array(Base64.encode(bytes, url: false, padded: true).utf8)
        var out = ""
        var start = 0
        while start < encoded.count {
            let end = min(start + 76, encoded.count)
            out += String(decoding: encoded[start..<end], as: UTF8.self) + "\r\n"
            start = end
        }
        return out
    }
}

private extension String {
    func replacingBackslashesAndQuotes() -> String {
        var out = ""
        for character in self {
            if character == "\\" || character == "\"" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
