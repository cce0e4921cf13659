import Commerce
import HTTP
import Platform
import Replication

struct RegisterBody: Codable, Sendable {
    var email: String
    var password: String
    var name: String?
    var phone: String?
    /// A guest cart to carry into the new account.
    var cartId: String?
}

struct SignInBody: Codable, Sendable {
    var email: String
    var password: String
    /// A guest cart to merge into the customer's.
    var cartId: String?
}

struct RefreshBody: Codable, Sendable {
    var refreshToken: String
}

struct CustomerProfile: Codable, Sendable {
    var id: String
    var email: String
    var name: String?
    var phone: String?
    var createdAt: String
}

struct SignedIn: Codable, Sendable {
    var customer: CustomerProfile
    var accessToken: String
    var refreshToken: String
    var tokenType = "Bearer"
    var expiresIn: Int64
}

/// A refresh session as the `customers` collection holds it (`session:<id>`).
struct SignInSession {
    var customer: String
    var createdMs: Int64
    /// Hex SHA-256 of the current refresh token's secret.
    var current: String
    var expiresMs: Int64
    var revoked: Bool

    var fields: [String: FieldValue] {
        ["customer": .text(customer), "created": .integer(createdMs), "current": .text(current), "expires": .integer(expiresMs), "revoked": .flag(revoked)]
    }

    init(customer: String, createdMs: Int64, current: String, expiresMs: Int64, revoked: Bool) {
        self.customer = customer
        self.createdMs = createdMs
        self.current = current
        self.expiresMs = expiresMs
        self.revoked = revoked
    }

    init?(_ fields: [String: FieldValue]) {
        guard case .text(let customer)? = fields["customer"], case .integer(let created)? = fields["created"], case .text(let current)? = fields["current"],
              case .integer(let expires)? = fields["expires"], case .flag(let revoked)? = fields["revoked"] else { return nil }
        self.init(customer: customer, createdMs: created, current: current, expiresMs: expires, revoked: revoked)
    }
}

extension OutpostNode {
    /// Refresh tokens last this long from their last use (each use makes a new one).
    static let refreshLifetimeMs: Int64 = 7 * 86_400_000
    static let passwordBytes = 8...256

    var passwordCost: PasswordHash.Cost { PasswordHash.Cost(log2N: config.passwordCostLog2N, r: 8, p: PasswordHash.Cost.standard.p) }

    func registerCustomerRoutes() {
        registerSignInRoutes()
        registerSessionRoutes()
    }

    /// Registering, signing in and refreshing the token.
    private func registerSignInRoutes() {
        let tokenReply = RouteDoc.Reply(200, "Signed in: the customer, an access token (15 minutes) and a refresh token (7 days, one use).", schema: ["type": "object"])

        router.add("POST", "/api/v1/auth/register", bodyBytesMax: 8192, rateClass: .credentials, doc: RouteDoc(
            operationId: "register", summary: "Create a customer account in this region and sign in.",
            description: "Body: {\"email\", \"password\" (8 to 256 bytes), \"name\"?, \"phone\"?}. The account is known on every node of the region.",
            tags: ["auth"], requestBody: .init(0, "The account.", schema: ["type": "object"]),
            replies: [.init(201, "Created and signed in.", schema: ["type": "object"]),
                      .init(409, "The email has an account.", contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef)])
        ) { [unowned self] request, responder in
            do {
                try createAccount(try request.decodeJSON(RegisterBody.self)) { result in
                    switch result {
                    case .success(let signedIn): responder.send(.json(signedIn, status: 201))
                    case .failure(let error): responder.fail(error)
                    }
                }
            } catch {
                responder.fail(error)
            }
        }

        router.add("POST", "/api/v1/auth/sign-in", bodyBytesMax: 8192, rateClass: .credentials, doc: RouteDoc(
            operationId: "signIn", summary: "Sign in with email and password.",
            description: "Body: {\"email\", \"password\", \"cart_id\"?: a guest cart whose lines join the customer's cart}. Failed attempts slow down further ones per account and per address (429 with Retry-After); ten lock the account for 15 minutes.",
            tags: ["auth"], requestBody: .init(0, "Email and password.", schema: ["type": "object"]),
            replies: [tokenReply,
                      .init(401, "Wrong email or password.", contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef),
                      .init(429, "Too many failed attempts.", contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef)])
        ) { [unowned self] request, responder in
            do {
                let body = try request.decodeJSON(SignInBody.self)
                try authenticate(email: body.email, password: body.password, address: request.remoteAddress?.host ?? "unknown") { [unowned self] result in
                    switch result {
                    case .success(let customer):
                        mergeGuestCart(body.cartId, into: customer.id)
                        signIn(customer, status: 200, responder: responder)
                    case .failure(let error):
                        responder.fail(error)
                    }
                }
            } catch {
                responder.fail(error)
            }
        }

        router.add("POST", "/api/v1/auth/refresh", bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "refresh", summary: "Trade a refresh token for new tokens; the old refresh token is spent.",
            description: "A refresh token used twice revokes its whole session (someone else has a copy): sign in again.",
            tags: ["auth"], requestBody: .init(0, "{\"refresh_token\"}.", schema: ["type": "object"]),
            replies: [tokenReply, .init(401, "Unknown, expired, signed out or reused.", contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef)])
        ) { [unowned self] request, responder in
            do {
                refresh(try request.decodeJSON(RefreshBody.self).refreshToken) { result in
                    switch result {
                    case .success(let signedIn): responder.send(.json(signedIn))
                    case .failure(let error): responder.fail(error)
                    }
                }
            } catch {
                responder.fail(error)
            }
        }
    }

    /// Signing out, and the signed-in customer.
    private func registerSessionRoutes() {
        router.add("POST", "/api/v1/auth/sign-out", bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "signOut", summary: "End the session of a refresh token: it and every token made from it stop refreshing.",
            tags: ["auth"], requestBody: .init(0, "{\"refresh_token\"}.", schema: ["type": "object"]),
            replies: [.init(204, "Signed out (also when the token was not valid).")])
        ) { [unowned self] request, responder in
            do {
                signOut(try request.decodeJSON(RefreshBody.self).refreshToken) { error in
                    if let error { responder.fail(error) } else { responder.send(.noContent()) }
                }
            } catch {
                responder.fail(error)
            }
        }

        router.get("/api/v1/me", access: .roles(["customer"]), doc: RouteDoc(
            operationId: "getProfile", summary: "The signed-in customer's profile.", tags: ["auth"],
            replies: [.init(200, "The profile.", schema: ["type": "object"])])
        ) { [unowned self] request in
            .json(Self.fullProfile(try signedInCustomer(request)))
        }
    }

    /// Creates an account (the password hashed on the work queue) and signs it in. Throws what
    /// is refused before any work; `completion` gets the tokens once the account is durable.
    func createAccount(_ body: RegisterBody, completion: @escaping (Result<SignedIn, any Error>) -> Void) throws {
        let email = Customer.normalizedEmail(body.email)
        try Self.validateRegistration(body, email: email)
        // A taken email costs the same hash as a new one and is not named in the answer: timing
        // and wording say no more than the refusal itself (rate limits bound how often it is asked).
        let taken = HTTPError(.emailTaken, detail: "this email cannot be registered; sign in, or ask for a password reset")
        let password = body.password, cost = passwordCost
        loop.queueWork({ PasswordHash.make(password, cost: cost).encoded }, completion: { [unowned self] result in
            guard case .success(let hash) = result else { return completion(.failure(HTTPError(.internalError, detail: "the password could not be hashed"))) }
            // Checked after the hash: another registration may have taken the email meanwhile.
            guard accountId(email: email) == nil, accounts.registering.insert(email).inserted else { return completion(.failure(taken)) }
            let at = replica.tick(wallMs: WallClock.nowMs())
            let customer = Customer(id: "c-" + SaleReservations.stamp(node: identity.nodeId, at),
                                    email: email, name: body.name?.trimmingWhitespace(), phone: body.phone?.trimmingWhitespace(),
                                    passwordHash: hash, createdMs: at.physicalMs)
            let vault = keys.customerVault
            mergeGuestCart(body.cartId, into: customer.id)
            issueTokens(customer, alsoWrite: [
                (CustomerVault.customerPrefix + customer.id, vault.fields(of: customer)),
                (vault.emailKey(email), ["customer": .text(customer.id)]),
            ], written: { [unowned self] in accounts.registering.remove(email) }, completion: completion)
        })
    }

    /// Checks an email and password (on the work queue), throttled per account and address.
    func authenticate(email given: String, password: String, address: String, completion: @escaping (Result<Customer, any Error>) -> Void) throws {
        let email = Customer.normalizedEmail(given)
        let nowMs = WallClock.nowMs()
        // Counted as failed before the hash: sign-ins that arrive together cannot all pass.
        if case .wait(let untilMs, let locked) = accounts.signInThrottle.begin(account: email, address: address, nowMs: nowMs) {
            let seconds = max(1, (untilMs - nowMs + 999) / 1000)
            throw HTTPError(.signInThrottled, detail: locked ? "this account is locked for this address after repeated failures; try again in \(seconds) s"
                                                             : "too many failed sign-ins; try again in \(seconds) s",
                            headers: HTTPHeaders([("Retry-After", String(seconds))]))
        }
        let customer = accountId(email: email).flatMap(customer(id:))
        // An unknown email costs the same hash as a wrong password, so timing tells nothing.
        let stored = customer.flatMap { PasswordHash(encoded: $0.passwordHash) } ?? PasswordHash.decoy(cost: passwordCost)
        loop.queueWork({ stored.verifies(password) }, completion: { [unowned self] result in
            guard case .success(true) = result, let customer else {
                return completion(.failure(HTTPError(.signInFailed, detail: "the email and password do not match an account")))
            }
            accounts.signInThrottle.succeeded(account: email, address: address)
            completion(.success(customer))
        })
    }

    /// Trades a refresh token for new tokens (the old one is spent); a token used twice revokes
    /// its whole session, since someone else holds a copy.
    func refresh(_ presented: String, completion: @escaping (Result<SignedIn, any Error>) -> Void) {
        guard let (sessionId, session, matches) = session(of: presented), !session.revoked, session.expiresMs > WallClock.nowMs(),
              let customer = customer(id: session.customer), session.createdMs >= customer.sessionsAfterMs else {
            return completion(.failure(HTTPError(.refreshRefused, detail: "the refresh token is unknown, expired or signed out; sign in again")))
        }
        // Rotation is a compare-and-swap: the token must be the session's current one and no other
        // rotation of it may be under way. A second request with the same token while the first
        // is being written is a copy in someone else's hands, like a spent token.
        guard matches, accounts.refreshing.insert(sessionId).inserted else {
            logger.warning("refresh token reused; session revoked", metadata: ["session": "\(sessionId)", "customer": "\(customer.id)"])
            return revoke(sessionId, session) { _ in
                completion(.failure(HTTPError(.refreshRefused, detail: "this refresh token was used before; the session is revoked, sign in again")))
            }
        }
        issueTokens(customer, session: (sessionId, session), written: { [unowned self] in accounts.refreshing.remove(sessionId) }, completion: completion)
    }

    /// Ends a refresh token's session (nothing happens for a token that is not valid).
    func signOut(_ presented: String, completion: @escaping ((any Error)?) -> Void) {
        guard let (sessionId, session, matches) = session(of: presented), matches, !session.revoked else { return completion(nil) }
        revoke(sessionId, session, completion: completion)
    }

    private static func validateRegistration(_ body: RegisterBody, email: String) throws(HTTPError) {
        var errors: [FieldError] = []
        if !Customer.isEmail(email) { errors.append(FieldError("email", "must be an email address")) }
        if !passwordBytes.contains(body.password.utf8.count) { errors.append(FieldError("password", "must be 8 to 256 bytes")) }
        if let name = body.name, let problem = nameProblem(name) { errors.append(FieldError("name", problem)) }
        if let phone = body.phone, !phone.isEmpty, let problem = phoneProblem(phone) { errors.append(FieldError("phone", problem)) }
        guard errors.isEmpty else { throw validationError(ValidationFailure(errors)) }
    }

    func accountId(email: String) -> String? {
        guard let entry = replica.state(at: keys.customerVault.emailKey(email), in: Collections.customers),
              case .text(let id)? = CatalogFields.values(of: entry)["customer"] else { return nil }
        return id
    }

    func customer(id: String) -> Customer? {
        guard let entry = replica.state(at: CustomerVault.customerPrefix + id, in: Collections.customers) else { return nil }
        return keys.customerVault.customer(id: id, from: CatalogFields.values(of: entry))
    }

    /// The session a refresh token names, and whether the token is its current one.
    private func session(of token: String) -> (id: String, session: SignInSession, matches: Bool)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let secret = Base64.decode(String(parts[1]), url: true), secret.count == 32,
              let entry = replica.state(at: CustomerVault.sessionPrefix + parts[0], in: Collections.customers),
              let session = SignInSession(CatalogFields.values(of: entry)) else { return nil }
        let matches = constantTimeEquals(Array(Hex.encode(SHA256.hash(secret)).utf8), Array(session.current.utf8))
        return (String(parts[0]), session, matches)
    }

    /// Makes tokens for `customer` and answers with them once they are durable.
    func signIn(_ customer: Customer, status: Int, responder: Responder, session existing: (id: String, session: SignInSession)? = nil,
                alsoWrite: [(key: String, fields: [String: FieldValue])] = []) {
        issueTokens(customer, session: existing, alsoWrite: alsoWrite) { result in
            switch result {
            case .success(let signedIn): responder.send(.json(signedIn, status: status))
            case .failure(let error): responder.fail(error)
            }
        }
    }

    /// Makes tokens for `customer`: a new refresh token in `session` (a new session if nil),
    /// written with `alsoWrite`; `completion` runs once they are durable.
    func issueTokens(_ customer: Customer, session existing: (id: String, session: SignInSession)? = nil,
                     alsoWrite: [(key: String, fields: [String: FieldValue])] = [], written: @escaping () -> Void = {},
                     completion: @escaping (Result<SignedIn, any Error>) -> Void) {
        let nowMs = WallClock.nowMs()
        let existingSession = existing?.session
        let sessionId = existing?.id ?? "s-" + Hex.encode(SecureRandom.bytes(12))
        let secret = SecureRandom.bytes(32)
        let record = SignInSession(customer: customer.id, createdMs: existingSession?.createdMs ?? nowMs, current: Hex.encode(SHA256.hash(secret)),
                                   expiresMs: nowMs + Self.refreshLifetimeMs, revoked: false)
        let claims = AccessClaims(subject: customer.id, roles: ["customer"], audience: AccessToken.audience(region: config.region),
                                  issuer: identity.nodeId, issuedAt: nowMs / 1000, expiresAt: nowMs / 1000 + AccessToken.lifetimeSeconds,
                                  id: "t-" + Hex.encode(SecureRandom.bytes(8)), session: sessionId)
        let reply = SignedIn(customer: Self.profile(customer), accessToken: AccessToken.sign(claims, by: keys.tokenSigner),
                             refreshToken: sessionId + "." + Base64.encode(secret, url: true, padded: false), expiresIn: AccessToken.lifetimeSeconds)
        writeFields(alsoWrite + [(CustomerVault.sessionPrefix + sessionId, record.fields)]) { error in
            written()
            if let error { completion(.failure(error)) } else { completion(.success(reply)) }
        }
    }

    private func revoke(_ sessionId: String, _ session: SignInSession, completion: @escaping ((any Error)?) -> Void) {
        var revoked = session
        revoked.revoked = true
        writeFields([(CustomerVault.sessionPrefix + sessionId, revoked.fields)], completion: completion)
    }

    /// Writes whole entries of the `customers` collection in one group commit.
    func writeFields(_ entries: [(key: String, fields: [String: FieldValue])], completion: @escaping ((any Error)?) -> Void) {
        let replica = self.replica, me = identity.nodeId
        writer.submit({ _ in
            for (key, fields) in entries { _ = try Self.commit(fields, key: key, in: Collections.customers, replica: replica, as: me) }
        }, completion: { [unowned self] result in
            switch result {
            case .success:
                replicatedChanged()
                completion(nil)
            case .failure(let error):
                completion(error)
            }
        })
    }

    static func profile(_ customer: Customer) -> CustomerProfile {
        CustomerProfile(id: customer.id, email: customer.email, name: customer.name, phone: customer.phone, createdAt: WallClock.iso8601(ms: customer.createdMs))
    }
}
