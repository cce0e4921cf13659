import Commerce
import HTTP
import Mustache
import Platform

/// An endpoint as the admin API takes it.
struct WebhookEndpointRequest: Decodable, Sendable {
    var url: String
    /// Event types; absent or empty for every type.
    var events: [String]?
    var description: String?
    /// A provider's API: how each event's body is written (`ProviderTemplate`).
    var template: LooseJSON?
}

/// Where a webhook goes, checked: scheme, host, port and the path with its query.
struct WebhookTarget: Equatable, Sendable {
    var secure: Bool
    var host: String
    var port: UInt16
    var path: String

    var origin: String { (secure ? "https://" : "http://") + (host.contains(":") ? "[\(host)]" : host) + ":\(port)" }

    /// Nil with the reason when `url` is not one a node posts to.
    static func parse(_ url: String, allowsHTTP: Bool) -> Result<WebhookTarget, ValidationReason> {
        guard url.utf8.count <= 2_048, !url.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? false }) else {
            return .failure("must be an absolute URL of at most 2,048 characters without spaces")
        }
        let secure: Bool
        let rest: Substring
        if url.hasPrefix("https://") { secure = true; rest = url.dropFirst(8) } else if url.hasPrefix("http://") {
            guard allowsHTTP else { return .failure("must be https:// (plain http:// only with [webhooks] allow_http = true)") }
            secure = false
            rest = url.dropFirst(7)
        } else {
            return .failure("must start with https://")
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
        if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
        guard !authority.contains("@") else { return .failure("must not carry a user name or password") }
        var host = String(authority), port: UInt16 = secure ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .failure("has an unclosed IPv6 address") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = UInt16(after.dropFirst()), value > 0 else { return .failure("has a port that is not 1-65535") }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            guard let value = UInt16(authority[authority.index(after: colon)...]), value > 0 else { return .failure("has a port that is not 1-65535") }
            host = String(authority[..<colon])
            port = value
        }
        guard !host.isEmpty, host.utf8.count <= 253,
              host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" }) else {
            return .failure("has no valid host")
        }
        return .success(WebhookTarget(secure: secure, host: host.lowercased(), port: port, path: path))
    }
}

/// Why a URL is not one a node posts to.
struct ValidationReason: Error, ExpressibleByStringLiteral, Sendable {
    let text: String
    init(stringLiteral text: String) { self.text = text }
}

/// An endpoint's connection, kept open between its deliveries.
///
/// `@unchecked Sendable`: it moves to a work-queue thread for one delivery at a time. The node
/// starts an endpoint's next delivery only after the last one's completion ran on the loop
/// (`NoticeDesk.delivering`), so no two threads ever use it together.
final class WebhookConnection: @unchecked Sendable {
    let target: WebhookTarget
    private var client: HTTPClient?

    init(target: WebhookTarget) {
        self.target = target
    }

    /// Posts `body`; the receiver's status, or why there was none. A kept connection the
    /// receiver closed meanwhile gets one more try on a new one (a delivery may come twice;
    /// receivers drop repeats by event id). A failed exchange closes the connection.
    func post(headers: [(String, String)], body: [UInt8], tls: TLSContext?, timeoutMs: Int32) -> (status: Int?, error: String?) {
        if let kept = client {
            if let response = try? kept.send("POST", target.path, headers: headers, body: body) { return Self.outcome(response) }
            close()
        }
        do {
            let fresh = try HTTPClient(baseURL: target.origin, timeoutMs: timeoutMs, tlsContext: target.secure ? tls : nil, checksServerName: true)
            fresh.responseBodyBytesMax = 64 << 10
            fresh.exchangeDeadlineMs = Int64(timeoutMs)
            client = fresh
            return Self.outcome(try fresh.send("POST", target.path, headers: headers, body: body))
        } catch {
            close()
            return (nil, "\(error)")
        }
    }

    private static func outcome(_ response: ClientResponse) -> (status: Int?, error: String?) {
        (response.status, (200..<300).contains(response.status) ? nil : "answered \(response.status)")
    }

    func close() {
        client?.close()
        client = nil
    }
}

extension OutpostNode {
    var outbox: Outbox { Outbox(database: database) }

    /// At start: the endpoints, and the TLS context deliveries use (a `ca_file` that does not
    /// read stops the start).
    func setUpWebhooks() throws {
        desks.notices.endpoints = try outbox.endpoints()
        do { desks.notices.tls = try TLSContext(clientTrustingSystemRootsAnd: config.webhooks.caFile) } catch {
            throw ConfigError(key: "webhooks.ca_file", "\(error)")
        }
    }

    /// In the transaction of a change to an order this node placed: its events into the outbox,
    /// for the endpoints there are now. The same event projected again (a peer's copy of the
    /// change, a restart) has the same id and is kept once.
    func recordOrderNotices(_ order: String, state: OrderState) throws {
        guard !desks.notices.endpoints.isEmpty || config.mail != nil, state.placed?.node == identity.nodeId else { return }
        let events = OrderNotices.events(order: order, state: state)
        if !desks.notices.endpoints.isEmpty { try outbox.record(events, endpoints: desks.notices.endpoints, nowMs: WallClock.nowMs()) }
        try queueOrderMail(order, state: state, events: events)
    }

    /// In the inventory change's transaction: the keys of this node's location that fell from
    /// above the low-stock mark to it or below.
    func recordLowStock(_ keys: [String], before: [Int64?]) throws {
        let mark = CatalogJSON.StockState.lowStockUnits, nowMs = WallClock.nowMs()
        var events: [OutboxEvent] = []
        for (key, was) in zip(keys, before) {
            guard let was, was > mark, let now = try catalog.stockAvailable(stockKey: key), now <= mark, let at = key.lastIndex(of: "@") else { continue }
            events.append(OperationNotices.stockLow(sku: String(key[..<at]), location: String(key[key.index(after: at)...]), available: now, mark: mark,
                                                    node: identity.nodeId, atMs: nowMs))
        }
        if !events.isEmpty { try outbox.record(events, endpoints: desks.notices.endpoints, nowMs: nowMs) }
    }

    /// Once a minute with the overdue warning: each offline card payment past its deadline, once.
    func recordOverduePayments(_ overdue: [OfflinePaymentBook.Open]) {
        guard !desks.notices.endpoints.isEmpty, !overdue.isEmpty else { return }
        let events = overdue.map { OperationNotices.offlinePaymentOverdue($0, node: identity.nodeId) }, endpoints = desks.notices.endpoints
        writer.submit({ [outbox] _ in try outbox.record(events, endpoints: endpoints, nowMs: WallClock.nowMs()) }, completion: { _ in })
    }

    /// Every tick: starts the deliveries that are due, one per endpoint, up to `concurrent_max`;
    /// once an hour forgets what was delivered long ago.
    func deliverDueWebhooks(nowMs: Int64) {
        let desk = desks.notices
        guard !desk.endpoints.isEmpty else { return }
        if nowMs - desk.lastPruneMs >= 3_600_000 {
            desk.lastPruneMs = nowMs
            writer.submit({ [outbox, keep = config.webhooks.keepDeliveredMs] _ in try outbox.prune(beforeMs: nowMs - keep) }, completion: { _ in })
        }
        var room = config.webhooks.concurrentMax - desk.delivering.count
        for endpoint in desk.endpoints where room > 0 && !desk.delivering.contains(endpoint.id) {
            guard let due = try? outbox.due(endpoint: endpoint.id, after: desk.takenUpTo[endpoint.id] ?? 0, nowMs: nowMs, limit: Self.webhookBurstMax),
                  !due.isEmpty else { continue }
            deliver(due, to: endpoint, nowMs: nowMs)
            room -= 1
        }
    }

    /// Events one job posts to one endpoint, one after another, before it comes back to the loop;
    /// it stops starting new ones after `webhookBurstMs`.
    static let webhookBurstMax = 64
    static let webhookBurstMs: Int64 = 2_000

    /// Posts an endpoint's next events in order on a work-queue thread, stopping at the first
    /// that fails: a busy shop's events go out as fast as the receiver answers, not one per loop turn.
    private func deliver(_ burst: [WebhookDelivery], to endpoint: WebhookEndpoint, nowMs: Int64) {
        let desk = desks.notices
        guard case .success(let target) = WebhookTarget.parse(endpoint.url, allowsHTTP: config.webhooks.allowsHTTP) else {
            // An http:// endpoint after allow_http was turned off: it fails like any other and goes dead in time.
            desk.delivering.insert(endpoint.id)
            return recordOutcomes(taken: [], failed: burst.first.map { ($0, nil, "the endpoint's URL is not allowed now") }, endpoint: endpoint.id)
        }
        desk.delivering.insert(endpoint.id)
        // Signed on the worker just before each is sent: a slow receiver must not make a later
        // event's timestamp older than the receiver's tolerance.
        let secrets = endpoint.signingSecrets(nowMs: nowMs)
        let provider = endpoint.template.flatMap(providerTemplate(_:))
        let requests = burst.map { delivery in
            (provider.map { Array($0.compiled.render(providerView(delivery)).utf8) } ?? delivery.event.body(sequence: delivery.sequence),
             (provider?.template.headers.map { ($0.name, $0.value) } ?? []) + [
                ("Content-Type", provider?.template.contentType.rawValue ?? "application/json"),
                ("User-Agent", "outpost-noded/\(OutpostVersion.current)"),
                ("Outpost-Event-Id", delivery.event.id),
                ("Outpost-Event-Type", delivery.event.kind.rawValue),
                ("Outpost-Delivery-Attempt", "\(delivery.attempts + 1)"),
            ])
        }
        let connection: WebhookConnection
        if let open = desk.connections[endpoint.id], open.target == target { connection = open } else {
            desk.connections[endpoint.id]?.close()
            connection = WebhookConnection(target: target)
            desk.connections[endpoint.id] = connection
        }
        let tls = desk.tls, timeoutMs = config.webhooks.timeoutMs
        loop.queueWork({
            var outcomes: [(status: Int?, error: String?)] = []
            let startedMs = WallClock.nowMs()
            for (body, headers) in requests {
                // A slow receiver ends the burst early; the rest go in the next one.
                let nowMs = WallClock.nowMs()
                if !outcomes.isEmpty && nowMs - startedMs > Self.webhookBurstMs { break }
                let signature = WebhookSignature.header(body: body, secrets: secrets, timestampSeconds: nowMs / 1000)
                let outcome = connection.post(headers: headers + [(WebhookSignature.header, signature)], body: body, tls: tls, timeoutMs: timeoutMs)
                outcomes.append(outcome)
                if outcome.error != nil { break }
            }
            return outcomes
        }, completion: { [unowned self] result in
            let outcomes = (try? result.get()) ?? [(nil, "the delivery could not run")]
            // The outcomes are a prefix of the burst: those taken, then at most one failure.
            let taken = zip(burst, outcomes).filter { $0.1.error == nil }.map { ($0.0, $0.1.status ?? 200) }
            let failed = zip(burst, outcomes).first { $0.1.error != nil }.map { ($0.0, $0.1.status, $0.1.error ?? "") }
            recordOutcomes(taken: taken, failed: failed, endpoint: endpoint.id)
        })
    }

    /// An endpoint's provider template, compiled once per text.
    private func providerTemplate(_ stored: String) -> (template: ProviderTemplate, compiled: MustacheTemplate)? {
        if let hit = desks.notices.templates[stored] { return hit }
        guard let template = ProviderTemplate.parse(stored: stored), case .success(let compiled) = template.compiled() else { return nil }
        if desks.notices.templates.count >= Self.webhookEndpointsMax { desks.notices.templates.removeAll() }
        desks.notices.templates[stored] = (template, compiled)
        return (template, compiled)
    }

    /// What a provider's template may show of an event: its fields (`data`), its id, type and
    /// time, and the shopper's contact: the email and name from the order, the phone from the
    /// customer's account. A provider needs them to reach the shopper; they are opened here, on
    /// the node that placed the order, at the moment of sending.
    private func providerView(_ delivery: WebhookDelivery) -> [String: Any] {
        var view: [String: Any] = ["id": delivery.event.id, "type": delivery.event.kind.rawValue, "subject": delivery.event.subject,
                                   "occurred_at": WallClock.iso8601(ms: delivery.event.occurredMs), "sequence": delivery.sequence]
        if case .object(let members)? = LooseJSON.parse(Array(delivery.event.data.utf8)) {
            for (name, value) in members {
                switch value {
                case .string(let text): view[name] = text
                case .integer(let number): view[name] = number
                default: break
                }
            }
        }
        if let placed = orderState(delivery.event.subject)?.placed {
            if let contact = orderContact(delivery.event.subject, sealed: placed.sealedContact) {
                view["email"] = contact.email
                view["name"] = contact.shipTo?.name ?? ""
            }
            if let phone = placed.customer.flatMap(customer(id:))?.phone { view["phone"] = phone }
        }
        return view
    }

    /// Records a burst's outcomes durably. What the receiver took is remembered at once
    /// (`takenUpTo`), so the endpoint's next events go before the record commits; a failure
    /// holds the endpoint until its back-off is recorded.
    private func recordOutcomes(taken: [(WebhookDelivery, Int)], failed: (WebhookDelivery, Int?, String)?, endpoint: String) {
        let desk = desks.notices, schedule = config.webhooks.retry, nowMs = WallClock.nowMs()
        let random = Double(SecureRandom.uint64() >> 11) / Double(1 << 53)
        if let last = taken.last?.0.sequence { desk.takenUpTo[endpoint] = max(desk.takenUpTo[endpoint] ?? 0, last) }
        desk.sent += taken.count
        if failed == nil { desk.delivering.remove(endpoint) }
        writer.submit({ [outbox] _ -> WebhookDelivery.State? in
            try outbox.delivered(taken.map { (delivery: $0.0, status: $0.1) }, nowMs: nowMs)
            guard let (delivery, status, error) = failed else { return nil }
            return try outbox.failed(delivery, status: status, error: error, nowMs: nowMs, schedule: schedule, random: random)
        }, completion: { [unowned self] result in
            if failed != nil { desk.delivering.remove(endpoint) }
            if !desk.endpoints.contains(where: { $0.id == endpoint }) {
                desk.connections.removeValue(forKey: endpoint)?.close()
                desk.takenUpTo.removeValue(forKey: endpoint)
            }
            switch result {
            case .success(.pending?): desk.retried += 1
            case .success(.dead?):
                desk.dead += 1
                logger.warning("webhook delivery given up", metadata: [
                    "endpoint": "\(endpoint)", "event": "\(failed?.0.event.id ?? "")", "error": "\(failed?.2 ?? "")",
                ])
            case .success: break
            case .failure(let error):
                logger.error("could not record webhook deliveries", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            }
        })
        // The endpoint's next events go now, not at the next tick.
        if failed == nil { deliverDueWebhooks(nowMs: nowMs) }
    }
}
