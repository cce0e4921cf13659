import Commerce
@testable import Node
import NodeTesting
import Platform
import XCTest

/// The outbox's rules and tables (docs/notifications.md), on a real database with the node's
/// migrations and the test's clock.
final class NotificationTests: XCTestCase {
    private func database() throws -> (Database, TemporaryDirectory) {
        let dir = TemporaryDirectory()
        let database = try Database(path: dir.file("node.sqlite"))
        _ = try Migrator.apply(NodeSchema.migrations, to: database, now: "t")
        return (database, dir)
    }

    private func order(node: String = "store-1", sealed: String = "SEALED", shipped: Bool = false) -> OrderState {
        var placed = OrderEvent(kind: .placed, atMs: 1_000, node: node)
        placed.number = "S1-000001"
        placed.customer = "c_1"
        placed.sealedContact = sealed
        placed.accessHash = "HASH"
        placed.lines = [PricedLine(sku: "MUG-1", productId: "mug", name: "Mug", quantity: 2, unitPrice: 1_200)]
        var paid = OrderEvent(kind: .paid, atMs: 1_001, node: node)
        paid.amount = 2_400
        var events = [placed, paid]
        if shipped {
            var ship = OrderEvent(kind: .shipped, atMs: 1_002, node: node)
            ship.carrier = "DHL"
            ship.tracking = "T1"
            events.append(ship)
        }
        return OrderState(texts: events.map(\.text))
    }

    private func endpoint(_ id: String, _ types: [OutboxEvent.Kind] = []) -> WebhookEndpoint {
        WebhookEndpoint(id: id, url: "https://erp.example/hooks", types: types, description: "", secret: "whsec_\(id)", createdMs: 0)
    }

    func testAnOrdersEventsHaveTheSameIdsEverywhereAndNoPersonalData() throws {
        let events = OrderNotices.events(order: "o1", state: order())
        XCTAssertEqual(events.map(\.kind), [.orderPlaced, .orderPaid])
        XCTAssertEqual(events.map(\.id), OrderNotices.events(order: "o1", state: order(shipped: true)).prefix(2).map(\.id), "a later event leaves earlier ids alone")
        XCTAssertNotEqual(events.map(\.id), OrderNotices.events(order: "o2", state: order()).map(\.id), "another order, other ids")
        XCTAssertTrue(events.allSatisfy { $0.id.hasPrefix("evt_") && $0.id.count == 36 })
        let body = String(decoding: events[0].body(sequence: 7), as: UTF8.self)
        XCTAssertFalse(body.contains("SEALED") || body.contains("HASH"), body)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        XCTAssertEqual(json["type"] as? String, "order.placed")
        XCTAssertEqual(json["sequence"] as? Int, 7)
        XCTAssertEqual(json["occurred_at"] as? String, "1970-01-01T00:00:01.000Z")
        let data = try XCTUnwrap(json["data"] as? [String: Any])
        XCTAssertEqual(data["number"] as? String, "S1-000001")
        XCTAssertEqual((data["lines"] as? [[String: Any]])?.first?["quantity"] as? Int, 2)
    }

    func testTheOutboxKeepsAnEventOnceAndFansItOutToTheEndpointsThatWantIt() throws {
        let (db, _) = try database()
        let outbox = Outbox(database: db)
        let all = endpoint("we_all"), shipping = endpoint("we_ship", [.orderShipped])
        _ = try db.transaction { try outbox.record(OrderNotices.events(order: "o1", state: order()), endpoints: [all, shipping], nowMs: 5) }
        let again = try db.transaction { try outbox.record(OrderNotices.events(order: "o1", state: order(shipped: true)), endpoints: [all, shipping], nowMs: 6) }
        XCTAssertEqual(again, 1, "the projection of a later change adds only the new event")
        XCTAssertEqual(try outbox.counts()[.pending], 4, "three events to the first endpoint, the shipment to the second")
        let forAll = try outbox.due(endpoint: "we_all", after: 0, nowMs: 10, limit: 10)
        XCTAssertEqual(forAll.map(\.event.kind), [.orderPlaced, .orderPaid, .orderShipped], "in the order they were recorded")
        XCTAssertEqual(try outbox.due(endpoint: "we_ship", after: 0, nowMs: 10, limit: 10).map(\.event.kind), [.orderShipped])
        XCTAssertEqual(try outbox.due(endpoint: "we_all", after: forAll[0].sequence, nowMs: 10, limit: 1).map(\.event.kind), [.orderPaid],
                       "after what the receiver took and the node has not recorded yet")
    }

    func testAFailingDeliveryHoldsTheEndpointsLaterEventsAndIsGivenUpThenRetried() throws {
        let (db, _) = try database()
        let outbox = Outbox(database: db)
        let schedule = RetrySchedule(firstDelayMs: 1_000, maxDelayMs: 4_000, giveUpAfterMs: 10_000)
        _ = try db.transaction { try outbox.record(OrderNotices.events(order: "o1", state: order()), endpoints: [endpoint("we_a")], nowMs: 0) }
        var now: Int64 = 0
        var head = try XCTUnwrap(try outbox.due(endpoint: "we_a", after: 0, nowMs: now, limit: 1).first)
        XCTAssertEqual(try outbox.failed(head, status: 500, error: "answered 500", nowMs: now, schedule: schedule, random: 1), .pending)
        XCTAssertTrue(try outbox.due(endpoint: "we_a", after: 0, nowMs: now + 999, limit: 1).isEmpty, "not before its back-off")
        now = 1_000
        head = try XCTUnwrap(try outbox.due(endpoint: "we_a", after: 0, nowMs: now, limit: 1).first)
        XCTAssertEqual(head.event.kind, .orderPlaced, "the paid event waits behind the failing one")
        while try outbox.failed(head, status: nil, error: "refused", nowMs: now, schedule: schedule, random: 0.5) == .pending {
            now += 4_000
            head = try XCTUnwrap(try outbox.due(endpoint: "we_a", after: 0, nowMs: now, limit: 1).first)
        }
        let dead = try outbox.dead(limit: 10)
        XCTAssertEqual(dead.map(\.event.kind), [.orderPlaced])
        XCTAssertEqual(dead.first?.lastError, "refused")
        XCTAssertEqual(try outbox.due(endpoint: "we_a", after: 0, nowMs: now, limit: 1).first?.event.kind, .orderPaid, "a dead event no longer holds the next")
        XCTAssertEqual(try outbox.retry(endpoint: "we_a", sequence: dead.first?.sequence, nowMs: now), 1)
        XCTAssertEqual(try outbox.due(endpoint: "we_a", after: 0, nowMs: now, limit: 1).first?.event.kind, .orderPlaced, "retried: in line again, first")
        XCTAssertEqual(try outbox.retry(endpoint: nil, sequence: nil, nowMs: now), 0, "nothing else is dead")
    }

    func testDeliveredEventsAreForgottenAfterTheirKeepTime() throws {
        let (db, _) = try database()
        let outbox = Outbox(database: db)
        _ = try db.transaction { try outbox.record(OrderNotices.events(order: "o1", state: order()), endpoints: [endpoint("we_a")], nowMs: 0) }
        for _ in 0..<2 {
            let head = try XCTUnwrap(try outbox.due(endpoint: "we_a", after: 0, nowMs: 1, limit: 1).first)
            try outbox.delivered([(head, 204)], nowMs: 1)
        }
        XCTAssertEqual(try outbox.prune(beforeMs: 1), 0, "not yet")
        XCTAssertEqual(try outbox.prune(beforeMs: 2), 2)
        XCTAssertEqual(try outbox.counts(), [:])
        XCTAssertEqual(try db.transaction { try outbox.record(OrderNotices.events(order: "o2", state: order()), endpoints: [], nowMs: 3) }, 2)
        XCTAssertEqual(try outbox.prune(beforeMs: 4), 2, "events no endpoint waits for go too")
    }

    func testTheBackOffDoublesWithJitterAndGivesUp() {
        let schedule = RetrySchedule.standard
        XCTAssertEqual(schedule.nextAttemptMs(afterAttempts: 1, firstAttemptMs: 0, nowMs: 0, random: 0), 5_000)
        XCTAssertEqual(schedule.nextAttemptMs(afterAttempts: 1, firstAttemptMs: 0, nowMs: 0, random: 1), 10_000)
        XCTAssertEqual(schedule.nextAttemptMs(afterAttempts: 3, firstAttemptMs: 0, nowMs: 0, random: 1), 40_000)
        XCTAssertEqual(schedule.nextAttemptMs(afterAttempts: 30, firstAttemptMs: 0, nowMs: 0, random: 1), 3_600_000, "at most an hour")
        XCTAssertNil(schedule.nextAttemptMs(afterAttempts: 80, firstAttemptMs: 0, nowMs: 72 * 3_600_000, random: 0), "72 hours, then dead")
    }

    func testSignaturesCheckTheBodyTheSecretAndTheTime() {
        let body = Array(#"{"id":"evt_1"}"#.utf8)
        let header = WebhookSignature.header(body: body, secrets: ["new", "old"], timestampSeconds: 1_000)
        XCTAssertTrue(header.hasPrefix("t=1000,v1="))
        XCTAssertTrue(WebhookSignature.isValid(header, body: body, secret: "new", nowSeconds: 1_000))
        XCTAssertTrue(WebhookSignature.isValid(header, body: body, secret: "old", nowSeconds: 1_300))
        XCTAssertFalse(WebhookSignature.isValid(header, body: body, secret: "other", nowSeconds: 1_000))
        XCTAssertFalse(WebhookSignature.isValid(header, body: body + [0x20], secret: "new", nowSeconds: 1_000))
        XCTAssertFalse(WebhookSignature.isValid(header, body: body, secret: "new", nowSeconds: 1_301), "replayed too late")
        XCTAssertFalse(WebhookSignature.isValid("v1=00", body: body, secret: "new", nowSeconds: 1_000))
        let rotated = WebhookEndpoint(id: "we", url: "", types: [], description: "", secret: "new", previousSecret: "old", previousUntilMs: 5_000, createdMs: 0)
        XCTAssertEqual(rotated.signingSecrets(nowMs: 4_999), ["new", "old"])
        XCTAssertEqual(rotated.signingSecrets(nowMs: 5_000), ["new"])
    }

    func testOnlyURLsANodeMayPostToAreTaken() {
        func parsed(_ url: String, http: Bool = false) -> WebhookTarget? { try? WebhookTarget.parse(url, allowsHTTP: http).get() }
        XCTAssertEqual(parsed("https://ERP.example.com/hooks/outpost?x=1#frag"), WebhookTarget(secure: true, host: "erp.example.com", port: 443, path: "/hooks/outpost?x=1"))
        XCTAssertEqual(parsed("https://erp.example.com:8443"), WebhookTarget(secure: true, host: "erp.example.com", port: 8443, path: "/"))
        XCTAssertEqual(parsed("https://[::1]:9000/in")?.origin, "https://[::1]:9000")
        XCTAssertNil(parsed("http://erp.example.com/in"), "plain HTTP only when allowed")
        XCTAssertEqual(parsed("http://10.0.0.5/in", http: true)?.port, 80)
        for bad in ["ftp://erp.example/x", "https://", "https://user:pw@erp.example/", "https://erp.example:0/", "https://erp.example:99999/",
                    "https://erp example/", "https://erp.example/a b", "https://erp.example/\r\nX-Evil: 1", "//erp.example/"] {
            XCTAssertNil(parsed(bad, http: true), bad)
        }
    }

    func testTheWebhooksSectionIsReadAndCheckedKeyByKey() throws {
        var config = NodeConfig()
        try config.apply(toml: "[webhooks]\nfirst_retry_s = 2\nmax_retry_s = 60\ngive_up_after_s = 600\ntimeout_s = 5\nallow_http = true\nconcurrent_max = 8\nkeep_delivered_days = 3\n")
        XCTAssertEqual(config.webhooks.retry, RetrySchedule(firstDelayMs: 2_000, maxDelayMs: 60_000, giveUpAfterMs: 600_000))
        XCTAssertEqual(config.webhooks.timeoutMs, 5_000)
        XCTAssertTrue(config.webhooks.allowsHTTP)
        XCTAssertEqual(config.webhooks.concurrentMax, 8)
        XCTAssertEqual(config.webhooks.keepDeliveredMs, 3 * 86_400_000)
        func key(_ toml: String) -> String? {
            var config = NodeConfig()
            do { try config.apply(toml: toml) } catch { return error.key }
            return nil
        }
        XCTAssertEqual(key("[webhooks]\nfirst_retry_s = 0"), "webhooks.first_retry_s")
        XCTAssertEqual(key("[webhooks]\nfirst_retry_s = 60\nmax_retry_s = 10"), "webhooks.max_retry_s")
        XCTAssertEqual(key("[webhooks]\nconcurrent_max = 1000"), "webhooks.concurrent_max")
        XCTAssertEqual(key("[webhooks]\nallow_http = 'yes'"), "webhooks.allow_http")
        XCTAssertEqual(key("[webhooks]\nsmtp = 1"), "webhooks.smtp")
    }
}

/// The mail as it goes over SMTP.
final class MailMessageTests: XCTestCase {
    func testAMessageIsMultipartWithEncodedHeadersAndNoLineBreaksFromData() {
        var message = MailMessage(fromName: "Hafen \"Laden\"", fromAddress: "orders@hafen.example", to: "ann@example.com",
                                  subject: "Ihre Bestellung für Jürgen\r\nBcc: evil@example.com", text: "Grüße\n", html: "<p>Grüße</p>",
                                  messageId: "<mail_evt_1@hafen.example>", dateMs: 1_765_089_579_000)
        message.extraHeaders = [("Auto-Submitted", "auto-generated")]
        let text = String(decoding: message.rendered(), as: UTF8.self)
        let head = text.components(separatedBy: "\r\n\r\n")[0]
        XCTAssertTrue(head.contains("From: \"Hafen \\\"Laden\\\"\" <orders@hafen.example>"), head)
        XCTAssertTrue(head.contains("To: <ann@example.com>"))
        XCTAssertTrue(head.contains("Subject: =?UTF-8?B?"), "non-ASCII subject as encoded words")
        XCTAssertFalse(head.contains("\r\nBcc:"), "a line break in data never makes a header")
        XCTAssertTrue(head.contains("Date: Sun, 07 Dec 2025 06:39:39 +0000"), head)
        XCTAssertTrue(head.contains("Message-ID: <mail_evt_1@hafen.example>"))
        XCTAssertTrue(head.contains("Content-Type: multipart/alternative; boundary="))
        XCTAssertTrue(text.contains("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64"))
        XCTAssertTrue(text.contains("Content-Type: text/html; charset=utf-8"))
        XCTAssertTrue(text.contains(Base64.encode(Array("Grüße\n".utf8), url: false, padded: true)))
        XCTAssertTrue(text.split(separator: "\r\n", omittingEmptySubsequences: false).allSatisfy { $0.utf8.count <= 998 }, "RFC 5322 line length")
        let subject = MailMessage.encodedText(String(repeating: "ä", count: 60))
        XCTAssertTrue(subject.contains("\r\n "), "long encoded subjects fold")
        XCTAssertEqual(MailMessage.encodedText("Plain subject"), "Plain subject")
    }

    func testOnlyAddressesMailCanGoToAreTaken() {
        XCTAssertTrue(MailMessage.isAddress("ann.smith+shop@example.co.uk"))
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@example.com>", "ann@example.com\r\nRCPT TO:<x@y.z>", "ann@.com"] {
            XCTAssertFalse(MailMessage.isAddress(bad), bad)
        }
    }

    func testALineStartingWithADotCannotEndTheMessage() {
        XCTAssertEqual(String(decoding: SMTPSession.dotStuffed(Array(".start\r\nmid\r\n.\r\n..x".utf8)), as: UTF8.self), "..start\r\nmid\r\n..\r\n...x")
    }

    func testTheMailSectionIsReadKeyByKey() throws {
        var config = NodeConfig()
        try config.apply(toml: """
            [mail]
            relay = "smtp.hafen.example:587"
            from = "orders@hafen.example"
            security = "tls"
            username = "shop"
            shop_name = "Hafen Laden"
            storefront_url = "https://shop.hafen.example/"
            timeout_s = 20
            concurrent_max = 3
            """)
        let mail = try XCTUnwrap(config.mail)
        XCTAssertEqual(mail.relayHost, "smtp.hafen.example")
        XCTAssertEqual(mail.relayPort, 587)
        XCTAssertEqual(mail.security, .tls)
        XCTAssertEqual(mail.storefrontURL, "https://shop.hafen.example")
        XCTAssertEqual(mail.timeoutMs, 20_000)
        XCTAssertEqual(mail.concurrentMax, 3)
        func key(_ toml: String) -> String? {
            var config = NodeConfig()
            do { try config.apply(toml: toml) } catch { return error.key }
            return nil
        }
        XCTAssertEqual(key("[mail]\nrelay = \"smtp.example\"\nfrom = \"a@b.example\""), "mail.relay")
        XCTAssertEqual(key("[mail]\nrelay = \"smtp.example:25\"\nfrom = \"a@b.example\"\nsecurity = \"ssl\""), "mail.security")
        XCTAssertEqual(key("[mail]\nrelay = \"smtp.example:25\"\nfrom = \"a@b.example\"\nstorefront_url = \"shop\""), "mail.storefront_url")
        XCTAssertEqual(key("[mail]\nrelay = \"smtp.example:25\"\nfrom = \"a@b.example\"\nbcc = \"x\""), "mail.bcc")
    }
}

/// Events about the shop's operation, and provider templates.
final class OperationNoticeTests: XCTestCase {
    func testAnOverduePaymentIsOneEventHoweverOftenItIsNoticed() {
        let open = OfflinePaymentBook.Open(payment: "pay_1", order: "o1", amount: 4_200, currency: "EUR", takenMs: 1_000, deadlineMs: 86_401_000)
        let first = OperationNotices.offlinePaymentOverdue(open, node: "store-1"), again = OperationNotices.offlinePaymentOverdue(open, node: "store-1")
        XCTAssertEqual(first.id, again.id)
        XCTAssertEqual(first.kind, OutboxEvent.Kind.paymentOfflineOverdue)
        XCTAssertTrue(first.data.contains(#""deadline":"1970-01-02T00:00:01.000Z""#), first.data)
        let low = OperationNotices.stockLow(sku: "MUG-1", location: "shop", available: 5, mark: 5, node: "shop", atMs: 7)
        XCTAssertEqual(low.subject, "MUG-1@shop")
        XCTAssertNotEqual(low.id, OperationNotices.stockLow(sku: "MUG-1", location: "shop", available: 5, mark: 5, node: "shop", atMs: 8).id,
                          "each fall to the mark is its own event")
    }

    func testProviderTemplatesEscapeForTheirBodyAndRefuseWhatTheNodeSets() throws {
        func parsed(_ json: String) -> Result<ProviderTemplate, ValidationReason> {
            ProviderTemplate.parse(LooseJSON.parse(Array(json.utf8)) ?? .null)
        }
        let form = try parsed(#"{"content_type": "application/x-www-form-urlencoded", "body": "To={{phone}}&Body={{text}}"}"#).get()
        XCTAssertEqual(try form.compiled().get().render(["phone": "+49 151", "text": "a&b=c"]), "To=%2B49%20151&Body=a%26b%3Dc")
        let json = try parsed(#"{"body": "{\"to\": \"{{phone}}\", \"text\": \"{{text}}\"}", "headers": {"X-Api-Key": "k"}}"#).get()
        XCTAssertEqual(try json.compiled().get().render(["phone": "+49", "text": "say \"hi\"\n"]), #"{"to": "+49", "text": "say \"hi\"\n"}"#)
        XCTAssertEqual(json.headers, [ProviderTemplate.Header(name: "X-Api-Key", value: "k")])
        XCTAssertEqual(ProviderTemplate.parse(stored: json.stored), json, "kept as it was given")
        for bad in [#"{"body": "{{#a}}"}"#, #"{"body": "x", "headers": {"Content-Length": "1"}}"#, #"{"body": "x", "headers": {"Bad Name": "1"}}"#,
                    #"{"body": "x", "headers": {"X": "a\r\nb"}}"#, #"{"body": "x", "content_type": "text/html"}"#, #"{"headers": {}}"#, #""body""#] {
            if case .success = parsed(bad) { XCTFail("taken: \(bad)") }
        }
    }
}
