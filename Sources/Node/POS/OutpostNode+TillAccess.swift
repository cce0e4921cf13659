import Commerce
import HTTP
import Platform

/// The tills' state that lives in memory: PIN and pairing throttles, and the sales and returns
/// being answered now.
final class TillDesk {
    /// Per staff member on a device: 3 free failures, then waits, locked at 5 for 15 minutes on
    /// that device; per staff member on all devices at most 30 s waits (a stolen till cannot
    /// lock the manager out of the others).
    var pinThrottle: SignInThrottle = {
        var policy = SignInThrottle.Policy()
        policy.freeFailures = 3
        policy.freeFailuresPerAddress = 10
        policy.lockoutFailures = 5
        policy.lockoutMs = 15 * 60_000
        return SignInThrottle(policy: policy)
    }()
    /// Pairing code guesses, per client address.
    var pairingThrottle = SignInThrottle()
    var returnsInFlight: Set<String> = []
}

/// Who is at a till: the paired device, and with a cashier's session its staff member.
struct TillCaller {
    var device: String
    var staff: String
    var role: String

    var isManager: Bool { role == OutpostNode.managerRole }
}

extension OutpostNode {
    static let managerRole = "store_manager"
    static let tillRoles = ["cashier", managerRole]
    /// Security schemes of /openapi.json for the tills' credentials.
    static let deviceScheme = "posDevice"
    static let cashierScheme = "posCashier"
    static let pairingCodeLifetimeMs: Int64 = 15 * 60_000
    static let tillSecuritySchemes: [(String, JSONValue)] = [
        (deviceScheme, ["type": "http", "scheme": "bearer",
                        "description": "A paired till's device key (pd_...), from POST /pos/v1/pair; a cashier's session token is accepted too."]),
        (cashierScheme, ["type": "http", "scheme": "bearer",
                         "description": "A cashier's session token (ps_...), from POST /pos/v1/sessions on a paired till; refused at once when the till is revoked."]),
    ]

    /// The store's tills, their staff and sessions.
    var tillRegistry: TillRegistry { TillRegistry(database: database) }

    /// The `.credential` schemes: a device key, or a cashier's session on a device not revoked.
    func authorizeTill(_ request: Request, scheme: String) -> Authorization {
        guard let token = request.bearerToken else {
            return .refused(Problem(.unauthorized, detail: "send the till's \(scheme == Self.deviceScheme ? "device key" : "cashier session token") as 'Authorization: Bearer <token>'"))
        }
        let hash = SHA256.hex(token)
        // A registry that cannot be read is not a key or a session that ended: the till keeps
        // its cashier signed in and is told to retry.
        do {
            if token.hasPrefix("pd_") && scheme == Self.deviceScheme {
                if let device = try tillRegistry.device(credentialHash: hash) { return .allowed(subject: device) }
                return .refused(Problem(.unauthorized, detail: "this device key is unknown or the till was revoked; pair it again"))
            }
            if token.hasPrefix("ps_") {
                if let found = try tillRegistry.session(tokenHash: hash, nowMs: WallClock.nowMs()) {
                    return .allowed(subject: [found.device, found.staff, found.role].joined(separator: "|"))
                }
                return .refused(Problem(.unauthorized, detail: "this session ended, expired, or its till was revoked; sign in again"))
            }
        } catch {
            return .refused(HTTPError.of(error)?.problem ?? Problem(.internalError, detail: "the till's credentials could not be read"))
        }
        return .refused(Problem(.unauthorized, detail: scheme == Self.deviceScheme ? "send a device key (pd_...) or a session token (ps_...)"
                                                                                    : "this route needs a cashier's session token (ps_...): sign in with POST /pos/v1/sessions"))
    }

    /// The caller of a route that takes a cashier's session.
    func tillCaller(_ request: Request) throws(HTTPError) -> TillCaller {
        let parts = (request.subject ?? "").split(separator: "|").map(String.init)
        guard parts.count == 3 else { throw HTTPError(.unauthorized, detail: "this route needs a cashier's session token") }
        return TillCaller(device: parts[0], staff: parts[1], role: parts[2])
    }

    /// The device of a route that takes a device key (or a session on it).
    func tillDevice(_ request: Request) -> String {
        String((request.subject ?? "").split(separator: "|").first ?? "")
    }

    // MARK: PINs

    /// `keyid$salt$mac`: an HMAC under this node's own key (auth.keys), so a copied database alone does not
    /// give PINs away to a brute force of their few digits.
    func pinHash(_ pin: String, staff: String) -> String {
        let key = identity.pinKeys.newest, salt = SecureRandom.bytes(16)
        return key.id + "$" + Hex.encode(salt) + "$" + Hex.encode(HMACSHA256.authenticate(salt + Array((staff + "\u{0}" + pin).utf8), key: key.secret))
    }

    private func pinMatches(_ stored: String, pin: String, staff: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 3, let key = identity.pinKeys.key(id: parts[0]), let salt = Hex.decode(parts[1]), let mac = Hex.decode(parts[2]) else { return false }
        return HMACSHA256.isValid(mac, for: salt + Array((staff + "\u{0}" + pin).utf8), key: key.secret)
    }

    static func isPin(_ text: String) -> Bool { (4...8).contains(text.utf8.count) && text.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }

    /// Checks a staff member's PIN on a device, throttled per staff member and per device.
    /// Returns the staff member's role.
    func checkPin(staff: String, pin: String, device: String) throws(HTTPError) -> (name: String, role: String) {
        let nowMs = WallClock.nowMs()
        if case .wait(let untilMs, let locked) = tills.pinThrottle.begin(account: staff, address: device, nowMs: nowMs) {
            let seconds = max(1, (untilMs - nowMs + 999) / 1000)
            throw HTTPError(.pinLocked, detail: locked ? "\(staff) is locked out on this till after repeated wrong PINs; try again in \(seconds) s or ask a manager for a new PIN"
                                                       : "too many wrong PINs; try again in \(seconds) s", headers: HTTPHeaders([("Retry-After", String(seconds))]))
        }
        guard let row = try? tillRegistry.activeStaff(staff), pinMatches(row.pinHash, pin: pin, staff: staff) else {
            logger.warning("till PIN refused", metadata: ["staff": "\(staff)", "device": "\(device)"])
            throw HTTPError(.pinRefused, detail: "no active staff member has this id and PIN")
        }
        tills.pinThrottle.succeeded(account: staff, address: device)
        return (row.staff.name, row.staff.role)
    }

    /// Who approves a restricted action: the manager signed in, or the manager whose PIN came
    /// with the request (`"approval": {"staff", "pin"}`). Throws 403 approval-required otherwise.
    func approver(_ approval: LooseJSON?, caller: TillCaller, action: String, detail: String) throws(HTTPError) -> String {
        if caller.isManager { return caller.staff }
        guard case .object(let members)? = approval, case .string(let staff)? = members["staff"], case .string(let pin)? = members["pin"] else {
            var error = HTTPError(.approvalRequired, detail: "\(detail): a store manager must approve (send approval: {staff, pin})")
            error.problem.extensions = [("action", .string(action))]
            throw error
        }
        let (_, role) = try checkPin(staff: staff, pin: pin, device: caller.device)
        guard role == Self.managerRole else {
            var error = HTTPError(.approvalRequired, detail: "\(staff) is not a store manager: \(detail) needs one")
            error.problem.extensions = [("action", .string(action))]
            throw error
        }
        logger.info("till action approved", metadata: ["action": "\(action)", "approved_by": "\(staff)", "staff": "\(caller.staff)", "device": "\(caller.device)"])
        return staff
    }

    // MARK: Routes

    /// Who pairs tills and keeps the till staff: the store's managers, and operators.
    static let tillManagers: Access = .roles([managerRole, "operator"])

    func registerTillAccessRoutes() {
        registerTillPairingRoutes()
        registerTillStaffRoutes()
    }

    /// Pairing a till (a one-time code, then the till's key), listing and revoking tills.
    private func registerTillPairingRoutes() {
        router.add("POST", "/admin/v1/pos/pairing-codes", access: Self.tillManagers, bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "createPairingCode", summary: "A one-time code a till exchanges for its device key (POST /pos/v1/pair) within 15 minutes.",
            description: "Body: {\"name\": \"Till 1\"}: the name the paired device gets. Only the code's hash is kept.",
            tags: ["pos"], requestBody: .init(0, "The device's name.", schema: ["type": "object", "required": ["name"]]),
            replies: [.init(201, "The code (12 digits) and when it expires.", schema: ["type": "object"]), .problem(422, "No or a bad name.")])
        ) { [unowned self] request, responder in
            do {
                var fields = InputFields(try Self.jsonObject(request), known: ["name"], what: "pairing code")
                let name = fields.text("name")
                if name.map({ !(1...40).contains($0.count) || $0.contains(where: \.isNewline) }) ?? true { fields.fail("name", "must be 1 to 40 characters on one line") }
                try fields.check()
                let code = (0..<12).map { _ in String(SecureRandom.uint64() % 10) }.joined()
                let nowMs = WallClock.nowMs(), expires = nowMs + Self.pairingCodeLifetimeMs, by = request.subject ?? "admin"
                writer.submit({ [tillRegistry] _ in
                    try tillRegistry.addPairingCode(hash: SHA256.hex(code), name: name ?? "", by: by, atMs: nowMs, expiresMs: expires)
                }, completion: { [unowned self] result in
                    if case .failure(let error) = result { return responder.fail(error) }
                    logger.info("till pairing code made", metadata: ["name": "\(name ?? "")", "by": "\(by)"])
                    responder.send(.json(["code": .string(code), "name": .string(name ?? ""), "expires_at": .string(WallClock.iso8601(ms: expires))], status: 201))
                })
            } catch {
                responder.fail(error)
            }
        }

        router.add("POST", "/pos/v1/pair", bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "pairTill", summary: "Exchange a one-time pairing code for this till's device key.",
            description: "Body: {\"code\": \"123456789012\"} (spaces and dashes ignored). The key (pd_...) is shown once: the till keeps it and sends it as a bearer token. Guesses are throttled per address.",
            tags: ["pos"], requestBody: .init(0, "The code.", schema: ["type": "object", "required": ["code"]]),
            replies: [.init(201, "The device and its key.", schema: ["type": "object"]), .problem(401, "Unknown, used or expired code."),
                      .problem(429, "Too many wrong codes from this address.")])
        ) { [unowned self] request, responder in
            do {
                try pair(request, responder)
            } catch {
                responder.fail(error)
            }
        }

        router.get("/admin/v1/pos/devices", access: Self.tillManagers, doc: RouteDoc(
            operationId: "listTills", summary: "The tills paired with this node, revoked ones too, by id.", tags: ["pos"],
            parameters: KeyedPage<String>.parameters(),
            replies: [.init(200, "{devices: [{id, name, paired_at, paired_by, revoked_at?, revoked_by?}], next_cursor}", schema: ["type": "object"])])
        ) { [unowned self] request in
            let page = try KeyedPage(try tillRegistry.devices(), key: \.id, request: request)
            return .json(["devices": .array(page.items.map { device in
                var members = [JSONMember("id", .string(device.id)), JSONMember("name", .string(device.name)),
                               JSONMember("paired_at", .string(WallClock.iso8601(ms: device.pairedMs))), JSONMember("paired_by", .string(device.pairedBy))]
                if let revoked = device.revokedMs {
                    members += [JSONMember("revoked_at", .string(WallClock.iso8601(ms: revoked))), JSONMember("revoked_by", .string(device.revokedBy ?? ""))]
                }
                return .object(members)
            }), "next_cursor": page.next])
        }

        router.add("POST", "/admin/v1/pos/devices/{id}/revoke", access: Self.tillManagers, doc: RouteDoc(
            operationId: "revokeTill", summary: "Revoke a till: its key and every session on it are refused from the next request on.",
            tags: ["pos"], parameters: [.init("id", in: .path, description: "The device's id.")],
            replies: [.init(200, "The device, revoked.", schema: ["type": "object"]), .problem(404, "No such device.")])
        ) { [unowned self] request, responder in
            let id = request.parameter("id") ?? "", by = request.subject ?? "admin", nowMs = WallClock.nowMs()
            writer.submit({ [tillRegistry] _ -> Bool in try tillRegistry.revoke(id, by: by, atMs: nowMs) }, completion: { [unowned self] result in
                switch result {
                case .success(false): responder.fail(HTTPError(.notFound, detail: "no till \(id) is paired with this node"))
                case .success:
                    logger.notice("till revoked", metadata: ["device": "\(id)", "by": "\(by)"])
                    // A shift left open on it still owes its drawer a Z-report: say so.
                    let open = (try? openShift(device: id))?.map { JSONValue.string($0.id) } ?? .null
                    responder.send(.json(["id": .string(id), "revoked": true, "open_shift": open]))
                case .failure(let error): responder.fail(error)
                }
            })
        }
    }

    /// The store's staff and their PINs, and a cashier signing in and out at a till.
    private func registerTillStaffRoutes() {
        registerStaffRoutes()
        registerCashierSessionRoutes()
    }

    /// The staff who may use the tills, and their PINs.
    private func registerStaffRoutes() {
        router.add("PUT", "/admin/v1/pos/staff/{id}", access: Self.tillManagers, bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "putTillStaff", summary: "Add or change a member of the store's till staff: name, role (cashier or store_manager), PIN.",
            description: "Body: {\"name\": \"Alice\", \"role\": \"cashier\", \"pin\": \"1234\", \"disabled\": false}. The PIN (4 to 8 digits) is kept as an HMAC only; setting it again clears a lockout.",
            tags: ["pos"], parameters: [.init("id", in: .path, description: "The staff member's id (a-z, 0-9, -).")],
            requestBody: .init(0, "Name, role, PIN.", schema: ["type": "object", "required": ["name", "role", "pin"]]),
            replies: [.init(200, "The staff member (no PIN).", schema: ["type": "object"]), .problem(422, "Every bad field named.")])
        ) { [unowned self] request, responder in
            do {
                let id = request.parameter("id") ?? ""
                var fields = InputFields(try Self.jsonObject(request), known: ["name", "role", "pin", "disabled"], what: "staff")
                if !ProductInput.isProductId(id) { fields.fail("id", "must be 1 to 64 of a-z, 0-9 and -") }
                let name = fields.text("name"), role = fields.text("role"), pin = fields.text("pin")
                if name.map({ !(1...60).contains($0.count) || $0.contains(where: \.isNewline) }) ?? true { fields.fail("name", "must be 1 to 60 characters on one line") }
                if !Self.tillRoles.contains(role ?? "") { fields.fail("role", "must be one of \(Self.tillRoles.joined(separator: ", "))") }
                if !Self.isPin(pin ?? "") { fields.fail("pin", "must be 4 to 8 digits") }
                var disabled = false
                switch fields.members["disabled"] {
                case nil, .null?: break
                case .bool(let flag)?: disabled = flag
                default: fields.fail("disabled", "must be true or false")
                }
                try fields.check()
                let hash = pinHash(pin ?? "", staff: id), nowMs = WallClock.nowMs()
                let member = TillRegistry.Staff(id: id, name: name ?? "", role: role ?? "", disabled: disabled)
                writer.submit({ [tillRegistry] _ in try tillRegistry.putStaff(member, pinHash: hash, atMs: nowMs) }, completion: { [unowned self] result in
                    if case .failure(let error) = result { return responder.fail(error) }
                    tills.pinThrottle.forget(account: id)
                    responder.send(.json(["id": .string(id), "name": .string(name ?? ""), "role": .string(role ?? ""), "disabled": .bool(disabled)]))
                })
            } catch {
                responder.fail(error)
            }
        }

        router.get("/admin/v1/pos/staff", access: Self.tillManagers, doc: RouteDoc(
            operationId: "listTillStaff", summary: "The store's till staff by id (never their PINs).", tags: ["pos"],
            parameters: KeyedPage<String>.parameters(),
            replies: [.init(200, "{staff: [{id, name, role, disabled}], next_cursor}", schema: ["type": "object"]), .problem(400, "limit or cursor is malformed.")])
        ) { [unowned self] request in
            let after = try ListCursor.parse(request)?.id ?? ""
            let limit = try KeyedPage<String>.limit(request)
            var last: String?
            let staff: [JSONValue] = try tillRegistry.staff(after: after, limit: limit).map { member in
                last = member.id
                return .object([JSONMember("id", .string(member.id)), JSONMember("name", .string(member.name)), JSONMember("role", .string(member.role)),
                                JSONMember("disabled", .bool(member.disabled))])
            }
            return .json(["staff": .array(staff), "next_cursor": ListCursor.next(after: last.map { (0, $0) }, rows: staff.count, limit: limit)])
        }
    }

    /// A cashier signing in at a till with a PIN, and out.
    private func registerCashierSessionRoutes() {
        router.add("POST", "/pos/v1/sessions", access: .credential(Self.deviceScheme), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "signInCashier", summary: "A cashier signs in on this till with staff id and PIN.",
            description: "Body: {\"staff\": \"alice\", \"pin\": \"1234\"}. Answers a session token (ps_...) for the cashier routes, good for [pos] session_hours (12) or until DELETE /pos/v1/sessions/current.",
            tags: ["pos"], requestBody: .init(0, "Staff id and PIN.", schema: ["type": "object", "required": ["staff", "pin"]]),
            replies: [.init(201, "{token, staff: {id, name, role}, expires_at}", schema: ["type": "object"]), .problem(401, "Wrong id or PIN, or the till is not paired."),
                      .problem(429, "Locked after wrong PINs.")])
        ) { [unowned self] request, responder in
            do {
                var fields = InputFields(try Self.jsonObject(request), known: ["staff", "pin"], what: "sign-in")
                let staff = fields.text("staff") ?? "", pin = fields.text("pin") ?? ""
                if staff.isEmpty { fields.fail("staff", "is required") }
                if pin.isEmpty { fields.fail("pin", "is required") }
                try fields.check()
                let device = tillDevice(request)
                let (name, role) = try checkPin(staff: staff, pin: pin, device: device)
                let token = "ps_" + Hex.encode(SecureRandom.bytes(32)), nowMs = WallClock.nowMs(), expires = nowMs + config.pos.sessionHours * 3_600_000
                writer.submit({ [tillRegistry] _ in
                    try tillRegistry.startSession(tokenHash: SHA256.hex(token), device: device, staff: staff, atMs: nowMs, expiresMs: expires)
                }, completion: { [unowned self] result in
                    if case .failure(let error) = result { return responder.fail(error) }
                    logger.info("cashier signed in", metadata: ["staff": "\(staff)", "device": "\(device)"])
                    responder.send(.json(["token": .string(token), "token_type": "Bearer", "expires_at": .string(WallClock.iso8601(ms: expires)),
                                          "staff": ["id": .string(staff), "name": .string(name), "role": .string(role)], "device": .string(device)], status: 201))
                })
            } catch {
                responder.fail(error)
            }
        }

        router.add("DELETE", "/pos/v1/sessions/current", access: .credential(Self.cashierScheme), doc: RouteDoc(
            operationId: "signOutCashier", summary: "The cashier signs out: the session token is refused from now on.", tags: ["pos"],
            replies: [.init(204, "Signed out.")])
        ) { [unowned self] request, responder in
            let hash = SHA256.hex(request.bearerToken ?? ""), nowMs = WallClock.nowMs()
            writer.submit({ [tillRegistry] _ in try tillRegistry.endSession(tokenHash: hash, atMs: nowMs) },
                          completion: { result in
                if case .failure(let error) = result { return responder.fail(error) }
                responder.send(Response(status: 204))
            })
        }
    }

    private func pair(_ request: Request, _ responder: Responder) throws {
        var fields = InputFields(try Self.jsonObject(request), known: ["code"], what: "pairing")
        let code = (fields.text("code") ?? "").filter { $0 != " " && $0 != "-" }
        if code.count != 12 || !code.allSatisfy(\.isASCII) || !code.allSatisfy(\.isNumber) { fields.fail("code", "must be the 12 digits a manager was given") }
        try fields.check()
        let address = request.remoteAddress?.host ?? "unknown", nowMs = WallClock.nowMs()
        // Keyed by the source alone: a stranger's wrong codes never hold up another till's pairing.
        if case .wait(let untilMs, _) = tills.pairingThrottle.begin(account: address, address: address, nowMs: nowMs) {
            let seconds = max(1, (untilMs - nowMs + 999) / 1000)
            throw HTTPError(.pinLocked, detail: "too many wrong pairing codes from this address; try again in \(seconds) s",
                            headers: HTTPHeaders([("Retry-After", String(seconds))]))
        }
        let device = "till-" + Hex.encode(SecureRandom.bytes(4))
        let credential = "pd_" + Hex.encode(SecureRandom.bytes(32))
        let codeHash = SHA256.hex(code)
        writer.submit({ [tillRegistry] _ -> String? in
            try tillRegistry.pair(codeHash: codeHash, device: device, credentialHash: SHA256.hex(credential), atMs: nowMs)
        }, completion: { [unowned self] result in
            switch result {
            case .success(nil):
                responder.fail(HTTPError(.pairingCodeRefused, detail: "this code is unknown, used already or expired; ask a manager for a new one"))
            case .success(let name?):
                tills.pairingThrottle.succeeded(account: address, address: address)
                logger.notice("till paired", metadata: ["device": "\(device)", "name": "\(name)"])
                responder.send(.json(["device": ["id": .string(device), "name": .string(name)], "credential": .string(credential), "token_type": "Bearer"],
                                     status: 201))
            case .failure(let error):
                responder.fail(error)
            }
        })
    }
}
