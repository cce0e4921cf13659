import Foundation
import HTTP
import NodeTesting
import XCTest

/// The storefront's shopping pages over HTTP, as a browser without JavaScript uses them: forms
/// posted, 303s followed, cookies kept.
final class ShopPagesTests: XCTestCase {
    /// A browser's cookie jar and form posts, enough for these pages.
    private final class Visitor {
        let node: NodeProcess
        var cookies: [String: String] = [:]
        init(_ node: NodeProcess) { self.node = node }

        private var cookieHeader: [(String, String)] {
            cookies.isEmpty ? [] : [("Cookie", cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))]
        }

        private func keep(_ response: ClientResponse) {
            for header in response.headers.values("set-cookie") {
                let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2 else { continue }
                if header.contains("Max-Age=0") { cookies[String(pair[0])] = nil } else { cookies[String(pair[0])] = String(pair[1]) }
            }
        }

        /// A GET; a 307 (a renewed session) is followed like a browser does.
        func get(_ path: String) throws -> ClientResponse {
            let response = try node.client().get(path, headers: cookieHeader)
            keep(response)
            if response.status == 307, let location = response.headers["location"] { return try get(location) }
            return response
        }

        /// Posts a form; a 303 is followed like a browser does. Returns the final page and where it is.
        func post(_ path: String, _ fields: [(String, String)]) throws -> (page: ClientResponse, path: String) {
            // As a browser posts a form of this site's page: with the page's origin and its token.
            let token = cookies["outpost_form"].map { [("csrf", $0)] } ?? []
            let body = (fields + token).map { PercentEncoding.encode($0.0) + "=" + PercentEncoding.encode($0.1) }.joined(separator: "&")
            let response = try node.client().send("POST", path, headers: cookieHeader + [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", node.baseURL)],
                                                  body: Array(body.utf8))
            keep(response)
            guard response.status == 303, let location = response.headers["location"] else { return (response, path) }
            return (try get(location), location)
        }
    }

    private func hidden(_ name: String, in html: String) -> String? {
        guard let range = html.range(of: #"name="\#(name)" value=""#) else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    func testAShopperBuysSignsUpAndSeesTheOrderInTheirAccount() throws {
        let shop = try Shop.start()
        try shop.product("kettle", sku: "KET-1", price: 3_450, stock: 3)
        let visitor = Visitor(shop.node)

        let product = try visitor.get("/products/kettle")
        XCTAssertTrue(product.text.contains(#"action="/cart/add""#), "a product page has an add-to-cart form")
        let added = try visitor.post("/cart/add", [("sku", "KET-1"), ("quantity", "2")])
        XCTAssertEqual(added.path, "/cart")
        XCTAssertNotNil(visitor.cookies["outpost_cart"])
        XCTAssertTrue(added.page.text.contains("Product kettle"), added.page.text)
        XCTAssertTrue(added.page.text.contains("€69.00"), "2 × €34.50")
        let tooMany = try visitor.post("/cart/add", [("sku", "KET-1"), ("quantity", "5")])
        XCTAssertEqual(tooMany.page.status, 409)
        XCTAssertTrue(tooMany.page.text.contains("available"), tooMany.page.text)

        let checkout = try visitor.get("/checkout")
        XCTAssertEqual(checkout.status, 200)
        XCTAssertTrue(checkout.text.contains("tok_decline_stolen"), "the sandbox's test cards are offered")
        XCTAssertTrue(checkout.text.contains("€73.95"), "69.00 + 4.95 shipping")
        let key = try XCTUnwrap(hidden("key", in: checkout.text))
        let address = [("email", "kim@example.com"), ("name", "Kim Lee"), ("line1", "2 Mill Lane"), ("city", "Leeds"), ("postal_code", "LS1 4AP"), ("country", "GB")]
        let declined = try visitor.post("/checkout", address + [("card", "tok_decline_stolen"), ("key", key)])
        XCTAssertEqual(declined.page.status, 402)
        XCTAssertTrue(declined.page.text.contains("stolen card"), declined.page.text)
        XCTAssertTrue(declined.page.text.contains(#"value="2 Mill Lane""#), "what the shopper typed is kept")
        let missing = try visitor.post("/checkout", [("card", "tok_visa"), ("key", try XCTUnwrap(hidden("key", in: declined.page.text)))])
        XCTAssertEqual(missing.page.status, 422)
        XCTAssertTrue(missing.page.text.contains("Please check"), missing.page.text)

        let paid = try visitor.post("/checkout", address + [("card", "tok_visa"), ("key", try XCTUnwrap(hidden("key", in: missing.page.text)))])
        XCTAssertTrue(paid.path.hasPrefix("/orders/o-shop-"), paid.path)
        XCTAssertTrue(paid.page.text.contains("Thank you! Your order is placed and paid."), paid.page.text)
        XCTAssertTrue(paid.page.text.contains("SHOP-000002"), "the declined attempt used number 1")
        XCTAssertTrue(paid.page.text.contains("Leeds"))
        XCTAssertEqual(try shop.stock("KET-1").available, 1)
        let order = String(paid.path.dropFirst("/orders/".count).prefix { $0 != "?" })
        XCTAssertEqual(try shop.node.client().get("/orders/\(order)").status, 404, "an order page needs its link's token or its customer")
        XCTAssertTrue(try visitor.get("/cart").text.contains("Your cart is empty"))

        // Sign up: then the account shows the next order.
        XCTAssertEqual(try visitor.get("/account").status, 303)
        let signedUp = try visitor.post("/sign-up", [("email", "kim@example.com"), ("password", "correct horse"), ("name", "Kim"), ("next", "/account")])
        XCTAssertEqual(signedUp.path, "/account")
        XCTAssertTrue(signedUp.page.text.contains("kim@example.com"))
        XCTAssertTrue(signedUp.page.text.contains("No orders yet"), "a guest order stays the guest's")
        _ = try visitor.post("/cart/add", [("sku", "KET-1"), ("quantity", "1")])
        let form = try visitor.get("/checkout")
        XCTAssertFalse(form.text.contains(#"name="email""#), "a customer's email is the account's")
        let second = try visitor.post("/checkout", address.dropFirst().map { $0 } + [("card", "tok_visa"), ("key", try XCTUnwrap(hidden("key", in: form.text)))])
        XCTAssertTrue(second.page.text.contains("placed and paid"), second.page.text)
        let account = try visitor.get("/account")
        XCTAssertTrue(account.text.contains("SHOP-000003"), account.text)
        // The access token runs out after 15 minutes: the refresh cookie renews it unseen.
        let spent = try XCTUnwrap(visitor.cookies["outpost_refresh"])
        visitor.cookies["outpost_session"] = nil
        let renewed = try visitor.get("/account")
        XCTAssertEqual(renewed.status, 200)
        XCTAssertTrue(renewed.text.contains("kim@example.com"))
        XCTAssertNotNil(visitor.cookies["outpost_session"])
        XCTAssertNotEqual(visitor.cookies["outpost_refresh"], spent, "each renewal spends the refresh token")
        let refreshBeforeSignOut = try XCTUnwrap(visitor.cookies["outpost_refresh"])
        _ = try visitor.post("/sign-out", [])
        XCTAssertNil(visitor.cookies["outpost_session"])
        XCTAssertNil(visitor.cookies["outpost_refresh"])
        let afterSignOut = try shop.send("POST", "/api/v1/auth/refresh", #"{"refresh_token": "\#(refreshBeforeSignOut)"}"#)
        XCTAssertEqual(afterSignOut.status, 401, "signing out ends the session on the node, not only in the browser")
        let wrong = try visitor.post("/sign-in", [("email", "kim@example.com"), ("password", "wrong horse!")])
        XCTAssertEqual(wrong.page.status, 401)
        let back = try visitor.post("/sign-in", [("email", "kim@example.com"), ("password", "correct horse"), ("next", "https://evil.example/")])
        XCTAssertEqual(back.path, "/account", "next never leaves the site")
    }
}
