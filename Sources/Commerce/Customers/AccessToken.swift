import Platform

/// What an access token says: who, with which roles, for which region's nodes, and when.
public struct AccessClaims: Sendable, Equatable {
    /// The account's id.
    public var subject: String
    public var roles: [String]
    /// The audience: `outpost:<region>`, so a token from one region is refused in another.
    public var audience: String
    /// The node that made it.
    public var issuer: String
    /// Seconds since the epoch.
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// Unique per token (`jti`), for logs and revocation lists.
    public var id: String

    public init(subject: String, roles: [String], audience: String, issuer: String, issuedAt: Int64, expiresAt: Int64, id: String) {
        self.subject = subject
        self.roles = roles
        self.audience = audience
        self.issuer = issuer
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.id = id
    }
}

/// Why a token was refused; each becomes the same 401 for the client, but the log says which.
public enum TokenRefusal: String, Error, Sendable {
    case malformed = "not a compact JWS of three base64url parts with JSON header and claims"
    case algorithm = "algorithm is not HS256"
    case type = "not an access token (typ at+jwt)"
    case unknownKey = "signed with a key this node does not hold"
    case signature = "signature does not verify"
    case expired = "expired"
    case notYetValid = "not valid yet"
    case audience = "made for another audience"
    case claims = "claims missing or of the wrong type"
}

/// JWT access tokens (RFC 7519, RFC 9068's `at+jwt` type), HMAC-SHA-256 signed with a fleet key
/// named in `kid`. Only HS256 is accepted: the header cannot choose `none` or another
/// algorithm, and `typ` keeps a token of another kind (an ID token, a refresh token) from
/// passing as an access token.
public enum AccessToken {
    public static let lifetimeSeconds: Int64 = 15 * 60

    /// Tokens are made for the nodes of one region (customers' data stays in its region).
    public static func audience(region: String) -> String { "outpost:" + region }
    /// Clocks of a fleet's nodes differ a little: `exp` and `nbf` allow this much.
    public static let leewaySeconds: Int64 = 30

    public static func sign(_ claims: AccessClaims, keys: KeyRing) -> String {
        let key = keys.newest
        var header: [UInt8] = []
        header.append(contentsOf: #"{"alg":"HS256","typ":"at+jwt","kid":"#.utf8)
        JSONText.appendString(key.id, to: &header)
        header.append(UInt8(ascii: "}"))
        var body: [UInt8] = [UInt8(ascii: "{")]
        func member(_ name: String, _ write: (inout [UInt8]) -> Void) {
            if body.count > 1 { body.append(UInt8(ascii: ",")) }
            JSONText.appendString(name, to: &body)
            body.append(UInt8(ascii: ":"))
            write(&body)
        }
        member("sub") { JSONText.appendString(claims.subject, to: &$0) }
        member("aud") { JSONText.appendString(claims.audience, to: &$0) }
        member("iss") { JSONText.appendString(claims.issuer, to: &$0) }
        member("iat") { JSONText.appendInt(Int(claims.issuedAt), to: &$0) }
        member("nbf") { JSONText.appendInt(Int(claims.issuedAt), to: &$0) }
        member("exp") { JSONText.appendInt(Int(claims.expiresAt), to: &$0) }
        member("jti") { JSONText.appendString(claims.id, to: &$0) }
        member("roles") { out in
            out.append(UInt8(ascii: "["))
            for (index, role) in claims.roles.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendString(role, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        body.append(UInt8(ascii: "}"))
        let signingInput = Base64.encode(header, url: true, padded: false) + "." + Base64.encode(body, url: true, padded: false)
        return signingInput + "." + Base64.encode(HMACSHA256.authenticate(Array(signingInput.utf8), key: key.secret), url: true, padded: false)
    }

    /// The claims of a token that verifies now for `audience`.
    public static func verify(_ token: String, keys: KeyRing, audience: String, nowSeconds: Int64) -> Result<AccessClaims, TokenRefusal> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64.decode(String(parts[0]), url: true), let bodyBytes = Base64.decode(String(parts[1]), url: true),
              let signature = Base64.decode(String(parts[2]), url: true),
              case .object(let header)? = LooseJSON.parse(headerBytes), case .object(let body)? = LooseJSON.parse(bodyBytes) else {
            return .failure(.malformed)
        }
        guard header["alg"] == .string("HS256") else { return .failure(.algorithm) }
        guard header["typ"] == .string("at+jwt") else { return .failure(.type) }
        guard case .string(let keyId)? = header["kid"], let key = keys.key(id: keyId) else { return .failure(.unknownKey) }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard HMACSHA256.isValid(signature, for: signingInput, key: key.secret) else { return .failure(.signature) }
        guard case .string(let subject)? = body["sub"], !subject.isEmpty, case .string(let tokenAudience)? = body["aud"],
              case .string(let issuer)? = body["iss"], case .integer(let issuedAt)? = body["iat"], case .integer(let notBefore)? = body["nbf"],
              case .integer(let expiresAt)? = body["exp"], case .string(let id)? = body["jti"], case .array(let roleValues)? = body["roles"] else {
            return .failure(.claims)
        }
        var roles: [String] = []
        for value in roleValues {
            guard case .string(let role) = value else { return .failure(.claims) }
            roles.append(role)
        }
        guard tokenAudience == audience else { return .failure(.audience) }
        guard nowSeconds < expiresAt + leewaySeconds else { return .failure(.expired) }
        guard notBefore <= nowSeconds + leewaySeconds else { return .failure(.notYetValid) }
        return .success(AccessClaims(subject: subject, roles: roles, audience: tokenAudience, issuer: issuer, issuedAt: issuedAt,
                                     expiresAt: expiresAt, id: id))
    }
}
