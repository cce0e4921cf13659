import Commerce
import HTTP
import Platform

/// The dashboard: today's figures and charts from the sales windows, the stores of the fleet at
/// the hub, and stock to reorder.
extension OutpostNode {
    static let dayMs: Int64 = 86_400_000
    static let hourMs: Int64 = 3_600_000

    func officeMoney(_ amount: Int64, _ currency: String) -> String {
        caches.priceText.format(amount, currency: currency, locale: config.locale)
    }

    /// The dashboard's view for `nowMs`: a store sees its own sales, the hub the fleet's.
    func dashboardView(nowMs: Int64) throws -> BackOffice.View {
        let today = nowMs - nowMs % Self.dayMs
        let store = config.role == .hub ? nil : identity.nodeId
        let todayScope = SalesWindows.Scope(fromMs: today, toMs: today + Self.dayMs, store: store)
        // One currency is charted: the one most was paid in today (or this fortnight).
        let fortnight = SalesWindows.Scope(fromMs: today - 13 * Self.dayMs, toMs: today + Self.dayMs, store: store)
        let currencyTotals = try salesWindows.totals(fortnight, by: .total).sorted { $0.figures.paid > $1.figures.paid }
        let currency = currencyTotals.first?.currency ?? "EUR"
        var scope = todayScope
        scope.currency = currency
        let total = try salesWindows.totals(scope, by: .total).first?.figures ?? SalesContribution.Figures()
        let money = { [unowned self] (amount: Int64) in officeMoney(amount, currency) }

        var view: BackOffice.View = [
            "heading": store == nil ? "The fleet today" : "Store \(identity.nodeId) today",
            "scopeText": store == nil ? "every store's sales as they reach the hub" : "this store's web and till sales",
            "scopeQuery": store.map { "&store=" + PercentEncoding.encode($0) } ?? "",
            "tiles": [
                ["name": "Net revenue", "value": money(total.net)], ["name": "Orders", "value": String(total.orders)],
                ["name": "Average order", "value": money(SalesReport.averageOrderValue(total))], ["name": "Units", "value": String(total.units)],
                ["name": "Refunds", "value": money(total.refunds)],
                ["name": "Returns rate", "value": Self.percent(basisPoints: SalesReport.returnsRateBasisPoints(total))],
                ["name": "Cash", "value": money(total.cash)], ["name": "Card", "value": money(total.card)],
                ["name": "Card (offline)", "value": money(total.cardOffline)],
            ] as [BackOffice.View],
        ]

        let hours = try salesWindows.windows(scope, windowMs: Self.hourMs, by: .total)
        let byHour = Dictionary(hours.map { ($0.startMs, $0.figures) }, uniquingKeysWith: +)
        let hourBars = (0..<24).map { hour -> SalesChart.Bar in
            let net = byHour[today + Int64(hour) * Self.hourMs]?.net ?? 0
            return SalesChart.Bar(label: hour < 10 ? "0\(hour)" : "\(hour)", value: net, valueText: money(net))
        }
        view["hourly"] = ["caption": "Net revenue by hour today (UTC)", "chart": SalesChart.columns(hourBars, axis: money, labelEvery: 3)]

        var days = fortnight
        days.currency = currency
        let byDay = Dictionary(try salesWindows.windows(days, windowMs: Self.dayMs, by: .total).map { ($0.startMs, $0.figures) }, uniquingKeysWith: +)
        let dayBars = (0..<14).map { back -> SalesChart.Bar in
            let start = today - Int64(13 - back) * Self.dayMs, net = byDay[start]?.net ?? 0
            return SalesChart.Bar(label: String(WallClock.iso8601(ms: start).dropFirst(5).prefix(5)), value: net, valueText: money(net))
        }
        view["daily"] = ["caption": "Net revenue by day, last 14 days", "chart": SalesChart.columns(dayBars, axis: money, labelEvery: 2)]

        let channels = Dictionary(try salesWindows.totals(scope, by: .channel).map { ($0.key, $0.figures.orders) }, uniquingKeysWith: +)
        let channelBars = SalesChannel.allCases.map { channel in
            SalesChart.Bar(label: channel.rawValue, value: channels[channel.rawValue] ?? 0, valueText: "\(channels[channel.rawValue] ?? 0) orders")
        }
        view["channels"] = ["caption": "Orders by channel today", "chart": SalesChart.columns(channelBars, axis: { String($0) })]

        var week = scope
        week.fromMs = today - 6 * Self.dayMs
        let top = try topSellers(week, by: .product, limit: 8)
        view["top"] = ["caption": "Top products, last 7 days", "chart": SalesChart.rows(top.map {
            SalesChart.Bar(label: $0.name, value: $0.figures.revenue, valueText: "\(money($0.figures.revenue)) · \($0.figures.units) units")
        })]

        if store == nil {
            var fleet = todayScope
            fleet.currency = currency
            let stores = try salesWindows.totals(fleet, by: .store).sorted { $0.key < $1.key }
            view["stores"] = BackOffice.table(nil, ["Store", "Orders", "Net revenue", "Refunds", "Card offline"], stores.map { row in
                [BackOffice.Cell(row.key), .number(row.figures.orders), BackOffice.Cell(money(row.figures.net), style: "num"),
                 BackOffice.Cell(money(row.figures.refunds), style: "num"), BackOffice.Cell(money(row.figures.cardOffline), style: "num")]
            }, empty: "No store has sold today yet.")
        }
        // A store watches its own shelf; the hub every location of the fleet.
        let location = store == nil ? nil : myStockLocation, mark = CatalogJSON.StockState.lowStockUnits
        let low = try catalog.lowStock(location: location, mark: mark, limit: 20)
        view["alerts"] = BackOffice.table(location.map { "At \($0), \(mark) units or fewer" } ?? "Every location, \(mark) units or fewer", ["SKU", "Location", "Available"], low.map {
            [BackOffice.Cell($0.sku, href: "/admin/stock?sku=" + PercentEncoding.encode($0.sku)), BackOffice.Cell($0.location), .number($0.available)]
        }, empty: "Nothing is running low.")
        return view
    }

    /// "1.25 %" from 125 basis points.
    static func percent(basisPoints: Int64) -> String {
        let hundredths = basisPoints % 100
        return "\(basisPoints / 100).\(hundredths < 10 ? "0" : "")\(hundredths) %"
    }
}
