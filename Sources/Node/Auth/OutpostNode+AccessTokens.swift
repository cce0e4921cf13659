import Commerce
import Platform
import Replication

extension OutpostNode {
    /// The claims of an access token that verifies on this node now (its issuer, signature,
    /// audience, lifetime and authority: `TokenVerifier`) and that nothing has ended since: a
    /// customer's token dies with its sign-in session, at sign-out or a password change.
    func verifiedClaims(_ token: String) -> Result<AccessClaims, TokenRefusal> {
        switch keys.tokenVerifier.verify(token, audience: AccessToken.audience(region: config.region), nowSeconds: WallClock.nowMs() / 1000) {
        case .failure(let refusal):
            return .failure(refusal)
        case .success(let verified):
            let claims = verified.claims
            guard claims.roles.contains("customer") else { return .success(claims) }
            guard let sessionId = claims.session, let session = signInSession(sessionId), session.customer == claims.subject,
                  !session.revoked, let customer = customer(id: claims.subject), session.createdMs >= customer.sessionsAfterMs else {
                return .failure(.revoked)
            }
            return .success(claims)
        }
    }

    /// A customer's sign-in session by id (replicated in the region), nil if unknown.
    func signInSession(_ id: String) -> SignInSession? {
        guard let entry = replica.state(at: CustomerVault.sessionPrefix + id, in: Collections.customers) else { return nil }
        return SignInSession(CatalogFields.values(of: entry))
    }

    /// This node's token signer and verifier: its own key, and its fleet certificate (and the
    /// fleet's CA) once enrolled.
    static func tokenAuthority(directory: String, identity: NodeIdentity, config: NodeConfig) -> (TokenSigner, TokenVerifier) {
        let certificate = try? Files.readString(directory + "/" + NodeIdentity.certificateFile)
        let authority = try? Files.readString(directory + "/" + NodeIdentity.authorityFile)
        // A certificate that is not this node's (checked again, with a clear error, by fleetTLS)
        // is not put in tokens: its tokens would be refused everywhere else.
        let ours = certificate.flatMap { pem in
            Certificates.subject(ofPEM: pem).flatMap { $0.commonName == identity.nodeId && $0.organizationalUnit == config.region ? pem : nil }
        }
        let signer = TokenSigner(nodeId: identity.nodeId, keyPair: identity.keyPair, certificateDER: ours.flatMap(Certificates.der(ofPEM:)))
        let verifier = TokenVerifier(nodeId: identity.nodeId, region: config.region, role: config.role.rawValue,
                                     publicKey: identity.keyPair.publicKey, authorityPEM: authority)
        return (signer, verifier)
    }
}
