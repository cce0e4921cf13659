import Commerce
import HTTP
import Platform

/// A sales report's request: the time range, the window, the breakdown and the filters, read
/// from a query string with every bad value named.
struct SalesReportQuery {
    /// Window lengths a report may ask for.
    enum Window: String, CaseIterable {
        case fiveMinutes = "5m", hour = "1h", day = "1d"

        var ms: Int64 {
            switch self {
            case .fiveMinutes: SalesContribution.windowMs
            case .hour: 3_600_000
            case .day: 86_400_000
            }
        }
    }

    /// A report lists at most this many windows (a week of 5-minute windows).
    static let windowsMax: Int64 = 2016
    static let topLimitMax = 100

    var scope: SalesWindows.Scope
    var window: Window
    var by: SalesWindows.Breakdown
    var csv: Bool

    /// From a request: `from` defaults to the start of today (UTC), `to` to the end of the
    /// window holding now; both are aligned to the window.
    init(_ request: Request, nowMs: Int64, defaultWindow: Window = .hour) throws(HTTPError) {
        var errors: [FieldError] = []
        let window = Self.choice(request, "window", Window.self, errors: &errors) ?? defaultWindow
        by = Self.choice(request, "by", SalesWindows.Breakdown.self, errors: &errors) ?? .total
        let channel = Self.choice(request, "channel", SalesChannel.self, errors: &errors)
        func time(_ name: String) -> Int64? {
            guard let text = request.queryValue(name) else { return nil }
            guard let ms = WallClock.parseISO8601(text) else { errors.append(FieldError(name, "must be a UTC time in ISO 8601 (2026-12-07T00:00:00Z)")); return nil }
            return ms
        }
        let day: Int64 = 86_400_000
        var fromMs = time("from") ?? (nowMs - nowMs % day)
        var toMs = time("to") ?? nowMs + 1
        fromMs -= fromMs % window.ms
        toMs = toMs % window.ms == 0 ? toMs : toMs - toMs % window.ms + window.ms
        if errors.isEmpty && fromMs >= toMs { errors.append(FieldError("from", "must be before to")) }
        if errors.isEmpty && (toMs - fromMs) / window.ms > Self.windowsMax {
            errors.append(FieldError("window", "\(window.rawValue) windows from \(WallClock.iso8601(ms: fromMs)) to \(WallClock.iso8601(ms: toMs)) are more than \(Self.windowsMax); ask for longer windows or a shorter range"))
        }
        for name in ["store", "region", "currency"] {
            if let value = request.queryValue(name), value.isEmpty || value.utf8.count > 64 { errors.append(FieldError(name, "must be 1 to 64 characters")) }
        }
        let format = request.queryValue("format")
        if let format, format != "json" && format != "csv" { errors.append(FieldError("format", "must be json or csv")) }
        guard errors.isEmpty else { throw OutpostNode.validationError(ValidationFailure(errors)) }
        self.window = window
        csv = format == "csv" || (format == nil && (request.headers["accept"] ?? "").hasPrefix("text/csv"))
        scope = SalesWindows.Scope(fromMs: fromMs, toMs: toMs, channel: channel, store: request.queryValue("store"), region: request.queryValue("region"),
                                   currency: request.queryValue("currency"))
    }

    private static func choice<T: RawRepresentable & CaseIterable>(_ request: Request, _ name: String, _ type: T.Type, errors: inout [FieldError]) -> T?
        where T.RawValue == String {
        guard let text = request.queryValue(name) else { return nil }
        guard let value = T(rawValue: text) else {
            errors.append(FieldError(name, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))"))
            return nil
        }
        return value
    }

    /// The filters as JSON members of the reply, so a saved report says what it holds.
    var scopeMembers: [JSONMember] {
        [JSONMember("from", .string(WallClock.iso8601(ms: scope.fromMs))), JSONMember("to", .string(WallClock.iso8601(ms: scope.toMs))),
         JSONMember("channel", scope.channel.map { .string($0.rawValue) } ?? .null), JSONMember("store", scope.store.map { .string($0) } ?? .null),
         JSONMember("region", scope.region.map { .string($0) } ?? .null), JSONMember("currency", scope.currency.map { .string($0) } ?? .null)]
    }
}

/// The figures of a report, as JSON and as CSV: the same names in both.
enum SalesReport {
    /// Columns of a window row after its start, key and currency.
    static let figureNames = ["orders", "units", "gross", "discounts", "tax", "refunds", "net", "average_order_value", "returned_units",
                              "returns_rate_bp", "cash", "card", "card_offline"]

    /// Money paid per order, rounded to the minor unit.
    static func averageOrderValue(_ f: SalesContribution.Figures) -> Int64 {
        f.orders > 0 ? (f.paid + f.orders / 2) / f.orders : 0
    }

    /// Returned units per 10,000 sold.
    static func returnsRateBasisPoints(_ f: SalesContribution.Figures) -> Int64 {
        f.units > 0 ? (f.returnedUnits * 10_000 + f.units / 2) / f.units : 0
    }

    static func values(_ f: SalesContribution.Figures) -> [Int64] {
        [f.orders, f.units, f.gross, f.discounts, f.tax, f.refunds, f.net, averageOrderValue(f), f.returnedUnits, returnsRateBasisPoints(f),
         f.cash, f.card, f.cardOffline]
    }

    static func json(_ row: SalesWindows.WindowRow, by: SalesWindows.Breakdown, windowMs: Int64?) -> JSONValue {
        var members: [JSONMember] = []
        if let windowMs {
            members += [JSONMember("start", .string(WallClock.iso8601(ms: row.startMs))), JSONMember("end", .string(WallClock.iso8601(ms: row.startMs + windowMs)))]
        }
        if by != .total { members.append(JSONMember(by.rawValue, .string(row.key))) }
        members.append(JSONMember("currency", .string(row.currency)))
        members += zip(figureNames, values(row.figures)).map { JSONMember($0, .int($1)) }
        return .object(members)
    }

    static func csv(_ rows: [SalesWindows.WindowRow], by: SalesWindows.Breakdown, windowMs: Int64) -> String {
        var out = (["start", "end"] + (by == .total ? [] : [by.rawValue]) + ["currency"] + figureNames).joined(separator: ",") + "\r\n"
        for row in rows {
            var fields = [WallClock.iso8601(ms: row.startMs), WallClock.iso8601(ms: row.startMs + windowMs)]
            if by != .total { fields.append(csvText(row.key)) }
            fields.append(csvText(row.currency))
            out += (fields + values(row.figures).map(String.init)).joined(separator: ",") + "\r\n"
        }
        return out
    }

    /// A text field for a spreadsheet: quoted when it must be (RFC 4180), and never read as a
    /// formula (a name starting with = + - @ gets a leading apostrophe).
    static func csvText(_ text: String) -> String {
        let safe = text.first.map { "=+-@\t\r".contains($0) } == true ? "'" + text : text
        return OutpostNode.csvField(safe)
    }

    static func csvResponse(_ text: String, name: String) -> Response {
        Response(status: 200, contentType: "text/csv; charset=utf-8", headers: HTTPHeaders([("Content-Disposition", "attachment; filename=\"\(name).csv\"")]),
                 body: Array(text.utf8))
    }
}
