import Commerce
import HTTP
import Platform
import Replication

extension OutpostNode {
    static let shippingRoles = ["operator", "hub_admin", "store_manager"]

    // MARK: Methods and quotes

    /// Every shipping method of the fleet, retired ones included; re-read after the catalog
    /// projection saw one change.
    func shippingMethods() -> [ShippingMethod] {
        if let cached = caches.shippingMethodList { return cached }
        let keys = replica.keys(in: Collections.catalog.name, withPrefix: ShippingMethod.keyPrefix)
        let list = keys.sorted().compactMap { shippingMethod(String($0.dropFirst(ShippingMethod.keyPrefix.count))) }
        caches.shippingMethodList = list
        return list
    }

    func shippingMethod(_ id: String) -> ShippingMethod? {
        guard let entry = replica.state(at: ShippingMethod.keyPrefix + id, in: Collections.catalog) else { return nil }
        return ShippingMethod(id: id, fields: CatalogFields.values(of: entry))
    }

    /// The methods this region offers in `currency`: its own, or, when it defined none, the
    /// `[checkout]` flat fee as "standard".
    func regionMethods(currency: String) -> [ShippingMethod] {
        let own = shippingMethods().filter { $0.region == config.region && $0.currency == currency && !$0.retired }
        return own.isEmpty ? [ShippingMethod.standard(region: config.region, currency: currency, terms: config.checkout)] : own
    }

    /// What the goods weigh: each variant's `weight_g` attribute (none: weightless, such as a voucher).
    func grams(_ lines: [PricedLine]) -> Int64 {
        lines.reduce(Int64(0)) { total, line in
            let weight = product(line.productId)?.variants.first { $0.sku == line.sku }?.attributes["weight_g"].flatMap { Int64($0) } ?? 0
            return total + max(0, weight) * line.quantity
        }
    }

    /// The ways these lines can reach an address in `country` (nil: collection only), cheapest first.
    func shippingQuotes(_ lines: [PricedLine], currency: String, country: String?) -> [ShippingQuote] {
        let goods = lines.reduce(Int64(0)) { $0 + $1.amount }
        return ShippingRates.quotes(regionMethods(currency: currency), region: config.region, currency: currency, country: country, value: goods,
                                    grams: grams(lines), nowMs: WallClock.nowMs())
    }

    /// The fee a cart shows before the shopper has chosen: the cheapest delivery the region
    /// offers for these goods (collection aside), or nothing if there is none.
    func estimatedShipping(_ lines: [PricedLine], currency: String) -> Int64 {
        let goods = lines.reduce(Int64(0)) { $0 + $1.amount }, weight = grams(lines)
        return regionMethods(currency: currency).filter { !$0.isCollect }.compactMap { $0.fee(value: goods, grams: weight) }.min() ?? 0
    }

    /// The method a checkout asked for (`id`), or without one the cheapest delivery to the
    /// address; refused with the ids that are offered.
    func chooseShipping(_ id: String?, lines: [PricedLine], currency: String, country: String?) throws(HTTPError) -> ShippingQuote {
        let quotes = shippingQuotes(lines, currency: currency, country: country)
        let chosen = id.map { id in quotes.first { $0.method.id == id } } ?? quotes.first { !$0.method.isCollect }
        guard let chosen else {
            var error = HTTPError(.shippingMethodUnavailable, detail: id.map { "the shipping method \($0) is not offered for this address and cart" }
                                  ?? "no shipping method delivers this cart to \(country ?? "an address")")
            error.problem.extensions = [("offered", .array(quotes.map { .string($0.method.id) }))]
            throw error
        }
        return chosen
    }

    static func quoteJSON(_ quote: ShippingQuote) -> JSONValue {
        var members = [JSONMember("id", .string(quote.method.id)), JSONMember("name", .string(quote.method.name)), JSONMember("fee", .int(quote.fee)),
                       JSONMember("currency", .string(quote.method.currency)), JSONMember("earliest", .string(quote.earliest)),
                       JSONMember("latest", .string(quote.latest))]
        if let location = quote.method.collectAt { members.append(JSONMember("collect_at", .string(location))) }
        return .object(members)
    }

    static func shippingChoiceJSON(_ choice: ShippingChoice) -> JSONValue {
        var members = [JSONMember("method", .string(choice.method)), JSONMember("name", .string(choice.name)),
                       JSONMember("earliest", .string(choice.earliest)), JSONMember("latest", .string(choice.latest))]
        if let location = choice.collectAt { members.append(JSONMember("collect_at", .string(location))) }
        return .object(members)
    }

    func shippingMethodJSON(_ method: ShippingMethod) -> JSONValue {
        var members: [JSONMember] = [
            JSONMember("id", .string(method.id)), JSONMember("name", .string(method.name)), JSONMember("region", .string(method.region)),
            JSONMember("currency", .string(method.currency)), JSONMember("countries", .array(method.countries.map { .string($0) })),
            JSONMember("min_days", .int(method.minDays)), JSONMember("max_days", .int(method.maxDays)),
            JSONMember("status", .string(method.retired ? "retired" : "active")),
        ]
        let rate: JSONValue = switch method.rate {
        case .flat(let fee): .object([JSONMember("flat", .int(fee))])
        case .weightBands(let bands): .object([JSONMember("weight", .array(bands.map { .object([JSONMember("up_to_g", .int($0.upToGrams)), JSONMember("fee", .int($0.fee))]) }))])
        case .valueBands(let bands): .object([JSONMember("value", .array(bands.map { .object([JSONMember("from", .int($0.from)), JSONMember("fee", .int($0.fee))]) }))])
        }
        members.append(JSONMember("rate", rate))
        if let freeFrom = method.freeFrom { members.append(JSONMember("free_from", .int(freeFrom))) }
        if let location = method.collectAt { members.append(JSONMember("collect_at", .string(location))) }
        return .object(members)
    }

    // MARK: Routes

    func registerShippingRoutes() {
        let problem = RouteDoc.Reply.problem
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "The shipping method's id.")

        router.add("POST", "/admin/v1/shipping-methods", access: .roles(Self.shippingRoles), bodyBytesMax: 16_384, doc: RouteDoc(
            operationId: "createShippingMethod", summary: "Create a shipping method for a region: delivery to a zone of countries, or click-and-collect.",
            description: """
                Body: {"id", "name", "region", "currency", "countries"? (ISO 3166 alpha-2; none: every country), \
                "rate": {"flat": fee} | {"weight": [{"up_to_g", "fee"}]} | {"value": [{"from", "fee"}]}, "free_from"?, "min_days", "max_days", \
                "collect_at"? (a store's stock location: click-and-collect, no address needed)}. Amounts in minor units, days are business days. \
                It replicates fleet-wide; the region's checkouts offer it from then on (docs/shipping.md).
                """,
            tags: ["shipping"], requestBody: .init(0, "The method.", schema: ["type": "object", "required": ["id", "name", "region", "currency", "min_days", "max_days"]]),
            replies: [.init(201, "The method.", schema: ["type": "object"]), problem(409, "The id is taken."), problem(422, "A field is malformed.")])
        ) { [unowned self] request, responder in
            do {
                let method: ShippingMethod
                do { method = try ShippingMethodInput.method(from: try Self.jsonObject(request)) } catch let failure as ValidationFailure { throw Self.validationError(failure) }
                guard shippingMethod(method.id) == nil else { throw HTTPError(.shippingMethodExists, detail: "shipping method \(method.id) exists") }
                let fields = method.fields
                commitCatalog(key: ShippingMethod.keyPrefix + method.id, fields: { fields }) { [unowned self] error in
                    if let error { return responder.fail(error) }
                    responder.send(.json(shippingMethodJSON(method), status: 201))
                }
            } catch {
                responder.fail(error)
            }
        }

        router.get("/admin/v1/shipping-methods", access: .roles(Self.shippingRoles + Self.shopStaffRoles), doc: RouteDoc(
            operationId: "listShippingMethods", summary: "Every shipping method of the fleet, retired ones included, by id.", tags: ["shipping"],
            parameters: KeyedPage<ShippingMethod>.parameters(),
            replies: [.init(200, "{shipping_methods: [...], next_cursor}", schema: ["type": "object"])])
        ) { [unowned self] request in
            let page = try KeyedPage(shippingMethods(), key: \.id, request: request)
            return .json(["shipping_methods": .array(page.items.map(shippingMethodJSON)), "next_cursor": page.next])
        }

        router.add("POST", "/admin/v1/shipping-methods/{id}/retire", access: .roles(Self.shippingRoles), bodyBytesMax: 0, doc: RouteDoc(
            operationId: "retireShippingMethod", summary: "Stop offering a method; orders that chose it keep its name and fee.", tags: ["shipping"],
            parameters: [idParameter], replies: [.init(200, "The method.", schema: ["type": "object"]), problem(404, "No such method.")])
        ) { [unowned self] request, responder in
            guard var method = shippingMethod(request.parameter("id") ?? "") else { return responder.fail(HTTPError(.notFound, detail: "no such shipping method")) }
            method.retired = true
            let fields = method.fields
            commitCatalog(key: ShippingMethod.keyPrefix + method.id, fields: { fields }) { [unowned self] error in
                if let error { return responder.fail(error) }
                responder.send(.json(shippingMethodJSON(method)))
            }
        }

        router.get("/api/v1/carts/{id}/shipping-options", doc: RouteDoc(
            operationId: "cartShippingOptions", summary: "The ways the cart can reach an address in `country`, cheapest first, with fees and delivery dates.",
            description: "Without `country`, only click-and-collect. Each option's `id` is what checkout's `shipping_method` takes; `earliest` and `latest` are UTC days.",
            tags: ["carts", "shipping"],
            parameters: [.init("id", in: .path, description: "The cart's id."),
                         .init("country", in: .query, description: "ISO 3166-1 alpha-2 code of the delivery address.")],
            replies: [.init(200, "{options: [...]}", schema: ["type": "object"]), problem(400, "country is malformed.")])
        ) { [unowned self] request in
            let (id, _) = try authorizeCart(request)
            let country = request.queryValue("country")
            if let country, !Address.isCountry(country) { throw HTTPError(.badRequest, detail: "country must be an ISO 3166-1 alpha-2 code in capitals (DE)") }
            let lines = try priced(cartLines(id)).filter { $0.priceNow != nil }
            guard let currency = lines.first?.priceNow?.currency else { return .json(["options": .array([])]) }
            let quotes = shippingQuotes(orderLines(lines, locale: config.locale), currency: currency, country: country)
            return .json(["options": .array(quotes.map(Self.quoteJSON))])
        }
    }
}
