import Commerce
import HTTP
import Platform

/// The storefront's shopping pages: cart, checkout, order status, account, sign in and sign up.
/// Plain HTML forms (POST, then a 303 to a page), so they work without JavaScript. A shopper's
/// browser holds cookies, all HttpOnly and SameSite=Lax (a form on another site cannot post with
/// them): the guest cart's id, and once signed in the access token (15 minutes) and the refresh
/// token (7 days, spent on each use), which renews the access token when it has run out.
extension OutpostNode {
    static let cartCookie = "outpost_cart"
    static let sessionCookie = "outpost_session"
    static let refreshCookie = "outpost_refresh"

    /// The signed-in customer the session cookie names, if its token is still good.
    func pageCustomer(_ request: Request) -> String? {
        guard let token = request.cookie(Self.sessionCookie),
              case .success(let claims) = verifiedClaims(token),
              claims.roles.contains("customer") else { return nil }
        return claims.subject
    }

    /// The cart a page shows: the customer's, else the guest cart of the cookie (nil: none yet).
    private func pageCartId(_ request: Request) -> String? {
        if let customer = pageCustomer(request) { return CartOwner.cartId(customer: customer) }
        guard let id = request.cookie(Self.cartCookie), case .guest? = CartOwner(cartId: id) else { return nil }
        return id
    }

    private static func cookie(_ name: String, _ value: String, maxAge: Int) -> (String, String) {
        ("Set-Cookie", "\(name)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Lax")
    }

    static func redirect(_ location: String, status: Int = 303, cookies: [(String, String)] = []) -> Response {
        Response(status: status, headers: HTTPHeaders([("Location", location), ("Cache-Control", "no-store")] + cookies))
    }

    func page(_ template: String, _ request: Request, status: Int = 200, _ view: Storefront.View) -> Response {
        var view = view
        // Mustache counts an empty string as something to show.
        if (view["message"] as? String)?.isEmpty == true { view["message"] = nil }
        let (token, isNew) = Self.formToken(request)
        view["csrf"] = token
        let body = Storefront.render(template, layoutView(locale: shopperLocale(request), query: "", current: nil).merging(view) { $1 })
        var headers = HTTPHeaders([("Cache-Control", "no-store")])
        if isNew { headers.add("Set-Cookie", "\(Self.formTokenCookie)=\(token); Path=/; HttpOnly; SameSite=Lax") }
        return Response(status: status, contentType: Storefront.htmlContentType, headers: headers, body: body)
    }

    /// The browser's form token (double submit: a page from another
    /// site can neither read this site's cookie nor set it): the cookie's, or a new one.
    static let formTokenCookie = "outpost_form"

    static func formToken(_ request: Request) -> (token: String, isNew: Bool) {
        if let token = request.cookie(formTokenCookie), token.utf8.count == 32, token.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) {
            return (token, false)
        }
        return (Hex.encode(SecureRandom.bytes(16)), true)
    }

    /// Why a browser form's post is refused, or nil: it must come from this site's pages
    /// (`Origin`, else `Referer`, names the host it was sent to) and, for the forms of a
    /// shopper's own pages, carry the token its page was given. A login form auto-posted by a
    /// page elsewhere fails both.
    static func formRefusal(_ request: Request, _ protection: FormProtection) -> Problem? {
        guard protection != .none else { return nil }
        let source = request.headers["origin"] ?? request.headers["referer"]
        guard let host = request.headers["host"]?.lowercased(), let source, Self.authority(of: source) == host else {
            return Problem(.forbidden, detail: "this form was not sent from this shop's pages")
        }
        // No card number is kept or logged, whatever field of a form it is typed into.
        if request.formFields.contains(where: { CardNumber.appears(in: $0.value) }) {
            return Problem(.validation, detail: "never type a card number here: pay with a card token (the payment step gives you one)")
        }
        guard protection == .sameOriginWithToken else { return nil }
        guard let cookie = request.cookie(formTokenCookie), let field = request.formValue("csrf"), !field.isEmpty,
              constantTimeEquals(Array(cookie.utf8), Array(field.utf8)) else {
            return Problem(.forbidden, detail: "this form is out of date or was not made by this shop; reload the page and send it again")
        }
        return nil
    }

    /// "http://127.0.0.1:7102/cart" -> "127.0.0.1:7102"; nil for anything else (`null` included).
    private static func authority(of url: String) -> String? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return authority.isEmpty ? nil : authority.lowercased()
    }

    /// Only this site's paths, so a sign-in link cannot send the shopper elsewhere: printable
    /// ASCII only, checked as given (a control character dropped later, e.g. by the header
    /// writer, once turned `/%0d%0a/evil.example` into `//evil.example`).
    static func localPath(_ next: String?) -> String {
        guard let next, next.utf8.count <= 200, next.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }),
              next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\") else { return "/account" }
        return next
    }

    private func money(_ amount: Int64, _ currency: String?, _ locale: String) -> String {
        guard let currency else { return String(amount) }
        return caches.priceText.format(amount, currency: currency, locale: locale)
    }

    /// A storefront page's or form's entry in the OpenAPI document.
    private func doc(_ id: String, _ summary: String, status: Int = 200) -> RouteDoc {
        RouteDoc(operationId: id, summary: summary, tags: ["storefront"],
                 replies: [.init(status, status == 303 ? "Done: to the next page." : "An HTML page.", contentType: status == 303 ? nil : Storefront.htmlContentType)])
    }

    func registerShopPages() {
        registerCartPages()
        registerCheckoutPages()
        registerOrderPages()
        registerAccountPages()
    }

    /// The cart page and its forms: add, change a line, accept new prices, a discount code.
    private func registerCartPages() {
        shopPage("/cart", doc("storefrontCart", "The shopper's cart: quantities to change, prices then and now, subtotal.")) { [unowned self] request in
            try cartPage(request, message: request.queryValue("message"))
        }

        router.add("POST", "/cart/add", bodyBytesMax: 4096, formProtection: .sameOrigin, doc: doc("storefrontAddToCart", "Add a SKU to the cart (a guest gets a cart cookie).", status: 303)) { [unowned self] request, responder in
            if renewSession(request, responder) { return }
            let sku = request.formValue("sku") ?? "", quantity = Int64(request.formValue("quantity") ?? "") ?? 0
            let existing = pageCartId(request)
            let id = existing ?? CartOwner.newGuestCartId()
            let cookies = existing == nil ? [Self.cookie(Self.cartCookie, id, maxAge: 30 * 86_400)] : []
            let already = cartLines(id).first { $0.sku == sku }?.quantity ?? 0
            setLine(id, sku: sku, quantity: already + quantity, request: request, cookies: cookies, responder: responder)
        }

        router.add("POST", "/cart/lines", bodyBytesMax: 4096, formProtection: .sameOriginWithToken, doc: doc("storefrontChangeCartLine", "Change a line's quantity; 0 removes it.", status: 303)) { [unowned self] request, responder in
            if renewSession(request, responder) { return }
            guard let id = pageCartId(request) else { return responder.send(Self.redirect("/cart")) }
            let sku = request.formValue("sku") ?? "", quantity = Int64(request.formValue("quantity") ?? "") ?? -1
            if quantity == 0 {
                return changeCart(id, setting: [], removing: [sku]) { [unowned self] error in
                    responder.send(error == nil ? Self.redirect("/cart") : orErrorPage(request) { try cartPage(request, message: "That did not work; try again.") })
                }
            }
            setLine(id, sku: sku, quantity: quantity, request: request, cookies: [], responder: responder)
        }

        router.add("POST", "/cart/accept-prices", bodyBytesMax: 1024, formProtection: .sameOriginWithToken, doc: doc("storefrontAcceptPrices", "Take today's prices for the lines whose price changed.", status: 303)) { [unowned self] request, responder in
            if renewSession(request, responder) { return }
            guard let id = pageCartId(request) else { return responder.send(Self.redirect("/cart")) }
            acceptPrices(id) { _ in responder.send(Self.redirect("/cart")) }
        }

        router.add("POST", "/cart/discount-code", bodyBytesMax: 1024, formProtection: .sameOriginWithToken, doc: doc("storefrontApplyDiscountCode", "Apply a discount code to the cart.", status: 303)) { [unowned self] request, responder in
            if renewSession(request, responder) { return }
            guard let id = pageCartId(request) else { return responder.send(Self.redirect("/cart")) }
            do {
                let code = try applicableCode(request.formValue("code") ?? "", cart: id, address: request.remoteAddress?.host ?? "unknown")
                setCartCode(id, code) { [unowned self] error in
                    responder.send(error == nil ? Self.redirect("/cart") : orErrorPage(request) { try cartPage(request, message: "That did not work; try again.") })
                }
            } catch {
                var response = orErrorPage(request) { try cartPage(request, message: Self.pageMessage(error)) }
                response.status = HTTPError.of(error)?.problem.status ?? 422
                if let wait = HTTPError.of(error)?.headers["Retry-After"] { response.headers.set("Retry-After", wait) }
                responder.send(response)
            }
        }

        router.add("POST", "/cart/discount-code/remove", bodyBytesMax: 1024, formProtection: .sameOriginWithToken, doc: doc("storefrontRemoveDiscountCode", "Remove the cart's discount code.", status: 303)) { [unowned self] request, responder in
            if renewSession(request, responder) { return }
            guard let id = pageCartId(request) else { return responder.send(Self.redirect("/cart")) }
            setCartCode(id, nil) { _ in responder.send(Self.redirect("/cart")) }
        }
    }

    /// The checkout page and its form, which places the order as the JSON checkout does.
    private func registerCheckoutPages() {
        shopPage("/checkout", doc("storefrontCheckout", "Contact, shipping address and card, with the order's totals.")) { [unowned self] request in
            guard let id = pageCartId(request), !cartLines(id).isEmpty else { return Self.redirect("/cart") }
            return try checkoutPage(request, cartId: id, message: nil, status: 200, filled: [:])
        }

        router.add("POST", "/checkout", bodyBytesMax: 16_384, formProtection: .sameOriginWithToken, doc: doc("storefrontPlaceOrder", "Place the order; on to its page, or back with what went wrong.", status: 303)) { [unowned self] request, responder in
            if renewSession(request, responder) { return }
            guard let id = pageCartId(request), let owner = CartOwner(cartId: id) else { return responder.send(Self.redirect("/cart")) }
            var fields: [String: LooseJSON] = [:]
            var filled: [String: String] = [:]
            for (name, value) in request.formFields where !value.isEmpty { filled[name] = value }
            if let email = filled["email"] { fields["email"] = .string(email) }
            if let card = filled["card"] { fields["payment_token"] = .string(card) }
            var address: [String: LooseJSON] = [:]
            for name in ["name", "line1", "line2", "city", "postal_code", "country"] { if let value = filled[name] { address[name] = .string(value) } }
            let method = filled["shipping_method"].flatMap(shippingMethod(_:))
            if let id = filled["shipping_method"] { fields["shipping_method"] = .string(id) }
            // An order to collect needs no address; one typed in anyway is not kept.
            if method?.isCollect != true { fields["ship_to"] = .object(address) }
            let key = filled["key"] ?? ""
            let fail: (String, Int) -> Void = { [unowned self] message, status in
                responder.send(orErrorPage(request) { try checkoutPage(request, cartId: id, message: message, status: status, filled: filled) })
            }
            // "Update totals": the same form again, priced for the method chosen.
            if filled["action"] == "update" {
                return responder.send(orErrorPage(request) { try checkoutPage(request, cartId: id, message: nil, status: 200, filled: filled) })
            }
            do {
                guard (1...255).contains(key.utf8.count) else { throw HTTPError(.idempotencyKeyRequired, detail: "The form was incomplete; please try again.") }
                let customerId: String? = if case .customer(let customer) = owner { customer } else { nil }
                var body = try checkoutBody(fields: fields, customer: customerId.flatMap(customer(id:)))
                body.locale = shopperLocale(request)
                try placeOrder(cart: id, owner: owner, key: key, requestHash: Hex.encode(SHA256.hash(request.body)), body: body) { result in
                    switch result {
                    case .success(let answer) where answer.status < 300:
                        guard case .object(let order)? = LooseJSON.parse(answer.body), case .string(let orderId)? = order["id"] else {
                            return fail("Your order could not be shown; check your account.", 500)
                        }
                        var location = "/orders/" + Storefront.segment(orderId) + "?placed=1"
                        if case .string(let token)? = order["order_token"] { location += "&token=" + token }
                        responder.send(Self.redirect(location))
                    case .success(let answer):
                        var reason = "it was declined"
                        guard case .object(let problem)? = LooseJSON.parse(answer.body) else {
                            return fail("Your card was not charged: \(reason). Choose another card.", answer.status)
                        }
                        // Offline, the card was not declined: the store may not take more; its words say what to do.
                        if case .string(ProblemType.offlinePaymentRefused.uri)? = problem["type"], case .string(let detail)? = problem["detail"] {
                            return fail("Your card was not charged: " + detail + ".", answer.status)
                        }
                        if case .string(let why)? = problem["reason"] { reason = "it was declined (\(why.replacingOccurrences(of: "_", with: " ")))" }
                        fail("Your card was not charged: \(reason). Choose another card.", answer.status)
                    case .failure(let error):
                        fail(Self.checkoutMessage(error), HTTPError.of(error)?.problem.status ?? 500)
                    }
                }
            } catch {
                fail(Self.checkoutMessage(error), HTTPError.of(error)?.problem.status ?? 500)
            }
        }
    }

    /// An order page (its customer, or a guest with the order link) and its return request form.
    private func registerOrderPages() {
        shopPage("/orders/{id}", doc("storefrontOrder", "An order's status, lines, totals and address (its customer, or a guest with the order's link).")) { [unowned self] request in
            let locale = shopperLocale(request)
            guard let id = request.parameter("id"), let state = orderState(id), let placed = state.placed else {
                return page("message", request, status: 404, ["heading": "Not found", "text": "There is no such order."])
            }
            let owned = placed.customer != nil && placed.customer == pageCustomer(request)
            let tokenOK = Self.tokenOpens(placed, request.queryValue("token"))
            guard owned || tokenOK else {
                return page("message", request, status: 404, ["heading": "Not found", "text": "There is no such order, or you need to sign in to see it."])
            }
            let currency = placed.totals?.currency
            var view: Storefront.View = [
                "number": placed.number ?? id, "status": state.status.rawValue.replacingOccurrences(of: "_", with: " "),
                "placedAt": WallClock.iso8601(ms: placed.atMs).prefix(16).replacingOccurrences(of: "T", with: " ") + " UTC",
                "justPlaced": request.queryValue("placed") == "1", "paid": state.status != .placed,
                "reservedUntil": state.reservationExpiresMs.map { WallClock.iso8601(ms: $0).prefix(16).replacingOccurrences(of: "T", with: " ") + " UTC" } ?? "",
                "lines": (placed.lines ?? []).map { ["name": $0.name, "quantity": $0.quantity, "amount": money($0.amount, currency, locale)] as Storefront.View },
            ]
            if let totals = placed.totals {
                view["subtotal"] = money(totals.subtotal, currency, locale)
                view["discounts"] = discountViews(placed.discounts ?? [], currency: currency, locale: locale)
                view["shipping"] = money(totals.shipping, currency, locale)
                view["tax"] = money(totals.tax, currency, locale)
                view["total"] = money(totals.total, currency, locale)
                view["taxIncluded"] = totals.taxIncluded
            }
            if let a = orderContact(id, sealed: placed.sealedContact)?.shipTo {
                var shipTo: Storefront.View = ["line1": a.line1, "city": a.city, "postalCode": a.postalCode, "country": a.country]
                if let name = a.name, !name.isEmpty { shipTo["name"] = name }
                if let line2 = a.line2, !line2.isEmpty { shipTo["line2"] = line2 }
                view["shipTo"] = shipTo
            }
            view.merge(fulfilmentView(id, state, currency: currency, locale: locale, token: tokenOK ? request.queryValue("token") : nil)) { $1 }
            if state.status == .paymentFailed {
                view["paymentDue"] = ["amount": money(state.paymentsDue.reduce(0) { $0 + ($1.amount ?? 0) }, currency, locale)] as Storefront.View
            }
            if let message = request.queryValue("message") { view["message"] = message }
            return page("order", request, view)
        }

        router.add("POST", "/orders/{id}/returns", bodyBytesMax: 8192, formProtection: .sameOriginWithToken, doc: doc("storefrontRequestReturn", "Ask to return units of a shipped order (its customer, or a guest with the order's link).", status: 303)) { [unowned self] request, responder in
            if renewSession(request, responder) { return }
            guard let id = request.parameter("id"), let state = orderState(id), let placed = state.placed else { return responder.send(Self.redirect("/account")) }
            let token = request.formValue("token")
            let owned = placed.customer != nil && placed.customer == pageCustomer(request)
            let tokenOK = Self.tokenOpens(placed, token)
            var back = "/orders/" + Storefront.segment(id) + (tokenOK ? "?token=" + (token ?? "") + "&" : "?")
            guard owned || tokenOK else { return responder.send(Self.redirect("/account")) }
            var items: [LooseJSON] = []
            for line in placed.lines ?? [] {
                let field = Storefront.segment(line.sku)
                guard let quantity = Int64(request.formValue("quantity." + field) ?? ""), quantity > 0 else { continue }
                items.append(.object(["sku": .string(line.sku), "quantity": .integer(quantity), "reason": .string(request.formValue("reason." + field) ?? "")]))
            }
            do {
                guard !items.isEmpty else { throw HTTPError(.validation, detail: "choose how many of which item to send back") }
                let checked = try returnItems(["items": .array(items)], state: state, staff: false)
                requestReturn(checked, of: id, state: state, byStore: false) { error in
                    back += "message=" + Storefront.segment(error == nil ? "Your return request is in. We will tell you when it is approved." : Self.pageMessage(error ?? HTTPError(.internalError, detail: "")))
                    responder.send(Self.redirect(back))
                }
            } catch {
                responder.send(Self.redirect(back + "message=" + Storefront.segment(Self.pageMessage(error))))
            }
        }
    }

    /// The account page, sign-in, sign-up and sign-out.
    private func registerAccountPages() {
        shopPage("/account", doc("storefrontAccount", "The signed-in shopper's orders and addresses; else to sign in.")) { [unowned self] request in
            guard let id = pageCustomer(request), let customer = customer(id: id) else { return Self.redirect("/sign-in?next=/account") }
            let locale = shopperLocale(request)
            let orders = try orderIndex.list(.init(customer: id), after: nil, limit: 50).map { row -> Storefront.View in
                ["href": "/orders/" + Storefront.segment(row.id), "number": row.number ?? row.id,
                 "placedAt": row.placedMs.map { String(WallClock.iso8601(ms: $0).prefix(10)) } ?? "",
                 "status": row.status, "total": money(row.total ?? 0, row.currency, locale)]
            }
            return page("account", request, [
                "email": customer.email, "name": customer.name ?? "", "orders": orders,
                "addresses": customer.addresses.map { ["name": $0.name ?? "", "line1": $0.line1, "city": $0.city, "postalCode": $0.postalCode, "country": $0.country] as Storefront.View },
            ])
        }

        router.get("/sign-in", doc: doc("storefrontSignIn", "The sign-in form.")) { [unowned self] request in
            signInPage(request, signUp: false, message: nil, status: 200, email: "")
        }
        router.get("/sign-up", doc: doc("storefrontSignUp", "The form that makes an account.")) { [unowned self] request in
            signInPage(request, signUp: true, message: nil, status: 200, email: "")
        }

        router.add("POST", "/sign-in", bodyBytesMax: 4096, rateClass: .credentials, formProtection: .sameOriginWithToken, doc: doc("storefrontSignInSubmit", "Sign in; a guest cart joins the customer's.", status: 303)) { [unowned self] request, responder in
            let email = request.formValue("email") ?? "", next = Self.localPath(request.formValue("next"))
            let guestCart = request.cookie(Self.cartCookie)
            do {
                try authenticate(email: email, password: request.formValue("password") ?? "", address: request.remoteAddress?.host ?? "unknown") { [unowned self] result in
                    switch result {
                    case .success(let customer):
                        mergeGuestCart(guestCart, into: customer.id)
                        issueTokens(customer) { [unowned self] issued in
                            responder.send(signedInRedirect(issued, next: next, request: request, email: email))
                        }
                    case .failure(let error):
                        responder.send(signInPage(request, signUp: false, message: Self.pageMessage(error), status: HTTPError.of(error)?.problem.status ?? 500, email: email))
                    }
                }
            } catch {
                responder.send(signInPage(request, signUp: false, message: Self.pageMessage(error), status: HTTPError.of(error)?.problem.status ?? 500, email: email))
            }
        }

        router.add("POST", "/sign-up", bodyBytesMax: 4096, rateClass: .credentials, formProtection: .sameOriginWithToken, doc: doc("storefrontSignUpSubmit", "Make an account and sign in; a guest cart comes along.", status: 303)) { [unowned self] request, responder in
            let email = request.formValue("email") ?? "", next = Self.localPath(request.formValue("next"))
            let name = request.formValue("name").flatMap { $0.trimmingWhitespace().isEmpty ? nil : $0 }
            let body = RegisterBody(email: email, password: request.formValue("password") ?? "", name: name, phone: nil, cartId: request.cookie(Self.cartCookie))
            do {
                try createAccount(body) { [unowned self] issued in
                    responder.send(signedInRedirect(issued, next: next, request: request, email: email, signUp: true))
                }
            } catch {
                responder.send(signInPage(request, signUp: true, message: Self.pageMessage(error), status: HTTPError.of(error)?.problem.status ?? 500, email: email))
            }
        }

        registerPasswordResetPages()

        router.add("POST", "/sign-out", bodyBytesMax: 1024, formProtection: .sameOriginWithToken, doc: doc("storefrontSignOut", "Sign out: the session ends on every node, this browser forgets it.", status: 303)) { [unowned self] request, responder in
            let forget = Self.redirect("/", cookies: [Self.cookie(Self.sessionCookie, "", maxAge: 0), Self.cookie(Self.refreshCookie, "", maxAge: 0)])
            guard let presented = request.cookie(Self.refreshCookie) else { return responder.send(forget) }
            signOut(presented) { _ in responder.send(forget) }
        }
    }

    /// A page whose shopper's access token ran out while their refresh token holds: new tokens,
    /// then the same request again (307 keeps a form's method and body). Returns whether it
    /// answered.
    private func renewSession(_ request: Request, _ responder: Responder) -> Bool {
        guard pageCustomer(request) == nil, let presented = request.cookie(Self.refreshCookie) else { return false }
        refresh(presented) { result in
            switch result {
            case .success(let signedIn):
                responder.send(Self.redirect(request.target, status: 307, cookies: Self.sessionCookies(signedIn)))
            case .failure:
                responder.send(Self.redirect(request.target, status: 307, cookies: [Self.cookie(Self.sessionCookie, "", maxAge: 0),
                                                                                     Self.cookie(Self.refreshCookie, "", maxAge: 0)]))
            }
        }
        return true
    }

    private static func sessionCookies(_ signedIn: SignedIn) -> [(String, String)] {
        [cookie(sessionCookie, signedIn.accessToken, maxAge: Int(AccessToken.lifetimeSeconds)),
         cookie(refreshCookie, signedIn.refreshToken, maxAge: Int(refreshLifetimeMs / 1000))]
    }

    /// A GET page that renews the shopper's session first when it has to.
    /// A page made where nothing can throw (a form's answer): when its data cannot be read, the
    /// message page with the problem's status instead.
    private func orErrorPage(_ request: Request, _ make: () throws -> Response) -> Response {
        do { return try htmlPage(request) { _ in try make() } } catch {
            return Response(status: 500, contentType: Storefront.htmlContentType, body: Array("Something went wrong; please try again.".utf8))
        }
    }

    private func shopPage(_ path: String, _ doc: RouteDoc, _ render: @escaping (Request) throws -> Response) {
        router.add("GET", path, doc: doc) { [unowned self] request, responder in
            if renewSession(request, responder) { return }
            do { responder.send(try render(request)) } catch { responder.fail(error) }
        }
    }

    private func signedInRedirect(_ issued: Result<SignedIn, any Error>, next: String, request: Request, email: String, signUp: Bool = false) -> Response {
        switch issued {
        case .success(let signedIn):
            return Self.redirect(next, cookies: Self.sessionCookies(signedIn) + [Self.cookie(Self.cartCookie, "", maxAge: 0)])
        case .failure(let error):
            return signInPage(request, signUp: signUp, message: Self.pageMessage(error), status: HTTPError.of(error)?.problem.status ?? 500, email: email)
        }
    }

    /// What a shopper reads about a refusal: the problem's detail, first letter up.
    /// A checkout refused: its problem in the shopper's words; anything else charged nothing.
    private static func checkoutMessage(_ error: any Error) -> String {
        HTTPError.of(error) == nil ? "Something went wrong; nothing was charged. Please try again." : pageMessage(error)
    }

    static func pageMessage(_ error: any Error) -> String {
        guard let error = HTTPError.of(error) else { return "Something went wrong; please try again." }
        if let errors = error.problem.extensions.first(where: { $0.0 == "errors" })?.1, case .array(let items) = errors {
            let texts = items.compactMap { item -> String? in
                guard case .string(let field)? = item["field"], case .string(let reason)? = item["reason"] else { return nil }
                return field.replacingOccurrences(of: "ship_to.", with: "").replacingOccurrences(of: "_", with: " ") + " " + reason
            }
            if !texts.isEmpty { return "Please check: " + texts.joined(separator: "; ") + "." }
        }
        let detail = error.problem.detail ?? error.problem.type.title
        return detail.prefix(1).uppercased() + detail.dropFirst() + "."
    }

    private func setLine(_ id: String, sku: String, quantity: Int64, request: Request, cookies: [(String, String)], responder: Responder) {
        do {
            guard (1...CartContents.quantityMax).contains(quantity) else { throw HTTPError(.validation, detail: "choose a quantity from 1 to \(CartContents.quantityMax)") }
            let (_, _, price) = try sellable(sku)
            try checkStock(sku, quantity: quantity)
            guard cartLines(id).contains(where: { $0.sku == sku }) || cartLines(id).count < CartContents.linesMax else {
                throw HTTPError(.validation, detail: "a cart holds at most \(CartContents.linesMax) lines")
            }
            changeCart(id, setting: [CartLine(sku: sku, quantity: quantity, unitPriceAtAdd: price.amount)]) { [unowned self] error in
                responder.send(error == nil ? Self.redirect("/cart", cookies: cookies) : orErrorPage(request) { try cartPage(request, message: "That did not work; try again.") })
            }
        } catch {
            var response = orErrorPage(request) { try cartPage(request, message: Self.pageMessage(error), cartId: id) }
            response.status = HTTPError.of(error)?.problem.status ?? 500
            for (name, value) in cookies { response.headers.add(name, value) }
            responder.send(response)
        }
    }

    private func cartPage(_ request: Request, message: String?, cartId: String? = nil) throws -> Response {
        let locale = shopperLocale(request)
        let id = cartId ?? pageCartId(request)
        let lines = try id.map { try priced(cartLines($0)) } ?? []
        let currency = lines.lazy.compactMap { $0.priceNow?.currency }.first
        var subtotal: Int64 = 0
        let views: [Storefront.View] = lines.map { line in
            let unit = line.unitPrice ?? 0
            subtotal += unit * line.line.quantity
            return [
                "sku": line.line.sku, "quantity": line.line.quantity,
                "name": line.product.flatMap { Product.localized($0.names, locale, fallback: config.locale) } ?? line.line.sku,
                "href": line.product.map { "/products/" + Storefront.segment($0.id) + "?sku=" + Storefront.segment(line.line.sku) } ?? "/",
                "price": money(unit, currency, locale), "changed": line.priceChanged,
                "priceNow": line.priceNow.map { money($0.amount, currency, locale) } ?? "no longer sold",
                "amount": money(unit * line.line.quantity, currency, locale),
            ]
        }
        var view: Storefront.View = ["lines": views, "subtotal": money(subtotal, currency, locale), "message": message ?? "",
                                     "priceChanges": lines.contains(where: \.priceChanged)]
        if let id, let currency, !lines.isEmpty {
            let code = cartCode(id)
            let (outcome, totals) = price(orderLines(lines, locale: locale), code: code, currency: currency)
            view["discounts"] = discountViews(outcome.discounts, currency: currency, locale: locale)
            view["shipping"] = money(totals.shipping, currency, locale)
            view["total"] = money(totals.total, currency, locale)
            if let code { view["code"] = code }
            if let refusal = outcome.codeRefusal { view["codeReason"] = refusal.explanation }
        }
        return page("cart", request, view)
    }

    private func discountViews(_ discounts: [DiscountLine], currency: String?, locale: String) -> [Storefront.View] {
        discounts.map { discount in
            var view: Storefront.View = ["name": discount.name, "amount": money(discount.amount, currency, locale)]
            if let code = discount.code { view["code"] = code }
            return view
        }
    }

    private func checkoutPage(_ request: Request, cartId: String, message: String?, status: Int, filled: [String: String]) throws -> Response {
        let locale = shopperLocale(request)
        let lines = try priced(cartLines(cartId))
        let currency = lines.lazy.compactMap { $0.priceNow?.currency }.first
        let orderLines = orderLines(lines, locale: locale)
        let customer = pageCustomer(request).flatMap(customer(id:))
        let saved = customer?.addresses.first
        // Every method the region has for these goods; the address decides at submission.
        let goods = orderLines.reduce(Int64(0)) { $0 + $1.amount }, weight = grams(orderLines), now = WallClock.nowMs()
        let methods = regionMethods(currency: currency ?? "").compactMap { method in method.fee(value: goods, grams: weight).map { (method, $0) } }
            .sorted { ($0.1, $0.0.name) < ($1.1, $1.0.name) }
        let chosen = methods.first { $0.0.id == filled["shipping_method"] } ?? methods.first { !$0.0.isCollect } ?? methods.first
        let (outcome, totals) = price(orderLines, code: cartCode(cartId), currency: currency ?? "", shipping: chosen?.1)
        let shippingViews = methods.map { method, fee -> Storefront.View in
            var view: Storefront.View = ["id": method.id, "name": method.name, "fee": fee == 0 ? "free" : money(fee, currency, locale),
                                         "latest": ShippingRates.businessDay(after: method.maxDays, fromMs: now), "chosen": method.id == chosen?.0.id]
            if let location = method.collectAt { view["collectAt"] = location }
            if !method.countries.isEmpty { view["countries"] = method.countries.joined(separator: ", ") }
            return view
        }
        let address: Storefront.View = [
            "name": filled["name"] ?? saved?.name ?? customer?.name ?? "", "line1": filled["line1"] ?? saved?.line1 ?? "", "line2": filled["line2"] ?? saved?.line2 ?? "",
            "city": filled["city"] ?? saved?.city ?? "", "postalCode": filled["postal_code"] ?? saved?.postalCode ?? "", "country": filled["country"] ?? saved?.country ?? "",
        ]
        var response = page("checkout", request, status: status, [
            "message": message ?? "", "guest": customer == nil, "email": filled["email"] ?? "", "address": address,
            // A fresh key per form shown: submitting this form twice places one order.
            "key": Hex.encode(SecureRandom.bytes(16)),
            "cards": SandboxAcquirer.testCards.enumerated().map { ["token": $1.token, "label": $1.label, "first": $0 == 0] as Storefront.View },
            "lines": orderLines.map { ["name": $0.name, "quantity": $0.quantity, "amount": money($0.amount, currency, locale)] as Storefront.View },
            "subtotal": money(totals.subtotal, currency, locale), "shipping": money(totals.shipping, currency, locale), "methods": shippingViews,
            "discounts": discountViews(outcome.discounts, currency: currency, locale: locale),
            "tax": money(totals.tax, currency, locale), "total": money(totals.total, currency, locale), "taxIncluded": totals.taxIncluded,
        ])
        response.status = status
        return response
    }

    /// The order page's delivery, shipments, returns and the return form.
    private func fulfilmentView(_ id: String, _ state: OrderState, currency: String?, locale: String, token: String?) -> Storefront.View {
        guard let placed = state.placed else { return [:] }
        var view: Storefront.View = [:]
        func describe(_ items: [OrderItem]) -> String {
            items.map { item in "\(item.quantity) × \(placed.lines?.first { $0.sku == item.sku }?.name ?? item.sku)" }.joined(separator: ", ")
        }
        if let shipping = placed.shipping {
            var method: Storefront.View = ["name": shipping.name, "latest": shipping.latest]
            if let location = shipping.collectAt { method["collectAt"] = location }
            view["method"] = method
        }
        let parcels = state.events.filter { $0.kind == .shipped }.map { event -> Storefront.View in
            var parcel: Storefront.View = ["at": String(WallClock.iso8601(ms: event.atMs).prefix(10)), "handedOver": placed.shipping?.collectAt != nil]
            if let carrier = event.carrier { parcel["carrier"] = carrier }
            if let tracking = event.tracking { parcel["tracking"] = tracking }
            if let items = event.items { parcel["items"] = describe(items) }
            return parcel
        }
        if !parcels.isEmpty { view["parcels"] = parcels }
        let returns = state.returns.map { r -> Storefront.View in
            var entry: Storefront.View = ["status": r.status.rawValue, "at": String(WallClock.iso8601(ms: r.requestedMs).prefix(10)),
                                          "items": describe(r.items)]
            if r.refundedAmount > 0 { entry["refunded"] = money(r.refundedAmount, currency, locale) }
            if let rejection = r.rejection { entry["rejection"] = rejection }
            return entry
        }
        if !returns.isEmpty { view["returns"] = returns }
        let returnable = state.returnable
        if state.allows(.returnRequested), !returnable.isEmpty {
            view["returnForm"] = [
                "token": token ?? "", "action": "/orders/" + Storefront.segment(id) + "/returns",
                "lines": (placed.lines ?? []).compactMap { line -> Storefront.View? in
                    guard let units = returnable[line.sku] else { return nil }
                    return ["field": Storefront.segment(line.sku), "name": line.name, "options": (0...units).map { ["n": $0] as Storefront.View },
                            "reasons": ReturnPolicy.reasons.map { ["value": $0, "label": $0.replacingOccurrences(of: "_", with: " ")] as Storefront.View }]
                },
            ] as Storefront.View
        }
        return view
    }

    /// "Forgot your password?": the email form, then the mail's link to the new-password form.
    private func registerPasswordResetPages() {
        router.get("/account/forgot", doc: doc("storefrontForgotPassword", "The form that asks for a password reset link.")) { [unowned self] request in
            page("reset", request, ["heading": "Reset your password", "action": "/account/forgot"])
        }
        router.add("POST", "/account/forgot", bodyBytesMax: 4096, rateClass: .credentials, formProtection: .sameOriginWithToken,
                   doc: doc("storefrontForgotPasswordSubmit", "Mails a reset link if the email has an account (the same answer either way).")) { [unowned self] request, responder in
            let sent = page("message", request, ["heading": "Check your mail",
                                                 "text": "If an account has this email, a link to choose a new password is on its way. It works for 30 minutes."])
            let email = Customer.normalizedEmail(request.formValue("email") ?? "")
            guard config.mail != nil, let customer = accountId(email: email).flatMap(customer(id:)) else {
                return responder.send(config.mail == nil ? page("message", request, ["heading": "Ask the shop", "text": "This shop does not send mail; its staff can reset your password."]) : sent)
            }
            mailPasswordReset(customer, locale: shopperLocale(request)) { _ in responder.send(sent) }
        }
        router.get("/account/reset", doc: doc("storefrontResetPassword", "The form that sets a new password with the mail's link.")) { [unowned self] request in
            page("reset", request, ["heading": "Choose a new password", "action": "/account/reset", "token": request.queryValue("token") ?? ""])
        }
        router.add("POST", "/account/reset", bodyBytesMax: 4096, rateClass: .credentials, formProtection: .sameOriginWithToken,
                   doc: doc("storefrontResetPasswordSubmit", "Sets the new password; every device is signed out.")) { [unowned self] request, responder in
            let token = request.formValue("token") ?? ""
            let again = { [unowned self] (error: any Error) in
                responder.send(page("reset", request, status: HTTPError.of(error)?.problem.status ?? 500,
                                    ["heading": "Choose a new password", "action": "/account/reset", "token": token, "message": Self.pageMessage(error)]))
            }
            do {
                try confirmPasswordReset(token: token, newPassword: request.formValue("password") ?? "") { [unowned self] error in
                    if let error { return again(error) }
                    responder.send(page("message", request, ["heading": "Password changed", "text": "Sign in with your new password. Every device was signed out."]))
                }
            } catch {
                again(error)
            }
        }
    }

    private func signInPage(_ request: Request, signUp: Bool, message: String?, status: Int, email: String) -> Response {
        page("signin", request, status: status, [
            "heading": signUp ? "Create an account" : "Sign in", "action": signUp ? "/sign-up" : "/sign-in", "signUp": signUp,
            "next": Self.localPath(request.queryValue("next") ?? request.formValue("next")), "message": message ?? "", "email": email,
        ])
    }
}
