import Commerce
import HTTP
import Platform

extension OutpostNode {
    /// Who reads the sales figures.
    static let reportRoles = ["store_manager", "operator", "hub_admin"]

    func registerReportRoutes() {
        let problem = RouteDoc.Reply.problem
        let scope: [RouteDoc.Parameter] = [
            .init("from", in: .query, description: "Start, ISO 8601 UTC, aligned down to the window (default: the start of today, UTC)."),
            .init("to", in: .query, description: "End, exclusive, aligned up to the window (default: the end of the window holding now)."),
            .init("channel", in: .query, description: "web or till."),
            .init("store", in: .query, description: "The id of the node that placed the orders."),
            .init("region", in: .query, description: "The region of that node."),
            .init("currency", in: .query, description: "ISO 4217 code."),
            .init("format", in: .query, description: "json (default) or csv; `Accept: text/csv` asks for CSV too."),
        ]

        router.get("/admin/v1/reports/sales", access: .roles(Self.reportRoles), doc: RouteDoc(
            operationId: "salesReport", summary: "Sales per 5-minute, hourly or daily window: revenue, orders, units, average order value, returns, payment mix.",
            description: """
                Folded from the orders this node holds (every node holding the same orders shows the same figures; a store's sales \
                taken offline land in their own windows when they arrive). Money in minor units: gross (paid plus discounts), discounts, \
                tax, refunds (in the window of the refund), net (gross − discounts − refunds); returns_rate_bp is returned units per \
                10,000 sold; cash, card and card_offline are the payment mix. Windows with nothing in them are left out. \
                docs/back-office.md defines every figure.
                """,
            tags: ["reports"], parameters: scope + [
                .init("window", in: .query, description: "5m, 1h (default) or 1d; at most \(SalesReportQuery.windowsMax) windows."),
                .init("by", in: .query, description: "total (default), channel, store or region."),
            ],
            replies: [.init(200, "{from, to, window, by, windows: [{start, end, <by>, currency, orders, ...}], totals: [...]} or CSV of the windows.",
                            schema: ["type": "object"]),
                      problem(422, "A filter is malformed, or the range holds too many windows.")])
        ) { [unowned self] request in
            let query = try SalesReportQuery(request, nowMs: WallClock.nowMs())
            let rows = try salesWindows.windows(query.scope, windowMs: query.window.ms, by: query.by)
            if query.csv { return SalesReport.csvResponse(SalesReport.csv(rows, by: query.by, windowMs: query.window.ms), name: "sales") }
            let totals = try salesWindows.totals(query.scope, by: query.by)
            return .json(.object(query.scopeMembers + [
                JSONMember("window", .string(query.window.rawValue)), JSONMember("by", .string(query.by.rawValue)),
                JSONMember("windows", .array(rows.map { SalesReport.json($0, by: query.by, windowMs: query.window.ms) })),
                JSONMember("totals", .array(totals.map { SalesReport.json($0, by: query.by, windowMs: nil) })),
            ]))
        }

        router.get("/admin/v1/reports/products", access: .roles(Self.reportRoles), doc: RouteDoc(
            operationId: "topProducts", summary: "The best-selling products or categories over a range, by revenue.",
            description: "revenue is the lines less their discounts, in minor units; category is the one the product sold in.",
            tags: ["reports"], parameters: scope + [
                .init("by", in: .query, description: "product (default) or category."),
                .init("limit", in: .query, description: "1 to \(SalesReportQuery.topLimitMax), default 10.", schema: ["type": "integer"]),
            ],
            replies: [.init(200, "{from, to, by, products: [{product, name, category, currency, units, revenue, returned_units}]} or CSV.",
                            schema: ["type": "object"]),
                      problem(422, "A filter is malformed.")])
        ) { [unowned self] request in
            let query = try SalesReportQuery(request, nowMs: WallClock.nowMs(), defaultWindow: .fiveMinutes)
            let by: SalesWindows.ProductBreakdown
            switch request.queryValue("by") {
            case nil, "product": by = .product
            case "category": by = .category
            default: throw Self.validationError(ValidationFailure([FieldError("by", "must be product or category")]))
            }
            let limit = try Self.limit(request, max: SalesReportQuery.topLimitMax, default: 10)
            let rows = try topSellers(query.scope, by: by, limit: limit)
            if query.csv {
                var out = "\(by.rawValue),name,currency,units,revenue,returned_units\r\n"
                for row in rows {
                    out += [SalesReport.csvText(row.key), SalesReport.csvText(row.name), SalesReport.csvText(row.currency), String(row.figures.units),
                            String(row.figures.revenue), String(row.figures.returnedUnits)].joined(separator: ",") + "\r\n"
                }
                return SalesReport.csvResponse(out, name: by == .product ? "top-products" : "top-categories")
            }
            return .json(.object(query.scopeMembers + [
                JSONMember("by", .string(by.rawValue)),
                JSONMember("products", .array(rows.map { row in
                    .object([JSONMember(by.rawValue, .string(row.key)), JSONMember("name", .string(row.name)), JSONMember("currency", .string(row.currency)),
                             JSONMember("units", .int(row.figures.units)), JSONMember("revenue", .int(row.figures.revenue)),
                             JSONMember("returned_units", .int(row.figures.returnedUnits))])
                })),
            ]))
        }
    }

    /// A top list with today's names: the product's name in the node's language, the category's
    /// (a product or category since deleted keeps its id as its name).
    func topSellers(_ scope: SalesWindows.Scope, by: SalesWindows.ProductBreakdown, limit: Int) throws -> [(key: String, name: String, currency: String, figures: SalesContribution.ProductFigures)] {
        try salesWindows.top(scope, by: by, limit: limit).map { row in
            let name: String
            switch by {
            case .product: name = product(row.key).flatMap { Product.localized($0.names, config.locale, fallback: config.locale) } ?? row.key
            case .category: name = row.key.isEmpty ? "(none)" : catalog.categories[row.key].flatMap { Product.localized($0.names, config.locale, fallback: config.locale) } ?? row.key
            }
            return (row.key, name, row.currency, row.figures)
        }
    }

    /// Today's sales (UTC day) per channel and currency: this store's own, or the whole fleet's
    /// at the hub. Labels stay few (two channels, a currency or two): stores and products are in
    /// the reports, not in the metrics.
    func renderSalesMetrics(into out: inout PrometheusText) {
        let nowMs = WallClock.nowMs(), day: Int64 = 86_400_000
        let scope = SalesWindows.Scope(fromMs: nowMs - nowMs % day, toMs: nowMs - nowMs % day + day, store: config.role == .hub ? nil : identity.nodeId)
        guard let rows = try? salesWindows.totals(scope, by: .channel) else { return }
        let families: [(String, String, Bool, (SalesContribution.Figures) -> Int64)] = [
            ("outpost_sales_today_orders", "Orders sold today (UTC), per channel\(config.role == .hub ? ", fleet-wide" : " at this store").", false, { $0.orders }),
            ("outpost_sales_today_units", "Units sold today, per channel.", false, { $0.units }),
            ("outpost_sales_today_net_minor", "Net revenue today (paid less refunds), in minor units.", true, { $0.net }),
            ("outpost_sales_today_refunds_minor", "Refunds today, in minor units.", true, { $0.refunds }),
        ]
        for (name, help, money, value) in families {
            out.family(name, type: "gauge", help: help)
            if money {
                for row in rows { out.sample(name, labels: [("channel", row.key), ("currency", row.currency)], value: Double(value(row.figures))) }
            } else {
                let perChannel = Dictionary(rows.map { ($0.key, value($0.figures)) }, uniquingKeysWith: +)
                for (channel, count) in perChannel.sorted(by: { $0.key < $1.key }) { out.sample(name, labels: [("channel", channel)], value: Double(count)) }
            }
        }
    }
}
