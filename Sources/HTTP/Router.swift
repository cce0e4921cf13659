/// How a route that browsers post forms to is kept from cross-site requests (CSRF).
public enum FormProtection: Sendable, Equatable {
    /// Not a browser form (JSON APIs take bearer tokens, which a browser does not send by itself).
    case none
    /// The post must come from this site's pages: `Origin` (or `Referer`) names this host.
    case sameOrigin
    /// That, and the form carries the token of the page it came from (synchronizer token).
    case sameOriginWithToken
}

/// Who may call a route.
public enum Access: Sendable, Equatable {
    /// No credentials needed.
    case anyone
    /// The node's admin token as a bearer token (operators, `nodectl`).
    case adminToken
    /// The admin token, or an access token (JWT) that holds one of these roles.
    case roles([String])
    /// A credential of the application's own, by the name of its security scheme in
    /// /openapi.json (a paired till's device key, a cashier's session).
    case credential(String)

    /// Whether the admin token opens the route.
    public var takesAdminToken: Bool {
        switch self {
        case .anyone, .credential: false
        case .adminToken, .roles: true
        }
    }
}

/// What the authorizer decided: allowed (with the subject the credentials name, which the
/// handler finds in `Request.subject`), or refused with a 401 or 403 problem.
public enum Authorization: Sendable {
    case allowed(subject: String?)
    case refused(Problem)
}

/// Answers a request, now or later (after a group commit), exactly once.
public typealias Handler = (Request, Responder) -> Void

/// One route: method, path pattern, its rules and its documentation. A class so that matching
/// hands out a reference rather than copying the route and its documentation per request.
public final class Route {
    public let method: String
    /// "/api/v1/products/{id}": literal segments and `{name}` parameters.
    public let pattern: String
    public let access: Access
    /// Bodies over this are answered 413 without being read.
    public let bodyBytesMax: Int?
    /// The body is written to a spool file as it arrives (`Request.bodyFile`), never held in
    /// memory: for uploads that may be far larger than the usual body.
    public let spoolsBody: Bool
    /// Which allowance of the rate limiter it draws on.
    public let rateClass: RateClass
    public let formProtection: FormProtection
    public let doc: RouteDoc
    /// Position in the router; labels metrics.
    public let index: Int
    let handler: Handler

    init(method: String, pattern: String, access: Access, bodyBytesMax: Int?, spoolsBody: Bool, rateClass: RateClass, formProtection: FormProtection,
         doc: RouteDoc, index: Int, handler: @escaping Handler) {
        self.rateClass = rateClass
        self.formProtection = formProtection
        self.method = method
        self.pattern = pattern
        self.access = access
        self.bodyBytesMax = bodyBytesMax
        self.spoolsBody = spoolsBody
        self.doc = doc
        self.index = index
        self.handler = handler
    }

    /// The `{name}`s of the pattern, in order.
    public var parameterNames: [String] {
        pattern.split(separator: "/").compactMap { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? String(segment.dropFirst().dropLast()) : nil
        }
    }
}

/// What routing found for a method and path.
public enum RouteMatch {
    case found(Route, [(name: String, value: String)])
    /// The path exists with other methods.
    case methodNotAllowed(allow: [String])
    case notFound
}

/// Maps (method, path) to routes. Built at start, read-only while serving.
///
/// - Complexity: matching is O(number of path segments).
public final class Router {
    private final class Node {
        var literals: [Substring: Node] = [:]
        var parameter: (name: String, node: Node)?
        var routes: [String: Int] = [:]
    }

    private let root = Node()
    /// Nodes of patterns without parameters, by exact path: one lookup for the common case.
    private var literalPaths: [String: Node] = [:]
    public private(set) var routes: [Route] = []

    public init() {}

    /// Adds a route. Two routes with the same method and shape are a bug.
    public func add(_ method: String, _ pattern: String, access: Access = .anyone, bodyBytesMax: Int? = nil, spoolsBody: Bool = false,
                    rateClass: RateClass = .standard, formProtection: FormProtection = .none, doc: RouteDoc, handler: @escaping Handler) {
        precondition(pattern.hasPrefix("/"), "route patterns start with /: \(pattern)")
        precondition(!spoolsBody || access != .anyone, "a spooled upload needs credentials: \(pattern)")
        var node = root
        for segment in pattern.split(separator: "/") {
            if segment.hasPrefix("{") && segment.hasSuffix("}") {
                let name = String(segment.dropFirst().dropLast())
                if let existing = node.parameter {
                    precondition(existing.name == name, "conflicting parameter names at \(pattern)")
                    node = existing.node
                } else {
                    let child = Node()
                    node.parameter = (name, child)
                    node = child
                }
            } else {
                if let child = node.literals[segment] {
                    node = child
                } else {
                    let child = Node()
                    node.literals[segment] = child
                    node = child
                }
            }
        }
        precondition(node.routes[method] == nil, "duplicate route \(method) \(pattern)")
        if !pattern.contains("{") { literalPaths[pattern] = node }
        let route = Route(method: method, pattern: pattern, access: access, bodyBytesMax: bodyBytesMax, spoolsBody: spoolsBody, rateClass: rateClass,
                          formProtection: formProtection, doc: doc, index: routes.count, handler: handler)
        node.routes[method] = route.index
        routes.append(route)
    }

    /// Adds a route whose handler answers at once; thrown `HTTPError`s become problems.
    public func add(_ method: String, _ pattern: String, access: Access = .anyone, bodyBytesMax: Int? = nil, spoolsBody: Bool = false,
                    rateClass: RateClass = .standard, doc: RouteDoc, _ handler: @escaping (Request) throws -> Response) {
        add(method, pattern, access: access, bodyBytesMax: bodyBytesMax, spoolsBody: spoolsBody, rateClass: rateClass, doc: doc) { request, responder in
            do {
                responder.send(try handler(request))
            } catch {
                responder.fail(error)
            }
        }
    }

    public func get(_ pattern: String, access: Access = .anyone, rateClass: RateClass = .standard, doc: RouteDoc,
                    _ handler: @escaping (Request) throws -> Response) {
        add("GET", pattern, access: access, rateClass: rateClass, doc: doc, handler)
    }

    public func match(method: String, path: String) -> RouteMatch {
        if let node = literalPaths[path] { return resolve(node, method: method, parameters: []) }
        var node = root
        var parameters: [(name: String, value: String)] = []
        var rest = path.utf8[...]
        // Split on "/" by hand: no array of segments per request.
        while !rest.isEmpty {
            if rest.first == UInt8(ascii: "/") { rest = rest.dropFirst(); continue }
            let end = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            let segment = Substring(rest[rest.startIndex..<end])
            rest = rest[end...]
            if let child = node.literals[segment] {
                node = child
            } else if let parameter = node.parameter {
                guard let value = PercentEncoding.decode(String(segment)) else { return .notFound }
                parameters.append((parameter.name, value))
                node = parameter.node
            } else {
                return .notFound
            }
        }
        return resolve(node, method: method, parameters: parameters)
    }

    private func resolve(_ node: Node, method: String, parameters: [(name: String, value: String)]) -> RouteMatch {
        if let index = node.routes[method] { return .found(routes[index], parameters) }
        if method == "HEAD", let index = node.routes["GET"] { return .found(routes[index], parameters) }
        if node.routes.isEmpty { return .notFound }
        var allow = Set(node.routes.keys)
        if allow.contains("GET") { allow.insert("HEAD") }
        allow.insert("OPTIONS")
        return .methodNotAllowed(allow: allow.sorted())
    }
}
