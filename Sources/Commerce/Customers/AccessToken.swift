import Platform

/// What an access token says: who, with which roles, for which region's nodes, and when.
public struct AccessClaims: Sendable, Equatable {
    /// The account's id.
    public var subject: String
    public var roles: [String]
    /// The audience: `outpost:<region>`, so a token from one region is refused in another.
    public var audience: String
    /// The node that made it (the `kid` and the certificate's CN must agree).
    public var issuer: String
    /// Seconds since the epoch.
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// Unique per token (`jti`), for logs and revocation lists.
    public var id: String
    /// A customer's sign-in session (`sid`): the token dies with it (sign-out, password change).
    public var session: String?

    public init(subject: String, roles: [String], audience: String, issuer: String, issuedAt: Int64, expiresAt: Int64, id: String,
                session: String? = nil) {
        self.subject = subject
        self.roles = roles
        self.audience = audience
        self.issuer = issuer
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.id = id
        self.session = session
    }
}

/// Why a token was refused; each becomes the same 401 for the client, but the log says which.
public enum TokenRefusal: String, Error, Sendable {
    case malformed = "not a compact JWS of three base64url parts with JSON header and claims"
    case algorithm = "algorithm is not EdDSA"
    case type = "not an access token (typ at+jwt)"
    case unknownIssuer = "its issuer is not this node and it carries no certificate of this fleet naming the issuer"
    case signature = "signature does not verify"
    case expired = "expired"
    case notYetValid = "not valid yet"
    case lifetime = "lives longer than 15 minutes"
    case audience = "made for another audience"
    case authority = "its issuer may not grant these roles for this audience"
    case claims = "claims missing or of the wrong type"
    case revoked = "its sign-in session has ended (signed out, or the password changed)"
}

/// The node that makes tokens: its id, its own Ed25519 key, and its fleet certificate (DER)
/// once enrolled. Each node signs with its own key; no secret is shared between nodes.
public struct TokenSigner: Sendable {
    public let nodeId: String
    public let keyPair: Ed25519KeyPair
    public let certificateDER: [UInt8]?

    public init(nodeId: String, keyPair: Ed25519KeyPair, certificateDER: [UInt8]?) {
        self.nodeId = nodeId
        self.keyPair = keyPair
        self.certificateDER = certificateDER
    }
}

/// A token that verified, with what its issuer's certificate says of the issuer.
public struct VerifiedToken: Sendable, Equatable {
    public var claims: AccessClaims
    public var issuerRegion: String
    public var issuerRole: String
}

/// JWT access tokens (RFC 7519, RFC 9068's `at+jwt` type), signed EdDSA (RFC 8037) by the node
/// that issued them, with its fleet certificate in `x5c` (RFC 7515 §4.1.6).
///
/// Any node of the fleet verifies a token offline: the certificate must chain to the fleet's CA,
/// name the issuer (`kid` and `iss`), and be valid now; the signature must verify with its key.
/// What the issuer may grant follows from its certificate: `hub_admin` only from the hub, and
/// a region's tokens only from that region's nodes (or the hub). A node without a certificate
/// signs tokens that only it accepts. Only EdDSA is accepted: the header cannot choose `none`,
/// HS256 with a public key as secret, or anything else; `typ` keeps another kind of token out.
public enum AccessToken {
    public static let lifetimeSeconds: Int64 = 15 * 60

    /// Tokens are made for the nodes of one region (customers' data stays in its region).
    public static func audience(region: String) -> String { "outpost:" + region }
    /// The region an audience names, nil if it is not one of ours.
    public static func region(ofAudience audience: String) -> String? {
        audience.hasPrefix("outpost:") ? String(audience.dropFirst("outpost:".count)) : nil
    }
    /// Clocks of a fleet's nodes differ a little: `exp`, `nbf` and `iat` allow this much.
    public static let leewaySeconds: Int64 = 30
    /// Roles only the hub may grant.
    public static let hubOnlyRoles: Set<String> = ["hub_admin"]

    public static func sign(_ claims: AccessClaims, by signer: TokenSigner) -> String {
        var header: [UInt8] = []
        header.append(contentsOf: #"{"alg":"EdDSA","typ":"at+jwt","kid":"#.utf8)
        JSONText.appendString(signer.nodeId, to: &header)
        if let certificate = signer.certificateDER {
            header.append(contentsOf: #","x5c":["#.utf8)
            JSONText.appendString(Base64.encode(certificate, url: false, padded: true), to: &header)
            header.append(UInt8(ascii: "]"))
        }
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
        if let session = claims.session { member("sid") { JSONText.appendString(session, to: &$0) } }
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
        return signingInput + "." + Base64.encode(signer.keyPair.sign(Array(signingInput.utf8)), url: true, padded: false)
    }
}

/// Verifies access tokens for one node. Loop thread only (it keeps caches).
///
/// Verifying costs one Ed25519 signature check (tens of µs) and, the first time a certificate
/// is seen, one more for the certificate: both are remembered, bounded, so a client that sends
/// the same token on every request pays a dictionary lookup after the first.
public final class TokenVerifier {
    /// This node: tokens without a certificate must be its own.
    public let nodeId: String
    public let region: String
    public let role: String
    private let publicKey: [UInt8]
    /// The fleet's CA (PEM), nil for a node that was never enrolled.
    private let authorityPEM: String?
    /// Certificates seen, by their SHA-256: who they name and their key (nil if refused), and
    /// when that was checked (checked again after an hour: certificates expire).
    private var certificates: [[UInt8]: (checkedAt: Int64, issuer: (subject: CertificateSubject, publicKey: [UInt8])?)] = [:]
    /// Tokens that verified, until they expire.
    private var verified: [String: VerifiedToken] = [:]
    static let certificatesMax = 4_096
    static let verifiedMax = 20_000

    public init(nodeId: String, region: String, role: String, publicKey: [UInt8], authorityPEM: String?) {
        self.nodeId = nodeId
        self.region = region
        self.role = role
        self.publicKey = publicKey
        self.authorityPEM = authorityPEM
    }

    /// The token's claims and issuer if it verifies now for `audience` and its issuer may grant
    /// its roles there.
    public func verify(_ token: String, audience: String, nowSeconds: Int64) -> Result<VerifiedToken, TokenRefusal> {
        if let known = verified[token], known.claims.audience == audience {
            return Self.checkTimes(known.claims, nowSeconds: nowSeconds).map { known }
        }
        let result = verifyAfresh(token, audience: audience, nowSeconds: nowSeconds)
        if case .success(let verifiedToken) = result {
            if verified.count >= Self.verifiedMax { verified = verified.filter { $0.value.claims.expiresAt + AccessToken.leewaySeconds > nowSeconds } }
            if verified.count >= Self.verifiedMax { verified.removeAll(keepingCapacity: true) }
            verified[token] = verifiedToken
        }
        return result
    }

    private func verifyAfresh(_ token: String, audience: String, nowSeconds: Int64) -> Result<VerifiedToken, TokenRefusal> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 16 * 1024, let headerBytes = Base64.decode(String(parts[0]), url: true),
              let bodyBytes = Base64.decode(String(parts[1]), url: true), let signature = Base64.decode(String(parts[2]), url: true),
              case .object(let header)? = LooseJSON.parse(headerBytes), case .object(let body)? = LooseJSON.parse(bodyBytes) else {
            return .failure(.malformed)
        }
        guard header["alg"] == .string("EdDSA") else { return .failure(.algorithm) }
        guard header["typ"] == .string("at+jwt") else { return .failure(.type) }
        guard case .string(let keyId)? = header["kid"] else { return .failure(.unknownIssuer) }
        // Who signed: this node itself, or a fleet member whose certificate comes along.
        let issuerKey: [UInt8], issuerRegion: String, issuerRole: String
        if case .array(let chain)? = header["x5c"] {
            guard chain.count == 1, case .string(let encoded) = chain[0], let der = Base64.decode(encoded, url: false),
                  let issuer = certificate(der, nowSeconds: nowSeconds), issuer.subject.commonName == keyId,
                  let unit = issuer.subject.organizationalUnit else { return .failure(.unknownIssuer) }
            (issuerKey, issuerRegion, issuerRole) = (issuer.publicKey, unit, issuer.subject.role ?? "store")
        } else {
            guard header["x5c"] == nil, keyId == nodeId else { return .failure(.unknownIssuer) }
            (issuerKey, issuerRegion, issuerRole) = (publicKey, region, role)
        }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard Ed25519KeyPair.verify(signature, of: signingInput, publicKey: issuerKey) else { return .failure(.signature) }
        guard case .string(let subject)? = body["sub"], !subject.isEmpty, case .string(let tokenAudience)? = body["aud"],
              case .string(let issuer)? = body["iss"], case .integer(let issuedAt)? = body["iat"], case .integer(let notBefore)? = body["nbf"],
              case .integer(let expiresAt)? = body["exp"], case .string(let id)? = body["jti"], case .array(let roleValues)? = body["roles"] else {
            return .failure(.claims)
        }
        var session: String?
        if let value = body["sid"] {
            guard case .string(let sid) = value else { return .failure(.claims) }
            session = sid
        }
        var roles: [String] = []
        for value in roleValues {
            guard case .string(let role) = value else { return .failure(.claims) }
            roles.append(role)
        }
        guard issuer == keyId else { return .failure(.unknownIssuer) }
        guard tokenAudience == audience else { return .failure(.audience) }
        let claims = AccessClaims(subject: subject, roles: roles, audience: tokenAudience, issuer: issuer, issuedAt: issuedAt,
                                  expiresAt: expiresAt, id: id, session: session)
        guard expiresAt > issuedAt, expiresAt - issuedAt <= AccessToken.lifetimeSeconds, notBefore >= issuedAt else { return .failure(.lifetime) }
        if case .failure(let refusal) = Self.checkTimes(claims, nowSeconds: nowSeconds, notBefore: notBefore) { return .failure(refusal) }
        // The issuer's authority: hub-only roles from the hub; a region's tokens from its nodes.
        let grantsHubRoles = !AccessToken.hubOnlyRoles.isDisjoint(with: roles)
        guard !grantsHubRoles || issuerRole == "hub" else { return .failure(.authority) }
        guard issuerRole == "hub" || AccessToken.region(ofAudience: tokenAudience) == issuerRegion else { return .failure(.authority) }
        return .success(VerifiedToken(claims: claims, issuerRegion: issuerRegion, issuerRole: issuerRole))
    }

    private static func checkTimes(_ claims: AccessClaims, nowSeconds: Int64, notBefore: Int64? = nil) -> Result<Void, TokenRefusal> {
        guard nowSeconds < claims.expiresAt + AccessToken.leewaySeconds else { return .failure(.expired) }
        guard (notBefore ?? claims.issuedAt) <= nowSeconds + AccessToken.leewaySeconds else { return .failure(.notYetValid) }
        return .success(())
    }

    /// A certificate from a token: checked once against the fleet's CA, then remembered.
    private func certificate(_ der: [UInt8], nowSeconds: Int64) -> (subject: CertificateSubject, publicKey: [UInt8])? {
        guard let authorityPEM else { return nil }
        let key = SHA256.hash(der)
        if let known = certificates[key], nowSeconds - known.checkedAt < 3_600 { return known.issuer }
        let checked = Certificates.verifiedNode(der: der, authorityPEM: authorityPEM, nowSeconds: nowSeconds)
        if certificates.count >= Self.certificatesMax { certificates.removeAll(keepingCapacity: true) }
        certificates[key] = (nowSeconds, checked)
        return checked
    }
}
