import Commerce
import HTTP
import Platform

extension OutpostNode {
    func registerShopperCatalogRoutes() {
        registerProductRoutes()
        registerSearchRoutes()
    }

    private static var localeParameter: RouteDoc.Parameter {
        RouteDoc.Parameter("locale", in: .query, description: "en, de, fr-CA...; else Accept-Language, else the region's locale.")
    }

    /// What a product list or a search takes.
    private static var listParameters: [RouteDoc.Parameter] {
        [
            .init("category", in: .query, description: "A category id: it and its descendants."),
            .init("min_price", in: .query, description: "Minor units, this region's prices.", schema: ["type": "integer"]),
            .init("max_price", in: .query, description: "Minor units, this region's prices.", schema: ["type": "integer"]),
            .init("attr.NAME", in: .query, description: "Attribute values, comma-separated (any of them), e.g. attr.colour=black,red."),
            .init("in_stock", in: .query, description: "true: only products with stock in the fleet.", schema: ["type": "boolean"]),
            .init("sort", in: .query, description: "relevance, price, -price, newest, name, rating (best rated first).", schema: ["enum": .array(CatalogQuery.Sort.allCases.map { .string($0.rawValue) })]),
            .init("limit", in: .query, description: "1 to 100, default 24.", schema: ["type": "integer"]),
            .init("cursor", in: .query, description: "The previous page's `next`."),
            localeParameter,
        ]
    }

    /// A product by id, SKU or barcode, and the product list.
    private func registerProductRoutes() {
        let (localeParameter, listParameters) = (Self.localeParameter, Self.listParameters)

        router.get("/api/v1/products/{id}", doc: RouteDoc(
            operationId: "getProduct", summary: "An active product, in the shopper's locale, with this region's prices and stock here.",
            tags: ["catalog"], parameters: [.init("id", in: .path, description: "Product id."), localeParameter],
            replies: [.init(200, "The product.", schema: ["type": "object"])])
        ) { [unowned self] request in
            try shopperProduct(request.parameter("id"), request)
        }
        router.get("/api/v1/products/by-sku/{sku}", doc: RouteDoc(
            operationId: "getProductBySKU", summary: "The active product that has a variant with this SKU.", tags: ["catalog"],
            parameters: [.init("sku", in: .path, description: "A variant's SKU."), localeParameter],
            replies: [.init(200, "The product.", schema: ["type": "object"])])
        ) { [unowned self] request in
            try shopperProduct(try request.parameter("sku").flatMap { try catalog.productId(sku: $0) }, request)
        }
        router.get("/api/v1/products/by-barcode/{barcode}", doc: RouteDoc(
            operationId: "getProductByBarcode", summary: "The active product with this EAN-13 or UPC-A on one of its variants.", tags: ["catalog"],
            parameters: [.init("barcode", in: .path, description: "12 or 13 digits."), localeParameter],
            replies: [.init(200, "The product.", schema: ["type": "object"])])
        ) { [unowned self] request in
            try shopperProduct(try request.parameter("barcode").flatMap { try catalog.productId(barcode: $0) }, request)
        }

        router.get("/api/v1/products", doc: RouteDoc(
            operationId: "listProducts", summary: "Active products, filtered and sorted, a page at a time, with facets.",
            tags: ["catalog"], parameters: listParameters,
            replies: [.init(200, "A page: products, next, facets.", schema: ["type": "object"])])
        ) { [unowned self] request in
            try resultsPage(request, text: "")
        }
    }

    /// Search, suggestions as the shopper types, and the categories.
    private func registerSearchRoutes() {
        let (localeParameter, listParameters) = (Self.localeParameter, Self.listParameters)

        router.get("/api/v1/search", rateClass: .search, doc: RouteDoc(
            operationId: "search", summary: "Full-text search (names, descriptions, SKUs, barcodes, attributes) with typo tolerance and facets.",
            description: "Every match ranked by BM25 (a word in the name counts most, then codes, attributes, description); filters apply to every match; other sorts, `in_stock` and facets to the best \(CatalogIndex.searchCandidates). `corrected` shows the words searched when some were corrected.",
            tags: ["catalog"], parameters: [.init("q", in: .query, description: "What the shopper typed.")] + listParameters,
            replies: [.init(200, "A page: products, next, facets, corrected.", schema: ["type": "object"])])
        ) { [unowned self] request in
            let text = request.queryValue("q") ?? ""
            guard text.utf8.count <= 200 else { throw HTTPError(.badRequest, detail: "q is at most 200 bytes") }
            return try resultsPage(request, text: text)
        }

        router.get("/api/v1/search/suggest", rateClass: .search, doc: RouteDoc(
            operationId: "suggest", summary: "As-you-type suggestions: completions of the last word and matching product names.",
            tags: ["catalog"], parameters: [.init("q", in: .query, description: "What is typed so far (2 letters at least)."), localeParameter],
            replies: [.init(200, "Suggestions.", schema: ["type": "object"])])
        ) { [unowned self] request in
            let text = request.queryValue("q") ?? ""
            guard text.utf8.count <= 200 else { throw HTTPError(.badRequest, detail: "q is at most 200 bytes") }
            let locale = shopperLocale(request)
            // Corrections and completions come from the vocabulary: its age is part of the key.
            return try cached("s|\(catalog.vocabularyGeneration)|\(locale)|\(request.query ?? "")", stamp: catalog.generation, request, oneOff: true) {
                let found = try catalog.suggest(text, limit: 8, nowMs: WallClock.nowMs())
                let products: [JSONValue] = found.productIds.compactMap { id in
                    productName(id, locale: locale).map { .object([JSONMember("id", .string(id)), JSONMember("name", .string($0))]) }
                }
                return JSONValue.object([JSONMember("queries", .array(found.terms.map { .string($0) })), JSONMember("products", .array(products))]).encoded()
            }
        }

        router.get("/api/v1/categories", doc: RouteDoc(
            operationId: "listCategories", summary: "The category tree, with the number of active products in each (descendants included).",
            tags: ["catalog"], parameters: [localeParameter], replies: [.init(200, "The tree.", schema: ["type": "object"])])
        ) { [unowned self] request in
            let locale = shopperLocale(request)
            return try cached("c|\(locale)", stamp: catalog.generation, request) {
            let counts = try catalog.categoryCounts()
            let all = catalog.categories.values
            func children(_ parent: String?) -> [JSONValue] {
                all.filter { $0.parent == parent || (parent == nil && $0.parent.map { catalog.categories[$0] == nil } == true) }
                    .sorted { ($0.position, $0.id) < ($1.position, $1.id) }
                    .map { category in
                        .object([
                            JSONMember("id", .string(category.id)),
                            JSONMember("name", .string(Product.localized(category.names, locale, fallback: config.locale) ?? category.id)),
                            JSONMember("products", .int(Int64(counts[category.id] ?? 0))),
                            JSONMember("children", .array(children(category.id))),
                        ])
                    }
            }
            return JSONValue.object([JSONMember("categories", .array(children(nil)))]).encoded()
            }
        }
    }

    /// A product for shoppers: only an active one exists for them.
    private func shopperProduct(_ id: String?, _ request: Request) throws -> Response {
        guard let id else { throw HTTPError(.notFound, detail: "no such product") }
        let locale = shopperLocale(request)
        return try cached(Self.productKey(id, locale: locale), stamp: catalog.version(of: id), request) {
            guard let body = renderedProduct(id, locale: locale) else { throw HTTPError(.notFound, detail: "no such product") }
            return body
        }
    }

    private static func productKey(_ id: String, locale: String) -> String { "p|\(id)|\(locale)" }

    /// The bytes of `GET /api/v1/products/{id}` for an active product, kept in the response
    /// cache: result pages are made of the same documents, so a product shown in many of them
    /// is rendered once.
    private func productDocument(_ id: String, locale: String) -> [UInt8]? {
        let key = Self.productKey(id, locale: locale), stamp = catalog.version(of: id)
        if let hit = caches.responses.get(key, stamp: stamp) { return hit.body }
        guard let body = renderedProduct(id, locale: locale) else { return nil }
        caches.responses.put(key, body: body, etag: Response.etag(of: body), stamp: stamp)
        return body
    }

    /// A product's name in `locale`, kept in the response cache beside its documents:
    /// suggestions show names only, and reading a whole product for one costs more than the
    /// rest of the answer.
    private func productName(_ id: String, locale: String) -> String? {
        let key = "n|\(id)|\(locale)", stamp = catalog.version(of: id)
        if let hit = caches.responses.get(key, stamp: stamp) { return String(decoding: hit.body, as: UTF8.self) }
        guard let product = product(id) else { return nil }
        let name = Product.localized(product.names, locale, fallback: config.locale) ?? id
        caches.responses.put(key, body: Array(name.utf8), etag: "", stamp: stamp)
        return name
    }

    private func renderedProduct(_ id: String, locale: String) -> [UInt8]? {
        guard let product = product(id), product.status == .active else { return nil }
        return shopperJSON(product, locale: locale).encoded()
    }

    /// A product as shoppers see it here: their locale, this region's prices, stock on this node.
    private func shopperJSON(_ product: Product, locale: String) -> JSONValue {
        CatalogJSON.shopper(product, locale: locale, fallback: config.locale, region: config.region, rating: catalog.ratings[product.id]) { [catalog] sku in
            (try? catalog.stock(sku: sku)) ?? (0, 0)
        }
    }

    /// A rendered answer from the cache while `stamp` holds, else rendered and kept. Keys name
    /// what they render (JSON and HTML keys differ), so one content type per key.
    /// `oneOff`: answers to queries (searches, filtered lists) are kept only once asked for twice.
    func cached(_ key: String, stamp: UInt64, _ request: Request, contentType: String = Response.jsonContentType, maxAgeSeconds: Int = 15,
                oneOff: Bool = false, render: () throws -> [UInt8]) throws -> Response {
        if let hit = caches.responses.get(key, stamp: stamp) {
            return .cacheable(hit.body, etag: hit.etag, for: request, contentType: contentType, maxAgeSeconds: maxAgeSeconds)
        }
        let body = try render()
        let etag = Response.etag(of: body)
        if oneOff {
            caches.responses.putIfSeenBefore(key, body: body, etag: etag, stamp: stamp)
        } else {
            caches.responses.put(key, body: body, etag: etag, stamp: stamp)
        }
        return .cacheable(body, etag: etag, for: request, contentType: contentType, maxAgeSeconds: maxAgeSeconds)
    }

    private func resultsPage(_ request: Request, text: String) throws -> Response {
        let query = try Self.catalogQuery(request, text: text)
        let locale = shopperLocale(request)
        return try cached("r|\(catalog.vocabularyGeneration)|\(locale)|\(request.path)?\(request.query ?? "")", stamp: catalog.generation, request, oneOff: true) {
            try resultsBody(request, query: query, text: text, locale: locale)
        }
    }

    private func resultsBody(_ request: Request, query: CatalogQuery, text: String, locale: String) throws -> [UInt8] {
        let page: CatalogPage
        do { page = try catalog.find(query, withFacets: request.queryValue("facets") != "false", nowMs: WallClock.nowMs()) } catch let error as CatalogQueryError {
            throw HTTPError(.badRequest, detail: error.description)
        }
        let products: [JSONValue] = page.productIds.compactMap { id in productDocument(id, locale: locale).map(JSONValue.encoded) }
        var members = [JSONMember("products", .array(products)), JSONMember("next", page.next.map { .string($0) } ?? .null)]
        if !text.isEmpty { members.append(JSONMember("corrected", page.corrected.map { .string($0) } ?? .null)) }
        if let facets = page.facets { members.append(JSONMember("facets", CatalogJSON.facets(facets))) }
        return JSONValue.object(members).encoded()
    }

    static func catalogQuery(_ request: Request, text: String) throws(HTTPError) -> CatalogQuery {
        var query = CatalogQuery()
        query.text = text
        func integer(_ name: String, _ range: ClosedRange<Int64>) throws(HTTPError) -> Int64? {
            guard let raw = request.queryValue(name) else { return nil }
            guard let value = Int64(raw), range.contains(value) else { throw HTTPError(.badRequest, detail: "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)") }
            return value
        }
        query.category = request.queryValue("category")
        query.minPrice = try integer("min_price", 0...1_000_000_000_000)
        query.maxPrice = try integer("max_price", 0...1_000_000_000_000)
        if let limit = try integer("limit", 1...100) { query.limit = Int(limit) }
        if let sort = request.queryValue("sort") {
            guard let value = CatalogQuery.Sort(rawValue: sort) else {
                throw HTTPError(.badRequest, detail: "sort must be one of \(CatalogQuery.Sort.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.sort = value
        }
        switch request.queryValue("in_stock") {
        case nil, "false": break
        case "true": query.inStock = true
        default: throw HTTPError(.badRequest, detail: "in_stock must be true or false")
        }
        for (name, value) in request.queryItems where name.hasPrefix("attr.") {
            let attribute = String(name.dropFirst(5))
            guard ProductInput.isAttributeName(attribute) else { throw HTTPError(.badRequest, detail: "\(name): attribute names are 1 to 32 of a-z, 0-9 and _") }
            query.attributes[attribute, default: []] += value.split(separator: ",").map(String.init)
        }
        query.cursor = request.queryValue("cursor")
        return query
    }

    /// `?locale=`, else the first Accept-Language tag this catalog could hold, else the region's.
    func shopperLocale(_ request: Request) -> String {
        if let locale = request.queryValue("locale"), ProductInput.isLocale(locale) { return locale }
        if let header = request.headers["accept-language"] {
            for part in header.split(separator: ",") {
                let tag = part.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                if ProductInput.isLocale(tag) { return tag }
                if tag.count > 2, ProductInput.isLocale(String(tag.prefix(2))) { return String(tag.prefix(2)) }
            }
        }
        return config.locale
    }
}
