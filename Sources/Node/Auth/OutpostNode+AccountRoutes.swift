import Commerce
import HTTP
import Platform
import Replication

struct PasswordChangeBody: Codable, Sendable {
    var currentPassword: String
    var newPassword: String
}

struct PasswordResetBody: Codable, Sendable {
    var email: String
}

struct PasswordResetConfirmBody: Codable, Sendable {
    var token: String
    var newPassword: String
}

struct ErasureBody: Codable, Sendable {
    var password: String
}

struct ProfileWithAddresses: Codable, Sendable {
    var id: String
    var email: String
    var name: String?
    var phone: String?
    var addresses: [Address]
    var createdAt: String
}

extension OutpostNode {
    static let addressesMax = 10
    static let resetLifetimeMs: Int64 = 30 * 60_000

    /// Profile changes, passwords and erasure: what a signed-in customer does to their account.
    func registerAccountRoutes() {
        registerProfileRoutes()
        registerPasswordResetRoutes()
        registerErasureRoutes()
    }

    /// A customer changing their details and password.
    private func registerProfileRoutes() {
        let problem = RouteDoc.Reply.problem

        router.add("PATCH", "/api/v1/me", access: .roles(["customer"]), bodyBytesMax: 16_384, doc: RouteDoc(
            operationId: "updateProfile", summary: "Change name, phone or addresses (a member set to null is removed).",
            description: "Addresses: up to 10 of {label?, name?, line1, line2?, city, postal_code, country (ISO 3166 alpha-2)}; the list replaces the old one.",
            tags: ["auth"], requestBody: .init(0, "The members to change.", schema: ["type": "object"]),
            replies: [.init(200, "The profile as changed.", schema: ["type": "object"])])
        ) { [unowned self] request, responder in
            do {
                var customer = try signedInCustomer(request)
                guard case .object(let members) = try request.decodeJSON(LooseJSON.self) else { throw HTTPError(.validation, detail: "the body must be a JSON object") }
                try Self.apply(members, to: &customer)
                writeFields([(CustomerVault.customerPrefix + customer.id, keys.customerVault.fields(of: customer))]) { error in
                    if let error { responder.fail(error) } else { responder.send(.json(Self.fullProfile(customer))) }
                }
            } catch {
                responder.fail(error)
            }
        }

        router.add("POST", "/api/v1/me/password", access: .roles(["customer"]), bodyBytesMax: 4096, rateClass: .credentials, doc: RouteDoc(
            operationId: "changePassword", summary: "Change the password: every other device is signed out, this one gets new tokens.",
            tags: ["auth"], requestBody: .init(0, "{\"current_password\", \"new_password\"}.", schema: ["type": "object"]),
            replies: [.init(200, "Changed; new tokens.", schema: ["type": "object"]), problem(403, "The current password is wrong.")])
        ) { [unowned self] request, responder in
            do {
                let customer = try signedInCustomer(request)
                let body = try request.decodeJSON(PasswordChangeBody.self)
                try Self.validateNewPassword(body.newPassword)
                let current = body.currentPassword, new = body.newPassword, cost = passwordCost
                let stored = PasswordHash(encoded: customer.passwordHash) ?? PasswordHash.decoy(cost: cost)
                loop.queueWork({ stored.verifies(current) ? PasswordHash.make(new, cost: cost).encoded : nil }, completion: { [unowned self] result in
                    guard case .success(let hash?) = result else { return responder.fail(HTTPError(.passwordWrong, detail: "the current password does not match")) }
                    var changed = customer
                    changed.passwordHash = hash
                    changed.sessionsAfterMs = WallClock.nowMs()
                    changed.pendingReset = nil
                    signIn(changed, status: 200, responder: responder, alsoWrite: [(CustomerVault.customerPrefix + changed.id, keys.customerVault.fields(of: changed))])
                })
            } catch {
                responder.fail(error)
            }
        }
    }

    /// A new reset token for `customer`, kept (hashed) on the account and mailed to it (sealed
    /// in the queue), in one transaction. At most one mail a minute per account: the queue keeps
    /// one id per account and minute.
    func mailPasswordReset(_ customer: Customer, locale: String, completion: @escaping ((any Error)?) -> Void) {
        var changed = customer
        let secret = SecureRandom.bytes(32), nowMs = WallClock.nowMs(), expiresMs = nowMs + Self.resetLifetimeMs
        changed.pendingReset = (Hex.encode(SHA256.hash(secret)), expiresMs)
        let token = customer.id + "." + Base64.encode(secret, url: true, padded: false)
        let mailId = "mail_reset_\(customer.id)_\(nowMs / 60_000)"
        let mail = QueuedMail(id: mailId, kind: .passwordReset, about: customer.id, locale: locale,
                              sealed: keys.customerVault.sealMailSecret(token, mail: mailId), dueMs: nowMs)
        let fields = keys.customerVault.fields(of: changed), replica = self.replica, me = identity.nodeId, queue = mailQueue
        writer.submit({ _ in
            // A reset asked again within the minute keeps the token already on its way.
            guard try queue.queue([mail], nowMs: nowMs) == 1 else { return }
            _ = try Self.commit(fields, key: CustomerVault.customerPrefix + changed.id, in: Collections.customers, replica: replica, as: me)
        }, completion: { [unowned self] result in
            switch result {
            case .success: replicatedChanged(); completion(nil)
            case .failure(let error):
                logger.error("password reset mail not queued", metadata: ["error": "\(error)"])
                completion(error)
            }
        })
    }

    /// Password resets: asked by the customer or by staff, then confirmed.
    private func registerPasswordResetRoutes() {
        let problem = RouteDoc.Reply.problem

        router.add("POST", "/api/v1/auth/password-reset", bodyBytesMax: 4096, rateClass: .credentials, doc: RouteDoc(
            operationId: "requestPasswordReset", summary: "Ask for a password reset: a link to choose a new password goes to the account's email.",
            description: """
                Always 202, whether or not the email has an account. With `[mail]` configured the node mails the account's \
                owner a link with a reset token (valid 30 minutes; at most one mail a minute per account); the token is \
                never logged or answered. Without mail the node only logs that a reset was asked for, and a store manager \
                or operator who has checked who is asking issues a token with `nodectl customers reset-token --email`.
                """,
            tags: ["auth"], requestBody: .init(0, "{\"email\"}.", schema: ["type": "object"]),
            replies: [.init(202, "Accepted.")])
        ) { [unowned self] request, responder in
            do {
                let email = Customer.normalizedEmail(try request.decodeJSON(PasswordResetBody.self).email)
                let account = accountId(email: email)
                logger.info("password reset asked for", metadata: ["customer": "\(account ?? "none")"])
                guard config.mail != nil, let customer = account.flatMap(customer(id:)) else { return responder.send(Response(status: 202)) }
                mailPasswordReset(customer, locale: shopperLocale(request)) { _ in responder.send(Response(status: 202)) }
            } catch {
                responder.fail(error)
            }
        }

        router.add("POST", "/admin/v1/customers/password-reset", access: .roles(["store_manager", "operator"]), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "issuePasswordReset",
            summary: "Issue a password reset token (valid 30 minutes) for an account, to hand to its owner once they have shown who they are.",
            description: "Body: {\"email\"}. The token is in this answer only: never logged. A new token replaces an earlier one. `nodectl customers reset-token --email` prints it.",
            tags: ["auth"], requestBody: .init(0, "{\"email\"}.", schema: ["type": "object"]),
            replies: [.init(201, "{customer, reset_token, expires_at}.", schema: ["type": "object"]), problem(404, "No account has this email in this region.")])
        ) { [unowned self] request, responder in
            do {
                let email = Customer.normalizedEmail(try request.decodeJSON(PasswordResetBody.self).email)
                guard var customer = accountId(email: email).flatMap(customer(id:)) else {
                    throw HTTPError(.notFound, detail: "no account has this email in this region")
                }
                let secret = SecureRandom.bytes(32), expiresMs = WallClock.nowMs() + Self.resetLifetimeMs
                customer.pendingReset = (Hex.encode(SHA256.hash(secret)), expiresMs)
                let token = customer.id + "." + Base64.encode(secret, url: true, padded: false)
                let by = request.subject ?? "admin"
                writeFields([(CustomerVault.customerPrefix + customer.id, keys.customerVault.fields(of: customer))]) { [logger] error in
                    if let error { return responder.fail(error) }
                    logger.notice("password reset token issued", metadata: ["customer": "\(customer.id)", "by": "\(by)"])
                    responder.send(.json(["customer": .string(customer.id), "reset_token": .string(token),
                                          "expires_at": .string(WallClock.iso8601(ms: expiresMs))], status: 201))
                }
            } catch {
                responder.fail(error)
            }
        }

        router.add("POST", "/api/v1/auth/password-reset/confirm", bodyBytesMax: 4096, rateClass: .credentials, doc: RouteDoc(
            operationId: "confirmPasswordReset", summary: "Set a new password with a reset token; every device is signed out.",
            tags: ["auth"], requestBody: .init(0, "{\"token\", \"new_password\"}.", schema: ["type": "object"]),
            replies: [.init(204, "Changed."), problem(400, "The token is unknown, expired or used.")])
        ) { [unowned self] request, responder in
            do {
                let body = try request.decodeJSON(PasswordResetConfirmBody.self)
                try confirmPasswordReset(token: body.token, newPassword: body.newPassword) { error in
                    if let error { responder.fail(error) } else { responder.send(.noContent()) }
                }
            } catch {
                responder.fail(error)
            }
        }
    }

    /// Sets a new password with a reset token (the API's and the storefront's form): the token
    /// is used up and every device signed out. Throws what is refused before anything is written.
    func confirmPasswordReset(token: String, newPassword: String, completion: @escaping ((any Error)?) -> Void) throws {
        try Self.validateNewPassword(newPassword)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let secret = Base64.decode(String(parts[1]), url: true), let customer = customer(id: String(parts[0])),
              let reset = customer.pendingReset, reset.expiresMs > WallClock.nowMs(),
              constantTimeEquals(Array(Hex.encode(SHA256.hash(secret)).utf8), Array(reset.hash.utf8)) else {
            throw HTTPError(.resetRefused, detail: "the reset token is unknown, expired or used; ask for a new one")
        }
        let cost = passwordCost
        loop.queueWork({ PasswordHash.make(newPassword, cost: cost).encoded }, completion: { [unowned self] result in
            guard case .success(let hash) = result else { return completion(HTTPError(.internalError, detail: "the password could not be hashed")) }
            var changed = customer
            changed.passwordHash = hash
            changed.pendingReset = nil
            changed.sessionsAfterMs = WallClock.nowMs()
            writeFields([(CustomerVault.customerPrefix + changed.id, keys.customerVault.fields(of: changed))], completion: completion)
        })
    }

    /// A customer erasing their account.
    private func registerErasureRoutes() {
        let problem = RouteDoc.Reply.problem

        router.add("DELETE", "/api/v1/me", access: .roles(["customer"]), bodyBytesMax: 4096, rateClass: .credentials, doc: RouteDoc(
            operationId: "eraseAccount", summary: "Erase the account (GDPR): personal data removed on every node of the region, orders kept under its id.",
            description: "Body: {\"password\"}. Email, name, phone, addresses and password are removed and the email is free again; the id stays as a pseudonym on orders. Every session ends.",
            tags: ["auth"], requestBody: .init(0, "{\"password\"}.", schema: ["type": "object"]),
            replies: [.init(204, "Erased."), problem(403, "The password is wrong.")])
        ) { [unowned self] request, responder in
            do {
                let customer = try signedInCustomer(request)
                let password = try request.decodeJSON(ErasureBody.self).password
                let stored = PasswordHash(encoded: customer.passwordHash) ?? PasswordHash.decoy(cost: passwordCost)
                loop.queueWork({ stored.verifies(password) }, completion: { [unowned self] result in
                    guard case .success(true) = result else { return responder.fail(HTTPError(.passwordWrong, detail: "the password does not match; nothing was erased")) }
                    let nowMs = WallClock.nowMs()
                    // The orders stay (the books need them); their contact keys go, so their
                    // sealed addresses can never be opened again.
                    // Unreadable, nothing is erased: half an erasure would leave addresses to open.
                    guard let orders = try? orderIndex.ids(ofCustomer: customer.id) else {
                        return responder.fail(StorageError(.io, message: "the customer's orders could not be read; nothing was erased"))
                    }
                    // Reviews first: if they cannot be withdrawn the account stands and the erasure can be asked again.
                    withdrawReviews(ofCustomer: customer.id) { [unowned self] error in
                        if let error { return responder.fail(error) }
                        writeFields([
                            (CustomerVault.customerPrefix + customer.id, CustomerVault.erasedFields(createdMs: customer.createdMs, erasedMs: nowMs)),
                            (keys.customerVault.emailKey(customer.email), [:]),
                        ] + orders.map { (CustomerVault.orderKeyPrefix + $0, [:]) }) { [logger] error in
                            if let error { return responder.fail(error) }
                            logger.info("customer erased", metadata: ["customer": "\(customer.id)"])
                            responder.send(.noContent())
                        }
                    }
                })
            } catch {
                responder.fail(error)
            }
        }
    }

    /// The customer the authorized access token names; 403 if it names none of this region (the
    /// admin token, an erased account).
    func signedInCustomer(_ request: Request) throws(HTTPError) -> Customer {
        guard let id = request.subject, let customer = customer(id: id) else {
            throw HTTPError(.forbidden, detail: "this token names no customer of this region")
        }
        return customer
    }

    static func validateNewPassword(_ password: String) throws(HTTPError) {
        guard passwordBytes.contains(password.utf8.count) else {
            throw validationError(ValidationFailure([FieldError("new_password", "must be 8 to 256 bytes")]))
        }
    }

    /// Applies a profile change; every bad member is named.
    private static func apply(_ members: [String: LooseJSON], to customer: inout Customer) throws(HTTPError) {
        var errors: [FieldError] = []
        for name in members.keys.sorted() where !["name", "phone", "addresses"].contains(name) {
            errors.append(FieldError(name, "is not a profile field (fields: addresses, name, phone)"))
        }
        switch members["name"] {
        case nil: break
        case .null?: customer.name = nil
        case .string(let name)?:
            if let problem = nameProblem(name) { errors.append(FieldError("name", problem)) } else { customer.name = name.trimmingWhitespace() }
        default: errors.append(FieldError("name", "must be a string or null"))
        }
        switch members["phone"] {
        case nil: break
        case .null?: customer.phone = nil
        case .string(let phone)?:
            if let problem = phoneProblem(phone) { errors.append(FieldError("phone", problem)) } else { customer.phone = phone.trimmingWhitespace() }
        default: errors.append(FieldError("phone", "must be a string or null"))
        }
        switch members["addresses"] {
        case nil: break
        case .null?: customer.addresses = []
        case .array(let items)? where items.count <= addressesMax:
            var addresses: [Address] = []
            for (index, item) in items.enumerated() {
                let problems = addressProblems(item)
                if problems.isEmpty, let address = Address(item) { addresses.append(address) }
                errors += problems.map { FieldError("addresses[\(index)].\($0.field)", $0.reason) }
            }
            customer.addresses = addresses
        default: errors.append(FieldError("addresses", "must be an array of at most \(addressesMax) addresses, or null"))
        }
        guard errors.isEmpty else { throw validationError(ValidationFailure(errors)) }
    }

    static func nameProblem(_ name: String) -> String? {
        let trimmed = name.trimmingWhitespace()
        return trimmed.isEmpty || trimmed.count > 100 || trimmed.contains(where: \.isNewline) ? "must be 1 to 100 characters on one line" : nil
    }

    static func phoneProblem(_ phone: String) -> String? {
        let digits = phone.filter(\.isNumber)
        guard (7...15).contains(digits.count), !phone.contains(where: { !($0.isNumber || " +-()".contains($0)) }) else {
            return "must be a phone number (7 to 15 digits, optionally with + - ( ) and spaces)"
        }
        return nil
    }

    static func addressProblems(_ item: LooseJSON) -> [(field: String, reason: String)] {
        guard case .object(let members) = item else { return [("", "must be an object")] }
        var problems: [(String, String)] = []
        let limits: [(String, Int, Bool)] = [("line1", 200, true), ("city", 100, true), ("postal_code", 20, true),
                                             ("label", 50, false), ("name", 100, false), ("line2", 200, false)]
        for (name, limit, required) in limits {
            switch members[name] {
            case nil where required: problems.append((name, "is required"))
            case nil: break
            case .string(let text)? where !text.trimmingWhitespace().isEmpty && text.count <= limit && !text.contains(where: \.isNewline): break
            default: problems.append((name, "must be 1 to \(limit) characters on one line"))
            }
        }
        if case .string(let country)? = members["country"], Address.isCountry(country) {} else {
            problems.append(("country", "must be an ISO 3166-1 alpha-2 code in capitals (GB, DE)"))
        }
        for name in members.keys.sorted() where !["line1", "line2", "city", "postal_code", "country", "label", "name"].contains(name) {
            problems.append((name, "is not an address field"))
        }
        return problems
    }

    static func fullProfile(_ customer: Customer) -> ProfileWithAddresses {
        ProfileWithAddresses(id: customer.id, email: customer.email, name: customer.name, phone: customer.phone, addresses: customer.addresses,
                             createdAt: WallClock.iso8601(ms: customer.createdMs))
    }
}
