import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// The back office's doors over real sockets: accounts, sign-in, sessions, form tokens, roles.
final class BackOfficeTests: XCTestCase {
    /// A browser's cookies, by hand.
    struct Visitor {
        let node: NodeProcess
        var cookies: [String: String] = [:]

        var cookieHeader: (String, String) { ("Cookie", cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }

        mutating func keep(_ response: ClientResponse) {
            for field in response.headers.values("Set-Cookie") {
                let pair = field.split(separator: ";").first.map(String.init) ?? ""
                guard let equals = pair.firstIndex(of: "=") else { continue }
                let name = String(pair[..<equals]), value = String(pair[pair.index(after: equals)...])
                if field.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
            }
        }

        mutating func get(_ path: String) throws -> ClientResponse {
            let response = try node.client().get(path, headers: [cookieHeader])
            keep(response)
            return response
        }

        mutating func post(_ path: String, _ fields: [(String, String)], origin: String? = nil) throws -> ClientResponse {
            let body = fields.map { "\($0.0)=\(PercentEncoding.encode($0.1))" }.joined(separator: "&")
            let response = try node.client().send("POST", path, headers: [cookieHeader, ("Content-Type", "application/x-www-form-urlencoded"),
                                                                          ("Origin", origin ?? node.baseURL)], body: Array(body.utf8))
            keep(response)
            return response
        }

        /// The hidden `csrf` field of the page at `path`.
        mutating func formToken(_ path: String) throws -> String {
            let page = try get(path).text
            let start = try XCTUnwrap(page.range(of: #"name="csrf" value=""#)).upperBound
            return String(page[start...].prefix { $0 != "\"" })
        }

        mutating func signIn(_ account: String, _ password: String) throws -> ClientResponse {
            try post("/admin/sign-in", [("csrf", try formToken("/admin/sign-in")), ("next", "/admin/"), ("account", account), ("password", password)])
        }
    }

    static func addAccount(_ node: NodeProcess, _ id: String, role: String, password: String = "correct horse battery") throws -> CommandResult {
        let file = NSTemporaryDirectory() + "pw-\(UUID().uuidString)"
        try password.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        return try runExecutable("nodectl", ["staff", "add", id, "--name", id.capitalized, "--role", role, "--password-file", file, "--data-dir", node.dataDirectory])
    }

    func testAccountsSignInAndOnlyTheirSessionsFormTokensAndRolesAct() throws {
        let shop = try Shop.start()
        try shop.product("lamp", sku: "LAMP-1", price: 4_900, stock: 3)

        // Accounts: bad ones are refused with every reason; the hub's role is the hub's.
        let refused = try shop.node.adminSend("PUT", "/admin/v1/staff-accounts/Bad%20Name", #"{"name": "", "role": "cashier", "password": "short"}"#)
        XCTAssertEqual(refused.status, 422)
        for field in ["\"id\"", "\"name\"", "\"role\"", "\"password\""] { XCTAssertTrue(refused.text.contains(field), refused.text) }
        let hubRole = try Self.addAccount(shop.node, "root", role: "hub_admin")
        XCTAssertNotEqual(hubRole.status, 0)
        XCTAssertTrue(hubRole.stderr.contains("only the hub"), hubRole.stderr)
        XCTAssertEqual(try Self.addAccount(shop.node, "mia", role: "store_manager").status, 0)
        XCTAssertEqual(try Self.addAccount(shop.node, "otto", role: "operator").status, 0)
        let listed = try runExecutable("nodectl", ["staff", "list", "--data-dir", shop.node.dataDirectory])
        XCTAssertTrue(listed.stdout.contains("mia") && listed.stdout.contains("store_manager") && !listed.stdout.contains("horse"), listed.stdout)

        // Signing in: pages send a stranger to the form; a wrong password is refused.
        var mia = Visitor(node: shop.node)
        let stranger = try mia.get("/admin/orders")
        XCTAssertEqual(stranger.status, 303)
        XCTAssertEqual(stranger.headers["Location"], "/admin/sign-in?next=%2Fadmin%2Forders")
        let wrong = try mia.signIn("mia", "not the password")
        XCTAssertEqual(wrong.status, 401)
        XCTAssertTrue(wrong.text.contains("the account and password do not match"))
        XCTAssertNil(mia.cookies[OutpostNodeCookies.staff])
        let signedIn = try mia.signIn("mia", "correct horse battery")
        XCTAssertEqual(signedIn.status, 303)
        let cookie = try XCTUnwrap(signedIn.headers.values("Set-Cookie").first { $0.hasPrefix(OutpostNodeCookies.staff + "=") })
        XCTAssertTrue(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/admin/"), cookie)
        let dashboard = try mia.get("/admin/")
        XCTAssertEqual(dashboard.status, 200)
        XCTAssertTrue(dashboard.text.contains("Store shop today") && dashboard.text.contains("<svg"), dashboard.text)
        XCTAssertEqual(dashboard.headers["X-Frame-Options"], "DENY")

        // A form acts only from this node's pages, with this session's token.
        let token = try mia.formToken("/admin/stock?sku=LAMP-1")
        XCTAssertEqual(try mia.post("/admin/stock/receive", [("csrf", "0" + token.dropFirst()), ("sku", "LAMP-1"), ("units", "5")]).status, 403)
        XCTAssertEqual(try mia.post("/admin/stock/receive", [("csrf", token), ("sku", "LAMP-1"), ("units", "5")], origin: "http://evil.example").status, 403)
        XCTAssertEqual(try shop.stock("LAMP-1").available, 3, "refused forms change nothing")
        let received = try mia.post("/admin/stock/receive", [("csrf", token), ("sku", "LAMP-1"), ("units", "5"), ("note", "delivery 7")])
        XCTAssertEqual(received.status, 303)
        XCTAssertEqual(try shop.stock("LAMP-1").available, 8)
        XCTAssertTrue(try mia.get("/admin/stock?sku=LAMP-1").text.contains("Received 5 × LAMP-1."))
        let movements = try shop.node.adminJSON("/admin/v1/inventory/LAMP-1/movements")["movements"] as? [[String: Any]]
        XCTAssertEqual(movements?.first?["actor"] as? String, "mia", "the API logged the account that acted")
        // The API's own checks answer through the page.
        _ = try mia.post("/admin/stock/adjust", [("csrf", token), ("sku", "LAMP-1"), ("delta", "-50"), ("reason", "lost")])
        XCTAssertTrue(try mia.get("/admin/stock?sku=LAMP-1").text.contains("this node holds rights to 8 units"))
        XCTAssertEqual(try shop.stock("LAMP-1").available, 8)

        // The dashboard's downloads are the reports' CSV, under the session.
        let csv = try mia.get("/admin/reports/sales.csv?window=1h")
        XCTAssertEqual(csv.status, 200)
        XCTAssertEqual(csv.headers["Content-Type"], "text/csv; charset=utf-8")
        XCTAssertTrue(csv.text.hasPrefix("start,end,currency,orders,"), csv.text)

        // Roles: the ledger is the hub admin's; the account's next change ends its sessions.
        XCTAssertEqual(try mia.get("/admin/ledger").status, 403)
        XCTAssertEqual(try Self.addAccount(shop.node, "mia", role: "store_manager", password: "a new password").status, 0)
        XCTAssertEqual(try mia.get("/admin/").status, 303, "a changed password ends the old sessions")
        var otto = Visitor(node: shop.node)
        XCTAssertEqual(try otto.signIn("otto", "correct horse battery").status, 303)
        // An operator pauses a promotion from its page; the store manager only reads it.
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/promotions", #"{"id": "winter", "name": "Winter", "kind": "free_shipping", "code": "WINTER"}"#).status, 201)
        XCTAssertEqual(try otto.post("/admin/promotions/winter/pause", [("csrf", try otto.formToken("/admin/promotions"))]).status, 303)
        XCTAssertTrue(try otto.get("/admin/promotions").text.contains("Promotion paused."))
        XCTAssertEqual(try shop.node.adminJSON("/admin/v1/promotions/winter")["status"] as? String, "paused")
        let signOut = try otto.post("/admin/sign-out", [("csrf", try otto.formToken("/admin/"))])
        XCTAssertEqual(signOut.status, 303)
        XCTAssertEqual(try otto.get("/admin/").status, 303, "signed out")
        XCTAssertEqual(try runExecutable("nodectl", ["staff", "remove", "otto", "--data-dir", shop.node.dataDirectory]).status, 0)
        XCTAssertEqual(try otto.signIn("otto", "correct horse battery").status, 401, "a removed account cannot sign in")
    }
}

/// The back office's cookie names, as the node sets them.
enum OutpostNodeCookies {
    static let staff = "outpost_staff"
}
