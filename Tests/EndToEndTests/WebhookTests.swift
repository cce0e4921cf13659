import Commerce
import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// A retailer's system hearing about orders through webhooks (docs/notifications.md): a real
/// noded posting to a real receiver on loopback, through failures, a crash mid-delivery and a
/// receiver that never recovers.
final class WebhookTests: XCTestCase {
    private var receiver: WebhookReceiver?

    override func tearDown() {
        receiver?.stop()
        receiver = nil
        super.tearDown()
    }

    private static let retryFast = "[webhooks]\nallow_http = true\nfirst_retry_s = 1\nmax_retry_s = 1\n"

    private func subscribe(_ node: NodeProcess, url: String, events: [String]) throws -> (id: String, secret: String) {
        let list = events.map { "\"\($0)\"" }.joined(separator: ", ")
        let created = try node.adminPost("/admin/v1/webhooks", #"{"url": "\#(url)", "events": [\#(list)], "description": "ERP"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any])
        return (try XCTUnwrap(json["id"] as? String), try XCTUnwrap(json["secret"] as? String))
    }

    private func order(_ shop: Shop, sku: String) throws -> String {
        let cart = try shop.newCart()
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/\(sku)", #"{"quantity": 1}"#).status, 200)
        let placed = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: UUID().uuidString)
        XCTAssertEqual(placed.status, 201, placed.response.text)
        return try XCTUnwrap(placed.json["id"] as? String)
    }

    /// Event ids the receiver should get: every event of these orders of the subscribed kinds.
    private func expectedEvents(_ shop: Shop, orders: [String], kinds: Set<String>) throws -> Int {
        try orders.reduce(0) { count, order in
            let answer = try shop.send("GET", "/api/v1/orders/\(order)", token: shop.node.adminToken)
            let events = answer.json["events"] as? [[String: Any]] ?? []
            return count + events.filter { kinds.contains("order." + ($0["kind"] as? String ?? "")) }.count
        }
    }

    func testEveryEventArrivesSignedInOrderAndOnceAfterDeduplicationThroughFailuresAndACrash() throws {
        let receiver = try WebhookReceiver.start()
        self.receiver = receiver
        receiver.mode = "fail"
        let data = TemporaryDirectory(prefix: "outpost-webhooks")
        let config = Self.retryFast + "give_up_after_s = 3600\n"
        var shop = Shop(node: try NodeProcess.start(dataDirectory: data.file("node"), config: Shop.config(id: "shop", extra: config)))
        try shop.product("mug", sku: "MUG-1", price: 1200, stock: 50)

        // Refused clearly, nothing kept.
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/webhooks", #"{"url": "ftp://erp.example/hooks"}"#).status, 422)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/webhooks", #"{"url": "http://127.0.0.1:1/x", "events": ["order.teleported"]}"#).status, 422)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/webhooks", #"{"url": "http://user:pw@127.0.0.1:1/x"}"#).status, 422)
        let kinds: Set<String> = ["order.placed", "order.paid", "order.shipped"]
        let endpoint = try subscribe(shop.node, url: "http://127.0.0.1:\(receiver.port)/hooks?from=outpost", events: kinds.sorted())

        var orders = try (0..<3).map { _ in try order(shop, sku: "MUG-1") }
        XCTAssertTrue(eventually { receiver.requests().filter { $0.status == 500 }.count >= 3 }, "the failing receiver is tried again")

        // A delivery the receiver has taken but not yet answered when noded dies: it must come again.
        receiver.mode = "slow"
        XCTAssertTrue(eventually { receiver.requests().contains { $0.mode == "slow" } })
        kill(shop.node.processIdentifier, SIGKILL)
        _ = try shop.node.waitForExit()
        receiver.mode = "ok"
        shop = Shop(node: try NodeProcess.start(dataDirectory: data.file("node"), config: Shop.config(id: "shop", extra: config)))
        orders.append(try order(shop, sku: "MUG-1"))
        let shipped = try shop.send("POST", "/admin/v1/orders/\(orders[0])/events", #"{"kind": "shipped", "carrier": "DHL", "tracking": "T1"}"#,
                                    token: shop.node.adminToken)
        XCTAssertEqual(shipped.status, 200, shipped.response.text)

        let expected = try expectedEvents(shop, orders: orders, kinds: kinds)
        XCTAssertTrue(eventually { Set(receiver.requests().filter { $0.status == 200 }.compactMap(\.eventId)).count == expected },
                      "every event arrives: \(expected) expected")
        let requests = receiver.requests()
        let nowSeconds = WallClock.nowMs() / 1000
        for request in requests {
            XCTAssertEqual(request.path, "/hooks?from=outpost")
            XCTAssertTrue(WebhookSignature.isValid(request.signature, body: Array(request.body.utf8), secret: endpoint.secret, nowSeconds: nowSeconds),
                          "signed: \(request.signature)")
            XCTAssertFalse(WebhookSignature.isValid(request.signature, body: Array(request.body.utf8) + [32], secret: endpoint.secret, nowSeconds: nowSeconds))
            XCTAssertTrue(kinds.contains(request.type ?? ""), "only the subscribed types")
            XCTAssertFalse(request.body.contains("sealed") || request.body.contains("access_hash") || request.body.contains("guest@example.com"),
                           "no personal data in the body")
        }
        let delivered = requests.filter { $0.status == 200 }
        XCTAssertGreaterThan(delivered.count, Set(delivered.compactMap(\.eventId)).count, "the delivery cut off by the crash came twice")
        // In order: after deduplication, sequences only rise, and each order's placed comes first.
        var seen = Set<String>(), last: Int64 = 0
        for request in delivered where seen.insert(request.eventId ?? "").inserted {
            XCTAssertGreaterThan(request.sequence, last, "deliveries keep the node's order")
            last = request.sequence
        }
        // The receiver logs a request before it answers: the node records the last answer a moment later.
        var status: [String: Any]?
        XCTAssertTrue(eventually {
            status = try shop.node.adminJSON("/admin/v1/notifications/status")["webhooks"] as? [String: Any]
            return status?["pending"] as? Int == 0
        }, "\(status ?? [:])")
        XCTAssertEqual(status?["delivered"] as? Int, expected)
        XCTAssertTrue(try shop.node.adminGet("/metrics").text.contains("outpost_notifications_sent_total{channel=\"webhook\"}"))
    }

    func testAReceiverThatNeverRecoversEndsInTheDeadLetterListAndRetryDeliversIt() throws {
        let receiver = try WebhookReceiver.start()
        self.receiver = receiver
        receiver.mode = "fail"
        let shop = try Shop.start(extra: Self.retryFast + "give_up_after_s = 2\n")
        try shop.product("mug", sku: "MUG-1", price: 1200, stock: 5)
        let endpoint = try subscribe(shop.node, url: "http://127.0.0.1:\(receiver.port)/in", events: ["order.placed"])
        let placed = try order(shop, sku: "MUG-1")

        var failed: [[String: Any]] = []
        XCTAssertTrue(eventually {
            failed = (try shop.node.adminJSON("/admin/v1/webhooks/failed")["deliveries"] as? [[String: Any]]) ?? []
            return !failed.isEmpty
        }, "given up after give_up_after_s")
        XCTAssertEqual(failed.first?["subject"] as? String, placed)
        XCTAssertEqual(failed.first?["endpoint"] as? String, endpoint.id)
        XCTAssertEqual(failed.first?["last_status"] as? Int, 500)
        XCTAssertGreaterThanOrEqual(failed.first?["attempts"] as? Int ?? 0, 2)
        let listed = try SettlementTests.nodectl(shop.node, ["webhooks", "failed"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains(placed), listed.stdout)
        XCTAssertTrue(try shop.node.adminGet("/metrics").text.contains("outpost_notifications_dead_total{channel=\"webhook\"} 1"))

        receiver.mode = "ok"
        let retried = try SettlementTests.nodectl(shop.node, ["webhooks", "retry", "--all"])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertTrue(retried.stdout.contains("1 delivery goes again"), retried.stdout)
        XCTAssertTrue(eventually { receiver.requests().contains { $0.status == 200 && $0.subject == placed } })
        XCTAssertTrue(eventually { ((try? shop.node.adminJSON("/admin/v1/webhooks/failed"))?["deliveries"] as? [[String: Any]])?.isEmpty ?? false })
        var status: CommandResult?
        XCTAssertTrue(eventually {
            status = try SettlementTests.nodectl(shop.node, ["notifications", "status"])
            return status?.stdout.contains("pending 0, delivered 1, given up 0") ?? false
        }, (status?.stdout ?? "") + (status?.stderr ?? ""))
    }

    /// HTTPS is the default: the receiver's certificate must chain to a trusted CA and name the
    /// host dialed. A receiver whose certificate names another host gets nothing.
    func testDeliveriesGoOverHTTPSOnlyToAReceiverWhoseCertificateChecksOut() throws {
        let dir = TemporaryDirectory(prefix: "outpost-pki")
        let good = try TestPKI.make(in: dir, name: "good", ip: "127.0.0.1")
        let wrongHost = try TestPKI.make(in: dir, name: "wrong", ip: "127.0.0.2")
        let receiver = try WebhookReceiver.start(tls: (good.certificate, good.key))
        self.receiver = receiver
        let impostor = try WebhookReceiver.start(tls: (wrongHost.certificate, wrongHost.key))
        defer { impostor.stop() }
        // Both CAs are trusted: only the name on the certificate tells the impostor apart.
        try (String(contentsOfFile: good.authority, encoding: .utf8) + String(contentsOfFile: wrongHost.authority, encoding: .utf8))
            .write(toFile: dir.file("trusted.pem"), atomically: true, encoding: .utf8)
        let shop = try Shop.start(extra: "[webhooks]\nfirst_retry_s = 1\nmax_retry_s = 1\nca_file = \"\(dir.file("trusted.pem"))\"\n")
        try shop.product("mug", sku: "MUG-1", price: 1200, stock: 5)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/webhooks", #"{"url": "http://127.0.0.1:\#(receiver.port)/in"}"#).status, 422,
                       "plain HTTP only with allow_http")
        let endpoint = try subscribe(shop.node, url: "https://127.0.0.1:\(receiver.port)/in", events: ["order.placed"])
        _ = try subscribe(shop.node, url: "https://127.0.0.1:\(impostor.port)/in", events: ["order.placed"])
        let placed = try order(shop, sku: "MUG-1")
        XCTAssertTrue(eventually { receiver.requests().contains { $0.subject == placed } })
        let request = try XCTUnwrap(receiver.requests().first)
        XCTAssertTrue(WebhookSignature.isValid(request.signature, body: Array(request.body.utf8), secret: endpoint.secret, nowSeconds: WallClock.nowMs() / 1000))
        var status: [String: Any] = [:]
        XCTAssertTrue(eventually {
            status = try shop.node.adminJSON("/admin/v1/notifications/status")["webhooks"] as? [String: Any] ?? [:]
            return status["delivered"] as? Int == 1 && (status["since_start"] as? [String: Any])?["retried"] as? Int ?? 0 >= 1
        }, "the impostor's delivery fails and waits to be tried again: \(status)")
        XCTAssertEqual(status["pending"] as? Int, 1)
        XCTAssertTrue(impostor.requests().isEmpty, "nothing was sent to a certificate for another host")
    }

    /// SMS and push go through the same mechanism: an endpoint whose body is written from a
    /// provider's template, with its API key in a header and the shopper's phone in the body.
    func testAnSMSProviderGetsTheShipmentWrittenFromItsTemplate() throws {
        let receiver = try WebhookReceiver.start()
        self.receiver = receiver
        let shop = try Shop.start(extra: Self.retryFast + "[rate_limits]\nenabled = false\n")
        try shop.product("mug", sku: "MUG-1", price: 1200, stock: 5)
        let registered = try shop.send("POST", "/api/v1/auth/register", #"{"email": "kim@example.com", "password": "correct horse", "phone": "+49 151 2345678"}"#)
        XCTAssertEqual(registered.status, 201, registered.response.text)
        let token = try XCTUnwrap(registered.json["access_token"] as? String)

        func provider(_ template: String) throws -> (status: Int, json: [String: Any]) {
            let answer = try shop.node.adminPost("/admin/v1/webhooks", #"{"url": "http://127.0.0.1:\#(receiver.port)/sms", "events": ["order.shipped"], "template": \#(template)}"#)
            return (answer.status, (try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]) ?? [:])
        }
        XCTAssertEqual(try provider(#"{"body": "{{#open}} never closed"}"#).status, 422, "a template that does not parse")
        XCTAssertEqual(try provider(#"{"body": "x", "headers": {"Host": "evil.example"}}"#).status, 422, "headers the node sets")
        XCTAssertEqual(try provider(#"{"body": "x", "content_type": "application/xml"}"#).status, 422)
        let created = try provider(#"""
            {"content_type": "application/x-www-form-urlencoded", "headers": {"Authorization": "Basic QUM6c2VjcmV0"},
             "body": "To={{phone}}&From=Hafen&Body=Order {{number}} is on its way with {{carrier}} ({{tracking}})"}
            """#)
        XCTAssertEqual(created.status, 201, "\(created.json)")
        let listed = try shop.node.adminJSON("/admin/v1/webhooks")["endpoints"] as? [[String: Any]] ?? []
        XCTAssertEqual(((listed.first?["template"] as? [String: Any])?["headers"] as? [String: String])?["Authorization"], "***", "the API key is not shown again")

        let cart = try shop.newCart(token: token)
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/MUG-1", #"{"quantity": 1}"#, token: token).status, 200)
        let placed = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(email: nil), token: token, key: UUID().uuidString)
        XCTAssertEqual(placed.status, 201, placed.response.text)
        let order = try XCTUnwrap(placed.json["id"] as? String), number = try XCTUnwrap(placed.json["number"] as? String)
        XCTAssertEqual(try shop.send("POST", "/admin/v1/orders/\(order)/events", #"{"kind": "shipped", "carrier": "DHL", "tracking": "T&9"}"#,
                                     token: shop.node.adminToken).status, 200)
        XCTAssertTrue(eventually { receiver.requests().contains { $0.status == 200 } })
        let request = try XCTUnwrap(receiver.requests().first)
        XCTAssertEqual(request.path, "/sms")
        XCTAssertEqual(request.headers["content-type"], "application/x-www-form-urlencoded")
        XCTAssertEqual(request.headers["authorization"], "Basic QUM6c2VjcmV0")
        var fields: [String: String] = [:]
        for pair in request.body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        XCTAssertEqual(fields["To"], "+49 151 2345678", request.body)
        XCTAssertEqual(fields["Body"], "Order \(number) is on its way with DHL (T&9)", "values escaped for a form: \(request.body)")
    }

    /// Low stock at the store's own location is announced once, when it falls to the mark.
    func testLowStockIsAnnouncedWhenTheStoreFallsToTheMark() throws {
        let receiver = try WebhookReceiver.start()
        self.receiver = receiver
        let shop = try Shop.start(extra: Self.retryFast)
        try shop.product("mug", sku: "MUG-1", price: 1200, stock: 8)
        _ = try subscribe(shop.node, url: "http://127.0.0.1:\(receiver.port)/stock", events: ["stock.low"])
        _ = try order(shop, sku: "MUG-1")  // 7 left: above the mark
        for _ in 0..<3 { _ = try order(shop, sku: "MUG-1") }  // 6, 5 (the mark), 4
        XCTAssertTrue(eventually { receiver.requests().contains { $0.status == 200 } })
        let received = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(receiver.requests().first).body.utf8)) as? [String: Any])
        XCTAssertEqual(received["type"] as? String, "stock.low")
        XCTAssertEqual(received["subject"] as? String, "MUG-1@shop")
        XCTAssertEqual((received["data"] as? [String: Any])?["available"] as? Int, 5)
        let status = try shop.node.adminJSON("/admin/v1/notifications/status")["webhooks"] as? [String: Any]
        XCTAssertEqual((status?["delivered"] as? Int ?? 0) + (status?["pending"] as? Int ?? 0), 1, "once, not again at 4")
    }

    /// The hub tells the accounting system what it settled and where the books disagree.
    func testTheHubAnnouncesSettlementBatchesAndReconciliationDifferencesOnce() throws {
        let receiver = try WebhookReceiver.start()
        self.receiver = receiver
        let fleet = try SettlementTests.Fleet.start(hubExtra: Self.retryFast)
        _ = try subscribe(fleet.hub, url: "http://127.0.0.1:\(receiver.port)/books", events: ["settlement.batch", "reconciliation.difference"])
        let sale = try SettlementTests.sell(fleet.storeA)
        let order = try XCTUnwrap(sale.json["id"] as? String)
        try SettlementTests.ship(fleet.storeA, order)
        XCTAssertTrue(eventually { receiver.requests().contains { $0.type == "settlement.batch" && $0.status == 200 } }, "the capture is settled and announced")

        let report = try SettlementTests.nodectl(fleet.hub, ["ledger", "acquirer-report", "--from", "2000-01-01", "--to", "2100-01-01"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let lines = report.stdout.split(separator: "\r\n").map(String.init).filter { !$0.contains(",sale,") }
        let seeded = fleet.fleet.scratch.file("acquirer-report.csv")
        try (lines.joined(separator: "\r\n") + "\r\n").write(toFile: seeded, atomically: true, encoding: .utf8)
        for _ in 0..<2 {
            let run = try SettlementTests.nodectl(fleet.hub, ["ledger", "reconcile", "--from", "2000-01-01", "--to", "2100-01-01", "--acquirer-report", seeded])
            XCTAssertEqual(run.status, 2, run.stdout + run.stderr)
        }
        XCTAssertTrue(eventually { receiver.requests().contains { $0.type == "reconciliation.difference" && $0.status == 200 } })
        let differences = receiver.requests().filter { $0.type == "reconciliation.difference" }
        XCTAssertEqual(Set(differences.compactMap(\.eventId)).count, 1, "the same difference found twice is one event")
        let data = (try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(differences.first).body.utf8)) as? [String: Any])?["data"] as? [String: Any]
        XCTAssertEqual(data?["kind"] as? String, "missing_in_acquirer_report")
        XCTAssertEqual(data?["node"] as? String, "store-a")
    }

    func testARotatedSecretSignsBesideTheOldOneUntilItExpires() throws {
        let receiver = try WebhookReceiver.start()
        self.receiver = receiver
        let shop = try Shop.start(extra: Self.retryFast)
        try shop.product("mug", sku: "MUG-1", price: 1200, stock: 5)
        let endpoint = try subscribe(shop.node, url: "http://127.0.0.1:\(receiver.port)/in", events: ["order.placed"])
        let rotated = try shop.node.adminPost("/admin/v1/webhooks/\(endpoint.id)/rotate-secret", #"{"overlap_hours": 1}"#)
        XCTAssertEqual(rotated.status, 200, rotated.text)
        let fresh = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(rotated.body)) as? [String: Any])?["secret"] as? String)
        XCTAssertNotEqual(fresh, endpoint.secret)
        _ = try order(shop, sku: "MUG-1")
        XCTAssertTrue(eventually { receiver.requests().contains { $0.status == 200 } })
        let request = try XCTUnwrap(receiver.requests().first)
        let now = WallClock.nowMs() / 1000
        XCTAssertTrue(WebhookSignature.isValid(request.signature, body: Array(request.body.utf8), secret: fresh, nowSeconds: now))
        XCTAssertTrue(WebhookSignature.isValid(request.signature, body: Array(request.body.utf8), secret: endpoint.secret, nowSeconds: now))
        XCTAssertFalse(WebhookSignature.isValid(request.signature, body: Array(request.body.utf8), secret: fresh, nowSeconds: now + 600), "too old")
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/webhooks/we_nothing/rotate-secret", "{}").status, 404)
    }
}

/// A private CA and a certificate it issued for 127.0.0.1 (or `host`), made with the openssl CLI.
struct TestPKI {
    let authority: String
    let certificate: String
    let key: String

    static func make(in dir: TemporaryDirectory, name: String, ip: String) throws -> TestPKI {
        let ca = dir.file("\(name)-ca"), leaf = dir.file("\(name)-leaf")
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=\(name) test CA",
             "-keyout", ca + ".key", "-out", ca + ".crt"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=receiver", "-keyout", leaf + ".key", "-out", leaf + ".csr"],
            ["x509", "-req", "-in", leaf + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key", "-CAcreateserial", "-days", "2", "-out", leaf + ".crt",
             "-extfile", dir.file("\(name).ext")],
        ]
        try "subjectAltName = IP:\(ip)\n".write(toFile: dir.file("\(name).ext"), atomically: true, encoding: .utf8)
        for step in steps {
            let result = try runCommand("/usr/bin/openssl", step)
            guard result.status == 0 else { throw NodeProcessError.didNotStart(status: result.status, log: "openssl \(step[0]): \(result.stderr)") }
        }
        return TestPKI(authority: ca + ".crt", certificate: leaf + ".crt", key: leaf + ".key")
    }
}

/// The Python receiver in Fixtures/, as a test drives it.
final class WebhookReceiver {
    struct Received {
        var path: String
        var status: Int
        var mode: String
        var body: String
        var signature: String
        var headers: [String: String]
        var eventId: String?
        var type: String?
        var subject: String?
        var sequence: Int64
    }

    private let server: FixtureServer
    var port: Int { server.port }
    var mode: String {
        get { server.mode }
        set { server.mode = newValue }
    }

    /// `tls`: the certificate and key files to serve HTTPS with.
    static func start(tls: (certificate: String, key: String)? = nil) throws -> WebhookReceiver {
        WebhookReceiver(server: try FixtureServer(script: "webhook_receiver.py", arguments: tls.map { [$0.certificate, $0.key] } ?? []))
    }

    private init(server: FixtureServer) {
        self.server = server
    }

    /// Every request so far, in the order it came.
    func requests() -> [Received] {
        server.records().compactMap { json in
            guard let headers = json["headers"] as? [String: String], let body = json["body"] as? String else { return nil }
            let event = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
            return Received(path: json["path"] as? String ?? "", status: json["status"] as? Int ?? 0, mode: json["mode"] as? String ?? "",
                            body: body, signature: headers["outpost-signature"] ?? "", headers: headers, eventId: event["id"] as? String,
                            type: event["type"] as? String, subject: event["subject"] as? String, sequence: (event["sequence"] as? NSNumber)?.int64Value ?? 0)
        }
    }

    func stop() { server.stop() }
}
