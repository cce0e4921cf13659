import HTTP
import Platform

/// Where a newest-first list stopped: the last row's time and id. Clients get it as an opaque
/// `next_cursor` and send it back as `cursor` for the following page (keyset paging: a page
/// never skips or repeats a row as new ones arrive, and costs the same however deep).
struct ListCursor: Equatable {
    /// The last row's time (ms); -1 for a row without one.
    var atMs: Int64
    var id: String

    /// base64url of "<ms>|<id>".
    var text: String { Base64.encode(Array("\(atMs)|\(id)".utf8), url: true, padded: false) }

    /// The request's `cursor`, nil when there is none; a malformed one is 400.
    static func parse(_ request: Request) throws(HTTPError) -> ListCursor? {
        guard let text = request.queryValue("cursor") else { return nil }
        guard text.utf8.count <= 400, let bytes = Base64.decode(text, url: true), let decoded = String(validating: bytes, as: UTF8.self),
              let bar = decoded.firstIndex(of: "|"), let ms = Int64(decoded[..<bar]), ms >= -1 else {
            throw HTTPError(.badRequest, detail: "cursor is not one this node gave (take next_cursor from the previous page)")
        }
        return ListCursor(atMs: ms, id: String(decoded[decoded.index(after: bar)...]))
    }

    /// SQL for "after this cursor" in `ORDER BY coalesce(<column>, -1) DESC, id`, and its values.
    func condition(timeColumn column: String) -> (sql: String, values: [any SQLBindable]) {
        ("(coalesce(\(column), -1) < ? OR (coalesce(\(column), -1) = ? AND id > ?))", [atMs, atMs, id])
    }

    /// The cursor after a page's last row, nil when the page was not full (there is no more).
    static func next(after last: (atMs: Int64?, id: String)?, rows: Int, limit: Int) -> JSONValue {
        guard rows == limit, let last else { return .null }
        return .string(ListCursor(atMs: last.atMs ?? -1, id: last.id).text)
    }

    static let parameter = RouteDoc.Parameter("cursor", in: .query, description: "next_cursor of the previous page, for the page after it.")
}

/// A page of a list the node holds in memory (configuration: promotions, locations, tills…),
/// in ascending order of each item's `key`. The cursor is the last key given; items added or
/// removed between pages neither shift nor repeat the others.
struct KeyedPage<Item> {
    var items: [Item]
    /// `next_cursor`: null on the last page.
    var next: JSONValue

    /// `limit` (1 to `maximum`, default `byDefault`) items after the request's `cursor`.
    init(_ all: [Item], key: (Item) -> String, request: Request, byDefault: Int = 100, maximum: Int = 500) throws(HTTPError) {
        let limit = try Self.limit(request, byDefault: byDefault, maximum: maximum)
        let after = try ListCursor.parse(request)?.id
        let sorted = all.map { (key($0), $0) }.sorted { $0.0 < $1.0 }.filter { after == nil || $0.0 > after ?? "" }
        items = sorted.prefix(limit).map(\.1)
        next = sorted.count > limit ? .string(ListCursor(atMs: 0, id: sorted[limit - 1].0).text) : .null
    }

    /// The request's `limit`, 1 to `maximum`; `byDefault` without one.
    static func limit(_ request: Request, byDefault: Int = 100, maximum: Int = 500) throws(HTTPError) -> Int {
        guard let text = request.queryValue("limit") else { return byDefault }
        guard let asked = Int(text), (1...maximum).contains(asked) else { throw HTTPError(.badRequest, detail: "limit must be 1 to \(maximum)") }
        return asked
    }

    static func parameters(byDefault: Int = 100, maximum: Int = 500) -> [RouteDoc.Parameter] {
        [.init("limit", in: .query, description: "1 to \(maximum), default \(byDefault).", schema: ["type": "integer"]), ListCursor.parameter]
    }
}
