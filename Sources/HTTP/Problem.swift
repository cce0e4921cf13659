import Platform

/// A kind of problem, with a stable `type` URI that clients may branch on (RFC 9457).
///
/// Slugs are part of the API: never rename one; add a new type instead.
public struct ProblemType: Sendable, Equatable, Hashable {
    /// Stable identifier, e.g. "not-found". The `type` member is "/problems/<slug>".
    public let slug: String
    /// Short, fixed summary (the `title` member).
    public let title: String
    public let status: Int
    /// When answering it, the connection is closed afterwards (the stream can't be trusted).
    public let closesConnection: Bool
    /// A paragraph for the problem catalog (`GET /problems/{slug}`, docs/problems.md).
    public let explanation: String

    public init(slug: String, title: String, status: Int, closesConnection: Bool = false, explanation: String) {
        self.slug = slug
        self.title = title
        self.status = status
        self.closesConnection = closesConnection
        self.explanation = explanation
    }

    public var uri: String { "/problems/\(slug)" }

    public static func == (a: ProblemType, b: ProblemType) -> Bool { a.slug == b.slug }
    public func hash(into hasher: inout Hasher) { hasher.combine(slug) }
}

extension ProblemType {
    public static let malformedRequest = ProblemType(slug: "malformed-request", title: "Malformed request", status: 400, closesConnection: true,
        explanation: "The bytes received are not a valid HTTP/1.1 request. The connection is closed.")
    public static let badRequest = ProblemType(slug: "bad-request", title: "Bad request", status: 400,
        explanation: "The request is well-formed HTTP but a parameter is missing or invalid; `detail` names it.")
    public static let malformedJSON = ProblemType(slug: "malformed-json", title: "Malformed JSON", status: 400,
        explanation: "The body is not valid JSON.")
    public static let unauthorized = ProblemType(slug: "unauthorized", title: "Unauthorized", status: 401,
        explanation: "The route needs credentials (a bearer token) and none, or an invalid one, was sent.")
    public static let forbidden = ProblemType(slug: "forbidden", title: "Forbidden", status: 403,
        explanation: "The credentials are valid but do not allow this action.")
    public static let notFound = ProblemType(slug: "not-found", title: "Not found", status: 404,
        explanation: "No route or resource at this path.")
    public static let methodNotAllowed = ProblemType(slug: "method-not-allowed", title: "Method not allowed", status: 405,
        explanation: "The path exists but not with this method; the `Allow` header lists the methods it takes.")
    public static let requestTimeout = ProblemType(slug: "request-timeout", title: "Request timeout", status: 408, closesConnection: true,
        explanation: "The request head did not arrive in time (header read timeout). The connection is closed.")
    public static let bodyTooLarge = ProblemType(slug: "body-too-large", title: "Body too large", status: 413, closesConnection: true,
        explanation: "The body exceeds the route's limit (1 MiB unless the route says otherwise). It was not read; the connection is closed.")
    public static let unsupportedMediaType = ProblemType(slug: "unsupported-media-type", title: "Unsupported media type", status: 415,
        explanation: "The body's Content-Type is not one the route accepts.")
    public static let expectationFailed = ProblemType(slug: "expectation-failed", title: "Expectation failed", status: 417, closesConnection: true,
        explanation: "The `Expect` header holds something other than 100-continue.")
    public static let validation = ProblemType(slug: "validation", title: "Validation failed", status: 422,
        explanation: "The body is JSON of the wrong shape or with invalid values; `detail` names the field.")
    public static let headersTooLarge = ProblemType(slug: "headers-too-large", title: "Request header fields too large", status: 431, closesConnection: true,
        explanation: "The request line and headers together exceed 16 KiB. The connection is closed.")
    public static let internalError = ProblemType(slug: "internal", title: "Internal error", status: 500,
        explanation: "The node failed to handle the request. It is logged with the request id; nothing was changed.")
    public static let versionNotSupported = ProblemType(slug: "http-version-not-supported", title: "HTTP version not supported", status: 505, closesConnection: true,
        explanation: "Only HTTP/1.0 and HTTP/1.1 are served. The connection is closed.")
    public static let rateLimited = ProblemType(slug: "rate-limited", title: "Too many requests", status: 429, closesConnection: true,
        explanation: "This address sent more requests of this kind than the node takes (per address and route class: `class` says which; password routes are the strictest), or the node as a whole is at its limit for them. Wait `Retry-After` seconds. The connection is closed.")
    public static let notReady = ProblemType(slug: "not-ready", title: "Not ready", status: 503,
        explanation: "The node is starting up or shutting down and does not take this request now. Retry shortly.")

    /// Every problem type the HTTP layer itself answers with; the Node adds its own.
    public static let httpCatalog: [ProblemType] = [
        .malformedRequest, .badRequest, .malformedJSON, .unauthorized, .forbidden, .notFound, .methodNotAllowed,
        .requestTimeout, .bodyTooLarge, .unsupportedMediaType, .expectationFailed, .validation, .headersTooLarge,
        .internalError, .notReady, .versionNotSupported, .rateLimited,
    ]
}

/// An RFC 9457 problem details object.
public struct Problem: Sendable {
    public let type: ProblemType
    /// What went wrong with this request, for a human. Never secrets or submitted values.
    public var detail: String?
    /// The path the problem occurred at.
    public var instance: String?
    /// The request id, so an operator can find the log line.
    public var requestId: String?
    /// Extra members (e.g. "allow" for 405).
    public var extensions: [(String, JSONValue)] = []

    public init(_ type: ProblemType, detail: String? = nil, instance: String? = nil) {
        self.type = type
        self.detail = detail
        self.instance = instance
    }

    public var status: Int { type.status }

    /// The members RFC 9457 defines (and our `request_id`): an extension may not reuse one.
    static let standardMembers: Set<String> = ["type", "title", "status", "detail", "instance", "request_id"]

    public func encoded() -> [UInt8] {
        // `status` is the HTTP status (RFC 9457 §3.1.2): an order's status, say, goes in its own
        // member. Naming an extension after a standard member is a bug.
        precondition(extensions.allSatisfy { !Self.standardMembers.contains($0.0) }, "an extension named like a standard member: \(extensions.map(\.0))")
        var members: [(String, JSONValue)] = [
            ("type", .string(type.uri)), ("title", .string(type.title)), ("status", .int(Int64(type.status))),
        ]
        if let detail { members.append(("detail", .string(detail))) }
        if let instance { members.append(("instance", .string(instance))) }
        if let requestId { members.append(("request_id", .string(requestId))) }
        members.append(contentsOf: extensions)
        return JSONValue.object(members.map { JSONMember($0.0, $0.1) }).encoded()
    }
}

extension Problem {
    /// A stored problem's body with this request's `instance` and `request_id` added (a
    /// checkout's answer is kept for its Idempotency-Key and replayed to later requests, each
    /// with its own id). A body that is not a JSON object is returned as it is.
    public static func body(_ body: [UInt8], instance: String, requestId: String) -> [UInt8] {
        guard body.first == UInt8(ascii: "{"), body.last == UInt8(ascii: "}") else { return body }
        var out = Array(body.dropLast())
        out.append(contentsOf: #","instance":"#.utf8)
        JSONText.appendString(instance, to: &out)
        out.append(contentsOf: #","request_id":"#.utf8)
        JSONText.appendString(requestId, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// An error a handler throws to answer with a problem.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public var problem: Problem
    public var headers: HTTPHeaders

    public init(_ type: ProblemType, detail: String? = nil, headers: HTTPHeaders = HTTPHeaders()) {
        problem = Problem(type, detail: detail)
        self.headers = headers
    }

    public var description: String { "\(problem.type.slug): \(problem.detail ?? problem.type.title)" }
}

/// An error of a lower layer (a rule's refusal) that knows the problem it is over HTTP. The
/// node declares the mapping once, in one place; the server answers with it instead of a 500.
public protocol ProblemConvertible: Error {
    var httpError: HTTPError { get }
}

extension HTTPError {
    /// The problem an error is over HTTP, when it is one (an `HTTPError` or a rule's refusal
    /// that knows its problem); nil for anything else (a 500).
    public static func of(_ error: any Error) -> HTTPError? {
        (error as? HTTPError) ?? (error as? any ProblemConvertible)?.httpError
    }
}
