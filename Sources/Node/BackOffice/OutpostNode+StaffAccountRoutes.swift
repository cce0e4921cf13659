import Commerce
import HTTP
import Platform

struct StaffAccountBody: Codable, Sendable {
    var name: String
    var role: String
    var password: String
}

extension OutpostNode {
    var staffAccounts: StaffAccounts { StaffAccounts(database: database) }

    /// `nodectl staff`: who may sign in to this node's back office.
    func registerStaffAccountRoutes() {
        let problem = RouteDoc.Reply.problem
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "The sign-in name: 1 to 64 of a-z, 0-9, '.', '_', '-'.")

        router.add("PUT", "/admin/v1/staff-accounts/{id}", access: .roles(["operator"]), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "putStaffAccount", summary: "Add or change a back-office account: name, role, password. Its sessions end.",
            description: """
                Body: {"name", "role": store_manager | operator | hub_admin (the hub only), "password" (\(Self.passwordBytes.lowerBound) to \
                \(Self.passwordBytes.upperBound) bytes)}. The account signs in at /admin/ on this node.
                """,
            tags: ["back-office"], parameters: [idParameter], requestBody: .init(0, "The account.", schema: ["type": "object", "required": ["name", "role", "password"]]),
            replies: [.init(200, "{id, name, role}", schema: ["type": "object"]), problem(422, "A field is malformed.")])
        ) { [unowned self] request, responder in
            do {
                let id = request.parameter("id") ?? ""
                let body = try request.decodeJSON(StaffAccountBody.self)
                var errors: [FieldError] = []
                if !StaffAccounts.isValidId(id) { errors.append(FieldError("id", "must be 1 to 64 of a-z, 0-9, '.', '_', '-'")) }
                let name = body.name.trimmingWhitespace()
                if !(1...100).contains(name.count) || name.contains(where: \.isNewline) { errors.append(FieldError("name", "must be 1 to 100 characters on one line")) }
                if !StaffAccounts.roles.contains(body.role) {
                    errors.append(FieldError("role", "must be one of \(StaffAccounts.roles.joined(separator: ", "))"))
                } else if AccessToken.hubOnlyRoles.contains(body.role) && config.role != .hub {
                    errors.append(FieldError("role", "only the hub has \(body.role) accounts"))
                }
                if !Self.passwordBytes.contains(body.password.utf8.count) {
                    errors.append(FieldError("password", "must be \(Self.passwordBytes.lowerBound) to \(Self.passwordBytes.upperBound) bytes"))
                }
                guard errors.isEmpty else { throw Self.validationError(ValidationFailure(errors)) }
                let password = body.password, cost = passwordCost
                loop.queueWork({ PasswordHash.make(password, cost: cost).encoded }, completion: { [unowned self] hashed in
                    guard case .success(let hash) = hashed else { return responder.fail(HTTPError(.internalError, detail: "the password could not be hashed")) }
                    writer.submit({ [unowned self] _ in
                        let nowMs = WallClock.nowMs()
                        let created = try staffAccounts.account(id)?.createdMs ?? nowMs
                        try staffAccounts.put(.init(id: id, name: name, role: body.role, passwordHash: hash, createdMs: created, changedMs: nowMs))
                    }, completion: { [unowned self] result in
                        if case .failure(let error) = result { return responder.fail(error) }
                        logger.info("back-office account set", metadata: ["account": "\(id)", "role": "\(body.role)", "by": "\(request.subject ?? "admin token")"])
                        responder.send(.json(["id": .string(id), "name": .string(name), "role": .string(body.role)]))
                    })
                })
            } catch {
                responder.fail(error)
            }
        }

        router.get("/admin/v1/staff-accounts", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "listStaffAccounts", summary: "The back-office accounts of this node.", tags: ["back-office"],
            replies: [.init(200, "{accounts: [{id, name, role, created_at, changed_at}]}", schema: ["type": "object"])])
        ) { [unowned self] _ in
            .json(["accounts": .array(try staffAccounts.all().map { account in
                .object([JSONMember("id", .string(account.id)), JSONMember("name", .string(account.name)), JSONMember("role", .string(account.role)),
                         JSONMember("created_at", .string(WallClock.iso8601(ms: account.createdMs))),
                         JSONMember("changed_at", .string(WallClock.iso8601(ms: account.changedMs)))])
            })])
        }

        router.add("DELETE", "/admin/v1/staff-accounts/{id}", access: .roles(["operator"]), bodyBytesMax: 0, doc: RouteDoc(
            operationId: "removeStaffAccount", summary: "Remove a back-office account; its sessions end at once.", tags: ["back-office"],
            parameters: [idParameter], replies: [.init(204, "Removed."), problem(404, "No such account.")])
        ) { [unowned self] request, responder in
            let id = request.parameter("id") ?? ""
            writer.submit({ [unowned self] _ in try staffAccounts.remove(id) }, completion: { [unowned self] result in
                switch result {
                case .failure(let error): responder.fail(error)
                case .success(false): responder.fail(HTTPError(.notFound, detail: "no back-office account \(id)"))
                case .success(true):
                    logger.info("back-office account removed", metadata: ["account": "\(id)", "by": "\(request.subject ?? "admin token")"])
                    responder.send(.noContent())
                }
            })
        }
    }
}
