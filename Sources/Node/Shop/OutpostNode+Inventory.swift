import Commerce
import HTTP
import Platform
import Replication

struct StockChangeBody: Codable, Sendable {
    var sku: String
    var location: String?
    var units: Int64
    var reason: String?
    var note: String?
}

struct StockTransferBody: Codable, Sendable {
    var sku: String
    var from: String
    var to: String
    var units: Int64
    var note: String?
}

struct LocationBody: Codable, Sendable {
    var name: String
    var kind: String
    var node: String?
}

extension OutpostNode {
    static let stockRoles = ["store_manager", "operator"]

    func location(_ id: String) -> StockLocation? {
        guard let entry = replica.state(at: StockLocation.keyPrefix + id, in: Collections.catalog) else { return nil }
        return StockLocation(id: id, fields: CatalogFields.values(of: entry))
    }

    /// A location stock may be booked at: a registered one, or this node's own (which exists
    /// without registering, so a store sells from its first receipt). Every path that moves
    /// stock (receipts, adjustments, transfers, restocked returns) checks it here.
    func stockLocation(_ id: String?, field: String) throws(HTTPError) -> String {
        let id = id ?? myStockLocation
        guard id == myStockLocation || location(id) != nil else {
            throw HTTPError(.validation, detail: "\(field): no location \"\(id)\" (register it with PUT /admin/v1/locations/{id})")
        }
        return id
    }

    private func knownSKU(_ sku: String) throws {
        guard try catalog.productId(sku: sku) != nil else { throw HTTPError(.validation, detail: "sku: no product has the SKU \"\(sku)\"") }
    }

    private static func note(_ text: String?) throws(HTTPError) -> String? {
        guard let text else { return nil }
        guard text.count <= 500 else { throw HTTPError(.validation, detail: "note is at most 500 characters") }
        return text
    }


    /// Commits stock changes (key -> new counter delta) with their journal rows, answering with
    /// the SKU's stock once durable.
    private func commitStock(_ sku: String, _ responder: Responder, _ change: @escaping (StockDesk) throws -> Void) {
        let desk = StockDesk(reservations: reservations, journal: stockJournal)
        writer.submit({ _ in try change(desk) }, completion: { [unowned self] result in
            switch result {
            case .success:
                replicatedChanged()
                responder.send(.json(stockJSON(sku)))
            case .failure(let error):
                responder.fail(error)
            }
        })
    }

    func stockJSON(_ sku: String) -> JSONValue {
        let keys = replica.whole(Collections.inventory)?.states.keys.filter {
            StockKey.parse($0)?.sku == sku
        }.sorted() ?? []
        let me = identity.nodeId
        var total: Int64 = 0, here: Int64 = 0
        let locations: [JSONValue] = keys.compactMap { key in
            guard let parsed = StockKey.parse(key), let stock = replica.state(at: key, in: Collections.inventory) else { return nil }
            total += stock.value
            here += max(0, stock.rights(of: me))
            return .object([
                JSONMember("location", .string(parsed.location)),
                JSONMember("available", .int(stock.value)),
                JSONMember("rights_here", .int(max(0, stock.rights(of: me)))),
                JSONMember("rights", .object(stock.replicas.sorted().map { JSONMember($0, .int(stock.rights(of: $0))) })),
            ])
        }
        return .object([JSONMember("sku", .string(sku)), JSONMember("available", .int(total)), JSONMember("available_here", .int(here)),
                        JSONMember("locations", .array(locations))])
    }

    /// What the stock routes answer with.
    private static var stockReply: RouteDoc.Reply {
        RouteDoc.Reply(200, "The SKU's stock: per location the units and who holds the rights to them.", schema: ["type": "object"])
    }

    func registerInventoryRoutes() {
        registerLocationRoutes()
        registerStockChangeRoutes()
    }

    /// Stock locations, and a SKU's stock and movements.
    private func registerLocationRoutes() {
        let problem = RouteDoc.Reply.problem
        let stockReply = Self.stockReply

        router.add("PUT", "/admin/v1/locations/{id}", access: .roles(Self.stockRoles), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "putLocation", summary: "Register or change a stock location (a store or a warehouse), known fleet-wide.",
            description: "Body: {\"name\", \"kind\": store|warehouse, \"node\"?: the node that sells from it (transfers into it hand that node the rights)}.",
            tags: ["inventory"], parameters: [.init("id", in: .path, description: "Lowercase letters, digits and '-'.")],
            requestBody: .init(0, "The location.", schema: ["type": "object", "required": ["name", "kind"]]),
            replies: [.init(200, "The location.", schema: ["type": "object"]), problem(422, "A field is malformed.")])
        ) { [unowned self] request, responder in
            do {
                let id = request.parameter("id") ?? ""
                guard NodeConfig.isValidName(id) else { throw HTTPError(.validation, detail: "a location id is 1-63 lowercase letters, digits and '-'") }
                let body = try request.decodeJSON(LocationBody.self)
                guard let kind = StockLocation.Kind(rawValue: body.kind) else { throw HTTPError(.validation, detail: "kind must be store or warehouse") }
                let name = body.name.trimmingWhitespace()
                guard (1...100).contains(name.count) else { throw HTTPError(.validation, detail: "name must be 1 to 100 characters") }
                if let node = body.node, !NodeConfig.isValidName(node) { throw HTTPError(.validation, detail: "node must be a node id") }
                let location = StockLocation(id: id, name: name, kind: kind, node: body.node)
                commitCatalog(key: StockLocation.keyPrefix + id, fields: { location.fields }) { error in
                    if let error { return responder.fail(error) }
                    responder.send(.json(["id": .string(id), "name": .string(name), "kind": .string(kind.rawValue), "node": body.node.map { .string($0) } ?? .null]))
                }
            } catch {
                responder.fail(error)
            }
        }

        router.get("/admin/v1/locations", access: .roles(Self.shopStaffRoles), doc: RouteDoc(
            operationId: "listLocations", summary: "Stock locations of the fleet by id, and this node's own.", tags: ["inventory"],
            parameters: KeyedPage<String>.parameters(),
            replies: [.init(200, "{own, locations: [...], next_cursor}", schema: ["type": "object"])])
        ) { [unowned self] request in
            let keys = replica.keys(in: Collections.catalog.name, withPrefix: StockLocation.keyPrefix)
            let page = try KeyedPage(keys.map { String($0.dropFirst(StockLocation.keyPrefix.count)) }, key: { $0 }, request: request)
            return .json(["own": .string(myStockLocation), "locations": .array(page.items.compactMap { id in
                location(id).map { .object([JSONMember("id", .string($0.id)), JSONMember("name", .string($0.name)), JSONMember("kind", .string($0.kind.rawValue)),
                                            JSONMember("node", $0.node.map { .string($0) } ?? .null)]) }
            }), "next_cursor": page.next])
        }

        router.get("/admin/v1/inventory/{sku}", access: .roles(Self.shopStaffRoles), doc: RouteDoc(
            operationId: "getStock", summary: "A SKU's stock at every location, and the rights each node holds.", tags: ["inventory"],
            parameters: [.init("sku", in: .path, description: "A variant's SKU.")], replies: [stockReply])
        ) { [unowned self] request in
            .json(stockJSON(request.parameter("sku") ?? ""))
        }

        router.get("/admin/v1/inventory/{sku}/movements", access: .roles(Self.shopStaffRoles), doc: RouteDoc(
            operationId: "listStockMovements", summary: "This node's journal of a SKU's stock changes: receipts, adjustments with reasons, transfers, sales, releases.",
            tags: ["inventory"], parameters: [.init("sku", in: .path, description: "A variant's SKU."),
                                               .init("limit", in: .query, description: "1 to 100, default 20.", schema: ["type": "integer"]), ListCursor.parameter],
            replies: [.init(200, "{movements: [...], next_cursor}, newest first.", schema: ["type": "object"]), problem(400, "limit or cursor is malformed.")])
        ) { [unowned self] request in
            let limit = try Self.limit(request)
            // Newest first by (time, row): the cursor is the last movement's.
            let before = try ListCursor.parse(request).map { ($0.atMs, Int64($0.id) ?? 0) }
            let movements = try stockJournal.movements(sku: request.parameter("sku") ?? "", limit: limit, before: before)
            let rows: [JSONValue] = movements.map { m in
                .object([JSONMember("at", .string(WallClock.iso8601(ms: m.atMs))), JSONMember("location", .string(m.location)),
                         JSONMember("units", .int(m.units)), JSONMember("reason", .string(m.reason)),
                         JSONMember("reference", m.reference.map { .string($0) } ?? .null), JSONMember("note", m.note.map { .string($0) } ?? .null),
                         JSONMember("actor", .string(m.actor))])
            }
            let last = movements.last.map { ($0.atMs, String($0.row)) }
            return .json(["movements": .array(rows), "next_cursor": ListCursor.next(after: last, rows: rows.count, limit: limit)])
        }
    }

    /// Receiving, adjusting and transferring stock: each a counter change and a movement.
    private func registerStockChangeRoutes() {
        registerStockReceiptRoutes()
        registerStockTransferRoutes()
    }

    /// Receiving and adjusting stock at this node's location.
    private func registerStockReceiptRoutes() {
        let problem = RouteDoc.Reply.problem
        let stockReply = Self.stockReply

        router.add("POST", "/admin/v1/inventory/receive", access: .roles(Self.stockRoles), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "receiveStock", summary: "Book goods in at a location (default: this node's); this node holds the rights to sell them.",
            description: "Body: {\"sku\", \"units\" (1 to 1,000,000), \"location\"?, \"note\"?}.", tags: ["inventory"],
            requestBody: .init(0, "The receipt.", schema: ["type": "object", "required": ["sku", "units"]]),
            replies: [stockReply, problem(422, "Unknown SKU or location, or units out of range.")])
        ) { [unowned self] request, responder in
            do {
                let body = try request.decodeJSON(StockChangeBody.self)
                try knownSKU(body.sku)
                let location = try stockLocation(body.location, field: "location"), note = try Self.note(body.note)
                guard (1...1_000_000).contains(body.units) else { throw HTTPError(.validation, detail: "units must be 1 to 1000000") }
                let actor = request.subject ?? "admin"
                commitStock(body.sku, responder) { desk in
                    try desk.receive(sku: body.sku, units: body.units, at: location, note: note, actor: actor, nowMs: WallClock.nowMs())
                }
            } catch {
                responder.fail(error)
            }
        }

        router.add("POST", "/admin/v1/inventory/adjust", access: .roles(Self.stockRoles), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "adjustStock", summary: "Correct stock with a reason: counted, damaged, lost, found or expired.",
            description: "Body: {\"sku\", \"units\" (signed, not 0: + adds, - removes within this node's rights), \"reason\", \"location\"?, \"note\"?}.",
            tags: ["inventory"], requestBody: .init(0, "The adjustment.", schema: ["type": "object", "required": ["sku", "units", "reason"]]),
            replies: [stockReply, problem(409, "Removing more than this node holds rights to."), problem(422, "Unknown SKU, location or reason.")])
        ) { [unowned self] request, responder in
            do {
                let body = try request.decodeJSON(StockChangeBody.self)
                try knownSKU(body.sku)
                let location = try stockLocation(body.location, field: "location"), note = try Self.note(body.note)
                guard let reason = body.reason.flatMap(StockMovementReason.init(rawValue:)), StockMovementReason.adjustments.contains(reason) else {
                    throw HTTPError(.validation, detail: "reason must be one of \(StockMovementReason.adjustments.map(\.rawValue).joined(separator: ", "))")
                }
                guard body.units != 0, abs(body.units) <= 1_000_000 else { throw HTTPError(.validation, detail: "units must be -1000000 to 1000000, not 0") }
                let actor = request.subject ?? "admin"
                commitStock(body.sku, responder) { desk in
                    try desk.adjust(sku: body.sku, units: body.units, reason: reason, at: location, note: note, actor: actor, nowMs: WallClock.nowMs())
                }
            } catch {
                responder.fail(error)
            }
        }
    }

    /// Moving stock between locations.
    private func registerStockTransferRoutes() {
        let problem = RouteDoc.Reply.problem
        let stockReply = Self.stockReply

        router.add("POST", "/admin/v1/inventory/transfer", access: .roles(Self.stockRoles), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "transferStock", summary: "Move units between locations: out of one (within this node's rights there), into the other.",
            description: "Body: {\"sku\", \"from\", \"to\", \"units\", \"note\"?}. When the destination names a selling node, that node gets the rights to the units.",
            tags: ["inventory"], requestBody: .init(0, "The transfer.", schema: ["type": "object", "required": ["sku", "from", "to", "units"]]),
            replies: [stockReply, problem(409, "This node holds too few rights at the source."), problem(422, "Unknown SKU or location, same location, units out of range.")])
        ) { [unowned self] request, responder in
            do {
                let body = try request.decodeJSON(StockTransferBody.self)
                try knownSKU(body.sku)
                let from = try stockLocation(body.from, field: "from"), to = try stockLocation(body.to, field: "to"), note = try Self.note(body.note)
                guard from != to else { throw HTTPError(.validation, detail: "from and to must differ") }
                guard (1...1_000_000).contains(body.units) else { throw HTTPError(.validation, detail: "units must be 1 to 1000000") }
                let actor = request.subject ?? "admin", seller = location(to)?.node
                commitStock(body.sku, responder) { desk in
                    try desk.transfer(sku: body.sku, units: body.units, from: from, to: to, seller: seller, note: note, actor: actor, nowMs: WallClock.nowMs())
                }
            } catch {
                responder.fail(error)
            }
        }
    }
}
