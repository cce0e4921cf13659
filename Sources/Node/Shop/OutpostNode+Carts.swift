import Commerce
import HTTP
import Platform
import Replication

/// A cart line as shoppers see it: the price kept from when it was added beside today's.
struct PricedCartLine {
    var line: CartLine
    var product: Product?
    var variant: Variant?
    var priceNow: Price?

    var unitPrice: Int64? { line.unitPriceAtAdd ?? priceNow?.amount }
    var priceChanged: Bool { priceNow == nil || line.unitPriceAtAdd == nil || line.unitPriceAtAdd != priceNow?.amount }
}

extension OutpostNode {
    /// Staff who may act on any shopper's cart or order.
    static let shopStaffRoles = ["cashier", "store_manager", "operator", "hub_admin"]

    /// The claims of a valid customer or staff access token, if the request carries one.
    func bearerClaims(_ request: Request) -> AccessClaims? {
        guard let token = request.bearerToken,
              case .success(let claims) = verifiedClaims(token) else { return nil }
        return claims
    }

    /// Staff may act on any shopper's cart or order: the admin token, or a staff role.
    func isStaff(_ request: Request) -> Bool {
        if identity.acceptsAdminToken(request.bearerToken) { return true }
        return bearerClaims(request).map { $0.roles.contains(where: Self.shopStaffRoles.contains) } ?? false
    }

    /// Object-level check for `/api/v1/carts/{id}`: a guest cart is its id's holder's; a
    /// customer's cart is that customer's (401 without a token, 403 with another's).
    func authorizeCart(_ request: Request) throws(HTTPError) -> (id: String, owner: CartOwner) {
        guard let id = request.parameter("id"), let owner = CartOwner(cartId: id) else { throw HTTPError(.notFound, detail: "no such cart") }
        switch owner {
        case .guest: return (id, owner)
        case .customer(let customer), .wishlist(let customer):
            try requireOwner(request, customer: customer, what: "cart")
            return (id, owner)
        }
    }

    /// Staff, or the customer `owner` by their own token: 401 without a valid one, 403 with
    /// another customer's.
    func requireOwner(_ request: Request, customer owner: String, what: String) throws(HTTPError) {
        if isStaff(request) { return }
        guard request.bearerToken != nil else { throw HTTPError(.unauthorized, detail: "this \(what) belongs to a customer: send their access token") }
        guard let claims = bearerClaims(request), claims.roles.contains("customer") else { throw HTTPError(.unauthorized, detail: "the access token is refused") }
        guard claims.subject == owner else { throw HTTPError(.forbidden, detail: "this \(what) belongs to another customer") }
    }

    /// Today's prices for the lines whose price changed; lines no longer sold leave the cart.
    func acceptPrices(_ id: String, completion: @escaping ((any Error)?) -> Void) {
        let changed: [PricedCartLine]
        do { changed = try priced(cartLines(id)).filter(\.priceChanged) } catch { return completion(error) }
        guard !changed.isEmpty else { return completion(nil) }
        let repriced = changed.compactMap { line in line.priceNow.map { CartLine(sku: line.line.sku, quantity: line.line.quantity, unitPriceAtAdd: $0.amount) } }
        changeCart(id, setting: repriced, removing: changed.filter { $0.priceNow == nil }.map(\.line.sku), completion: completion)
    }

    /// A cart's lines as an order would price them now, named in `locale`.
    func orderLines(_ lines: [PricedCartLine], locale: String) -> [PricedLine] {
        lines.map { line in
            PricedLine(sku: line.line.sku, productId: line.product?.id ?? "",
                       name: line.product.flatMap { Product.localized($0.names, locale, fallback: config.locale) } ?? line.line.sku,
                       quantity: line.line.quantity, unitPrice: line.priceNow?.amount ?? line.unitPrice ?? 0, category: line.product?.category)
        }
    }

    func cartLines(_ id: String) -> [CartLine] {
        replica.state(at: id, in: Collections.carts).map(CartContents.lines) ?? []
    }

    /// What a SKU sells for here now; nil when it does not sell here. Throws when the catalog
    /// cannot be read: a read that failed is not an item that is not sold.
    func offer(_ sku: String) throws -> (product: Product, variant: Variant, price: Price)? {
        guard let productId = try catalog.productId(sku: sku), let product = product(productId), product.status == .active,
              let variant = product.variants.first(where: { $0.sku == sku }), let price = variant.prices(in: config.region).first else { return nil }
        return (product, variant, price)
    }

    /// What a SKU sells for here now, or why it does not sell.
    func sellable(_ sku: String) throws -> (product: Product, variant: Variant, price: Price) {
        guard let offer = try offer(sku) else { throw SaleRefusal.itemUnavailable(sku: sku, detail: "\(sku) is not sold in \(config.region) now") }
        return offer
    }

    func priced(_ lines: [CartLine]) throws -> [PricedCartLine] {
        try lines.map { line in
            let found = try offer(line.sku)
            return PricedCartLine(line: line, product: found?.product, variant: found?.variant, priceNow: found?.price)
        }
    }

    /// Refuses `quantity` of `sku` when the fleet holds fewer units.
    func checkStock(_ sku: String, quantity: Int64) throws {
        let stock = try catalog.stock(sku: sku)
        guard quantity <= stock.available else {
            var error = HTTPError(.insufficientStock, detail: "\(stock.available) of \(sku) available; \(quantity) asked")
            error.problem.extensions = [("available", .int(stock.available)), ("available_here", .int(stock.here))]
            throw error
        }
    }

    func sendCart(_ id: String, locale: String, to responder: Responder, status: Int = 200) {
        do { responder.send(.json(try cartJSON(id, locale: locale), status: status)) } catch { responder.fail(error) }
    }

    func cartJSON(_ id: String, locale: String) throws -> JSONValue {
        let lines = try priced(cartLines(id))
        let currency = lines.lazy.compactMap { $0.priceNow?.currency }.first
        var subtotal: Int64 = 0
        let items: [JSONValue] = lines.map { line in
            let amount = (line.unitPrice ?? 0) * line.line.quantity
            subtotal += amount
            let name = line.product.flatMap { Product.localized($0.names, locale, fallback: config.locale) }
            let stock: (available: Int64, here: Int64) = (try? catalog.stock(sku: line.line.sku)) ?? (0, 0)
            return .object([
                JSONMember("sku", .string(line.line.sku)),
                JSONMember("product_id", line.product.map { .string($0.id) } ?? .null),
                JSONMember("name", name.map { .string($0) } ?? .null),
                JSONMember("quantity", .int(line.line.quantity)),
                JSONMember("unit_price", line.unitPrice.map { .int($0) } ?? .null),
                JSONMember("current_unit_price", line.priceNow.map { .int($0.amount) } ?? .null),
                JSONMember("price_changed", .bool(line.priceChanged)),
                JSONMember("available", .bool(line.priceNow != nil)),
                JSONMember("stock", .string(CatalogJSON.StockState(available: stock.available, here: stock.here).rawValue)),
                JSONMember("amount", .int(amount)),
            ])
        }
        let members: [JSONMember] = [
            JSONMember("id", .string(id)),
            JSONMember("currency", currency.map { .string($0) } ?? .null),
            JSONMember("lines", .array(items)),
            JSONMember("subtotal", .int(subtotal)),
            JSONMember("price_changes", .bool(lines.contains(where: \.priceChanged))),
        ]
        if case .wishlist? = CartOwner(cartId: id) { return .object(members) }
        return .object(members + cartPricingMembers(id, lines: lines, currency: currency, locale: locale))
    }

    /// What the cart's order would cost now: its code, the promotions, shipping, tax and total.
    private func cartPricingMembers(_ id: String, lines: [PricedCartLine], currency: String?, locale: String) -> [JSONMember] {
        let code = cartCode(id)
        var members: [JSONMember] = []
        guard let currency, !lines.isEmpty else {
            return code.map { [JSONMember("discount_code", .object([JSONMember("code", .string($0)), JSONMember("applies", .bool(false)),
                                                                    JSONMember("reason", .string(CodeRefusal.noEligibleItems.rawValue))]))] } ?? []
        }
        let priced = orderLines(lines.filter { $0.priceNow != nil || $0.unitPrice != nil }, locale: locale)
        let (outcome, totals) = price(priced, code: code, currency: currency)
        if let code {
            var status = [JSONMember("code", .string(code)), JSONMember("applies", .bool(outcome.codeRefusal == nil))]
            if let refusal = outcome.codeRefusal { status.append(JSONMember("reason", .string(refusal.rawValue))) }
            members.append(JSONMember("discount_code", .object(status)))
        }
        members += [
            JSONMember("discounts", .array(outcome.discounts.map(Self.discountJSON))),
            JSONMember("discount", .int(totals.discount)),
            JSONMember("shipping", .int(totals.shipping)),
            JSONMember("tax", .int(totals.tax)),
            JSONMember("tax_included", .bool(totals.taxIncluded)),
            JSONMember("total", .int(totals.total)),
        ]
        return members
    }

    /// Commits a change to the lines of a cart or wishlist through group commit.
    func changeCart(_ id: String, setting lines: [CartLine], removing removed: [String] = [], completion: @escaping ((any Error)?) -> Void) {
        let replica = self.replica, me = identity.nodeId
        writer.submit({ _ in
            var state = replica.state(at: id, in: Collections.carts) ?? CartContents.State()
            let at = replica.tick(wallMs: WallClock.nowMs())
            _ = try replica.commit(CartContents.change(&state, setting: lines, removing: removed, replica: me, at: at), key: id, in: Collections.carts, at: at)
        }, completion: { [unowned self] result in
            if case .failure(let error) = result { return completion(error) }
            replicatedChanged()
            completion(nil)
        })
    }

    /// On sign-in with a guest cart: its lines join the customer's cart and leave the guest's.
    func mergeGuestCart(_ guestId: String?, into customer: String) {
        guard let guestId, case .guest? = CartOwner(cartId: guestId) else { return }
        let guest = cartLines(guestId)
        guard !guest.isEmpty else { return }
        let mine = CartOwner.cartId(customer: customer)
        let merged = CartContents.merged(guest, into: cartLines(mine))
        changeCart(mine, setting: merged) { [unowned self] error in
            guard error == nil else { return }
            changeCart(guestId, setting: [], removing: guest.map(\.sku)) { _ in }
        }
    }

    func registerCartRoutes() {
        registerCartLineRoutes()
        registerCartOwnerRoutes()
    }

    /// A cart: made, read, its lines put and removed.
    private func registerCartLineRoutes() {
        let problem = RouteDoc.Reply.problem
        let cartReply = RouteDoc.Reply(200, "The cart: lines with the price kept from when each was added and today's, subtotal.", schema: ["type": "object"])
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "guest-<32 hex> (a guest's cart: the id is its key) or cart-<customer id> (needs that customer's token).")
        let skuParameter = RouteDoc.Parameter("sku", in: .path, description: "A variant's SKU.")

        router.add("POST", "/api/v1/carts", bodyBytesMax: 0, doc: RouteDoc(
            operationId: "createCart", summary: "A new empty guest cart; with a customer's token, that customer's cart.",
            description: "A guest keeps the id (it is the cart's only key). Signing in with `cart_id` merges the guest cart into the customer's.",
            tags: ["carts"], replies: [.init(201, "The cart.", schema: ["type": "object"])])
        ) { [unowned self] request, responder in
            let claims = bearerClaims(request)
            let id = claims.flatMap { $0.roles.contains("customer") ? CartOwner.cartId(customer: $0.subject) : nil } ?? CartOwner.newGuestCartId()
            sendCart(id, locale: shopperLocale(request), to: responder, status: 201)
        }

        router.get("/api/v1/carts/{id}", doc: RouteDoc(
            operationId: "getCart", summary: "A cart: its lines, prices then and now, subtotal.", tags: ["carts"], parameters: [idParameter],
            replies: [cartReply, problem(401, "A customer's cart without a token."), problem(403, "Another customer's cart.")])
        ) { [unowned self] request in
            let (id, _) = try authorizeCart(request)
            return .json(try cartJSON(id, locale: shopperLocale(request)))
        }

        router.add("PUT", "/api/v1/carts/{id}/lines/{sku}", bodyBytesMax: 1024, doc: RouteDoc(
            operationId: "setCartLine", summary: "Add a line or change its quantity; the price now is kept with it.",
            description: "Body: {\"quantity\": 1 to \(CartContents.quantityMax)}. Refused when the fleet holds fewer units (409 insufficient-stock). Setting a line again takes today's price (how a shopper accepts a changed price).",
            tags: ["carts"], parameters: [idParameter, skuParameter],
            requestBody: .init(0, "The quantity.", schema: ["type": "object", "required": ["quantity"]]),
            replies: [cartReply, problem(409, "Not enough stock, or the SKU is not sold here."), problem(422, "Quantity out of range.")])
        ) { [unowned self] request, responder in
            do {
                let (id, owner) = try authorizeCart(request)
                let sku = request.parameter("sku") ?? ""
                guard case .integer(let quantity)? = try Self.jsonObject(request)["quantity"] else {
                    throw HTTPError(.validation, detail: "quantity must be an integer")
                }
                let isWishlist = { if case .wishlist = owner { true } else { false } }()
                let most = isWishlist ? 1 : CartContents.quantityMax
                guard (1...most).contains(quantity) else { throw HTTPError(.validation, detail: "quantity must be 1 to \(most)") }
                let (_, _, price) = try sellable(sku)
                let lines = cartLines(id)
                if !isWishlist { try checkStock(sku, quantity: quantity) }
                guard lines.contains(where: { $0.sku == sku }) || lines.count < CartContents.linesMax else {
                    throw HTTPError(.validation, detail: "a cart holds at most \(CartContents.linesMax) lines")
                }
                let locale = shopperLocale(request)
                changeCart(id, setting: [CartLine(sku: sku, quantity: quantity, unitPriceAtAdd: price.amount)]) { [unowned self] error in
                    if let error { responder.fail(error) } else { sendCart(id, locale: locale, to: responder) }
                }
            } catch {
                responder.fail(error)
            }
        }

        router.add("DELETE", "/api/v1/carts/{id}/lines/{sku}", doc: RouteDoc(
            operationId: "removeCartLine", summary: "Remove a line (nothing happens if it is not there).", tags: ["carts"],
            parameters: [idParameter, skuParameter], replies: [cartReply])
        ) { [unowned self] request, responder in
            do {
                let (id, _) = try authorizeCart(request)
                let sku = request.parameter("sku") ?? "", locale = shopperLocale(request)
                guard cartLines(id).contains(where: { $0.sku == sku }) else { return sendCart(id, locale: locale, to: responder) }
                changeCart(id, setting: [], removing: [sku]) { [unowned self] error in
                    if let error { responder.fail(error) } else { sendCart(id, locale: locale, to: responder) }
                }
            } catch {
                responder.fail(error)
            }
        }
    }

    /// New prices accepted, and a customer's own cart and wishlist.
    private func registerCartOwnerRoutes() {
        let cartReply = RouteDoc.Reply(200, "The cart: lines with the price kept from when each was added and today's, subtotal.", schema: ["type": "object"])
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "guest-<32 hex> (a guest's cart: the id is its key) or cart-<customer id> (needs that customer's token).")

        router.add("POST", "/api/v1/carts/{id}/accept-prices", bodyBytesMax: 0, doc: RouteDoc(
            operationId: "acceptCartPrices", summary: "Take today's price for every line whose price changed since it was added.",
            description: "Checkout refuses a cart with changed prices (409 price-changed) until the shopper has seen and accepted them here.",
            tags: ["carts"], parameters: [idParameter], replies: [cartReply])
        ) { [unowned self] request, responder in
            do {
                let (id, _) = try authorizeCart(request)
                let locale = shopperLocale(request)
                acceptPrices(id) { [unowned self] error in
                    if let error { responder.fail(error) } else { sendCart(id, locale: locale, to: responder) }
                }
            } catch {
                responder.fail(error)
            }
        }

        router.get("/api/v1/me/cart", access: .roles(["customer"]), doc: RouteDoc(
            operationId: "getMyCart", summary: "The signed-in customer's cart (the same on every node of the region).", tags: ["carts"],
            replies: [cartReply])
        ) { [unowned self] request in
            .json(try cartJSON(CartOwner.cartId(customer: request.subject ?? ""), locale: shopperLocale(request)))
        }

        router.get("/api/v1/me/wishlist", access: .roles(["customer"]), doc: RouteDoc(
            operationId: "getWishlist", summary: "The signed-in customer's wishlist, with prices then and now.",
            description: "Change it with PUT/DELETE /api/v1/carts/wish-<customer id>/lines/{sku} (quantity 1).", tags: ["carts"],
            replies: [cartReply])
        ) { [unowned self] request in
            .json(try cartJSON(CartOwner.wishlistId(customer: request.subject ?? ""), locale: shopperLocale(request)))
        }
    }
}
