import Foundation
import Platform

/// One HTTP request as a handler sees it: the head, the whole body, and what routing found.
public struct Request: Sendable {
    /// "GET", "POST"...
    public let method: String
    /// The request target as sent, e.g. "/api/v1/node?verbose=1".
    public let target: String
    /// The path part of `target`, still percent-encoded.
    public let path: String
    /// The query part without "?", if any, still percent-encoded.
    public let query: String?
    /// The decoded query parameters, in order; parsed once (handlers ask for several).
    public let queryItems: [(name: String, value: String)]
    public let headers: HTTPHeaders
    public internal(set) var body: [UInt8]
    /// For routes that spool their body: the file holding it (and `body` is empty). The file
    /// is removed once the request is answered.
    public internal(set) var bodyFile: String?
    /// Values of `{name}` segments of the matched route, percent-decoded.
    public internal(set) var pathParameters: [(name: String, value: String)] = []
    /// Who the route's credentials name (an access token's subject), once authorized; nil for
    /// open routes and the admin token. Verified once, before the handler runs.
    public internal(set) var subject: String?
    /// The client's `X-Request-Id` if it was well-formed, else one made by the server.
    public let requestId: String
    public let remoteAddress: SocketAddress?
    /// Whether it came over HTTPS (cookies are then `Secure`).
    public internal(set) var isSecure = false

    public init(method: String, target: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [],
                requestId: String = "test", remoteAddress: SocketAddress? = nil) {
        let (path, query) = Self.split(target)
        self.init(method: method, target: target, path: path, query: query, headers: headers, body: body,
                  requestId: requestId, remoteAddress: remoteAddress)
    }

    init(method: String, target: String, path: String, query: String?, headers: HTTPHeaders, body: [UInt8],
         requestId: String, remoteAddress: SocketAddress?) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        queryItems = Self.parseQuery(query)
        self.headers = headers
        self.body = body
        self.requestId = requestId
        self.remoteAddress = remoteAddress
    }

    /// Splits a target at its first "?" (on bytes: Character iteration is far slower).
    static func split(_ target: String) -> (path: String, query: String?) {
        var target = target
        return target.withUTF8 { bytes in
            guard let mark = bytes.firstIndex(of: UInt8(ascii: "?")) else { return (String(decoding: bytes, as: UTF8.self), nil) }
            return (String(decoding: bytes[..<mark], as: UTF8.self), String(decoding: bytes[(mark + 1)...], as: UTF8.self))
        }
    }

    /// A path parameter by name.
    public func parameter(_ name: String) -> String? {
        pathParameters.first { $0.name == name }?.value
    }

    static func parseQuery(_ query: String?) -> [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentEncoding.decode(String(parts[0]), plusIsSpace: true) ?? String(parts[0])
            let value = parts.count > 1 ? (PercentEncoding.decode(String(parts[1]), plusIsSpace: true) ?? String(parts[1])) : ""
            return (name, value)
        }
    }

    public func queryValue(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// The bearer token of the `Authorization` header, if any.
    public var bearerToken: String? {
        guard let value = headers["authorization"] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// The fields of an HTML form's body (`application/x-www-form-urlencoded`), in order; empty
    /// for any other content type.
    public var formFields: [(name: String, value: String)] {
        guard headers["content-type"]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else { return [] }
        return Self.parseQuery(String(decoding: body, as: UTF8.self))
    }

    public func formValue(_ name: String) -> String? {
        formFields.first { $0.name == name }?.value
    }

    /// A cookie the client sent (RFC 6265 `Cookie: a=1; b=2`).
    public func cookie(_ name: String) -> String? {
        guard let header = headers["cookie"] else { return nil }
        for pair in header.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name { return parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    /// Decodes a JSON body; a wrong content type is 415, bad JSON 400, wrong shape 422.
    public func decodeJSON<T: Decodable>(_ type: T.Type) throws(HTTPError) -> T {
        let contentType = headers["content-type"]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") || contentType.hasSuffix("+json") else {
            throw HTTPError(.unsupportedMediaType, detail: "send the body as application/json")
        }
        do {
            return try JSONCoding.decoder().decode(T.self, from: Data(body))
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw HTTPError(.malformedJSON, detail: "the body is not valid JSON")
        } catch {
            throw HTTPError(.validation, detail: JSONCoding.describe(error))
        }
    }
}

/// Percent-encoding per RFC 3986.
public enum PercentEncoding {
    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// Every byte but the unreserved ones escaped: safe as a path segment or a query name or value.
    public static func encode(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes %XX escapes; nil if an escape is malformed or the result is not UTF-8.
    public static func decode(_ text: String, plusIsSpace: Bool = false) -> String? {
        if !text.utf8.contains(UInt8(ascii: "%")) && !(plusIsSpace && text.utf8.contains(UInt8(ascii: "+"))) { return text }
        var out: [UInt8] = []
        var bytes = text.utf8.makeIterator()
        while let c = bytes.next() {
            if c == UInt8(ascii: "%") {
                guard let h = bytes.next(), let l = bytes.next(), let hv = hex(h), let lv = hex(l) else { return nil }
                out.append(hv << 4 | lv)
            } else if plusIsSpace && c == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(c)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
