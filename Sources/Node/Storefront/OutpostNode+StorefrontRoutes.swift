import Commerce
import HTTP
import Platform

/// The storefront's HTML pages: home, category listings, search results and product pages,
/// server-rendered from the same catalog queries as `/api/v1`, cached like them, and usable
/// without JavaScript (filters are links, sorting is a form).
extension OutpostNode {
    func registerStorefrontRoutes() {
        let html = Storefront.htmlContentType
        func page(_ id: String, _ summary: String, _ parameters: [RouteDoc.Parameter] = []) -> RouteDoc {
            RouteDoc(operationId: id, summary: summary, tags: ["storefront"], parameters: parameters,
                     replies: [.init(200, "An HTML page.", contentType: html), .init(404, "An HTML page saying what is missing.", contentType: html)])
        }
        let filters: [RouteDoc.Parameter] = [
            .init("min_price", in: .query, description: "Minor units.", schema: ["type": "integer"]),
            .init("max_price", in: .query, description: "Minor units.", schema: ["type": "integer"]),
            .init("attr.NAME", in: .query, description: "Attribute values, comma-separated."),
            .init("sort", in: .query, description: "relevance, price, -price, newest, name."),
            .init("cursor", in: .query, description: "The page after the previous page."),
        ]

        router.get("/", doc: page("storefrontHome", "The shop's home page: categories and featured products.")) { [unowned self] request in
            try htmlPage(request) { locale in
                try cached("html|home|\(locale)", stamp: catalog.generation, request, contentType: html, maxAgeSeconds: 0) { try homePage(locale: locale) }
            }
        }
        router.get("/categories/{id}", doc: page("storefrontCategory", "A category's products (its descendants' too) with filters, sort and pages.",
                                                 [.init("id", in: .path, description: "Category id.")] + filters)) { [unowned self] request in
            try htmlPage(request) { locale in
                guard let id = request.parameter("id"), let category = catalog.categories[id] else {
                    throw HTTPError(.notFound, detail: "There is no such category.")
                }
                return try cached("html|c|\(locale)|\(request.path)?\(request.query ?? "")", stamp: catalog.generation, request, contentType: html, maxAgeSeconds: 0) {
                    try listingPage(request, locale: locale, category: category, text: "")
                }
            }
        }
        router.get("/search", rateClass: .search, doc: page("storefrontSearch", "Search results that keep the query, with corrections, suggestions and filters.",
                                        [.init("q", in: .query, description: "What the shopper typed."),
                                         .init("category", in: .query, description: "A category id.")] + filters)) { [unowned self] request in
            try htmlPage(request) { locale in
                let text = request.queryValue("q") ?? ""
                guard text.utf8.count <= 200 else { throw HTTPError(.badRequest, detail: "A search is at most 200 characters.") }
                return try cached("html|s|\(catalog.vocabularyGeneration)|\(locale)|\(request.query ?? "")", stamp: catalog.generation, request,
                                  contentType: html, maxAgeSeconds: 0, oneOff: true) {
                    try listingPage(request, locale: locale, category: nil, text: text)
                }
            }
        }
        router.get("/products/{id}", doc: page("storefrontProduct", "A product page: variants, price and stock here.",
                                               [.init("id", in: .path, description: "Product id."),
                                                .init("sku", in: .query, description: "The chosen variant.")])) { [unowned self] request in
            try htmlPage(request) { locale in
                guard let id = request.parameter("id"), let product = product(id), product.status == .active else {
                    throw HTTPError(.notFound, detail: "This product is not (or no longer) sold here.")
                }
                let sku = request.queryValue("sku") ?? ""
                return try cached("html|p|\(id)|\(locale)|\(sku)", stamp: catalog.version(of: id), request, contentType: html, maxAgeSeconds: 0) {
                    productPage(product, sku: sku, locale: locale)
                }
            }
        }
        router.get("/static/storefront.css", doc: RouteDoc(
            operationId: "storefrontStylesheet", summary: "The storefront's stylesheet.", tags: ["storefront"],
            replies: [.init(200, "CSS.", contentType: "text/css; charset=utf-8")])
        ) { request in
            let body = Array(StorefrontTemplates.stylesheet.utf8)
            return .cacheable(body, etag: Response.etag(of: body), for: request, contentType: "text/css; charset=utf-8", maxAgeSeconds: 3600)
        }
        router.get("/images/{name}", doc: RouteDoc(
            operationId: "placeholderImage", summary: "A placeholder picture for catalog image paths under /images/ (the demo catalog's).",
            tags: ["storefront"], parameters: [.init("name", in: .path, description: "NAME.svg")],
            replies: [.init(200, "SVG.", contentType: "image/svg+xml")])
        ) { request in
            guard let name = request.parameter("name"), name.hasSuffix(".svg"), name.count <= 64 else {
                throw HTTPError(.notFound, detail: "no such image")
            }
            let body = Storefront.placeholderImage(named: String(name.dropLast(4)))
            return .cacheable(body, etag: Response.etag(of: body), for: request, contentType: "image/svg+xml", maxAgeSeconds: 86_400)
        }
    }

    /// Runs a page handler; what it throws becomes an HTML page a shopper can read (with the
    /// problem's status), not problem+json.
    func htmlPage(_ request: Request, _ render: (_ locale: String) throws -> Response) throws -> Response {
        let locale = shopperLocale(request)
        do {
            return try render(locale)
        } catch let thrown {
            guard let error = HTTPError.of(thrown) else { throw thrown }
            let status = error.problem.status
            let heading = status == 404 ? "Not found" : status == 400 ? "That did not work" : "Something went wrong"
            let body = Storefront.render("message", layoutView(locale: locale, query: request.queryValue("q") ?? "", current: nil).merging([
                "heading": heading, "text": error.problem.detail ?? error.problem.type.title,
            ]) { $1 })
            return Response(status: status, contentType: Storefront.htmlContentType, body: body)
        }
    }

    /// A form's post refused before its route ran (too large, too many, not from this site's
    /// pages): the page a browser shows, in the shopper's words, with the problem's status.
    func formErrorPage(_ problem: Problem, _ request: Request) -> Response {
        let text: String
        switch problem.status {
        case 413: text = "That was more than this form takes. Go back and try again with less."
        case 415: text = "This form sent something it should not. Go back and try again."
        default: text = problem.detail ?? problem.type.title
        }
        let body = Storefront.render("message", layoutView(locale: shopperLocale(request), query: "", current: nil).merging([
            "heading": "That did not work", "text": text,
        ]) { $1 })
        return Response(status: problem.status, contentType: Storefront.htmlContentType, headers: HTTPHeaders([("Cache-Control", "no-store")]), body: body)
    }

    // MARK: Pages

    private func homePage(locale: String) throws -> [UInt8] {
        let counts = try catalog.categoryCounts()
        let categories: [Storefront.View] = topCategories().map { category in
            ["href": "/categories/" + Storefront.segment(category.id), "name": categoryName(category, locale),
             "count": counts[category.id] ?? 0]
        }
        var featured = CatalogQuery()
        featured.limit = 8
        let page = try catalog.find(featured, withFacets: false, nowMs: WallClock.nowMs())
        var view = layoutView(locale: locale, query: "", current: nil)
        view["categories"] = categories
        view["featured"] = page.productIds.compactMap { product($0) }.map { card($0, locale: locale) }
        view["productCount"] = try catalog.activeProductCount()
        return Storefront.render("home", view)
    }

    /// A category's listing (`category` set) or search results (`text`, maybe empty).
    private func listingPage(_ request: Request, locale: String, category: Category?, text: String) throws -> [UInt8] {
        var query = try Self.catalogQuery(request, text: text)
        if let category { query.category = category.id }
        let page: CatalogPage
        do { page = try catalog.find(query, withFacets: true, nowMs: WallClock.nowMs()) } catch let error as CatalogQueryError {
            throw HTTPError(.badRequest, detail: error.description)
        }
        let path = category.map { "/categories/" + Storefront.segment($0.id) } ?? "/search"
        // What the shopper chose, in their order; a new choice starts again from the first page.
        let chosen = request.queryItems.filter { $0.name != "cursor" }
        func with(_ name: String, _ value: String?) -> [(name: String, value: String)] {
            var items = chosen.filter { $0.name != name }
            if let value { items.append((name, value)) }
            return items
        }

        var view = layoutView(locale: locale, query: text, current: category.map { topAncestor(of: $0.id) })
        view["path"] = path
        if let category {
            view["heading"] = categoryName(category, locale)
            view["breadcrumbs"] = [["href": "/", "name": "Home"]] + ancestors(of: category.id).dropLast().map { ancestor -> Storefront.View in
                ["href": "/categories/" + Storefront.segment(ancestor.id), "name": categoryName(ancestor, locale)]
            } + [["name": categoryName(category, locale)]]
            view["emptyText"] = "No products here match these filters."
        } else {
            view["heading"] = text.isEmpty ? "All products" : "Results for “\(text)”"
            view["breadcrumbs"] = [Storefront.View]()
            view["emptyText"] = text.isEmpty ? "No products match these filters." : "No products match “\(text)”."
        }
        if let corrected = page.corrected { view["corrected"] = corrected }
        var suggestions: [Storefront.View] = []
        if !text.isEmpty {
            let terms = catalog.completions(text, limit: 6, nowMs: WallClock.nowMs())
            let typed = SearchText.terms(text).joined(separator: " ")
            suggestions = terms.filter { $0 != typed && $0 != page.corrected }.prefix(5).map { term in
                ["href": Storefront.href("/search", [("q", term)]), "text": term]
            }
        }
        view["suggestions"] = suggestions
        let products = page.productIds.compactMap { product($0) }
        view["products"] = products.map { card($0, locale: locale) }
        if let next = page.next { view["nextHref"] = Storefront.href(path, chosen + [("cursor", next)]) }
        if query.cursor != nil { view["firstHref"] = Storefront.href(path, chosen) }
        view["sorts"] = CatalogQuery.Sort.allCases.map { sort -> Storefront.View in
            ["value": sort.rawValue, "label": Self.sortLabel(sort, searching: !text.isEmpty), "selected": sort == query.sort]
        }
        view["keep"] = chosen.filter { $0.name != "sort" }.map { ["name": $0.name, "value": $0.value] as Storefront.View }

        view["groups"] = filterGroups(page.facets, query: query, category: category, products: products, path: path, chosen: chosen, locale: locale)
        let filtered = chosen.filter { $0.name != "q" && $0.name != "sort" }
        view["active"] = filtered.map { $0.name }
        view["clearHref"] = Storefront.href(path, chosen.filter { $0.name == "q" || $0.name == "sort" })
        return Storefront.render("listing", view)
    }

    /// The listing's filters: each value is a link that adds it, or removes it when chosen.
    private func filterGroups(_ facets: Facets?, query: CatalogQuery, category: Category?, products: [Product], path: String,
                              chosen: [(name: String, value: String)], locale: String) -> [Storefront.View] {
        func with(_ name: String, _ value: String?) -> [(name: String, value: String)] {
            var items = chosen.filter { $0.name != name }
            if let value { items.append((name, value)) }
            return items
        }
        var groups: [Storefront.View] = []
        let categoryItems: [Storefront.View] = (facets?.categories ?? []).compactMap { entry in
            guard let facet = catalog.categories[entry.id] else { return nil }
            let selected = category == nil && query.category == entry.id
            let href = category != nil
                ? Storefront.href("/categories/" + Storefront.segment(entry.id), chosen.filter { $0.name != "category" })
                : Storefront.href(path, with("category", selected ? nil : entry.id))
            return ["href": href, "label": categoryName(facet, locale), "count": entry.count, "selected": selected]
        }
        if !categoryItems.isEmpty { groups.append(["title": "Category", "items": categoryItems]) }
        if let currency = products.lazy.flatMap({ $0.variants }).compactMap({ $0.prices(in: self.config.region).first }).first?.currency {
            let items: [Storefront.View] = (facets?.prices ?? []).map { band in
                let high = band.to.map { $0 - 1 }
                let selected = query.minPrice == band.from && query.maxPrice == high
                var items = with("min_price", selected ? nil : String(band.from))
                items = items.filter { $0.name != "max_price" } + (selected ? [] : high.map { [("max_price", String($0))] } ?? [])
                return ["href": Storefront.href(path, items), "label": priceBandLabel(band.from, band.to, currency: currency, locale: locale),
                        "count": band.count, "selected": selected]
            }
            if !items.isEmpty { groups.append(["title": "Price", "items": items]) }
        }
        var byAttribute: [(name: String, items: [Storefront.View])] = []
        for entry in facets?.attributes ?? [] {
            let chosenValues = query.attributes[entry.name] ?? []
            let selected = chosenValues.contains(entry.value)
            let values = selected ? chosenValues.filter { $0 != entry.value } : chosenValues + [entry.value]
            let item: Storefront.View = ["href": Storefront.href(path, with("attr." + entry.name, values.isEmpty ? nil : values.joined(separator: ","))),
                                         "label": entry.value, "count": entry.count, "selected": selected]
            if let index = byAttribute.firstIndex(where: { $0.name == entry.name }) { byAttribute[index].items.append(item) } else { byAttribute.append((entry.name, [item])) }
        }
        groups += byAttribute.map { ["title": $0.name.replacingOccurrences(of: "_", with: " ").capitalized, "items": $0.items] }
        return groups
    }

    private func productPage(_ product: Product, sku: String, locale: String) -> [UInt8] {
        let name = Product.localized(product.names, locale, fallback: config.locale) ?? product.id
        let chosen = product.variants.first { $0.sku == sku } ?? product.variants.first
        var view = layoutView(locale: locale, query: "", current: product.category.map { topAncestor(of: $0) })
        view["name"] = name
        view["image"] = product.images.first
        view["description"] = Product.localized(product.descriptions, locale, fallback: config.locale)
        var crumbs: [Storefront.View] = [["href": "/", "name": "Home"]]
        if let category = product.category {
            crumbs += ancestors(of: category).map { ["href": "/categories/" + Storefront.segment($0.id), "name": categoryName($0, locale)] }
        }
        view["breadcrumbs"] = crumbs + [["name": name]]
        let details = product.attributes.merging(chosen?.attributes ?? [:]) { $1 }
        view["attributes"] = details.sorted { $0.key < $1.key }.map { ["name": $0.key.replacingOccurrences(of: "_", with: " "), "value": $0.value] as Storefront.View }
        view["several"] = product.variants.count > 1
        view["variants"] = product.variants.map { variant -> Storefront.View in
            let label = variant.attributes.sorted { $0.key < $1.key }.map(\.value).joined(separator: " / ")
            return ["href": Storefront.href("/products/" + Storefront.segment(product.id), [("sku", variant.sku)]),
                    "label": label.isEmpty ? variant.sku : label, "selected": variant.sku == chosen?.sku]
        }
        if let chosen {
            let stock = stockHere(chosen.sku)
            let state = CatalogJSON.StockState(available: stock.available, here: stock.here)
            var selected: Storefront.View = ["sku": chosen.sku, "stockClass": state.rawValue, "stockLabel": Storefront.stockLabel(state, here: stock.here)]
            if let barcode = chosen.barcode { selected["barcode"] = barcode }
            if let price = chosen.prices(in: config.region).first {
                selected["price"] = ["text": caches.priceText.format(price.amount, currency: price.currency, locale: locale)]
            }
            view["selected"] = selected
        }
        if let rating = ratingView(product.id) { view["rating"] = rating }
        view["reviews"] = ((try? reviewBook.approved(product: product.id, limit: 10)) ?? []).map { review -> Storefront.View in
            var item: Storefront.View = ["rating": review.rating, "stars": Self.stars(review.rating), "text": review.text, "author": review.author,
                                         "date": String(WallClock.iso8601(ms: review.writtenMs).prefix(10))]
            if let title = review.title { item["title"] = title }
            if let reply = review.reply { item["reply"] = reply }
            return item
        }
        view["reviewHref"] = "/products/" + Storefront.segment(product.id) + "/review"
        return Storefront.render("product", view)
    }

    // MARK: Parts

    /// What every page's frame shows: the shop, the search box, the top categories.
    func layoutView(locale: String, query: String, current: String?) -> Storefront.View {
        [
            "shop": config.shopName, "lang": locale, "query": query, "nodeId": identity.nodeId, "region": config.region,
            "nav": topCategories().map { category -> Storefront.View in
                ["href": "/categories/" + Storefront.segment(category.id), "name": categoryName(category, locale), "current": category.id == current]
            },
        ]
    }

    /// A product in a grid: name, picture, price from the cheapest variant, stock of the best one.
    private func card(_ product: Product, locale: String) -> Storefront.View {
        var view: Storefront.View = [
            "href": "/products/" + Storefront.segment(product.id),
            "name": Product.localized(product.names, locale, fallback: config.locale) ?? product.id,
        ]
        if let image = product.images.first { view["image"] = image }
        let prices = product.variants.flatMap { $0.prices(in: config.region) }
        if let cheapest = prices.min(by: { $0.amount < $1.amount }) {
            view["price"] = ["text": caches.priceText.format(cheapest.amount, currency: cheapest.currency, locale: locale),
                             "several": Set(prices.map(\.amount)).count > 1] as Storefront.View
        }
        var best = CatalogJSON.StockState.outOfStock, bestHere: Int64 = 0
        for variant in product.variants {
            let stock = stockHere(variant.sku)
            let state = CatalogJSON.StockState(available: stock.available, here: stock.here)
            if state.rank < best.rank || (state == best && stock.here > bestHere) { best = state; bestHere = stock.here }
        }
        view["stockClass"] = best.rawValue
        view["stockLabel"] = Storefront.stockLabel(best, here: bestHere)
        if let rating = ratingView(product.id) { view["rating"] = rating }
        return view
    }

    /// A product's stars as pages show them, nil before its first approved review.
    private func ratingView(_ product: String) -> Storefront.View? {
        guard let rating = catalog.ratings[product], rating.count > 0 else { return nil }
        let tenths = (rating.starsTotal * 10 + rating.count / 2) / rating.count
        return ["average": "\(tenths / 10).\(tenths % 10)", "count": rating.count, "one": rating.count == 1, "stars": Self.stars((tenths + 5) / 10)]
    }

    /// "★★★★☆" for 4.
    static func stars(_ count: Int64) -> String {
        let full = Int(max(0, min(5, count)))
        return String(repeating: "★", count: full) + String(repeating: "☆", count: 5 - full)
    }

    /// A page still renders when a stock read fails: the variant shows as out of stock.
    private func stockHere(_ sku: String) -> (available: Int64, here: Int64) {
        (try? catalog.stock(sku: sku)) ?? (available: 0, here: 0)
    }

    private func topCategories() -> [Category] {
        catalog.categories.values.filter { $0.parent.map { catalog.categories[$0] == nil } ?? true }
            .sorted { ($0.position, $0.id) < ($1.position, $1.id) }
    }

    /// From the root down to `id` itself.
    private func ancestors(of id: String) -> [Category] {
        var chain: [Category] = []
        var next: String? = id
        while let current = next, let category = catalog.categories[current], !chain.contains(where: { $0.id == current }) {
            chain.insert(category, at: 0)
            next = category.parent
        }
        return chain
    }

    private func topAncestor(of id: String) -> String { ancestors(of: id).first?.id ?? id }

    private func categoryName(_ category: Category, _ locale: String) -> String {
        Product.localized(category.names, locale, fallback: config.locale) ?? category.id
    }

    private func priceBandLabel(_ from: Int64, _ to: Int64?, currency: String, locale: String) -> String {
        let low = caches.priceText.format(from, currency: currency, locale: locale)
        guard let to else { return "\(low) and up" }
        let high = caches.priceText.format(to, currency: currency, locale: locale)
        return from == 0 ? "Under \(high)" : "\(low) – \(high)"
    }

    private static func sortLabel(_ sort: CatalogQuery.Sort, searching: Bool) -> String {
        switch sort {
        case .relevance: searching ? "Best match" : "Featured"
        case .price: "Price: low to high"
        case .priceDescending: "Price: high to low"
        case .newest: "Newest"
        case .name: "Name"
        case .rating: "Best rated"
        }
    }
}

extension CatalogJSON.StockState {
    /// Better for a shopper first: a card shows its product's best variant.
    var rank: Int {
        switch self {
        case .inStock: 0
        case .lowStock: 1
        case .onRequest: 2
        case .outOfStock: 3
        }
    }
}
