import Commerce
import HTTP
import Platform

/// Signing in to the back office, and the way its pages act. A page is shown to a signed-in
/// account whose role it lists; a form's post must come from this site's pages (`Origin`) and
/// carry its session's form token, and then acts by sending the node's own API the request an
/// API client would, under a token for the account's role (`asStaff`): the same route, the same
/// checks, the same services, the same log lines.
///
/// The session cookie holds a random secret (its SHA-256 is kept, never the secret), HttpOnly,
/// SameSite=Strict, Secure over HTTPS, for /admin/ only; a session lasts 12 hours and ends with
/// its account's next change.
extension OutpostNode {
    static let staffCookie = "outpost_staff"
    static let flashCookie = "outpost_flash"

    /// Where the back office is, page by page, and who sees each (the API routes behind a page
    /// check roles again).
    struct OfficeSection {
        var path: String
        var name: String
        var roles: [String]
        var hubOnly = false
    }

    static let officeSections: [OfficeSection] = [
        OfficeSection(path: "/admin/", name: "Dashboard", roles: StaffAccounts.roles),
        OfficeSection(path: "/admin/orders", name: "Orders", roles: StaffAccounts.roles),
        OfficeSection(path: "/admin/stock", name: "Stock", roles: ["store_manager", "operator"]),
        OfficeSection(path: "/admin/returns", name: "Returns", roles: ["store_manager", "operator"]),
        OfficeSection(path: "/admin/reviews", name: "Reviews", roles: ["store_manager", "operator"]),
        OfficeSection(path: "/admin/promotions", name: "Promotions", roles: StaffAccounts.roles),
        OfficeSection(path: "/admin/tills", name: "Tills", roles: StaffAccounts.roles),
        OfficeSection(path: "/admin/sync", name: "Sync", roles: StaffAccounts.roles),
        OfficeSection(path: "/admin/ledger", name: "Ledger", roles: ["hub_admin"], hubOnly: true),
    ]

    static func officeSection(_ path: String) -> OfficeSection {
        officeSections.first { $0.path == path } ?? officeSections[0]
    }

    // MARK: Sessions

    /// The live session the request's cookie names.
    func officeSession(_ request: Request) -> StaffAccounts.Session? {
        guard let secret = request.cookie(Self.staffCookie), secret.utf8.count == 64 else { return nil }
        return try? staffAccounts.session(secretHash: SHA256.hex(secret), nowMs: WallClock.nowMs())
    }

    private static func staffCookieHeader(_ value: String, maxAgeSeconds: Int64, secure: Bool) -> (String, String) {
        ("Set-Cookie", "\(staffCookie)=\(value); Path=/admin/; Max-Age=\(maxAgeSeconds); HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")")
    }

    /// A 303 to `location`, with a message for the next page to show once.
    static func officeRedirect(_ location: String, flash: (text: String, error: Bool)? = nil, cookies: [(String, String)] = []) -> Response {
        var headers = HTTPHeaders([("Location", location), ("Cache-Control", "no-store")] + cookies)
        if let flash {
            let value = (flash.error ? "e:" : "o:") + PercentEncoding.encode(String(flash.text.prefix(400)))
            headers.add("Set-Cookie", "\(flashCookie)=\(value); Path=/admin/; Max-Age=60; HttpOnly; SameSite=Strict")
        }
        return Response(status: 303, headers: headers)
    }

    /// A page of the back office: the layout around `template`, the message left by the last
    /// form (and forgotten), never cached.
    func officePage(_ template: String, _ request: Request, session: StaffAccounts.Session?, section: String?, status: Int = 200, _ view: BackOffice.View) -> Response {
        var page = view
        page["nodeId"] = identity.nodeId
        page["region"] = config.region
        page["role"] = config.role.rawValue
        var headers = HTTPHeaders([("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"),
                                   ("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")])
        if let session {
            page["staff"] = ["name": session.account.name, "roleName": BackOffice.roleName(session.account.role)]
            page["csrf"] = session.formToken
            page["nav"] = Self.officeSections.filter { $0.roles.contains(session.account.role) && (!$0.hubOnly || config.role == .hub) }.map { s -> BackOffice.View in
                var item: BackOffice.View = ["href": s.path, "name": s.name]
                if s.path == section { item["current"] = true }
                return item
            }
        }
        if let flash = request.cookie(Self.flashCookie), flash.count > 2, let text = PercentEncoding.decode(String(flash.dropFirst(2))) {
            page["flash"] = ["text": text, "kind": flash.hasPrefix("e:") ? "error" : "ok"]
            headers.add("Set-Cookie", "\(Self.flashCookie)=; Path=/admin/; Max-Age=0; HttpOnly; SameSite=Strict")
        }
        return Response(status: status, contentType: Storefront.htmlContentType, headers: headers, body: BackOffice.render(template, page))
    }

    func officeMessagePage(_ request: Request, status: Int, heading: String, text: String) -> Response {
        officePage("office-message", request, session: officeSession(request), section: nil, status: status, ["heading": heading, "text": text])
    }

    /// A GET page for a signed-in account whose role `section` lists: without a session, the
    /// sign-in form (and back here after it); with the wrong role, 403.
    func registerOfficePage(_ path: String, section: String, summary: String,
                            _ render: @escaping (Request, StaffAccounts.Session, @escaping (Response) -> Void) throws -> Void) {
        let roles = Self.officeSection(section).roles
        router.add("GET", path, doc: RouteDoc(operationId: "office" + Self.operationName(path), summary: summary, tags: ["back-office"],
                                              replies: [.init(200, "An HTML page.", contentType: Storefront.htmlContentType),
                                                        .init(303, "Not signed in: to /admin/sign-in.", contentType: nil)])) { [unowned self] request, responder in
            guard let session = officeSession(request) else {
                return responder.send(Self.officeRedirect("/admin/sign-in?next=" + PercentEncoding.encode(request.target)))
            }
            guard roles.contains(session.account.role) else {
                return responder.send(officePage("office-message", request, session: session, section: nil, status: 403, [
                    "heading": "Not for your role", "text": "This page is for \(roles.map(BackOffice.roleName).joined(separator: ", ")).",
                ]))
            }
            do { try render(request, session) { responder.send($0) } } catch {
                let problem = HTTPError.of(error)?.problem
                responder.send(officePage("office-message", request, session: session, section: nil, status: problem?.status ?? 500, [
                    "heading": "That did not work", "text": problem?.detail ?? "The page could not be made; see the node's log for request \(request.requestId).",
                ]))
                if problem == nil { logger.error("back-office page failed", metadata: ["path": "\(request.path)", "error": "\(error)"]) }
            }
        }
    }

    /// A form's post: from this site's pages, with the session's form token, by an account whose
    /// role `section` lists. `act` ends with where to go next and what to say there.
    func registerOfficeForm(_ path: String, section: String, summary: String, bodyBytesMax: Int = 8192,
                            _ act: @escaping (Request, StaffAccounts.Session, @escaping (_ location: String, _ flash: (text: String, error: Bool)) -> Void) throws -> Void) {
        let roles = Self.officeSection(section).roles
        router.add("POST", path, bodyBytesMax: bodyBytesMax, formProtection: .sameOrigin,
                   doc: RouteDoc(operationId: "office" + Self.operationName(path), summary: summary, tags: ["back-office"],
                                 replies: [.init(303, "Done or refused: back to a page that says which.", contentType: nil)])) { [unowned self] request, responder in
            guard let session = officeSession(request) else { return responder.send(Self.officeRedirect("/admin/sign-in")) }
            guard let field = request.formValue("csrf"), constantTimeEquals(Array(field.utf8), Array(session.formToken.utf8)) else {
                return responder.send(officeMessagePage(request, status: 403, heading: "That did not work",
                                                        text: "This form is out of date or was not made by this node; reload the page and send it again."))
            }
            guard roles.contains(session.account.role) else {
                return responder.send(officeMessagePage(request, status: 403, heading: "Not for your role",
                                                        text: "This is for \(roles.map(BackOffice.roleName).joined(separator: ", "))."))
            }
            do {
                try act(request, session) { location, flash in responder.send(Self.officeRedirect(location, flash: flash)) }
            } catch {
                let back = request.headers["referer"].flatMap { Self.authorityPath($0) } ?? "/admin/"
                responder.send(Self.officeRedirect(back, flash: (HTTPError.of(error)?.problem.detail ?? "that did not work; see the node's log", true)))
            }
        }
    }

    /// "http://host/admin/orders?x" -> "/admin/orders?x", for going back to a form's page.
    private static func authorityPath(_ url: String) -> String? {
        guard let scheme = url.range(of: "://"), let slash = url[scheme.upperBound...].firstIndex(of: "/") else { return nil }
        let path = String(url[slash...])
        return path.hasPrefix("/admin/") ? localPath(path) : nil
    }

    private static func operationName(_ path: String) -> String {
        path.split(whereSeparator: { $0 == "/" || $0 == "-" || $0 == "{" || $0 == "}" }).dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    // MARK: Acting through the API

    /// Sends the node's own API a request as the signed-in account: a one-minute access token
    /// for its role, so the route's own role check, validation and service decide, and its log
    /// names the account.
    func asStaff(_ session: StaffAccounts.Session, _ method: String, _ target: String, json: JSONValue? = nil, idempotencyKey: String? = nil,
                 completion: @escaping (Response) -> Void) {
        let nowSeconds = WallClock.nowMs() / 1000
        let claims = AccessClaims(subject: session.account.id, roles: [session.account.role], audience: AccessToken.audience(region: config.region),
                                  issuer: identity.nodeId, issuedAt: nowSeconds, expiresAt: nowSeconds + 60, id: "o-" + Hex.encode(SecureRandom.bytes(8)))
        var headers = HTTPHeaders([("Authorization", "Bearer " + AccessToken.sign(claims, by: keys.tokenSigner)), ("Host", "back-office")])
        if json != nil { headers.add("Content-Type", "application/json") }
        if let idempotencyKey { headers.add("Idempotency-Key", idempotencyKey) }
        server.dispatch(Request(method: method, target: target, headers: headers, body: json?.encoded() ?? [], requestId: server.makeRequestId()),
                        completion: completion)
    }

    /// A form's action through the API: on success back to `location` with `done`, on a refusal
    /// back with what the API said.
    func actAsStaff(_ session: StaffAccounts.Session, _ method: String, _ target: String, json: JSONValue? = nil, idempotencyKey: String? = nil,
                    location: String, done: String, finish: @escaping (String, (text: String, error: Bool)) -> Void) {
        asStaff(session, method, target, json: json, idempotencyKey: idempotencyKey) { response in
            if (200..<300).contains(response.status) { finish(location, (done, false)) } else { finish(location, (BackOffice.refusalText(response), true)) }
        }
    }

    /// Reads from the API as the account, one request after another, then hands over the bodies
    /// (nil for a refusal).
    func readAsStaff(_ session: StaffAccounts.Session, _ targets: [String], completion: @escaping ([LooseJSON?]) -> Void) {
        var results: [LooseJSON?] = []
        func next(_ index: Int) {
            guard index < targets.count else { return completion(results) }
            asStaff(session, "GET", targets[index]) { response in
                results.append(response.status == 200 ? BackOffice.json(response) : nil)
                next(index + 1)
            }
        }
        next(0)
    }

    // MARK: Signing in

    func registerOfficeAccess() {
        router.get("/admin/static/office.css", doc: RouteDoc(operationId: "officeStylesheet", summary: "The back office's stylesheet.", tags: ["back-office"],
                                                             replies: [.init(200, "CSS.", contentType: "text/css; charset=utf-8")])) { request in
            let body = Array(BackOfficeTemplates.stylesheet.utf8)
            return .cacheable(body, etag: Response.etag(of: body), for: request, contentType: "text/css; charset=utf-8", maxAgeSeconds: 3600)
        }
        router.get("/admin/sign-in", doc: RouteDoc(operationId: "officeSignIn", summary: "The back office's sign-in form.", tags: ["back-office"],
                                                   replies: [.init(200, "An HTML page.", contentType: Storefront.htmlContentType)])) { [unowned self] request in
            signInForm(request, account: "", status: 200, message: nil)
        }
        router.add("POST", "/admin/sign-in", bodyBytesMax: 4096, rateClass: .credentials, formProtection: .sameOriginWithToken,
                   doc: RouteDoc(operationId: "officeSignInSubmit", summary: "Sign in to the back office with an account and its password.", tags: ["back-office"],
                                 replies: [.init(303, "Signed in: to the page asked for.", contentType: nil), .init(401, "The form again, saying so.", contentType: Storefront.htmlContentType)])
        ) { [unowned self] request, responder in
            let accountId = (request.formValue("account") ?? "").trimmingWhitespace().lowercased()
            let next = Self.localPath(request.formValue("next")).hasPrefix("/admin/") ? Self.localPath(request.formValue("next")) : "/admin/"
            signInStaff(accountId, password: request.formValue("password") ?? "", address: request.remoteAddress?.host ?? "unknown") { [unowned self] result in
                switch result {
                case .failure(let error):
                    let problem = HTTPError.of(error)?.problem
                    responder.send(signInForm(request, account: accountId, status: problem?.status ?? 500, message: problem?.detail ?? "sign-in failed"))
                case .success(let secret):
                    responder.send(Self.officeRedirect(next, cookies: [Self.staffCookieHeader(secret, maxAgeSeconds: StaffAccounts.sessionLifetimeMs / 1000, secure: request.isSecure)]))
                }
            }
        }
        router.add("POST", "/admin/sign-out", bodyBytesMax: 1024, formProtection: .sameOrigin, doc: RouteDoc(
            operationId: "officeSignOut", summary: "End this browser's back-office session.", tags: ["back-office"],
            replies: [.init(303, "To the sign-in form.", contentType: nil)])
        ) { [unowned self] request, responder in
            let forget = Self.officeRedirect("/admin/sign-in", cookies: [Self.staffCookieHeader("", maxAgeSeconds: 0, secure: request.isSecure)])
            guard let secret = request.cookie(Self.staffCookie), let session = officeSession(request),
                  let field = request.formValue("csrf"), constantTimeEquals(Array(field.utf8), Array(session.formToken.utf8)) else { return responder.send(forget) }
            writer.submit({ [unowned self] _ in try staffAccounts.endSession(secretHash: SHA256.hex(secret)) }, completion: { _ in responder.send(forget) })
        }
    }

    private func signInForm(_ request: Request, account: String, status: Int, message: String?) -> Response {
        let (token, isNew) = Self.formToken(request)
        var headers = HTTPHeaders([("Cache-Control", "no-store"), ("X-Frame-Options", "DENY")])
        if isNew { headers.add("Set-Cookie", "\(Self.formTokenCookie)=\(token); Path=/; HttpOnly; SameSite=Lax") }
        let next = Self.localPath(request.queryValue("next") ?? request.formValue("next"))
        var view: BackOffice.View = ["nodeId": identity.nodeId, "region": config.region, "role": config.role.rawValue, "account": account,
                                     "formToken": token, "next": next.hasPrefix("/admin/") ? next : "/admin/"]
        if let message { view["flash"] = ["text": message, "kind": "error"] }
        return Response(status: status, contentType: Storefront.htmlContentType, headers: headers, body: BackOffice.render("office-signin", view))
    }

    /// Checks an account's password off the loop (an unknown account costs the same hash),
    /// throttled like customers' sign-ins; a new session's secret on success.
    private func signInStaff(_ id: String, password: String, address: String, completion: @escaping (Result<String, any Error>) -> Void) {
        let nowMs = WallClock.nowMs()
        if case .wait(let untilMs, _) = accounts.staffSignInThrottle.begin(account: id, address: address, nowMs: nowMs) {
            let seconds = max(1, (untilMs - nowMs + 999) / 1000)
            return completion(.failure(HTTPError(.signInThrottled, detail: "too many failed sign-ins; try again in \(seconds) s")))
        }
        let account = StaffAccounts.isValidId(id) ? (try? staffAccounts.account(id)) ?? nil : nil
        let stored = account.flatMap { PasswordHash(encoded: $0.passwordHash) } ?? PasswordHash.decoy(cost: passwordCost)
        loop.queueWork({ stored.verifies(password) }, completion: { [unowned self] verified in
            guard case .success(true) = verified, let account, AccessToken.hubOnlyRoles.contains(account.role) == false || config.role == .hub else {
                logger.warning("back-office sign-in refused", metadata: ["account": "\(id.prefix(64))", "address": "\(address)"])
                return completion(.failure(HTTPError(.signInFailed, detail: "the account and password do not match")))
            }
            accounts.staffSignInThrottle.succeeded(account: id, address: address)
            let secret = Hex.encode(SecureRandom.bytes(32)), formToken = Hex.encode(SecureRandom.bytes(16))
            writer.submit({ [unowned self] _ in
                try staffAccounts.startSession(secretHash: SHA256.hex(secret), account: account.id, formToken: formToken, nowMs: WallClock.nowMs())
            }, completion: { [unowned self] result in
                if case .failure(let error) = result { return completion(.failure(error)) }
                logger.info("back-office sign-in", metadata: ["account": "\(account.id)", "role": "\(account.role)", "address": "\(address)"])
                completion(.success(secret))
            })
        })
    }
}
