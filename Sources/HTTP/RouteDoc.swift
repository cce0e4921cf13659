/// What `/openapi.json` says about a route. Every route has one, so the document is complete.
public struct RouteDoc: Sendable {
    public struct Parameter: Sendable {
        public enum Location: String, Sendable { case path, query, header }
        public let name: String
        public let location: Location
        public let required: Bool
        public let description: String
        public let schema: JSONValue

        public init(_ name: String, in location: Location, required: Bool = false, description: String, schema: JSONValue = ["type": "string"]) {
            self.name = name
            self.location = location
            self.required = required || location == .path
            self.description = description
            self.schema = schema
        }
    }

    public struct Reply: Sendable {
        public let status: Int
        public let description: String
        public let contentType: String?
        /// A JSON Schema, or a `$ref` to one in components.
        public let schema: JSONValue?

        public init(_ status: Int, _ description: String, contentType: String? = Response.jsonContentType, schema: JSONValue? = nil) {
            self.status = status
            self.description = description
            self.contentType = contentType
            self.schema = schema
        }

        /// An answer that is a problem+json document.
        public static func problem(_ status: Int, _ description: String) -> Reply {
            Reply(status, description, contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef)
        }
    }

    /// Stable, unique: client generators name methods after it.
    public let operationId: String
    public let summary: String
    public let description: String?
    public let tags: [String]
    public let parameters: [Parameter]
    public let requestBody: Reply?
    public let replies: [Reply]

    public init(operationId: String, summary: String, description: String? = nil, tags: [String],
                parameters: [Parameter] = [], requestBody: Reply? = nil, replies: [Reply]) {
        self.operationId = operationId
        self.summary = summary
        self.description = description
        self.tags = tags
        self.parameters = parameters
        self.requestBody = requestBody
        self.replies = replies
    }
}

/// Builds an OpenAPI 3.1 document from a router: paths come from the routes themselves, so a
/// route cannot be served without being described.
public enum OpenAPIDocument {
    public static let problemSchemaRef: JSONValue = ["$ref": "#/components/schemas/Problem"]

    /// `securitySchemes`: the schemes of `.credential` routes, by name.
    /// `webhooks`: what the node posts to receivers, by name (OpenAPI 3.1's top-level webhooks).
    public static func build(router: Router, title: String, version: String, description: String, schemas: [(String, JSONValue)],
                             securitySchemes: [(String, JSONValue)] = [], webhooks: [(String, JSONValue)] = []) -> JSONValue {
        var byPath: [(String, [(String, JSONValue)])] = []
        for route in router.routes {
            let operation = operationObject(route)
            if let index = byPath.firstIndex(where: { $0.0 == route.pattern }) {
                byPath[index].1.append((route.method.lowercased(), operation))
            } else {
                byPath.append((route.pattern, [(route.method.lowercased(), operation)]))
            }
        }
        let paths = JSONValue.object(byPath.sorted { $0.0 < $1.0 }.map { JSONMember($0.0, .object($0.1.map { JSONMember($0.0, $0.1) })) })
        let problem: JSONValue = [
            "type": "object",
            "description": "RFC 9457 problem details. `type` is stable; branch on it, not on `title` or `detail`.",
            "required": ["type", "title", "status"],
            "properties": [
                "type": ["type": "string", "description": "Stable problem type URI, e.g. /problems/not-found."],
                "title": ["type": "string"],
                "status": ["type": "integer"],
                "detail": ["type": "string"],
                "instance": ["type": "string"],
                "request_id": ["type": "string"],
            ],
        ]
        let allSchemas = [("Problem", problem)] + schemas
        return [
            "openapi": "3.1.0",
            "info": ["title": .string(title), "version": .string(version), "description": .string(description)],
            "paths": paths,
            "webhooks": .object(webhooks.map { JSONMember($0.0, $0.1) }),
            "components": [
                "schemas": .object(allSchemas.map { JSONMember($0.0, $0.1) }),
                "securitySchemes": .object([
                    JSONMember("adminToken", [
                        "type": "http", "scheme": "bearer",
                        "description": "The node's admin token, from <data-dir>/admin.token.",
                    ]),
                    JSONMember("accessToken", [
                        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                        "description": "An access token (HS256, typ at+jwt, 15 minutes) signed with a fleet key; its `roles` claim must hold one of the route's roles (x-roles).",
                    ]),
                ] + securitySchemes.map { JSONMember($0.0, $0.1) }),
            ],
        ]
    }

    private static func operationObject(_ route: Route) -> JSONValue {
        let doc = route.doc
        var members: [JSONMember] = [
            JSONMember("operationId", .string(doc.operationId)),
            JSONMember("summary", .string(doc.summary)),
            JSONMember("tags", .array(doc.tags.map { .string($0) })),
        ]
        if let description = doc.description { members.append(JSONMember("description", .string(description))) }
        var parameters = doc.parameters
        for name in route.parameterNames where !parameters.contains(where: { $0.name == name && $0.location == .path }) {
            parameters.append(.init(name, in: .path, description: name))
        }
        if !parameters.isEmpty {
            members.append(JSONMember("parameters", .array(parameters.map { p in
                ["name": .string(p.name), "in": .string(p.location.rawValue), "required": .bool(p.required),
                 "description": .string(p.description), "schema": p.schema]
            })))
        }
        if let body = doc.requestBody {
            members.append(JSONMember("requestBody", [
                "required": true, "description": .string(body.description),
                "content": .object([JSONMember(body.contentType ?? Response.jsonContentType, ["schema": body.schema ?? ["type": "object"]])]),
            ]))
        }
        var replies = doc.replies
        if route.access != .anyone && !replies.contains(where: { $0.status == 401 }) {
            replies.append(.init(401, "Missing, wrong or expired token.", contentType: Response.problemContentType, schema: problemSchemaRef))
        }
        if case .roles = route.access, !replies.contains(where: { $0.status == 403 }) {
            replies.append(.init(403, "A valid access token without a role this route takes.", contentType: Response.problemContentType, schema: problemSchemaRef))
        }
        var responseMembers = replies.sorted { $0.status < $1.status }.map { reply -> JSONMember in
            var content: [JSONMember] = []
            if let type = reply.contentType {
                content.append(JSONMember(type, reply.schema.map { ["schema": $0] } ?? [:]))
            }
            var body: [JSONMember] = [JSONMember("description", .string(reply.description))]
            if !content.isEmpty { body.append(JSONMember("content", .object(content))) }
            return JSONMember(String(reply.status), .object(body))
        }
        // A page's errors are pages too (a browser shows them); the HTTP layer's own refusals
        // (413, 429, ...) are problem details everywhere.
        var errorContent = [JSONMember(Response.problemContentType, ["schema": problemSchemaRef])]
        // (A browser form's refusals are pages too: HTTPServer.formErrorPage.)
        if let page = replies.compactMap(\.contentType).first(where: { $0.hasPrefix("text/html") })
            ?? (route.formProtection != .none ? "text/html; charset=utf-8" : nil) {
            errorContent.append(JSONMember(page, ["schema": ["type": "string"]]))
        }
        responseMembers.append(JSONMember("default", [
            "description": .string(errorContent.count > 1 ? "An error: a page, or problem details." : "An error, as problem details."),
            "content": .object(errorContent),
        ]))
        members.append(JSONMember("responses", .object(responseMembers)))
        switch route.access {
        case .anyone: break
        case .adminToken: members.append(JSONMember("security", [["adminToken": []]]))
        case .roles(let roles):
            members.append(JSONMember("security", [["adminToken": []], ["accessToken": .array(roles.map { .string($0) })]]))
            members.append(JSONMember("x-roles", .array(roles.map { .string($0) })))
        case .credential(let scheme): members.append(JSONMember("security", [[scheme: []]]))
        }
        return .object(members)
    }
}
