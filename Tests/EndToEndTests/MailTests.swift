import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// Mail to shoppers (docs/notifications.md): a real noded sends through a real relay (aiosmtpd,
/// STARTTLS and AUTH required) the order confirmation and shipping mails in two languages, and
/// the password reset mail whose link sets a new password.
final class MailTests: XCTestCase {
    private var relay: MailRelay?

    override func tearDown() {
        relay?.stop()
        relay = nil
        super.tearDown()
    }

    private func shop(_ relay: MailRelay, pki: TestPKI, dir: TemporaryDirectory) throws -> Shop {
        try "secret-pw\n".write(toFile: dir.file("relay.password"), atomically: true, encoding: .utf8)
        let mail = """
            [mail]
            relay = "127.0.0.1:\(relay.port)"
            username = "shop"
            password_file = "\(dir.file("relay.password"))"
            from = "orders@hafen.example"
            shop_name = "Hafen Laden"
            storefront_url = "https://shop.hafen.example/"
            ca_file = "\(pki.authority)"
            first_retry_s = 1
            max_retry_s = 1
            [rate_limits]
            enabled = false

            """
        let shop = try Shop.start(extra: mail)
        try shop.product("mug", sku: "MUG-1", price: 1250, stock: 20)
        return shop
    }

    /// A guest checkout in `language` (Accept-Language); the order's id and its guest token.
    private func order(_ shop: Shop, language: String, email: String) throws -> (id: String, token: String) {
        let cart = try shop.newCart()
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/MUG-1", #"{"quantity": 2}"#).status, 200)
        let response = try shop.node.client().send("POST", "/api/v1/carts/\(cart)/checkout", headers: [
            ("Content-Type", "application/json"), ("Idempotency-Key", UUID().uuidString), ("Accept-Language", language),
        ], body: Array(Shop.checkoutBody(email: email).utf8))
        XCTAssertEqual(response.status, 201, response.text)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        return (try XCTUnwrap(json["id"] as? String), try XCTUnwrap(json["order_token"] as? String))
    }

    func testShoppersGetTheirOrderAndShippingMailsInTheirLanguageAndAResetLinkThatWorks() throws {
        let dir = TemporaryDirectory(prefix: "outpost-mail")
        let pki = try TestPKI.make(in: dir, name: "relay", ip: "127.0.0.1")
        let relay = try MailRelay.start(pki: pki, user: "shop", password: "secret-pw")
        self.relay = relay
        let shop = try shop(relay, pki: pki, dir: dir)

        relay.mode = "fail"  // the relay is down for a while: the mail waits and goes later
        let english = try order(shop, language: "en-GB,en;q=0.8", email: "ann@example.com")
        XCTAssertTrue(eventually { ((try shop.node.adminJSON("/admin/v1/notifications/status")["mail"] as? [String: Any])?["since_start"] as? [String: Any])?["retried"] as? Int ?? 0 >= 1 })
        relay.mode = "ok"
        let german = try order(shop, language: "de-DE,de;q=0.9", email: "jonas@example.com")
        XCTAssertTrue(eventually { relay.messages().count >= 2 }, "both confirmations arrive")

        let annMail = try XCTUnwrap(relay.messages().first { $0.to == ["ann@example.com"] })
        XCTAssertTrue(annMail.tls, "sent after STARTTLS")
        XCTAssertEqual(annMail.user, "shop", "authenticated")
        XCTAssertEqual(annMail.envelopeFrom, "orders@hafen.example")
        XCTAssertTrue(annMail.subject.hasPrefix("Your order ") && annMail.subject.hasSuffix(" at Hafen Laden"), annMail.subject)
        XCTAssertTrue(annMail.from.contains("Hafen Laden") && annMail.from.contains("orders@hafen.example"), annMail.from)
        XCTAssertTrue(annMail.text.contains("Thank you for your order."), annMail.text)
        XCTAssertTrue(annMail.text.contains("2 × Product mug"), annMail.text)
        XCTAssertTrue(annMail.text.contains("€25.00"), "lines priced in the shopper's language: \(annMail.text)")
        XCTAssertTrue(annMail.html.contains("https://shop.hafen.example/orders/\(english.id)?token=\(english.token)"), "the guest's own link")
        XCTAssertNotNil(annMail.headers["message-id"])
        XCTAssertNotNil(annMail.headers["date"])
        XCTAssertEqual(annMail.headers["auto-submitted"], "auto-generated")

        let jonasMail = try XCTUnwrap(relay.messages().first { $0.to == ["jonas@example.com"] })
        XCTAssertTrue(jonasMail.subject.hasPrefix("Ihre Bestellung "), jonasMail.subject)
        XCTAssertTrue(jonasMail.text.contains("Vielen Dank für Ihre Bestellung."), jonasMail.text)
        XCTAssertTrue(jonasMail.text.contains("25,00"), "German number format: \(jonasMail.text)")
        XCTAssertTrue(jonasMail.html.contains("Ihre Bestellung ansehen"))
        XCTAssertTrue(jonasMail.html.contains("/orders/\(german.id)?token="))

        // Shipping: the carrier and tracking number, in the order's language.
        let shipped = try shop.send("POST", "/admin/v1/orders/\(german.id)/events", #"{"kind": "shipped", "carrier": "DHL", "tracking": "JJD0001"}"#,
                                    token: shop.node.adminToken)
        XCTAssertEqual(shipped.status, 200, shipped.response.text)
        XCTAssertTrue(eventually { relay.messages().contains { $0.subject.contains("unterwegs") } })
        let shippingMail = try XCTUnwrap(relay.messages().first { $0.subject.contains("unterwegs") })
        XCTAssertEqual(shippingMail.to, ["jonas@example.com"])
        XCTAssertTrue(shippingMail.text.contains("Sendungsnummer: JJD0001") && shippingMail.text.contains("DHL"), shippingMail.text)

        // A password reset: the mail's link carries the token; nothing else hands it out.
        let account = try shop.register("kim@example.com")
        let asked = try shop.send("POST", "/api/v1/auth/password-reset", #"{"email": "kim@example.com"}"#)
        XCTAssertEqual(asked.status, 202)
        XCTAssertTrue(asked.response.body.isEmpty, "the answer holds no token")
        XCTAssertEqual(try shop.send("POST", "/api/v1/auth/password-reset", #"{"email": "nobody@example.com"}"#).status, 202, "the same answer")
        XCTAssertTrue(eventually { relay.messages().contains { $0.to == ["kim@example.com"] } })
        let resetMail = try XCTUnwrap(relay.messages().first { $0.to == ["kim@example.com"] })
        XCTAssertEqual(resetMail.subject, "Reset your password at Hafen Laden")
        let link = try XCTUnwrap(resetMail.text.split(separator: "\n").first { $0.hasPrefix("https://shop.hafen.example/account/reset?token=") })
        let token = try XCTUnwrap(String(link.dropFirst("https://shop.hafen.example/account/reset?token=".count)).removingPercentEncoding)
        XCTAssertTrue(token.hasPrefix(account.id + "."))
        XCTAssertFalse(shop.node.log.contains(token), "the token is never logged")
        let page = try shop.node.client().get("/account/reset?token=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.text.contains("Choose a new password"))
        let confirmed = try shop.send("POST", "/api/v1/auth/password-reset/confirm", #"{"token": "\#(token)", "new_password": "a new horse battery"}"#)
        XCTAssertEqual(confirmed.status, 204, confirmed.response.text)
        XCTAssertEqual(try shop.send("POST", "/api/v1/auth/sign-in", #"{"email": "kim@example.com", "password": "a new horse battery"}"#).status, 200)
        XCTAssertEqual(try shop.send("POST", "/api/v1/auth/password-reset/confirm", #"{"token": "\#(token)", "new_password": "another one here"}"#).status, 400,
                       "used once")

        // The same in German, for a shopper whose browser asks for it.
        _ = try shop.register("lena@example.com")
        let germanReset = try shop.node.client().send("POST", "/api/v1/auth/password-reset", headers: [("Content-Type", "application/json"), ("Accept-Language", "de")],
                                                 body: Array(#"{"email": "lena@example.com"}"#.utf8))
        XCTAssertEqual(germanReset.status, 202)
        XCTAssertTrue(eventually { relay.messages().contains { $0.to == ["lena@example.com"] } })
        let lenaMail = try XCTUnwrap(relay.messages().first { $0.to == ["lena@example.com"] })
        XCTAssertEqual(lenaMail.subject, "Passwort zurücksetzen bei Hafen Laden", "an encoded subject, decoded by the relay")
        XCTAssertTrue(lenaMail.text.contains("Öffnen Sie diesen Link innerhalb von 30 Minuten"), lenaMail.text)

        var status: CommandResult?
        XCTAssertTrue(eventually {
            status = try SettlementTests.nodectl(shop.node, ["notifications", "status"])
            return status?.stdout.contains("Mail: pending 0, sent 5, given up 0") ?? false
        }, (status?.stdout ?? "") + (status?.stderr ?? ""))
        XCTAssertTrue(try shop.node.adminGet("/metrics").text.contains("outpost_notifications_sent_total{channel=\"mail\"} 5"))
    }

    func testTheMailSectionIsCheckedAtStart() throws {
        func refused(_ mail: String) throws -> String {
            do {
                _ = try NodeProcess.start(config: Shop.config(id: "shop", extra: mail), timeoutSeconds: 10)
                return ""
            } catch NodeProcessError.didNotStart(_, let log) {
                return log
            }
        }
        XCTAssertTrue(try refused("[mail]\nfrom = \"a@b.example\"\n").contains("mail.relay"))
        XCTAssertTrue(try refused("[mail]\nrelay = \"smtp.example:587\"\nfrom = \"not an address\"\n").contains("mail.from"))
        XCTAssertTrue(try refused("[mail]\nrelay = \"smtp.example:587\"\nfrom = \"a@b.example\"\nsecurity = \"none\"\nusername = \"u\"\n").contains("mail.username"))
        XCTAssertTrue(try refused("[mail]\nrelay = \"smtp.example:587\"\nfrom = \"a@b.example\"\npassword_file = \"/nonexistent/pw\"\n").contains("mail.password_file"))
    }
}

/// The aiosmtpd relay in Fixtures/, as a test drives it.
final class MailRelay {
    struct Message {
        var envelopeFrom: String
        var to: [String]
        var user: String?
        var tls: Bool
        var subject: String
        var from: String
        var headers: [String: String]
        var text: String
        var html: String
    }

    private let server: FixtureServer
    var port: Int { server.port }
    var mode: String {
        get { server.mode }
        set { server.mode = newValue }
    }

    /// aiosmtpd comes from PyPI: the tools venv `.ci/setup` makes.
    static func start(pki: TestPKI, user: String, password: String) throws -> MailRelay {
        let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/tools-venv/bin/python3").standardized.path
        return MailRelay(server: try FixtureServer(script: "smtp_relay.py", python: python, arguments: [pki.certificate, pki.key, user, password]))
    }

    private init(server: FixtureServer) {
        self.server = server
    }

    /// Every message taken so far, in order.
    func messages() -> [Message] {
        server.records().map { json in
            Message(envelopeFrom: json["mail_from"] as? String ?? "", to: json["rcpt_tos"] as? [String] ?? [], user: json["user"] as? String,
                           tls: json["tls"] as? Bool ?? false, subject: json["subject"] as? String ?? "", from: json["from"] as? String ?? "",
                           headers: json["headers"] as? [String: String] ?? [:], text: json["text"] as? String ?? "", html: json["html"] as? String ?? "")
        }
    }

    func stop() { server.stop() }
}
