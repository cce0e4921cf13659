import Commerce
import HTTP
import Platform
import Replication

/// A completion between its reservation and its answer.
struct TillCompletion {
    var saleId: String
    var caller: TillCaller
    var shift: String
    var requestHash: String
    var basket: TillBasket
    var priced: PricedBasket
    var tenders: [PlannedTender]
    var rounding: Int64
    /// Decided once, when the tenders were checked against the offline policy: a hub that
    /// goes or comes back mid-completion does not change how this sale's cards are taken.
    var cardsOnline: Bool
    var orderId = ""
    var number = ""
    var paymentIds: [String] = []
    var allocations: [StockAllocation] = []
    /// Per tender: how it was answered.
    var answers: [TenderAnswer] = []
}

enum TenderAnswer {
    case cash
    case approved(code: String)
    case stored(deadlineMs: Int64)
    case refused(reason: String, detail: String)
}

extension OutpostNode {
    static let tillPrefix = "/pos/v1"

    static func isTillId(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 }
    }

    /// A write's id as the terminal made it (path or body), checked.
    static func tillId(_ value: String?, _ what: String) throws(HTTPError) -> String {
        guard let value, isTillId(value) else { throw HTTPError(.validation, detail: "\(what) must be 1 to 64 of A-Z, a-z, 0-9, - and _ (the terminal makes it; a UUID is usual)") }
        return value
    }

    /// The store's till shifts and their cash movements.
    var shifts: ShiftBook { ShiftBook(database: database) }

    /// The till's open shift: its id and currency.
    func openShift(device: String) throws -> (id: String, currency: String)? {
        try shifts.openShift(device: device)
    }

    func requireOpenShift(device: String) throws -> (id: String, currency: String) {
        guard let shift = try openShift(device: device) else { throw TillSaleRefusal.noOpenShift }
        return shift
    }

    /// The store's till sales and returns.
    var sales: TillSaleBook { TillSaleBook(database: database) }

    func tillSale(_ id: String) throws -> TillSaleBook.Sale? { try sales.sale(id) }

    private func saleStateError(_ state: TillSaleState, _ detail: String) -> TillSaleRefusal { .state(state, detail: detail) }

    // MARK: Pricing

    /// Resolves barcodes, prices every line (an override only with a manager's approval, hand
    /// discounts within the cashier's limit or approved), applies the promotions and tax.
    /// `approval` is the request's; approvals the basket holds already count.
    func priceBasket(_ basket: inout TillBasket, currency: String, caller: TillCaller, approval: LooseJSON?) throws -> PricedBasket {
        var lines: [PricedLine] = [], listPrices: [String: Int64] = [:], handOff: [String: Int64] = [:]
        var currencies = Set<String>()
        let limit = config.pos.cashierDiscountLimitPercent
        func approve(_ action: String, sku: String?, _ detail: String) throws {
            if basket.approved(action, sku: sku) != nil { return }
            let by = try approver(approval, caller: caller, action: action, detail: detail)
            basket.approvals.append(.init(action: action, sku: sku, by: by))
        }
        for index in basket.lines.indices {
            var line = basket.lines[index]
            if line.sku.hasPrefix("#") {
                let barcode = String(line.sku.dropFirst())
                guard let productId = try? catalog.productId(barcode: barcode), let product = product(productId),
                      let variant = product.variants.first(where: { $0.barcode.map(Barcode.normalized) == Barcode.normalized(barcode) }) else {
                    throw SaleRefusal.itemUnavailable(sku: line.sku, detail: "no product sold here has the barcode \(barcode)")
                }
                line.sku = variant.sku
            }
            let offer = try sellable(line.sku)
            currencies.insert(offer.price.currency)
            var unitPrice = offer.price.amount
            if let override = line.unitPrice, override != offer.price.amount {
                try approve("price_override", sku: line.sku, "a price of \(override) instead of \(offer.price.amount) for \(line.sku)")
                listPrices[line.sku] = offer.price.amount
                unitPrice = override
            }
            let amount = unitPrice * line.quantity
            let off = line.discount ?? (line.discountPercent.map { OrderTotals.divideRounding(amount * $0, by: 100) } ?? 0)
            guard off <= amount else { throw HTTPError(.validation, detail: "the discount on \(line.sku) (\(off)) is more than the line (\(amount))") }
            if off > 0 && off * 100 > amount * limit {
                try approve("discount_over_limit", sku: line.sku, "\(off) off \(line.sku) is over the cashier's \(limit) %")
            }
            basket.lines[index] = line
            if let existing = lines.firstIndex(where: { $0.sku == line.sku && $0.unitPrice == unitPrice }) {
                lines[existing].quantity += line.quantity
            } else {
                let name = Product.localized(offer.product.names, config.locale, fallback: config.locale) ?? line.sku
                lines.append(PricedLine(sku: line.sku, productId: offer.product.id, name: name, quantity: line.quantity, unitPrice: unitPrice,
                                        category: offer.product.category))
            }
            if off > 0 { handOff[line.sku, default: 0] += off }
        }
        // The drawer and the Z-report count in the shift's currency: a sale is in it too.
        guard currencies.isSubset(of: [currency]) else {
            throw SaleRefusal.currencies(detail: "the lines are priced in \(currencies.sorted().joined(separator: ", ")); this till's shift takes \(currency)")
        }
        let (outcome, _) = price(lines, code: basket.code, currency: currency, shipping: 0)
        let codePromotion = basket.code.flatMap { PromotionEngine.promotion(code: $0, in: promotions()) }
        if let code = basket.code, let refusal = try outcome.codeRefusal ?? codePromotion.flatMap({ try customerRefusal($0, customer: basket.customer) }) {
            throw SaleRefusal.codeNotApplicable(code: code, refusal: refusal, what: "sale")
        }
        var discounts = outcome.discounts
        if !handOff.isEmpty {
            discounts.append(DiscountLine(promotion: "till-line", name: "Line discounts", code: nil, amount: handOff.values.reduce(0, +), shipping: 0, lines: handOff))
        }
        // The basket discount comes off what is left after promotions and line discounts, shared
        // over the lines in proportion (a return refunds each line's share).
        let goods = lines.reduce(Int64(0)) { $0 + $1.amount }
        var netBySku: [String: Int64] = [:]
        for line in lines { netBySku[line.sku, default: 0] += line.amount }
        for discount in discounts { for (sku, off) in discount.lines { netBySku[sku, default: 0] -= off } }
        let net = max(0, netBySku.values.reduce(0, +))
        let basketOff = basket.discount ?? (basket.discountPercent.map { OrderTotals.divideRounding(net * $0, by: 100) } ?? 0)
        if basketOff > 0 {
            guard basketOff <= net else { throw HTTPError(.validation, detail: "the basket discount (\(basketOff)) is more than the basket (\(net))") }
            if basketOff * 100 > net * limit { try approve("discount_over_limit", sku: nil, "\(basketOff) off the basket is over the cashier's \(limit) %") }
            var shares: [String: Int64] = [:], given: Int64 = 0
            let skus = netBySku.keys.sorted()
            for (index, sku) in skus.enumerated() {
                let share = index == skus.count - 1 ? basketOff - given : (net > 0 ? basketOff * max(0, netBySku[sku] ?? 0) / net : 0)
                shares[sku] = share
                given += share
            }
            discounts.append(DiscountLine(promotion: "till-basket", name: "Basket discount", code: nil, amount: basketOff, shipping: 0, lines: shares.filter { $0.value > 0 }))
        }
        let totals = OrderTotals(currency: currency, goods: goods, shipping: 0, discounts: discounts, terms: config.checkout)
        return PricedBasket(lines: lines, listPrices: listPrices, lineDiscounts: handOff, discounts: discounts, totals: totals,
                            redemption: codePromotion?.usageCap == nil ? nil : codePromotion)
    }

    func pricedJSON(_ priced: PricedBasket) -> [JSONMember] {
        let totals = priced.totals
        return [
            JSONMember("lines", .array(priced.lines.map { line in
                var members = [JSONMember("sku", .string(line.sku)), JSONMember("name", .string(line.name)), JSONMember("quantity", .int(line.quantity)),
                               JSONMember("unit_price", .int(line.unitPrice)), JSONMember("amount", .int(line.amount)),
                               JSONMember("discount", .int(priced.lineDiscounts[line.sku] ?? 0))]
                if let list = priced.listPrices[line.sku] { members.append(JSONMember("list_price", .int(list))) }
                return .object(members)
            })),
            JSONMember("discounts", .array(priced.discounts.map(Self.discountJSON))),
            JSONMember("totals", .object([
                JSONMember("currency", .string(totals.currency)), JSONMember("subtotal", .int(totals.subtotal)), JSONMember("discount", .int(totals.discount)),
                JSONMember("tax", .int(totals.tax)), JSONMember("tax_included", .bool(totals.taxIncluded)), JSONMember("total", .int(totals.total)),
                JSONMember("cash_due", .int(config.pos.cashRounding.cashDue(totals.total, currency: totals.currency))),
            ])),
        ]
    }

    func saleJSON(_ id: String, state: String, basket: TillBasket, priced: PricedBasket?, receipt: String?) -> JSONValue {
        var members = [JSONMember("id", .string(id)), JSONMember("state", .string(state))]
        if let priced { members += pricedJSON(priced) }
        members.append(JSONMember("customer", basket.customer.map { .string($0) } ?? .null))
        members.append(JSONMember("code", basket.code.map { .string($0) } ?? .null))
        members.append(JSONMember("approvals", .array(basket.approvals.map { a in
            .object([JSONMember("action", .string(a.action)), JSONMember("sku", a.sku.map { .string($0) } ?? .null), JSONMember("approved_by", .string(a.by))])
        })))
        if let receipt, let parsed = LooseJSON.parse(Array(receipt.utf8)) { members.append(JSONMember("receipt", JSONValue(loose: parsed))) }
        return .object(members)
    }

    // MARK: Routes

    func registerTillSaleRoutes() {
        registerTillBasketRoutes()
        registerTillCompletionRoutes()
    }

    /// Looking up products, and a sale's basket: put, read, void.
    private func registerTillBasketRoutes() {
        let cashier: Access = .credential(Self.cashierScheme)
        let saleId = RouteDoc.Parameter("id", in: .path, description: "The sale's id, made by the terminal (a UUID is usual): every write about it names it, so a retry finds it.")

        router.get(Self.tillPrefix + "/products", access: .credential(Self.deviceScheme), doc: RouteDoc(
            operationId: "tillLookup", summary: "Find what to ring up: by barcode (a scan), SKU, or words.",
            description: "One of `barcode`, `sku`, `q`. Each result: sku, product_id, name, price, currency, barcode, in_stock_here.",
            tags: ["pos"], parameters: [.init("barcode", in: .query, description: "EAN-13 or UPC-A."), .init("sku", in: .query, description: "A SKU."),
                                         .init("q", in: .query, description: "Words (names, attributes).")],
            replies: [.init(200, "{items: [...]}", schema: ["type": "object"]), .problem(400, "None or more than one of barcode, sku, q.")])
        ) { [unowned self] request in
            try lookup(request)
        }

        router.add("PUT", Self.tillPrefix + "/sales/{id}", access: cashier, bodyBytesMax: 64 * 1024, doc: RouteDoc(
            operationId: "putTillSale", summary: "Create or replace an open sale's basket; answers it priced (promotions, discounts, tax, cash due).",
            description: """
                Body: {"lines": [{"sku" | "barcode", "quantity", "unit_price"? (override: a manager approves), "discount"? | "discount_percent"?}], \
                "discount"?: {"amount" | "percent"} (the basket), "customer"?: customer id, "code"?: promotion code, \
                "approval"?: {"staff", "pin"} of a manager for what is over the cashier's limits}. Nothing is taken from stock until the sale completes.
                """,
            tags: ["pos"], parameters: [saleId], requestBody: .init(0, "The basket.", schema: ["type": "object"]),
            replies: [.init(200, "The sale, priced.", schema: ["type": "object"]), .problem(403, "A manager's approval is required (`action`)."),
                      .problem(409, "No open shift, the sale is not open, or an item is not sold here."), .problem(422, "Every bad field named.")])
        ) { [unowned self] request, responder in
            do {
                try putSale(request, responder)
            } catch {
                responder.fail(error)
            }
        }

        router.get(Self.tillPrefix + "/sales/{id}", access: .credential(Self.deviceScheme), doc: RouteDoc(
            operationId: "getTillSale", summary: "A sale of this till: its state, basket priced now (while open) and receipt (once completed).",
            tags: ["pos"], parameters: [saleId], replies: [.init(200, "The sale.", schema: ["type": "object"]), .problem(404, "No such sale on this till.")])
        ) { [unowned self] request in
            let id = try Self.tillId(request.parameter("id"), "the sale id")
            guard let row = try tillSale(id), row.device == tillDevice(request) else { throw HTTPError(.notFound, detail: "no sale \(id) on this till") }
            var basket = TillBasket.stored(row.basket)
            // Shown with the approvals the basket got; none is asked for by a read.
            let shift = row.state == .open ? try openShift(device: row.device) : nil
            let priced = shift.flatMap { shift in
                try? priceBasket(&basket, currency: shift.currency, caller: TillCaller(device: row.device, staff: row.staff, role: Self.managerRole), approval: nil)
            }
            return .json(saleJSON(id, state: row.state.rawValue, basket: basket, priced: priced, receipt: row.receipt))
        }

        router.add("POST", Self.tillPrefix + "/sales/{id}/void", access: cashier, doc: RouteDoc(
            operationId: "voidTillSale", summary: "Void an open sale: nothing was taken, nothing is kept. A completed sale is returned instead.",
            tags: ["pos"], parameters: [saleId],
            replies: [.init(200, "The sale, voided (again for a retry).", schema: ["type": "object"]), .problem(409, "Completed or being completed.")])
        ) { [unowned self] request, responder in
            do {
                let id = try Self.tillId(request.parameter("id"), "the sale id")
                let caller = try tillCaller(request)
                writer.submit({ [unowned self] db -> String in
                    guard let row = try tillSale(id), row.device == caller.device else { throw HTTPError(.notFound, detail: "no sale \(id) on this till") }
                    guard row.state == .open || row.state == .voided else { throw saleStateError(row.state, "a \(row.state.rawValue) sale cannot be voided") }
                    try sales.void(id, atMs: WallClock.nowMs())
                    return row.basket
                }, completion: { [unowned self] result in
                    switch result {
                    case .success(let basket): responder.send(.json(saleJSON(id, state: "voided", basket: TillBasket.stored(basket), priced: nil, receipt: nil)))
                    case .failure(let error): responder.fail(error)
                    }
                })
            } catch {
                responder.fail(error)
            }
        }
    }

    /// Completing a sale, and its receipts: read, reprint, found by number.
    private func registerTillCompletionRoutes() {
        let cashier: Access = .credential(Self.cashierScheme)
        let saleId = RouteDoc.Parameter("id", in: .path, description: "The sale's id, made by the terminal (a UUID is usual): every write about it names it, so a retry finds it.")

        router.add("POST", Self.tillPrefix + "/sales/{id}/complete", access: cashier, bodyBytesMax: 16 * 1024, doc: RouteDoc(
            operationId: "completeTillSale", summary: "Take payment and complete the sale: the order is placed, stock taken, the receipt made.",
            description: """
                Body: {"tenders": [{"kind": "cash", "tendered": 5000} | {"kind": "card", "token": "tok_visa", "amount"?: 1200}], "approval"?: {"staff", "pin"}}. \
                Tenders pay in order; cash that settles the rest is rounded to the currency's smallest coin ([pos] cash_rounding) and gives change. \
                Cards go to the acquirer, or with the hub unreachable are taken store-and-forward within the hub's policy (over the floor limit: a manager approves). \
                The same request again (a retry after a timeout) answers the same receipt with `Idempotent-Replayed: true`; never a second sale. \
                A declined card releases everything: the sale stays open for another tender.
                """,
            tags: ["pos"], parameters: [saleId], requestBody: .init(0, "The tenders.", schema: ["type": "object", "required": ["tenders"]]),
            replies: [.init(201, "The receipt (JSON, with `text`: 42 columns for the printer).", schema: ["type": "object"]),
                      .init(200, "The receipt again, for a retry."), .problem(402, "A card declined or refused offline; nothing kept."),
                      .problem(403, "A manager's approval is required."), .problem(409, "Not open, not enough stock, or being completed."),
                      .problem(422, "Tenders do not pay the sale.")])
        ) { [unowned self] request, responder in
            do {
                try completeSale(request, responder)
            } catch {
                responder.fail(error)
            }
        }

        router.get(Self.tillPrefix + "/sales/{id}/receipt", access: .credential(Self.deviceScheme), doc: RouteDoc(
            operationId: "getTillReceipt", summary: "A completed sale's receipt: JSON, or the printable text with ?format=text.",
            tags: ["pos"], parameters: [saleId, .init("format", in: .query, description: "text: 42-column plain text for an ESC/POS printer.")],
            replies: [.init(200, "The receipt.", schema: ["type": "object"]), .problem(404, "No completed sale with this id on this till.")])
        ) { [unowned self] request in
            let id = try Self.tillId(request.parameter("id"), "the sale id")
            guard let row = try tillSale(id), row.device == tillDevice(request), let receipt = row.receipt else {
                throw HTTPError(.notFound, detail: "no completed sale \(id) on this till")
            }
            return try receiptResponse(receipt, request: request, copy: false)
        }

        router.add("POST", Self.tillPrefix + "/sales/{id}/reprint", access: cashier, doc: RouteDoc(
            operationId: "reprintTillReceipt", summary: "Print a receipt again: the same receipt marked COPY; reprints are counted.",
            tags: ["pos"], parameters: [saleId, .init("format", in: .query, description: "text: the printable text only.")],
            replies: [.init(200, "The receipt, marked copy.", schema: ["type": "object"]), .problem(404, "No completed sale with this id.")])
        ) { [unowned self] request, responder in
            do {
                let id = try Self.tillId(request.parameter("id"), "the sale id")
                let caller = try tillCaller(request)
                guard let row = try tillSale(id), let receipt = row.receipt, row.device == caller.device else {
                    throw HTTPError(.notFound, detail: "no completed sale \(id) on this till")
                }
                writer.submit({ [sales] _ in try sales.countReprint(id) }, completion: { [unowned self] result in
                    if case .failure(let error) = result { return responder.fail(error) }
                    do { responder.send(try receiptResponse(receipt, request: request, copy: true)) } catch { responder.fail(error) }
                })
            } catch {
                responder.fail(error)
            }
        }

        router.get(Self.tillPrefix + "/receipts/{number}", access: .credential(Self.deviceScheme), doc: RouteDoc(
            operationId: "findTillReceipt", summary: "Find a sale by its receipt number (typed or scanned), any till of this node: for a return.",
            tags: ["pos"], parameters: [.init("number", in: .path, description: "The receipt's number, e.g. STORE-A-000042.")],
            replies: [.init(200, "{sale, order_id, receipt, returnable: {sku: units}}", schema: ["type": "object"]), .problem(404, "No such receipt.")])
        ) { [unowned self] request in
            let number = request.parameter("number") ?? ""
            guard let (sale, orderId, receipt, _) = try sales.completed(number: number) else { throw HTTPError(.notFound, detail: "no receipt \(number) was issued here") }
            let returnable = orderState(orderId)?.returnable ?? [:]
            return .json(.object([JSONMember("sale", .string(sale)), JSONMember("order_id", .string(orderId)),
                                  JSONMember("receipt", LooseJSON.parse(Array(receipt.utf8)).map { JSONValue(loose: $0) } ?? .null),
                                  JSONMember("returnable", .object(returnable.sorted { $0.key < $1.key }.map { JSONMember($0.key, .int($0.value)) }))]))
        }
    }

    func receiptResponse(_ receipt: String, request: Request, copy: Bool) throws -> Response {
        guard case .object(var members)? = LooseJSON.parse(Array(receipt.utf8)) else { throw HTTPError(.internalError, detail: "the stored receipt is unreadable") }
        if copy {
            members["copy"] = .bool(true)
            if case .string(let text)? = members["copy_text"] { members["text"] = .string(text) }
        }
        members["copy_text"] = nil
        if request.queryValue("format") == "text" || (request.headers["accept"] ?? "").hasPrefix("text/plain") {
            guard case .string(let text)? = members["text"] else { throw HTTPError(.internalError, detail: "the stored receipt has no text") }
            return .text(text)
        }
        return .json(JSONValue(loose: .object(members)))
    }

    private func lookup(_ request: Request) throws -> Response {
        let given = [("barcode", request.queryValue("barcode")), ("sku", request.queryValue("sku")), ("q", request.queryValue("q"))].filter { $0.1 != nil }
        guard given.count == 1, let (by, value) = given.first, let value, !value.isEmpty, value.utf8.count <= 200 else {
            throw HTTPError(.badRequest, detail: "give one of barcode, sku or q (at most 200 bytes)")
        }
        var skus: [String] = []
        switch by {
        case "barcode":
            if let id = try catalog.productId(barcode: value), let product = product(id) {
                skus = product.variants.filter { $0.barcode.map(Barcode.normalized) == Barcode.normalized(value) }.map(\.sku)
            }
        case "sku": skus = [value]
        default:
            let found = try catalog.suggest(value, limit: 20, nowMs: WallClock.nowMs())
            skus = found.productIds.compactMap(product).flatMap { $0.variants.map(\.sku) }
        }
        let items: [JSONValue] = skus.prefix(50).compactMap { sku in
            guard let offer = try? sellable(sku) else { return nil }
            let stock = (try? catalog.stock(sku: sku))?.here ?? 0
            return .object([JSONMember("sku", .string(sku)), JSONMember("product_id", .string(offer.product.id)),
                            JSONMember("name", .string(Product.localized(offer.product.names, config.locale, fallback: config.locale) ?? sku)),
                            JSONMember("price", .int(offer.price.amount)), JSONMember("currency", .string(offer.price.currency)),
                            JSONMember("barcode", offer.variant.barcode.map { .string($0) } ?? .null), JSONMember("in_stock_here", .int(stock))])
        }
        return .json(["items": .array(items)])
    }

    private func putSale(_ request: Request, _ responder: Responder) throws {
        let id = try Self.tillId(request.parameter("id"), "the sale id")
        let caller = try tillCaller(request)
        let members = try Self.jsonObject(request)
        var basket: TillBasket
        do { basket = try TillBasket(members) } catch { throw Self.validationError(error) }
        if let customer = basket.customer, self.customer(id: customer) == nil {
            throw Self.validationError(ValidationFailure([FieldError("customer", "no customer \(customer) in this region")]))
        }
        let shift = try requireOpenShift(device: caller.device)
        if let row = try tillSale(id) {
            guard row.device == caller.device else { throw HTTPError(.notFound, detail: "no sale \(id) on this till") }
            guard row.state == .open else { throw saleStateError(row.state, "a \(row.state.rawValue) sale cannot be changed") }
            // Approvals given earlier for the same lines still hold.
            basket.approvals = TillBasket.stored(row.basket).approvals
        }
        let priced = try priceBasket(&basket, currency: shift.currency, caller: caller, approval: members["approval"])
        let text = basket.json.encodedString, nowMs = WallClock.nowMs()
        writer.submit({ [unowned self] db in
            if let row = try tillSale(id), row.state != .open { throw saleStateError(row.state, "a \(row.state.rawValue) sale cannot be changed") }
            try sales.saveBasket(id, device: caller.device, shift: shift.id, staff: caller.staff, basket: text, atMs: nowMs)
        }, completion: { [unowned self] result in
            if case .failure(let error) = result { return responder.fail(error) }
            responder.send(.json(saleJSON(id, state: "open", basket: basket, priced: priced, receipt: nil)))
        })
    }

    // MARK: Completion

    private func completeSale(_ request: Request, _ responder: Responder) throws {
        let id = try Self.tillId(request.parameter("id"), "the sale id")
        let caller = try tillCaller(request)
        let members = try Self.jsonObject(request)
        let requestHash = Hex.encode(SHA256.hash(request.body))
        guard let row = try tillSale(id), row.device == caller.device else { throw HTTPError(.notFound, detail: "no sale \(id) on this till: PUT its basket first") }
        switch row.state {
        case .completed:
            guard row.requestHash == requestHash, let receipt = row.receipt else {
                throw saleStateError(row.state, "this sale was completed with other tenders; reprint its receipt or return it")
            }
            var response = try receiptResponse(receipt, request: request, copy: false)
            response.headers = HTTPHeaders([("Idempotent-Replayed", "true")])
            return responder.send(response)
        case .open: break
        case .completing: throw saleStateError(row.state, "this sale is being completed; retry to get its receipt")
        case .voided: throw saleStateError(row.state, "a voided sale cannot be completed")
        }
        guard !saleDesk.isInFlight(.tillSale(id)) else { throw saleStateError(.completing, "this sale is being completed; retry to get its receipt") }
        let inputs = try Self.tenderInputs(members)
        let shift = try requireOpenShift(device: caller.device)
        var basket = TillBasket.stored(row.basket)
        guard !basket.lines.isEmpty else { throw SaleRefusal.empty(what: "sale") }
        let priced = try priceBasket(&basket, currency: shift.currency, caller: caller, approval: members["approval"])
        let plan: TenderPlan.Outcome
        switch TenderPlan.plan(total: priced.totals.total, currency: priced.totals.currency, tenders: inputs, rounding: config.pos.cashRounding) {
        case .success(let outcome): plan = outcome
        case .failure(let refusal): throw refusal
        }
        // Decided once: a hub that goes or comes back mid-completion does not change how this sale's cards are taken.
        let cardsOnline = cardPaymentsOnline
        guard try saleDesk.admit(.tillSale(id), what: "sales") == .admitted else {
            throw saleStateError(.completing, "this sale is being completed; retry to get its receipt")
        }
        let offlineHeld: Int64
        do {
            offlineHeld = cardsOnline ? 0 : try holdOfflineCards(plan.tenders, basket: &basket, currency: priced.totals.currency, caller: caller,
                                                                 approval: members["approval"])
        } catch {
            saleDesk.answered(.tillSale(id))
            throw error
        }
        let completion = TillCompletion(saleId: id, caller: caller, shift: shift.id, requestHash: requestHash, basket: basket, priced: priced,
                                        tenders: plan.tenders, rounding: plan.rounding, cardsOnline: cardsOnline)
        let finish: (Result<Response, any Error>) -> Void = { [unowned self] result in
            saleDesk.answered(.tillSale(id))
            saleDesk.releaseOffline(offlineHeld)
            switch result {
            case .success(let response): responder.send(response)
            case .failure(let error): responder.fail(error)
            }
        }
        let sale = SaleReservations.Sale(kind: .tillSale(id), lines: priced.lines.map { ($0.sku, $0.quantity) }, redemption: priced.redemption,
                                         payments: plan.tenders.map { ($0.amount, $0.kind == .cash ? PaymentState.cashAcquirer : gateway.name) },
                                         currency: priced.totals.currency, actor: caller.staff)
        let record = SaleRecord.tillSale(id: id, requestHash: requestHash, basket: basket.json.encodedString, shift: shift.id)
        saleDesk.reserve(sale, recordedAs: record, by: reservations) { [unowned self] result in
            switch result {
            case .success(let reserved):
                var c = completion
                (c.orderId, c.number, c.allocations, c.paymentIds) = (reserved.orderId, reserved.number, reserved.hold.allocations, reserved.paymentIds)
                takeTenders(c, index: 0, finish: finish)
            case .failure(let error): finish(.failure(error))
            }
        }
    }

    /// A completion's tenders as the terminal sent them, every bad field named.
    private static func tenderInputs(_ members: [String: LooseJSON]) throws -> [TenderInput] {
        var fields = InputFields(members, known: ["tenders", "approval"], what: "completion")
        var inputs: [TenderInput] = []
        if case .array(let list)? = members["tenders"], (1...8).contains(list.count) {
            for (index, item) in list.enumerated() {
                guard case .object(let t) = item else { fields.fail("tenders[\(index)]", "must be an object"); continue }
                var tender = InputFields(t, known: ["kind", "amount", "tendered", "token"], what: "tender")
                let kind = tender.text("kind").flatMap(TenderKind.init(rawValue:))
                if kind == nil { tender.fail("kind", "must be cash or card") }
                let amount = tender.count("amount", 1...100_000_000_000), tendered = tender.count("tendered", 0...100_000_000_000)
                let token = tender.text("token")
                for error in tender.errors { fields.fail("tenders[\(index)].\(error.field)", error.reason) }
                if let kind { inputs.append(TenderInput(kind: kind, amount: amount, tendered: tendered, token: token)) }
            }
        } else {
            fields.fail("tenders", "must hold 1 to 8 tenders")
        }
        try fields.check()
        return inputs
    }

    /// Offline, a card over the floor limit needs a manager's approval; the exposure cap holds
    /// regardless (what is taken offline now and being decided counts against it). Returns what
    /// is held against the cap until the sale is answered.
    private func holdOfflineCards(_ tenders: [PlannedTender], basket: inout TillBasket, currency: String, caller: TillCaller, approval: LooseJSON?) throws -> Int64 {
        let policy = offlinePolicy(for: identity.nodeId)
        let money = moneyText(currency: currency)
        let cards = tenders.filter { $0.kind == .card }.map(\.amount)
        for amount in cards where amount > policy.floorLimit {
            try approveOnce(&basket, "card_over_floor_limit", caller: caller, approval: approval,
                            detail: "a card payment of \(money(amount)) while offline is over the floor limit of \(money(policy.floorLimit))")
        }
        return try saleDesk.holdOffline(cards, policy: policy, recorded: offlinePayments.exposure, floorLimitWaived: true, money: money)
    }

    private func approveOnce(_ basket: inout TillBasket, _ action: String, caller: TillCaller, approval: LooseJSON?, detail: String) throws {
        if basket.approved(action) != nil { return }
        basket.approvals.append(.init(action: action, sku: nil, by: try approver(approval, caller: caller, action: action, detail: detail)))
    }

    /// Each tender in turn: cash is taken as is; a card goes to the acquirer (and is captured:
    /// the goods leave now), or offline is stored for the hub.
    private func takeTenders(_ c: TillCompletion, index: Int, finish: @escaping (Result<Response, any Error>) -> Void) {
        var c = c
        guard index < c.tenders.count else { return writeSale(c, finish: finish) }
        let tender = c.tenders[index], paymentId = c.paymentIds[index]
        if tender.kind == .cash {
            c.answers.append(.cash)
            return takeTenders(c, index: index + 1, finish: finish)
        }
        if !c.cardsOnline {
            c.answers.append(.stored(deadlineMs: saleDesk.offlineDeadline(offlinePolicy(for: identity.nodeId))))
            return takeTenders(c, index: index + 1, finish: finish)
        }
        let request = PaymentRequest(paymentId: paymentId, amount: tender.amount, currency: c.priced.totals.currency, token: tender.token ?? "")
        saleDesk.authorize(request) { [unowned self] outcome in
            switch outcome {
            case .approved(let code):
                gateway.capture(paymentId: paymentId, amount: tender.amount) { [unowned self] captured in
                    if captured != .done { logger.error("a till card payment was authorized but not captured", metadata: ["payment": "\(paymentId)", "answer": "\(captured)"]) }
                    c.answers.append(.approved(code: code))
                    takeTenders(c, index: index + 1, finish: finish)
                }
            case .declined(let reason):
                c.answers.append(.refused(reason: reason.rawValue, detail: "the card (tender \(index + 1)) was declined (\(reason.rawValue))"))
                undoSale(c, finish: finish)
            case .retry, .timedOut:
                c.answers.append(.refused(reason: "no_answer", detail: "the card network did not answer for tender \(index + 1); nothing was charged, try again"))
                gateway.void(paymentId: paymentId) { _ in }
                undoSale(c, finish: finish)
            }
        }
    }

    /// A card refused: the cards already approved are voided, the stock and payments released,
    /// the sale open again for other tenders.
    private func undoSale(_ c: TillCompletion, finish: @escaping (Result<Response, any Error>) -> Void) {
        for (index, answer) in c.answers.enumerated() { if case .approved = answer { gateway.void(paymentId: c.paymentIds[index]) { _ in } } }
        guard case .refused(let reason, let detail)? = c.answers.last else { return finish(.failure(HTTPError(.internalError, detail: "no refusal to report"))) }
        writer.submit({ [unowned self] _ in
            try reopenSale(c.saleId, orderId: c.orderId, paymentIds: c.paymentIds, allocations: c.allocations, redemption: c.priced.redemption?.id,
                           actor: c.caller.staff, declined: (c.answers.count - 1, reason))
        }, completion: { [unowned self] result in
            replicatedChanged()
            if case .failure(let error) = result { return finish(.failure(error)) }
            finish(.failure(SaleRefusal.cardDeclined(reason: reason, detail: detail + "; the sale is open for another tender", tender: c.answers.count - 1)))
        })
    }

    /// The payment mix of a completed sale: each tender as it was answered.
    private static func saleTenders(_ c: TillCompletion) -> [SaleTender] {
        c.tenders.indices.compactMap { index in
            switch c.answers[index] {
            case .cash: SaleTender(method: .cash, amount: c.tenders[index].amount)
            case .approved: SaleTender(method: .card, amount: c.tenders[index].amount)
            case .stored: SaleTender(method: .cardOffline, amount: c.tenders[index].amount)
            case .refused: nil
            }
        }
    }

    /// Second transaction: the order (placed, paid, handed over), each payment taken, the sale
    /// completed with its receipt.
    private func writeSale(_ c: TillCompletion, finish: @escaping (Result<Response, any Error>) -> Void) {
        let me = identity.nodeId
        writer.submit({ [unowned self] _ -> String in
            let nowMs = WallClock.nowMs()
            var placed = OrderEvent(kind: .placed, atMs: nowMs, node: me)
            placed.number = c.number
            placed.customer = c.basket.customer
            placed.lines = c.priced.lines
            placed.totals = c.priced.totals
            placed.allocations = c.allocations
            placed.discounts = c.priced.discounts.isEmpty ? nil : c.priced.discounts
            placed.redemption = c.priced.redemption?.id
            placed.payment = c.paymentIds.first
            placed.channel = .till
            placed.region = config.region
            placed.tenders = Self.saleTenders(c)
            var paid = OrderEvent(kind: .paid, atMs: nowMs, node: me)
            paid.payment = c.paymentIds.first
            paid.amount = c.priced.totals.total
            let events = [placed, paid] + returnDesk.handedOverInStore(atMs: nowMs)
            let texts = events.map(\.text)
            for (event, text) in zip(events, texts) { caches.orderEvents.remember(event, text: text) }
            try reservations.addEvents(texts, key: c.orderId, in: Collections.orders, nowMs: WallClock.nowMs())
            var receiptTenders: [Receipt.Tender] = []
            var cash: Int64 = 0, card: Int64 = 0
            for (index, tender) in c.tenders.enumerated() {
                let paymentId = c.paymentIds[index]
                var events: [PaymentEvent] = []
                var authorized = PaymentEvent(kind: .authorized, atMs: nowMs, node: me)
                authorized.order = c.orderId
                var captured = PaymentEvent(kind: .captured, atMs: nowMs, node: me)
                captured.order = c.orderId
                captured.amount = tender.amount
                var reference: String?
                switch c.answers[index] {
                case .cash:
                    authorized.code = "cash"
                    events = [authorized, captured]
                    cash += tender.amount
                case .approved(let code):
                    authorized.code = code
                    events = [authorized, captured]
                    reference = code
                    card += tender.amount
                case .stored(let deadlineMs):
                    var stored = PaymentEvent(kind: .stored, atMs: nowMs, node: me)
                    stored.order = c.orderId
                    stored.token = tender.token
                    stored.deadlineMs = deadlineMs
                    events = [stored, captured]
                    reference = "offline"
                    card += tender.amount
                    try offlinePayments.record(payment: paymentId, order: c.orderId, currency: c.priced.totals.currency, amount: tender.amount,
                                               takenMs: nowMs, deadlineMs: deadlineMs)
                case .refused: continue
                }
                try reservations.addEvents(events.map(\.text), key: paymentId, in: Collections.payments, nowMs: WallClock.nowMs())
                receiptTenders.append(Receipt.Tender(kind: tender.kind, amount: tender.amount, tendered: tender.tendered, change: tender.change, reference: reference))
            }
            let receipt = saleReceipt(c, tenders: receiptTenders, atMs: nowMs)
            let text = receiptJSON(receipt, sale: c.saleId, payments: c.paymentIds).encodedString
            let totals = c.priced.totals
            try sales.complete(c.saleId, receipt: text, figures: .init(currency: totals.currency, total: totals.total, tax: totals.tax, discount: totals.discount,
                                                                        rounding: c.rounding, cash: cash, card: card), atMs: nowMs)
            return text
        }, completion: { [unowned self] result in
            switch result {
            case .success(let text):
                replicatedChanged()
                logger.info("till sale completed", metadata: ["sale": "\(c.saleId)", "order": "\(c.orderId)", "device": "\(c.caller.device)"])
                finish(.success(.json(bytes: Array(text.utf8), status: 201)))
            case .failure(let error):
                logger.error("a till sale's completion could not be committed; it will be released", metadata: ["sale": "\(c.saleId)", "error": "\(error)"])
                shop.unansweredSales.pending = true
                finish(.failure(error))
            }
        })
    }

    private func saleReceipt(_ c: TillCompletion, tenders: [Receipt.Tender], atMs: Int64) -> Receipt {
        let totals = c.priced.totals
        let lines = c.priced.lines.map { line in
            Receipt.Line(name: line.name, sku: line.sku, quantity: line.quantity, unitPrice: line.unitPrice, listPrice: c.priced.listPrices[line.sku],
                         discount: c.priced.lineDiscounts[line.sku] ?? 0)
        }
        let discounts = c.priced.discounts.filter { $0.promotion != "till-line" }.map { (name: $0.name, amount: $0.amount) }
        return Receipt(header: [config.shopName] + config.pos.receiptHeader, number: c.number, orderId: c.orderId, at: WallClock.iso8601(ms: atMs),
                       device: c.caller.device, cashier: c.caller.staff, currency: totals.currency, lines: lines, discounts: discounts,
                       subtotal: totals.subtotal, tax: totals.tax, taxIncluded: totals.taxIncluded, total: totals.total, rounding: c.rounding,
                       tenders: tenders, customer: c.basket.customer, approvals: c.basket.approvals.map(\.text))
    }

    /// The receipt as JSON, with its printable text (and the text of a copy, for reprints).
    func receiptJSON(_ receipt: Receipt, sale: String, payments: [String], exchangeOrder: String? = nil) -> JSONValue {
        let texts = receipt.texts()
        func lineJSON(_ line: Receipt.Line) -> JSONValue {
            var members = [JSONMember("sku", .string(line.sku)), JSONMember("name", .string(line.name)), JSONMember("quantity", .int(line.quantity)),
                           JSONMember("unit_price", .int(line.unitPrice)), JSONMember("amount", .int(line.amount)), JSONMember("discount", .int(line.discount))]
            if let list = line.listPrice { members.append(JSONMember("list_price", .int(list))) }
            return .object(members)
        }
        let exchange: JSONValue = exchangeOrder.map { order in
            .object([JSONMember("order_id", .string(order)), JSONMember("number", receipt.exchangeNumber.map { .string($0) } ?? .null),
                     JSONMember("lines", .array(receipt.exchanges.map(lineJSON)))])
        } ?? .null
        return .object([
            JSONMember("number", .string(receipt.number)), JSONMember("order_id", .string(receipt.orderId)), JSONMember("sale", .string(sale)),
            JSONMember("at", .string(receipt.at)), JSONMember("device", .string(receipt.device)), JSONMember("cashier", .string(receipt.cashier)),
            JSONMember("refund", .bool(receipt.isRefund)), JSONMember("currency", .string(receipt.currency)),
            JSONMember("lines", .array(receipt.lines.map(lineJSON))), JSONMember("exchange", exchange),
            JSONMember("discounts", .array(receipt.discounts.map { .object([JSONMember("name", .string($0.name)), JSONMember("amount", .int($0.amount))]) })),
            JSONMember("subtotal", .int(receipt.subtotal)), JSONMember("tax", .int(receipt.tax)), JSONMember("tax_included", .bool(receipt.taxIncluded)),
            JSONMember("total", .int(receipt.total)), JSONMember("rounding", .int(receipt.rounding)),
            JSONMember("tenders", .array(zip(receipt.tenders, payments).map { tender, payment in
                .object([JSONMember("kind", .string(tender.kind.rawValue)), JSONMember("amount", .int(tender.amount)), JSONMember("tendered", .int(tender.tendered)),
                         JSONMember("change", .int(tender.change)), JSONMember("reference", tender.reference.map { .string($0) } ?? .null),
                         JSONMember("payment", .string(payment))])
            })),
            JSONMember("change", .int(receipt.change)), JSONMember("customer", receipt.customer.map { .string($0) } ?? .null),
            JSONMember("approvals", .array(receipt.approvals.map { .string($0) })),
            JSONMember("text", .string(texts.slip)), JSONMember("copy_text", .string(texts.copy)),
        ])
    }

    /// Inside a transaction: gives back what a completion reserved (stock, a capped code's
    /// redemption), closes each of its payments (voided; `declined` the card that was refused)
    /// and opens the sale again for the terminal's next try.
    private func reopenSale(_ sale: String, orderId: String, paymentIds: [String], allocations: [StockAllocation], redemption: String?, actor: String,
                            declined: (index: Int, reason: String)? = nil) throws {
        let nowMs = WallClock.nowMs()
        let closing = paymentIds.enumerated().map { index, paymentId in
            index == declined?.index ? (paymentId, reservations.closing(.declined, order: orderId, reason: declined?.reason, nowMs: nowMs))
                                     : (paymentId, reservations.closing(.voided, order: orderId, nowMs: nowMs))
        }
        try reservations.release(SaleReservations.Hold(orderId: orderId, allocations: allocations, redemption: redemption), closing: closing, actor: actor, nowMs: nowMs)
        try sales.reopen(sale)
    }
}
