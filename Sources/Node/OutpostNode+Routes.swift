import Commerce
import HTTP
import Platform

extension OutpostNode {
    /// Every route the node serves. Each carries its OpenAPI description.
    func registerRoutes() {
        registerOperationsRoutes()
        registerNodeRoutes()
        registerReplicatedRoutes()
        registerPeerRoutes()
        registerFirmwareRoutes()
        registerBackupRoutes()
        registerCatalogRoutes()
        registerTokenRoutes()
        registerCustomerRoutes()
        registerAccountRoutes()
        registerCartRoutes()
        registerCheckoutRoutes()
        registerOrderRoutes()
        registerPaymentDueRoutes()
        registerInventoryRoutes()
        registerPromotionRoutes()
        registerShippingRoutes()
        registerFulfilmentRoutes()
        registerReturnRoutes()
        registerLedgerRoutes()
        registerLedgerCheckpointRoutes()
        registerReportRoutes()
        registerStaffAccountRoutes()
        registerReviewRoutes()
        registerWebhookRoutes()
        registerTillAccessRoutes()
        registerTillSaleRoutes()
        registerTillReturnRoutes()
        registerTillShiftRoutes()
        registerShopPages()
        registerStorefrontRoutes()
        registerReviewPages()
        registerOfficePages()
    }

    /// Liveness, readiness and metrics: what a load balancer and a scraper ask.
    private func registerOperationsRoutes() {
        router.get("/healthz", doc: RouteDoc(
            operationId: "getHealth", summary: "Liveness: the process is up and its loop answers.", tags: ["operations"],
            replies: [.init(200, "The process is up.", schema: Schemas.ref("Health"))])
        ) { _ in .json(["status": "ok"]) }

        router.get("/readyz", doc: RouteDoc(
            operationId: "getReadiness", summary: "Readiness: database open, migrations applied, the disk takes writes, not draining.", tags: ["operations"],
            replies: [
                .init(200, "Ready for traffic.", schema: Schemas.ref("Readiness")),
                .init(503, "Starting or stopping, or the disk is full or failed (`storage`); send traffic elsewhere.",
                      contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef),
            ])
        ) { [unowned self] _ in
            guard self.life.isReady, !self.database.isClosed,
                  self.database.answers else {
                throw HTTPError(.notReady, detail: self.life.isReady ? "the database does not answer" : "the node is starting or stopping")
            }
            guard !self.life.restore.isCatchingUp else {
                var error = HTTPError(.notReady, detail: "restored from a backup: catching up with its peers before it takes writes")
                error.problem.extensions = [("restore", .string("catching_up"))]
                throw error
            }
            guard self.life.storage.acceptsWrites else {
                var error = HTTPError(.notReady, detail: self.life.storage.state == .full
                    ? "the disk is full: the node takes no writes (since \(WallClock.iso8601(ms: self.life.storage.sinceMs)))"
                    : "the storage failed: the node is stopping")
                error.problem.extensions = [("storage", .string(self.life.storage.state.rawValue))]
                throw error
            }
            return .json(["status": "ready", "checks": ["database": "ok", "storage": "ok", "schema_version": .int(Int64(self.life.schemaVersion))]])
        }

        // What the node is doing is an operator's business: the admin token or an operator's
        // token, unless the configuration opens it (a scraper on a trusted network).
        router.get("/metrics", access: config.http.publicMetrics ? .anyone : .roles(["operator"]), doc: RouteDoc(
            operationId: "getMetrics", summary: "Prometheus metrics (text exposition format 0.0.4).",
            description: "Takes the admin token or an operator's token unless `http.public_metrics` is true.", tags: ["operations"],
            replies: [.init(200, "Metrics.", contentType: PrometheusText.contentType, schema: ["type": "string"])])
        ) { [unowned self] _ in
            .text(self.renderMetrics(), contentType: PrometheusText.contentType)
        }
    }

    /// The node's public facts, its operator status, the OpenAPI document and the problem types.
    private func registerNodeRoutes() {
        router.get("/api/v1/node", doc: RouteDoc(
            operationId: "getNode", summary: "Public facts about this node: id, region, role, version, uptime.", tags: ["node"],
            replies: [.init(200, "The node.", schema: Schemas.ref("NodeInfo"))])
        ) { [unowned self] _ in
            .json(bytes: self.nodeInfoBody())
        }

        router.get("/admin/v1/status", access: .adminToken, doc: RouteDoc(
            operationId: "getStatus", summary: "Operator status: identity, uptime, database size, addresses, load.",
            description: "What `nodectl status` shows.", tags: ["admin"],
            replies: [.init(200, "Status.", schema: Schemas.ref("NodeStatus"))])
        ) { [unowned self] _ in
            .json(try self.statusReport())
        }

        router.get("/openapi.json", doc: RouteDoc(
            operationId: "getOpenAPI", summary: "This API's OpenAPI 3.1 description.", tags: ["operations"],
            replies: [.init(200, "The OpenAPI document.", schema: ["type": "object"])])
        ) { [unowned self] _ in
            .json(bytes: self.caches.openAPIBody)
        }

        router.get("/problems/{slug}", doc: RouteDoc(
            operationId: "getProblemType", summary: "What a problem `type` means, for humans and tools.", tags: ["operations"],
            parameters: [.init("slug", in: .path, description: "The last segment of a problem's `type`, e.g. not-found.")],
            replies: [.init(200, "The problem type.", schema: Schemas.ref("ProblemType"))])
        ) { request in
            guard let slug = request.parameter("slug"), let type = OutpostNode.problemCatalog.first(where: { $0.slug == slug }) else {
                throw HTTPError(.notFound, detail: "no problem type \"\(request.parameter("slug") ?? "")\"")
            }
            return .json(["type": .string(type.uri), "slug": .string(type.slug), "title": .string(type.title),
                          "status": .int(Int64(type.status)), "explanation": .string(type.explanation)])
        }

    }

    /// Re-encoded at most once a second: uptime is the only part that changes.
    func nodeInfoBody() -> [UInt8] {
        let uptime = life.uptimeSeconds
        if uptime != caches.nodeInfo.uptimeSeconds {
            let info = NodeInfo(id: identity.nodeId, region: config.region, role: config.role.rawValue,
                                version: OutpostVersion.current, uptimeSeconds: uptime)
            caches.nodeInfo = (uptime, (try? JSONCoding.encode(info)) ?? [])
        }
        return caches.nodeInfo.body
    }

    func statusReport() throws -> NodeStatusReport {
        var report = NodeStatusReport(
            nodeId: identity.nodeId, region: config.region, role: config.role.rawValue, version: OutpostVersion.current,
            uptimeSeconds: life.uptimeSeconds, startedAt: WallClock.iso8601(ms: life.startedAtMs),
            databaseBytes: try database.sizeBytes(), schemaVersion: life.schemaVersion, addresses: life.baseURLs,
            dataDir: dataDirectory, connectionsOpen: server.openConnectionCount,
            residentMemoryBytes: ProcessStats.residentBytes(), pid: ProcessStats.processID, starts: life.starts)
        report.configuration = config.source ?? NodeStatusReport.embeddedDefaults
        report.restore = life.restore.summary
        return report
    }

    func renderMetrics() -> String {
        var out = PrometheusText()
        server.metrics.render(into: &out)
        out.gauge("outpost_node_info", help: "Identity of this node; always 1.", value: 1, labels: [
            ("node_id", identity.nodeId), ("region", config.region), ("role", config.role.rawValue), ("version", OutpostVersion.current),
        ])
        out.gauge("outpost_ready", help: "1 while the node takes traffic.", value: life.isReady && life.storage.acceptsWrites ? 1 : 0)
        out.gauge("outpost_storage_writable", help: "1 while the disk takes writes; 0 while it is full or failed (docs/operations.md).",
                  value: life.storage.acceptsWrites ? 1 : 0)
        out.counter("outpost_storage_probes_total", help: "Writes tried on a full disk to see whether it takes them again.", value: Double(life.storage.probes))
        out.counter("outpost_storage_batches_refused_total", help: "Group commits refused without touching the disk while it was full or failed.",
                    value: Double(writer.batchesRefused))
        out.counter("outpost_replica_evictions_total", help: "Replicated states dropped from memory once written (a large catalog's products).",
                    value: Double(replica.evictions))
        out.counter("outpost_replica_reloads_total", help: "Times replicated data was read back from disk after a failed commit.", value: Double(replica.reloads))
        if let limiter = server.rateLimiter {
            out.family("outpost_http_rate_limited_total", type: "counter", help: "Requests refused 429 by the rate limits, per route class.")
            for rateClass in RateClass.allCases {
                out.sample("outpost_http_rate_limited_total", labels: [("class", rateClass.name)], value: Double(limiter.refused[rateClass.rawValue]))
            }
        }
        renderDatabaseMetrics(into: &out)
        renderCacheMetrics(into: &out)
        renderSyncMetrics(into: &out)
        renderMoneyMetrics(into: &out)
        renderSalesMetrics(into: &out)
        renderNotificationMetrics(into: &out)
        out.gauge("process_resident_memory_bytes", help: "Resident memory size in bytes.", value: Double(ProcessStats.residentBytes()))
        out.gauge("process_open_fds", help: "Open file descriptors.", value: Double(ProcessStats.openFileDescriptors()))
        out.gauge("process_start_time_seconds", help: "Start time of the process since the Unix epoch in seconds.",
                  value: Double(life.startedAtMs / 1000))
        return out.text
    }

    private func renderNotificationMetrics(into out: inout PrometheusText) {
        let desk = desks.notices, mail = desks.mail
        for (name, help, webhook, mailed) in [
            ("outpost_notifications_sent_total", "Notifications delivered since start, per channel.", desk.sent, mail.sent),
            ("outpost_notifications_retried_total", "Failed deliveries scheduled to be tried again since start, per channel.", desk.retried, mail.retried),
            ("outpost_notifications_dead_total", "Deliveries given up since start (dead letters), per channel.", desk.dead, mail.dead),
        ] {
            out.family(name, type: "counter", help: help)
            out.sample(name, labels: [("channel", "webhook")], value: Double(webhook))
            out.sample(name, labels: [("channel", "mail")], value: Double(mailed))
        }
        out.gauge("outpost_webhook_endpoints", help: "Webhook endpoints registered on this node.", value: Double(desk.endpoints.count))
        out.gauge("outpost_webhook_deliveries_in_flight", help: "Webhook deliveries being posted now.", value: Double(desk.delivering.count))
    }

    private func renderDatabaseMetrics(into out: inout PrometheusText) {
        out.gauge("outpost_database_bytes", help: "Size of the node database file, excluding the WAL.",
                  value: Double((try? database.sizeBytes()) ?? 0))
        out.gauge("outpost_database_wal_bytes", help: "Size of the database's write-ahead log.",
                  value: Double(Files.size(dataDirectory + "/" + Self.databaseFile + "-wal")))
        out.counter("outpost_database_group_commits_total", help: "Group-commit transactions committed.", value: Double(writer.commits))
        out.counter("outpost_database_writes_committed_total", help: "Durable writes acknowledged after commit.", value: Double(writer.writesCommitted))
    }

    private func renderCacheMetrics(into out: inout PrometheusText) {
        let cache = caches.responses
        out.counter("outpost_cache_hits_total", help: "Catalog answers served from the response cache.", value: Double(cache.hits))
        out.counter("outpost_cache_misses_total", help: "Catalog answers rendered (absent or stale in the cache).", value: Double(cache.misses))
        out.counter("outpost_cache_evictions_total", help: "Cached answers dropped to stay within cache.bytes_max.", value: Double(cache.evictions))
        out.counter("outpost_cache_declined_total", help: "Answers to queries not kept because they were asked for only once so far.",
                    value: Double(cache.declined))
        out.counter("outpost_cache_invalidations_total", help: "Cached answers found stale after a local or replicated change.", value: Double(cache.invalidations))
        out.gauge("outpost_cache_bytes", help: "Bytes held by the response cache.", value: Double(cache.bytes))
        out.gauge("outpost_cache_entries", help: "Answers held by the response cache.", value: Double(cache.count))
        out.gauge("outpost_cache_hit_ratio", help: "Hits over lookups since the start (0 before any).",
                  value: cache.hits + cache.misses == 0 ? 0 : Double(cache.hits) / Double(cache.hits + cache.misses))
    }

    private func renderSyncMetrics(into out: inout PrometheusText) {
        if let sync = fleet.sync {
            let peers = sync.status(digests: false)
            out.family("outpost_sync_peer_connected", type: "gauge", help: "1 while the link to a peer is up.")
            for peer in peers { out.sample("outpost_sync_peer_connected", labels: [("peer", peer.nodeId)], value: peer.connected ? 1 : 0) }
            out.family("outpost_sync_deltas_behind", type: "gauge", help: "Replication lag: deltas one side has and the other lacks, per peer and direction.")
            for peer in peers {
                let outgoing = peer.collections.reduce(0) { $0 + $1.deltasBehindOutgoing }
                let incoming = peer.collections.reduce(0) { $0 + $1.deltasBehindIncoming }
                out.sample("outpost_sync_deltas_behind", labels: [("peer", peer.nodeId), ("direction", "outgoing")], value: Double(outgoing))
                out.sample("outpost_sync_deltas_behind", labels: [("peer", peer.nodeId), ("direction", "incoming")], value: Double(incoming))
            }
            out.family("outpost_sync_seconds_behind", type: "gauge", help: "Age of the oldest delta a peer lacks.")
            for peer in peers {
                out.sample("outpost_sync_seconds_behind", labels: [("peer", peer.nodeId)],
                           value: Double(peer.collections.map(\.secondsBehindOutgoing).max() ?? 0))
            }
            out.counter("outpost_sync_connections_refused_total", help: "Connections to the sync port closed before their handshake: too many pending in all or from one address.",
                        value: Double(sync.connectionsRefused))
            out.family("outpost_sync_bytes_total", type: "counter", help: "Bytes on sync links, per peer and direction.")
            for peer in peers {
                out.sample("outpost_sync_bytes_total", labels: [("peer", peer.nodeId), ("direction", "sent")], value: Double(peer.bytesSent))
                out.sample("outpost_sync_bytes_total", labels: [("peer", peer.nodeId), ("direction", "received")], value: Double(peer.bytesReceived))
            }
        }
    }

    /// Offline card payments, orders owing a payment and, on the hub, settlement.
    private func renderMoneyMetrics(into out: inout PrometheusText) {
        let offline = (try? offlinePayments.summary(nowMs: WallClock.nowMs())) ?? (open: 0, exposure: 0, overdue: 0)
        out.gauge("outpost_card_payments_online", help: "1 while card payments go to the acquirer; 0 while the hub is out of reach (store-and-forward).",
                  value: cardPaymentsOnline ? 1 : 0)
        out.gauge("outpost_offline_payments_open", help: "Card payments taken offline that the hub has not answered yet.", value: Double(offline.open))
        out.gauge("outpost_offline_exposure_minor", help: "What those payments add up to, in minor units of the node's currency.", value: Double(offline.exposure))
        out.gauge("outpost_offline_payments_overdue", help: "Offline card payments past their settlement deadline and still unanswered: act now.",
                  value: Double(offline.overdue))
        let owing = (try? ordersOwingPaymentCount()) ?? 0
        out.gauge("outpost_orders_payment_failed", help: "Orders of this node whose offline card was declined: collect another tender or cancel them.",
                  value: Double(owing))
        if let settlement = fleet.settlement {
            let queued = (try? settlementQueue.count()) ?? 0
            out.gauge("outpost_settlement_queue", help: "Hub: payments waiting for settlement.", value: Double(queued))
            out.counter("outpost_settlement_transfers_total", help: "Hub: ledger transfers recorded by settlement since the start.",
                        value: Double(settlement.transfersCreated))
            out.counter("outpost_settlements_total", help: "Hub: sales, voids and refunds settled since the start.", value: Double(settlement.paymentsSettled))
            out.counter("outpost_settlement_deadlines_missed_total", help: "Hub: offline card payments whose hold expired unsettled, since the start.",
                        value: Double(settlement.deadlinesMissed))
        }
    }

    func openAPIDocument() -> JSONValue {
        OpenAPIDocument.build(
            router: router, title: "Outpost node API", version: OutpostVersion.current,
            description: "The HTTP API of one Outpost node. Errors are RFC 9457 problem details (application/problem+json) whose `type` is stable; GET /problems/{slug} explains each.",
            schemas: Schemas.all, securitySchemes: Self.tillSecuritySchemes, webhooks: Self.webhookDocs)
    }

    /// Every event type a webhook endpoint may receive, each a POST of a `WebhookEvent`.
    static var webhookDocs: [(String, JSONValue)] {
        OutboxEvent.Kind.allCases.map { kind in
            (kind.rawValue, ["post": [
                "summary": .string("The \(kind.rawValue) event, posted to each endpoint subscribed to it (docs/notifications.md)."),
                "parameters": [
                    ["name": "Outpost-Signature", "in": "header", "required": true, "schema": ["type": "string"],
                     "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\"> (one v1 per secret while a rotation overlaps)."],
                    ["name": "Outpost-Event-Id", "in": "header", "required": true, "schema": ["type": "string"], "description": "The event's id: drop a delivery whose id you have."],
                    ["name": "Outpost-Event-Type", "in": "header", "required": true, "schema": ["type": "string"]],
                    ["name": "Outpost-Delivery-Attempt", "in": "header", "required": true, "schema": ["type": "integer"]],
                ],
                "requestBody": ["required": true, "content": ["application/json": ["schema": Schemas.ref("WebhookEvent")]]],
                "responses": [
                    "2XX": ["description": "Taken: not sent again."],
                    "default": ["description": "Anything else, or no answer within the timeout: sent again with back-off for 72 hours."],
                ],
            ]])
        }
    }
}

/// JSON Schemas of the node's response bodies, for /openapi.json.
enum Schemas {
    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }

    private static let string: JSONValue = ["type": "string"]
    private static let integer: JSONValue = ["type": "integer"]

    static let all: [(String, JSONValue)] = [
        ("WebhookEvent", [
            "type": "object", "required": ["id", "type", "sequence", "subject", "occurred_at", "data"],
            "properties": [
                "id": ["type": "string", "description": "evt_ and 32 hex digits; the same event has the same id on every delivery."],
                "type": ["type": "string", "enum": .array(OutboxEvent.Kind.allCases.map { .string($0.rawValue) })],
                "sequence": ["type": "integer", "description": "This node's order of its events: an endpoint receives them in this order."],
                "subject": ["type": "string", "description": "The order's id; for stock.low the `sku@location`; for payment events and differences the payment's id; for settlement.batch the hub."],
                "occurred_at": ["type": "string", "format": "date-time"],
                "data": [
                    "type": "object", "required": ["node"],
                    "properties": [
                        "order": string, "number": string, "customer": ["type": "string", "description": "The customer's id; absent for a guest."],
                        "node": ["type": "string", "description": "The node that recorded the event."],
                        "currency": string, "total": ["type": "integer", "description": "order.placed: minor units."],
                        "amount": ["type": "integer", "description": "order.paid, order.refunded, order.payment_failed: minor units."],
                        "payment": string, "carrier": string, "tracking": string, "reason": string,
                        "return": ["type": "string", "description": "Return steps: the return's id."],
                        "sku": ["type": "string", "description": "stock.low: the SKU."], "location": ["type": "string", "description": "stock.low: the stock location."],
                        "available": ["type": "integer", "description": "stock.low: units left there."], "mark": ["type": "integer", "description": "stock.low: the low-stock mark."],
                        "deadline": ["type": "string", "format": "date-time", "description": "payment.offline_overdue: when the hub should have answered."],
                        "taken": ["type": "string", "format": "date-time", "description": "payment.offline_overdue: when the card was taken."],
                        "transfers": ["type": "integer", "description": "settlement.batch: journal transfers written."],
                        "payments_settled": ["type": "integer", "description": "settlement.batch: payments fully settled by it."],
                        "payments": ["type": "integer", "description": "settlement.batch: payments the batch looked at."],
                        "refused": ["type": "integer", "description": "settlement.batch: transfers the journal refused."],
                        "kind": ["type": "string", "description": "reconciliation.difference: missing_in_ledger, amount_mismatch…"],
                        "window": ["type": "string", "description": "reconciliation.difference: the reconciled window, from/to."],
                        "detail": ["type": "string"],
                        "payments_amount": integer, "ledger_amount": integer, "acquirer_amount": integer,
                        "lines": ["type": "array", "description": "order.placed: what was bought.", "items": [
                            "type": "object", "properties": ["sku": string, "product_id": string, "name": string, "quantity": integer, "unit_price": integer],
                        ]],
                        "items": ["type": "array", "description": "Shipments, deliveries and return steps: the units they cover.", "items": [
                            "type": "object", "properties": ["sku": string, "quantity": integer, "reason": string, "disposition": string],
                        ]],
                    ],
                ],
            ],
        ]),
        ("Health", ["type": "object", "required": ["status"], "properties": ["status": ["const": "ok"]]]),
        ("Readiness", [
            "type": "object", "required": ["status", "checks"],
            "properties": ["status": ["const": "ready"], "checks": ["type": "object"]],
        ]),
        ("NodeInfo", [
            "type": "object", "required": ["id", "region", "role", "version", "uptime_seconds"],
            "properties": [
                "id": string, "region": string, "role": ["enum": ["store", "regional", "hub"]],
                "version": string, "uptime_seconds": integer,
            ],
        ]),
        ("NodeStatus", [
            "type": "object",
            "required": ["node_id", "region", "role", "version", "uptime_seconds", "started_at", "database_bytes",
                         "schema_version", "addresses", "data_dir", "connections_open", "resident_memory_bytes", "pid", "starts"],
            "properties": [
                "node_id": string, "region": string, "role": ["enum": ["store", "regional", "hub"]], "version": string,
                "uptime_seconds": integer, "started_at": ["type": "string", "format": "date-time"],
                "database_bytes": integer, "schema_version": integer,
                "addresses": ["type": "array", "items": string], "data_dir": string, "connections_open": integer,
                "resident_memory_bytes": integer, "pid": integer, "starts": integer,
            ],
        ]),
        ("ProblemType", [
            "type": "object", "required": ["type", "slug", "title", "status", "explanation"],
            "properties": ["type": string, "slug": string, "title": string, "status": integer, "explanation": string],
        ]),
    ]
}
