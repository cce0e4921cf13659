import Commerce
import HTTP
import Platform
import Replication

extension OutpostNode {
    /// The units a partial fulfilment, shipment or delivery names, each checked against what
    /// the order has left for that step.
    func fulfilmentItems(_ items: [OrderEventBody.Item], kind: OrderEvent.Kind, state: OrderState?) throws(HTTPError) -> [OrderItem] {
        guard let state else { throw HTTPError(.notFound, detail: "no such order") }
        guard (1...100).contains(items.count) else { throw HTTPError(.validation, detail: "items must hold 1 to 100 {sku, quantity}") }
        let left: [String: Int64] = switch kind {
        case .delivered: state.shipped.merging(state.delivered.mapValues { -$0 }, uniquingKeysWith: +)
        default: state.unshipped
        }
        var asked: [String: Int64] = [:]
        for item in items {
            guard state.ordered[item.sku] != nil else { throw HTTPError(.validation, detail: "\(item.sku) is not in the order") }
            guard item.quantity > 0 else { throw HTTPError(.validation, detail: "quantity must be positive") }
            asked[item.sku, default: 0] += item.quantity
        }
        for (sku, units) in asked.sorted(by: { $0.key < $1.key }) where units > (left[sku] ?? 0) {
            var error = HTTPError(.validation, detail: "\(units) of \(sku) asked; \(left[sku] ?? 0) left to \(kind == .delivered ? "deliver" : "ship")")
            error.problem.extensions = [("sku", .string(sku)), ("left", .int(left[sku] ?? 0))]
            throw error
        }
        return asked.sorted { $0.key < $1.key }.map { OrderItem(sku: $0.key, quantity: $0.value) }
    }

    /// Orders whose goods wait at `location` (paid, packed or partly shipped, with units allocated
    /// there still to ship), oldest first, a page of `limit` after `cursor`; and the page's units
    /// summed per SKU for one walk of the shelves. Open orders are read 256 at a time (by the
    /// partial index of open orders) until the page is full: the cursor is the last order read.
    func pickList(location: String, limit: Int, after cursor: ListCursor?) throws -> JSONValue {
        var orders: [JSONValue] = [], totals: [String: (name: String, units: Int64)] = [:]
        var position = cursor.map { ($0.atMs, $0.id) }, exhausted = false
        while orders.count < limit && !exhausted {
            let batch = try orderIndex.open(after: position, limit: 256)
            exhausted = batch.count < 256
            for (placedMs, id) in batch where orders.count < limit {
                position = (placedMs, id)
                if let order = pickListOrder(id, location: location, totals: &totals) { orders.append(order) }
            }
        }
        let next: JSONValue = orders.count == limit ? position.map { .string(ListCursor(atMs: $0.0, id: $0.1).text) } ?? .null : .null
        return .object([
            JSONMember("location", .string(location)), JSONMember("orders", .array(orders)),
            JSONMember("totals", .array(totals.sorted { $0.key < $1.key }.map {
                .object([JSONMember("sku", .string($0.key)), JSONMember("name", .string($0.value.name)), JSONMember("quantity", .int($0.value.units))])
            })),
            JSONMember("next_cursor", next),
        ])
    }

    /// One open order's lines to pick at `location` (nil: none there), adding them to `totals`.
    private func pickListOrder(_ id: String, location: String, totals: inout [String: (name: String, units: Int64)]) -> JSONValue? {
        guard let state = orderState(id), let placed = state.placed else { return nil }
        let unshipped = state.unshipped
        var lines: [JSONValue] = []
        for allocation in placed.allocations ?? [] where allocation.location == location {
            let units = min(allocation.units, unshipped[allocation.sku] ?? 0)
            guard units > 0 else { continue }
            let name = placed.lines?.first { $0.sku == allocation.sku }?.name ?? allocation.sku
            lines.append(.object([JSONMember("sku", .string(allocation.sku)), JSONMember("name", .string(name)), JSONMember("quantity", .int(units))]))
            totals[allocation.sku] = (name, (totals[allocation.sku]?.units ?? 0) + units)
        }
        guard !lines.isEmpty else { return nil }
        var order = [JSONMember("id", .string(id)), JSONMember("number", placed.number.map { .string($0) } ?? .null),
                     JSONMember("status", .string(state.status.rawValue)), JSONMember("placed_at", .string(WallClock.iso8601(ms: placed.atMs))),
                     JSONMember("lines", .array(lines))]
        if let shipping = placed.shipping { order.append(JSONMember("shipping", Self.shippingChoiceJSON(shipping))) }
        return .object(order)
    }

    func registerFulfilmentRoutes() {
        router.get("/admin/v1/pick-list", access: .roles(Self.shopStaffRoles), doc: RouteDoc(
            operationId: "pickList", summary: "What to pick at a stock location: open orders with units allocated there still to ship, and the totals per SKU.",
            description: """
                Orders that are paid, fulfilled (packed) or partially shipped, oldest first. Ship what was picked with \
                POST /admin/v1/orders/{id}/events {"kind": "shipped", "items", "location", "carrier", "tracking"}; click-and-collect orders \
                show `shipping.collect_at`: "fulfilled" marks them ready, "shipped" (no carrier or tracking) handed over.
                """,
            tags: ["orders", "shipping"],
            parameters: [.init("location", in: .query, description: "A stock location; default this node's."),
                         .init("limit", in: .query, description: "Orders, 1 to 100, default 20.", schema: ["type": "integer"]), ListCursor.parameter],
            replies: [.init(200, "{location, orders: [...], totals: [...] (this page's), next_cursor}", schema: ["type": "object"]),
                      RouteDoc.Reply.problem(400, "A parameter is malformed.")])
        ) { [unowned self] request in
            let location = request.queryValue("location") ?? myStockLocation
            guard ProductInput.isProductId(location) else { throw HTTPError(.badRequest, detail: "location must be a stock location's id") }
            return .json(try pickList(location: location, limit: try Self.limit(request), after: try ListCursor.parse(request)))
        }
    }
}
