import Commerce
import HTTP
import Platform

extension OutpostNode {
    /// Endpoints one node keeps: each is looked up on every change to an order it placed.
    static let webhookEndpointsMax = 32
    /// How long a rotated-out secret still signs, unless the request says otherwise.
    static let secretOverlapDefaultHours = 24

    func registerWebhookRoutes() {
        let endpointSchema: JSONValue = [
            "type": "object", "required": ["id", "url", "events", "created_at"],
            "properties": [
                "id": ["type": "string"], "url": ["type": "string"], "description": ["type": "string"],
                "events": ["type": "array", "items": ["type": "string"], "description": "Event types; [\"*\"] for all."],
                "created_at": ["type": "string", "format": "date-time"],
                "secret": ["type": "string", "description": "Only when created or rotated: the secret that signs deliveries."],
                "previous_secret_expires_at": ["type": "string", "format": "date-time"],
            ],
        ]
        router.get("/admin/v1/webhooks", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "listWebhooks", summary: "The webhook endpoints this node delivers its events to, and its deliveries by state.", tags: ["notifications"],
            replies: [.init(200, "Endpoints and counts.", schema: ["type": "object"])])
        ) { [unowned self] _ in
            let counts = try outbox.counts()
            return .json(.object([
                JSONMember("endpoints", .array(desks.notices.endpoints.map { endpointJSON($0, secret: nil) })),
                JSONMember("deliveries", .object(WebhookDelivery.State.allCases.map { JSONMember($0.rawValue, .int(Int64(counts[$0] ?? 0))) })),
            ]))
        }

        router.add("POST", "/admin/v1/webhooks", access: .roles(["operator"]), bodyBytesMax: 8192, doc: RouteDoc(
            operationId: "addWebhook", summary: "Register an endpoint: events this node records from now on are posted to it, signed with the secret in the answer.",
            description: "Body: {url, events?: [type…], description?, template?}. The secret is shown here and at rotation only. "
                + "A `template` {content_type: application/json | application/x-www-form-urlencoded | text/plain, headers: {name: value}, body: Mustache} "
                + "makes the endpoint a provider's API (SMS, push): each event's body is written from it (docs/notifications.md). Event types: "
                + OutboxEvent.Kind.allCases.map(\.rawValue).joined(separator: ", ") + ".",
            tags: ["notifications"], requestBody: .init(0, "The endpoint.", schema: ["type": "object", "required": ["url"]]),
            replies: [.init(201, "Registered.", schema: endpointSchema)])
        ) { [unowned self] request, responder in
            do {
                let endpoint = try newEndpoint(try request.decodeJSON(WebhookEndpointRequest.self))
                writer.submit({ [outbox] _ in try outbox.add(endpoint) }, completion: { [unowned self] result in
                    switch result {
                    case .success:
                        desks.notices.endpoints.append(endpoint)
                        logger.notice("webhook endpoint added", metadata: ["endpoint": "\(endpoint.id)", "url": "\(endpoint.url)"])
                        responder.send(.json(endpointJSON(endpoint, secret: endpoint.secret), status: 201))
                    case .failure(let error): responder.fail(error)
                    }
                })
            } catch {
                responder.fail(error)
            }
        }

        router.add("DELETE", "/admin/v1/webhooks/{id}", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "removeWebhook", summary: "Remove an endpoint; what was still to be delivered to it is dropped.", tags: ["notifications"],
            parameters: [.init("id", in: .path, description: "The endpoint's id.")], replies: [.init(204, "Removed.", contentType: nil)])
        ) { [unowned self] request, responder in
            let id = request.parameter("id") ?? ""
            writer.submit({ [outbox] _ in try outbox.remove(endpoint: id) }, completion: { [unowned self] result in
                switch result {
                case .success(true):
                    desks.notices.endpoints.removeAll { $0.id == id }
                    // A delivery under way keeps its connection until it ends; the next one finds no endpoint.
                    if !desks.notices.delivering.contains(id) { desks.notices.connections.removeValue(forKey: id)?.close() }
                    responder.send(.noContent())
                case .success(false): responder.fail(HTTPError(.notFound, detail: "no webhook endpoint \(id)"))
                case .failure(let error): responder.fail(error)
                }
            })
        }

        registerSecretRotationRoute(endpointSchema)
        registerDeadLetterRoutes()
    }

    private func registerSecretRotationRoute(_ endpointSchema: JSONValue) {
        router.add("POST", "/admin/v1/webhooks/{id}/rotate-secret", access: .roles(["operator"]), bodyBytesMax: 1024, doc: RouteDoc(
            operationId: "rotateWebhookSecret",
            summary: "A new secret for an endpoint; deliveries are signed with both until the old one expires (overlap_hours, default 24, 0-168).",
            tags: ["notifications"], parameters: [.init("id", in: .path, description: "The endpoint's id.")],
            replies: [.init(200, "The endpoint with its new secret.", schema: endpointSchema)])
        ) { [unowned self] request, responder in
            do {
                let id = request.parameter("id") ?? ""
                var hours = Self.secretOverlapDefaultHours
                if !request.body.isEmpty {
                    guard case .object(let members)? = LooseJSON.parse(request.body[...]) else { throw HTTPError(.validation, detail: "the body must be a JSON object") }
                    if let given = members["overlap_hours"] {
                        guard case .integer(let value) = given, (0...168).contains(value) else { throw HTTPError(.validation, detail: "overlap_hours must be 0-168") }
                        hours = Int(value)
                    }
                }
                let secret = Self.newWebhookSecret(), until = WallClock.nowMs() + Int64(hours) * 3_600_000
                writer.submit({ [outbox] _ in try outbox.rotateSecret(endpoint: id, to: secret, previousUntilMs: until) }, completion: { [unowned self] result in
                    switch result {
                    case .success(true):
                        guard let index = desks.notices.endpoints.firstIndex(where: { $0.id == id }) else { return responder.fail(HTTPError(.notFound, detail: "no webhook endpoint \(id)")) }
                        var endpoint = desks.notices.endpoints[index]
                        (endpoint.previousSecret, endpoint.previousUntilMs, endpoint.secret) = (endpoint.secret, until, secret)
                        desks.notices.endpoints[index] = endpoint
                        responder.send(.json(endpointJSON(endpoint, secret: secret)))
                    case .success(false): responder.fail(HTTPError(.notFound, detail: "no webhook endpoint \(id)"))
                    case .failure(let error): responder.fail(error)
                    }
                })
            } catch {
                responder.fail(error)
            }
        }
    }

    private func registerDeadLetterRoutes() {
        router.get("/admin/v1/webhooks/failed", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "listFailedWebhooks", summary: "Deliveries given up (the dead-letter list), newest first.", tags: ["notifications"],
            parameters: [.init("endpoint", in: .query, description: "Only this endpoint's."), .init("limit", in: .query, description: "At most this many (1-1000, default 100).")],
            replies: [.init(200, "The deliveries.", schema: ["type": "object"])])
        ) { [unowned self] request in
            let limit = try Self.limit(request.queryValue("limit"))
            let dead = try outbox.dead(endpoint: request.queryValue("endpoint"), limit: limit)
            return .json(.object([JSONMember("deliveries", .array(dead.map(deliveryJSON)))]))
        }

        router.add("POST", "/admin/v1/webhooks/failed/retry", access: .roles(["operator"]), bodyBytesMax: 1024, doc: RouteDoc(
            operationId: "retryFailedWebhooks",
            summary: "Put given-up deliveries back in line, due now, with a new 72 hours: one (endpoint and sequence), an endpoint's, or all ({}).",
            tags: ["notifications"], requestBody: .init(0, "Which: {endpoint?, sequence?}.", schema: ["type": "object"]),
            replies: [.init(200, "How many go again.", schema: ["type": "object"])])
        ) { [unowned self] request, responder in
            do {
                var endpoint: String?, sequence: Int64?
                if !request.body.isEmpty {
                    guard case .object(let members)? = LooseJSON.parse(request.body[...]) else { throw HTTPError(.validation, detail: "the body must be a JSON object") }
                    switch members["endpoint"] {
                    case nil, .null?: break
                    case .string(let value)?: endpoint = value
                    default: throw HTTPError(.validation, detail: "endpoint must be an endpoint's id")
                    }
                    switch members["sequence"] {
                    case nil, .null?: break
                    case .integer(let value)? where value > 0: sequence = value
                    default: throw HTTPError(.validation, detail: "sequence must be a delivery's sequence number")
                    }
                    guard sequence == nil || endpoint != nil else { throw HTTPError(.validation, detail: "give the endpoint with the sequence") }
                }
                let nowMs = WallClock.nowMs()
                writer.submit({ [outbox] _ in try outbox.retry(endpoint: endpoint, sequence: sequence, nowMs: nowMs) }, completion: { [unowned self] result in
                    switch result {
                    case .success(let count):
                        // The retried events come before what was taken since: the next burst starts at them.
                        if let endpoint { desks.notices.takenUpTo.removeValue(forKey: endpoint) } else { desks.notices.takenUpTo.removeAll() }
                        responder.send(.json(.object([JSONMember("retried", .int(Int64(count)))])))
                    case .failure(let error): responder.fail(error)
                    }
                })
            } catch {
                responder.fail(error)
            }
        }

        router.get("/admin/v1/notifications/status", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "notificationStatus", summary: "What this node's notifications are doing: endpoints, deliveries by state, and counts since start.",
            tags: ["notifications"], replies: [.init(200, "The status.", schema: ["type": "object"])])
        ) { [unowned self] _ in
            let counts = try outbox.counts(), desk = desks.notices, mailCounts = try mailQueue.counts(), mail = desks.mail
            return .json(.object([JSONMember("mail", .object([
                JSONMember("configured", .bool(config.mail != nil)),
                JSONMember("pending", .int(Int64(mailCounts[.pending] ?? 0))),
                JSONMember("sent", .int(Int64(mailCounts[.sent] ?? 0))),
                JSONMember("dead", .int(Int64(mailCounts[.dead] ?? 0))),
                JSONMember("since_start", .object([JSONMember("sent", .int(Int64(mail.sent))), JSONMember("retried", .int(Int64(mail.retried))),
                                                   JSONMember("dead", .int(Int64(mail.dead)))])),
            ])), JSONMember("webhooks", .object([
                JSONMember("endpoints", .int(Int64(desk.endpoints.count))),
                JSONMember("pending", .int(Int64(counts[.pending] ?? 0))),
                JSONMember("delivered", .int(Int64(counts[.delivered] ?? 0))),
                JSONMember("dead", .int(Int64(counts[.dead] ?? 0))),
                JSONMember("in_flight", .int(Int64(desk.delivering.count))),
                JSONMember("since_start", .object([JSONMember("sent", .int(Int64(desk.sent))), JSONMember("retried", .int(Int64(desk.retried))),
                                                   JSONMember("dead", .int(Int64(desk.dead)))])),
            ]))]))
        }
    }

    private static func limit(_ text: String?) throws -> Int {
        guard let text else { return 100 }
        guard let value = Int(text), (1...1_000).contains(value) else { throw HTTPError(.validation, detail: "limit must be 1-1000") }
        return value
    }

    /// A checked endpoint with a fresh id and secret, or the refusal.
    private func newEndpoint(_ body: WebhookEndpointRequest) throws -> WebhookEndpoint {
        if case .failure(let reason) = WebhookTarget.parse(body.url, allowsHTTP: config.webhooks.allowsHTTP) {
            throw HTTPError(.validation, detail: "url \(reason.text)")
        }
        var template: ProviderTemplate?
        if let given = body.template, given != .null {
            switch ProviderTemplate.parse(given) {
            case .success(let parsed): template = parsed
            case .failure(let reason): throw HTTPError(.validation, detail: reason.text)
            }
        }
        var types: [OutboxEvent.Kind] = []
        for name in body.events ?? [] where name != "*" {
            guard let kind = OutboxEvent.Kind(rawValue: name) else {
                throw HTTPError(.validation, detail: "unknown event type \"\(name)\"; known: \(OutboxEvent.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !types.contains(kind) { types.append(kind) }
        }
        let description = body.description ?? ""
        guard description.count <= 200, !description.contains(where: { $0.isNewline }) else {
            throw HTTPError(.validation, detail: "description must be one line of at most 200 characters")
        }
        guard desks.notices.endpoints.count < Self.webhookEndpointsMax else {
            throw HTTPError(.validation, detail: "this node has \(Self.webhookEndpointsMax) endpoints, the most it keeps; remove one first")
        }
        return WebhookEndpoint(id: "we_" + Hex.encode(SecureRandom.bytes(8)), url: body.url, types: types, description: description,
                               secret: Self.newWebhookSecret(), createdMs: WallClock.nowMs(), template: template?.stored)
    }

    static func newWebhookSecret() -> String { "whsec_" + Hex.encode(SecureRandom.bytes(24)) }

    private func endpointJSON(_ endpoint: WebhookEndpoint, secret: String?) -> JSONValue {
        var members = [
            JSONMember("id", .string(endpoint.id)), JSONMember("url", .string(endpoint.url)),
            JSONMember("events", .array(endpoint.types.isEmpty ? [.string("*")] : endpoint.types.map { .string($0.rawValue) })),
            JSONMember("description", .string(endpoint.description)),
            JSONMember("created_at", .string(WallClock.iso8601(ms: endpoint.createdMs))),
        ]
        if let secret { members.append(JSONMember("secret", .string(secret))) }
        if let stored = endpoint.template, let template = ProviderTemplate.parse(stored: stored) {
            // Header values hold the provider's API key: shown only when the endpoint is made.
            var shown = template
            if secret == nil { shown.headers = shown.headers.map { ProviderTemplate.Header(name: $0.name, value: "***") } }
            members.append(JSONMember("template", shown.jsonValue))
        }
        if let until = endpoint.previousUntilMs, until > WallClock.nowMs() {
            members.append(JSONMember("previous_secret_expires_at", .string(WallClock.iso8601(ms: until))))
        }
        return .object(members)
    }

    private func deliveryJSON(_ delivery: WebhookDelivery) -> JSONValue {
        var members = [
            JSONMember("endpoint", .string(delivery.endpoint)), JSONMember("sequence", .int(delivery.sequence)),
            JSONMember("event_id", .string(delivery.event.id)), JSONMember("type", .string(delivery.event.kind.rawValue)),
            JSONMember("subject", .string(delivery.event.subject)), JSONMember("state", .string(delivery.state.rawValue)),
            JSONMember("attempts", .int(Int64(delivery.attempts))),
        ]
        if let ms = delivery.firstAttemptMs { members.append(JSONMember("first_attempt_at", .string(WallClock.iso8601(ms: ms)))) }
        if let ms = delivery.lastAttemptMs { members.append(JSONMember("last_attempt_at", .string(WallClock.iso8601(ms: ms)))) }
        if let status = delivery.lastStatus { members.append(JSONMember("last_status", .int(Int64(status)))) }
        if let error = delivery.lastError { members.append(JSONMember("last_error", .string(error))) }
        return .object(members)
    }
}
