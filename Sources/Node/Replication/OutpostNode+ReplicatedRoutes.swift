import Commerce
import HTTP
import Persistence
import Platform
import Replication

/// One change to a replicated key, as the admin API takes it.
struct ReplicatedOperation: Decodable {
    /// catalog: set, remove; carts: set, remove; inventory: increment, decrement, transfer; orders, payments: add.
    var op: String
    var field: String?
    var value: FieldValue?
    var sku: String?
    var quantity: Int64?
    var units: UInt64?
    var to: String?
    var event: String?
}

extension OutpostNode {
    static let keyBytesMax = 200

    func registerReplicatedRoutes() {
        registerReplicationStatusRoutes()
        registerReplicatedKeyRoutes()
    }

    /// What this node replicates, and its sync links.
    private func registerReplicationStatusRoutes() {
        router.get("/admin/v1/replicated", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "listReplicated", summary: "Replicated collections: scope, applied and compacted vectors, digest, size, whether all in memory.",
            description: """
                Digests cost a pass over each collection's state, and read a history collection kept on disk (`resident`: false) \
                whole first; `?digests=false` leaves them out (for frequent progress checks).
                """,
            tags: ["replication"],
            parameters: [.init("digests", in: .query, description: "false to leave out the digests.", schema: ["type": "boolean"])],
            replies: [.init(200, "The collections.", schema: ["type": "object"])])
        ) { [unowned self] request in
            let withDigests = request.queryValue("digests") != "false"
            return .json(.object(Collections.names.compactMap { name in
                // A digest reads a collection kept on disk whole (once): before what it shows.
                let summary = withDigests ? self.replica.summary(of: name) : nil
                guard let collection = self.replica.memory.collections[name] else { return nil }
                var members: [JSONMember] = [
                    JSONMember("scope", .string(collection.scope.rawValue)),
                    JSONMember("applied", Self.json(collection.applied)),
                    JSONMember("compacted_through", Self.json(collection.compactedThrough)),
                    JSONMember("keys", .int(Int64(self.replica.keyCount(of: name)))),
                    JSONMember("resident", .bool(collection.isFullyResident)),
                    JSONMember("log_entries", .int(Int64(collection.logCount))),
                ]
                if let summary {
                    members.append(JSONMember("digest", .string(Hex.encode(summary.digest))))
                }
                return JSONMember(name, .object(members))
            }))
        }

        router.get("/admin/v1/sync/status", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "getSyncStatus", summary: "Per peer: connection, last contact, deltas and seconds behind each way, bytes, digests.",
            description: "What `nodectl sync status` shows.", tags: ["replication"],
            replies: [.init(200, "Sync status.", schema: ["type": "object"])])
        ) { [unowned self] _ in
            .json(SyncStatusReport(nodeId: self.identity.nodeId, region: self.config.region,
                                   listen: self.fleet.sync?.listenAddress?.description, peers: self.fleet.sync?.status() ?? [],
                                   settlementLeader: self.settlementLeaderReport))
        }
    }

    /// One replicated key: read, and an operator's repair.
    private func registerReplicatedKeyRoutes() {
        let keyParameters: [RouteDoc.Parameter] = [
            .init("collection", in: .path, description: "catalog, carts, customers (read only), inventory, orders or payments.",
                  schema: ["enum": .array(Collections.names.map { .string($0) })]),
            .init("key", in: .path, description: "Product id, cart id, sku@location, order id or payment id."),
        ]
        router.get("/admin/v1/replicated/{collection}/{key}", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "getReplicated", summary: "The replicated state at one key.", tags: ["replication"], parameters: keyParameters,
            replies: [.init(200, "The state.", schema: ["type": "object"])])
        ) { [unowned self] request in
            let (collection, key) = try Self.address(request)
            return .json(["collection": .string(collection), "key": .string(key), "state": self.view(collection, key)])
        }

        router.add("POST", "/admin/v1/replicated/{collection}/{key}", access: .roles(["operator"]), bodyBytesMax: 64 * 1024, doc: RouteDoc(
            operationId: "changeReplicated", summary: "Apply one change to a replicated key; answered once it is committed.",
            description: """
                Body: {"op": ...}. catalog: set {field, value} / remove {field}; carts: set {sku, quantity} / remove {sku}; \
                inventory: increment {units} / decrement {units} / transfer {units, to}; orders, payments: add {event}.
                """,
            tags: ["replication"], parameters: keyParameters,
            requestBody: .init(0, "The change.", schema: ["type": "object", "required": ["op"]]),
            replies: [
                .init(200, "Committed: the change's dot and the key's state.", schema: ["type": "object"]),
                .init(409, "Not enough stock rights on this node.", contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef),
            ])
        ) { [unowned self] request, responder in
            do {
                let (collection, key) = try Self.address(request)
                let operation = try request.decodeJSON(ReplicatedOperation.self)
                let change = try self.change(for: operation, collection: collection, key: key)
                let replica = self.replica
                self.writer.submit({ _ in try change(replica, WallClock.nowMs()) }, completion: { [unowned self] result in
                    switch result {
                    case .success(let wire):
                        responder.send(.json(["dot": .string("\(wire.dot)"), "collection": .string(collection), "key": .string(key),
                                              "state": self.view(collection, key)]))
                        self.replicatedChanged()
                    case .failure(let error):
                        responder.fail(error)
                    }
                })
            } catch {
                responder.fail(error)
            }
        }
    }

    /// Called after local changes: links send what their peers lack.
    func replicatedChanged() {
        fleet.sync?.replicaChanged()
    }

    private static func address(_ request: Request) throws(HTTPError) -> (String, String) {
        guard let collection = request.parameter("collection"), Collections.names.contains(collection) else {
            throw HTTPError(.notFound, detail: "no replicated collection \"\(request.parameter("collection") ?? "")\"; there are \(Collections.names.joined(separator: ", "))")
        }
        guard let key = request.parameter("key"), !key.isEmpty, key.utf8.count <= keyBytesMax else {
            throw HTTPError(.badRequest, detail: "the key must be 1 to \(keyBytesMax) bytes")
        }
        return (collection, key)
    }

    /// Validates an operation and returns the write that commits it (run inside group commit).
    private func change(for operation: ReplicatedOperation, collection: String, key: String) throws -> (NodeReplica, Int64) throws -> WireDelta {
        typealias C = Collections
        func required<T>(_ value: T?, _ name: String) throws(HTTPError) -> T {
            guard let value else { throw HTTPError(.validation, detail: "\(name) is required for \(operation.op)") }
            return value
        }
        let me = identity.nodeId
        switch (collection, operation.op) {
        case ("catalog", "set"):
            let field = try required(operation.field, "field"), value = try required(operation.value, "value")
            return { replica, wall in
                var state = replica.state(at: key, in: collection, as: C.Product.self) ?? C.Product()
                let at = replica.tick(wallMs: wall)
                return try replica.commit(state.update(field, replica: me) { $0.set(value, at: at) }, key: key, in: collection, at: at)
            }
        case ("catalog", "remove"):
            let field = try required(operation.field, "field")
            return { replica, wall in
                var state = replica.state(at: key, in: collection, as: C.Product.self) ?? C.Product()
                return try replica.commit(state.remove(field), key: key, in: collection, at: replica.tick(wallMs: wall))
            }
        case ("carts", "set"):
            let sku = try required(operation.sku, "sku"), quantity = try required(operation.quantity, "quantity")
            guard quantity > 0 else { throw HTTPError(.validation, detail: "quantity must be positive; use remove to drop a line") }
            return { replica, wall in
                var state = replica.state(at: key, in: collection, as: C.Cart.self) ?? C.Cart()
                let at = replica.tick(wallMs: wall)
                return try replica.commit(state.update(sku, replica: me) { $0.set(quantity, at: at) }, key: key, in: collection, at: at)
            }
        case ("carts", "remove"):
            let sku = try required(operation.sku, "sku")
            return { replica, wall in
                var state = replica.state(at: key, in: collection, as: C.Cart.self) ?? C.Cart()
                return try replica.commit(state.remove(sku), key: key, in: collection, at: replica.tick(wallMs: wall))
            }
        case ("inventory", "increment"), ("inventory", "decrement"), ("inventory", "transfer"),
             ("redemptions", "increment"), ("redemptions", "decrement"), ("redemptions", "transfer"):
            let units = try required(operation.units, "units")
            guard units > 0, units <= BoundedCounter.entryUnitsMax else { throw HTTPError(.validation, detail: "units must be 1 to \(BoundedCounter.entryUnitsMax)") }
            let target = operation.op == "transfer" ? try required(operation.to, "to") : nil
            if let target, target == me || !NodeConfig.isValidName(target) {
                throw HTTPError(.validation, detail: "to must be another node's id")
            }
            return { replica, wall in
                var stock = replica.state(at: key, in: collection, as: C.Stock.self) ?? C.Stock()
                let delta: C.Stock
                do throws(BoundedCounter.Refusal) {
                    switch operation.op {
                    case "increment": delta = try stock.increment(by: units, replica: me)
                    case "decrement": delta = try stock.decrement(by: units, replica: me)
                    default: delta = try stock.transfer(units, from: me, to: target ?? "")
                    }
                } catch {
                    guard case let .insufficientRights(available, requested) = error else { throw error.httpError }
                    // Ask a peer holding rights; the till retries and finds them arrived.
                    if operation.op == "decrement" { self.fleet.sync?.requestRights(key: key, in: collection, units: requested - UInt64(max(0, available))) }
                    throw StockRefusal.insufficientRights(key: key, available: available, requested: requested)
                }
                return try replica.commit(delta, key: key, in: collection, at: replica.tick(wallMs: wall))
            }
        case ("orders", "add"), ("payments", "add"):
            let event = try required(operation.event, "event")
            guard !event.isEmpty, event.utf8.count <= 4096 else { throw HTTPError(.validation, detail: "event must be 1 to 4096 bytes") }
            return { replica, wall in try replica.commit(C.Events([event]), key: key, in: collection, at: replica.tick(wallMs: wall)) }
        default:
            throw HTTPError(.validation, detail: "\(collection) has no operation \"\(operation.op)\"")
        }
    }

    /// The state at a key as JSON.
    func view(_ collection: String, _ key: String) -> JSONValue {
        typealias C = Collections
        switch collection {
        case "catalog", "customers", "reviews", "published_reviews":
            let entry = replica.state(at: key, in: collection, as: C.Product.self) ?? C.Product()
            return ["fields": .object(entry.keys.sorted().compactMap { field in
                // Personal fields are sealed already; a password hash is not shown at all.
                if collection == "customers" && field == "password" { return JSONMember(field, "(scrypt hash)") }
                return entry[field]?.value.map { JSONMember(field, Self.json($0)) }
            })]
        case "carts":
            let cart = replica.state(at: key, in: collection, as: C.Cart.self) ?? C.Cart()
            return ["lines": .object(cart.keys.sorted().compactMap { sku in cart[sku]?.value.map { JSONMember(sku, .int($0)) } })]
        case "inventory", "redemptions":
            let stock = replica.state(at: key, in: collection, as: C.Stock.self) ?? C.Stock()
            return ["value": .int(stock.value),
                    "rights": .object(stock.replicas.sorted().map { JSONMember($0, .int(stock.rights(of: $0))) })]
        default:
            let events = replica.state(at: key, in: collection, as: C.Events.self) ?? C.Events()
            return ["events": .array(events.elements.sorted().map { .string($0) })]
        }
    }

    static func json(_ vector: VersionVector) -> JSONValue {
        .object(vector.counters.sorted { $0.key < $1.key }.map { JSONMember($0.key, .int(Int64($0.value))) })
    }

    static func json(_ value: FieldValue) -> JSONValue {
        switch value {
        case .text(let text): return .string(text)
        case .integer(let number): return .int(number)
        case .flag(let flag): return .bool(flag)
        }
    }
}
