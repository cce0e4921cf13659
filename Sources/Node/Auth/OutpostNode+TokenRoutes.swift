import Commerce
import HTTP
import Platform

/// `POST /admin/v1/tokens`: what an operator asks for to let a colleague act in one role
/// without the node's admin token.
public struct StaffTokenRequest: Codable, Sendable {
    /// Who the token is for (logged with what they do).
    public var subject: String
    public var roles: [String]
    /// 1 to 15; 15 by default.
    public var minutes: Int64?

    public init(subject: String, roles: [String], minutes: Int64?) {
        self.subject = subject
        self.roles = roles
        self.minutes = minutes
    }
}

public struct StaffTokenReply: Codable, Sendable {
    public var accessToken: String
    public var tokenType: String
    public var expiresIn: Int64
    public var expiresAt: String
    public var roles: [String]
}

extension OutpostNode {
    /// Roles a node gives staff (customers sign in themselves).
    static let staffRoles: Set<String> = ["cashier", "store_manager", "operator", "catalog_admin", "hub_admin"]

    func registerTokenRoutes() {
        router.add("POST", "/admin/v1/tokens", access: .adminToken, bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "issueStaffToken", summary: "Issue an access token for staff roles, good on every node of this region until it expires.",
            description: """
                Body: {"subject": "alice", "roles": ["catalog_admin"], "minutes": 15}. Roles: \(Self.staffRoles.sorted().joined(separator: ", ")). \
                The token (EdDSA, typ at+jwt, signed with this node's own key, its fleet certificate in x5c) lasts at most 15 minutes; \
                routes list the roles they take as x-roles in /openapi.json.
                """,
            tags: ["auth"], requestBody: .init(0, "Who and which roles.", schema: ["type": "object"]),
            replies: [.init(200, "The token.", schema: ["type": "object"])])
        ) { [unowned self] request in
            let body = try request.decodeJSON(StaffTokenRequest.self)
            var errors: [FieldError] = []
            if body.subject.isEmpty || body.subject.utf8.count > 64 || body.subject.contains(where: { $0.isNewline }) {
                errors.append(FieldError("subject", "must be 1 to 64 characters on one line"))
            }
            if body.roles.isEmpty { errors.append(FieldError("roles", "must name at least one role")) }
            for (index, role) in body.roles.enumerated() {
                if !Self.staffRoles.contains(role) {
                    errors.append(FieldError("roles[\(index)]", "\(role) is not a staff role (roles: \(Self.staffRoles.sorted().joined(separator: ", ")))"))
                } else if AccessToken.hubOnlyRoles.contains(role) && config.role != .hub {
                    errors.append(FieldError("roles[\(index)]", "only the hub issues \(role); ask the hub for it"))
                }
            }
            let minutes = body.minutes ?? AccessToken.lifetimeSeconds / 60
            if !(1...(AccessToken.lifetimeSeconds / 60)).contains(minutes) { errors.append(FieldError("minutes", "must be 1 to 15")) }
            guard errors.isEmpty else { throw Self.validationError(ValidationFailure(errors)) }
            let nowSeconds = WallClock.nowMs() / 1000
            let roles = Array(Set(body.roles)).sorted()
            let claims = AccessClaims(subject: body.subject, roles: roles, audience: AccessToken.audience(region: config.region),
                                      issuer: identity.nodeId, issuedAt: nowSeconds, expiresAt: nowSeconds + minutes * 60,
                                      id: "t-" + Hex.encode(SecureRandom.bytes(8)))
            logger.info("staff token issued", metadata: ["subject": "\(claims.subject)", "roles": "\(roles.joined(separator: ","))", "jti": "\(claims.id)"])
            return .json(StaffTokenReply(accessToken: AccessToken.sign(claims, by: keys.tokenSigner), tokenType: "Bearer", expiresIn: minutes * 60,
                                         expiresAt: WallClock.iso8601(ms: claims.expiresAt * 1000), roles: roles))
        }
    }
}
