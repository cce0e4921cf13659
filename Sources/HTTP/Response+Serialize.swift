import Platform

extension HTTPConnection {
    /// Status lines indexed by status code (100...599), made once.
    static let statusLines: [[UInt8]] = {
        let reasons: [Int: String] = [
            100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently", 402: "Payment Required",
            302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
            408: "Request Timeout", 409: "Conflict", 410: "Gone", 412: "Precondition Failed", 413: "Content Too Large",
            415: "Unsupported Media Type", 417: "Expectation Failed", 422: "Unprocessable Content", 428: "Precondition Required",
            429: "Too Many Requests", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
        ]
        return (0..<600).map { status in Array("HTTP/1.1 \(status) \(reasons[status] ?? "Status \(status)")\r\n".utf8) }
    }()

    static func statusLine(_ status: Int) -> [UInt8] {
        status >= 100 && status < statusLines.count ? statusLines[status] : Array("HTTP/1.1 \(status) Status\r\n".utf8)
    }

    private static let contentTypePrefix = Array("Content-Type: ".utf8)
    private static let contentLengthPrefix = Array("Content-Length: ".utf8)
    private static let requestIdPrefix = Array("X-Request-Id: ".utf8)
    private static let connectionClose = Array("Connection: close\r\n".utf8)
    private static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)
    private static let crlf: [UInt8] = [13, 10]
    private static let secureCookieSuffix = Array("; Secure".utf8)
    /// Over HTTPS: browsers keep to HTTPS for this host for a year.
    private static let strictTransportSecurity = Array("Strict-Transport-Security: max-age=31536000\r\n".utf8)
    /// Sent with every HTML page: no framing (clickjacking), no script or style from elsewhere
    /// and none inline, forms post only here, no sniffing, no full URLs leaked to other sites.
    /// Images may come from the catalog's https URLs.
    static let htmlSecurityHeaders = Array(("Content-Security-Policy: default-src 'self'; img-src 'self' https: data:; script-src 'self'; "
        + "style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'\r\n"
        + "X-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: same-origin\r\n").utf8)
    private static let colonSpace: [UInt8] = [58, 32]

    /// Writes a whole response. Header values are stripped of CR and LF: a handler that echoes
    /// input into a header must not be able to split the response.
    static func serialize(_ response: Response, requestId: String, dateLine: [UInt8], secure: Bool = false, omitBody: Bool, closing: Bool,
                          http10KeepAlive: Bool, into out: inout [UInt8]) {
        out.append(contentsOf: statusLine(response.status))
        out.append(contentsOf: dateLine)
        if secure { out.append(contentsOf: strictTransportSecurity) }
        if let contentType = response.contentType {
            out.append(contentsOf: contentTypePrefix)
            appendSafe(contentType, to: &out)
            out.append(contentsOf: crlf)
            if contentType.utf8.starts(with: "text/html".utf8) { out.append(contentsOf: htmlSecurityHeaders) }
        }
        let bodyAllowed = response.status >= 200 && response.status != 204 && response.status != 304
        if bodyAllowed {
            out.append(contentsOf: contentLengthPrefix)
            JSONText.appendInt(response.body.count, to: &out)
            out.append(contentsOf: crlf)
        }
        out.append(contentsOf: requestIdPrefix)
        appendSafe(requestId, to: &out)
        out.append(contentsOf: crlf)
        for field in response.headers {
            appendSafe(field.name, to: &out)
            out.append(contentsOf: colonSpace)
            appendSafe(field.value, to: &out)
            // Over HTTPS every cookie is Secure: a browser must never send it in clear.
            if secure && HTTPHeaders.sameName(field.name, "set-cookie") && !field.value.contains("; Secure") {
                out.append(contentsOf: secureCookieSuffix)
            }
            out.append(contentsOf: crlf)
        }
        if closing {
            out.append(contentsOf: connectionClose)
        } else if http10KeepAlive {
            out.append(contentsOf: connectionKeepAlive)
        }
        out.append(contentsOf: crlf)
        if bodyAllowed && !omitBody { out.append(contentsOf: response.body) }
    }

    @inline(__always)
    private static func appendSafe(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            if !bytes.contains(where: { $0 == 13 || $0 == 10 }) {
                out.append(contentsOf: bytes)
            } else {
                for c in bytes where c != 13 && c != 10 { out.append(c) }
            }
        }
    }
}
