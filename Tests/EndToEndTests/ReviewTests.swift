import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// Product reviews over real sockets: only a buyer reviews, once; staff moderate; approved
/// reviews show in product JSON, search and the storefront, and replicate in their region (or
/// the whole fleet where the region shares them).
final class ReviewTests: XCTestCase {
    /// A customer of `shop` who bought one `sku`; returns their id and token.
    static func buyer(_ shop: Shop, email: String, sku: String) throws -> (id: String, token: String) {
        let customer = try shop.register(email)
        let cart = try shop.newCart(token: customer.token)
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/\(sku)", #"{"quantity": 1}"#, token: customer.token).status, 200)
        let placed = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(email: nil), token: customer.token, key: UUID().uuidString)
        XCTAssertEqual(placed.status, 201, placed.response.text)
        return customer
    }

    static func staffToken(_ node: NodeProcess, role: String = "store_manager") throws -> String {
        let issued = try node.adminPost("/admin/v1/tokens", #"{"subject": "mia", "roles": ["\#(role)"]}"#)
        XCTAssertEqual(issued.status, 200, issued.text)
        return try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(issued.text.utf8)) as? [String: Any])?["access_token"] as? String)
    }

    func testOnlyABuyerReviewsOnceAndAnApprovedReviewShowsInProductJSONSearchAndPages() throws {
        let shop = try Shop.start()
        try shop.product("lamp", sku: "LAMP-1", price: 4_900, stock: 10)
        try shop.product("vase", sku: "VASE-1", price: 2_900, stock: 10)
        let ann = try Self.buyer(shop, email: "ann@example.com", sku: "LAMP-1")
        let review = { (product: String, body: String, token: String?) in try shop.send("POST", "/api/v1/products/\(product)/reviews", body, token: token) }

        // Refused clearly, and nothing written.
        XCTAssertEqual(try review("lamp", #"{"rating": 5, "text": "Bright"}"#, nil).status, 401, "a guest cannot review")
        let notBought = try review("vase", #"{"rating": 5, "text": "Lovely"}"#, ann.token)
        XCTAssertEqual(notBought.status, 403)
        XCTAssertEqual(notBought.json["type"] as? String, "/problems/review-not-allowed")
        for (body, field) in [(#"{"rating": 6, "text": "Bright"}"#, "rating"), (#"{"text": "Bright"}"#, "rating"),
                              (#"{"rating": 4, "text": "<script>alert(1)</script>"}"#, "text"), (#"{"rating": 4, "text": "\#(String(repeating: "a", count: 2001))"}"#, "text"),
                              (#"{"rating": 4, "text": "ok", "title": "<b>Wow</b>"}"#, "title"), (#"{"rating": 4, "text": "ok", "stars": 5}"#, "stars")] {
            let refused = try review("lamp", body, ann.token)
            XCTAssertEqual(refused.status, 422, body)
            XCTAssertTrue(((refused.json["errors"] as? [[String: Any]]) ?? []).contains { $0["field"] as? String == field }, "\(body): \(refused.json)")
        }
        let staff = try Self.staffToken(shop.node)
        XCTAssertEqual((try shop.send("GET", "/admin/v1/reviews", token: staff).json["reviews"] as? [Any])?.count, 0, "refusals write nothing")

        let written = try review("lamp", #"{"rating": 4, "title": "Bright and warm", "text": "Lights the whole desk.\nWorth it.", "author": "Ann"}"#, ann.token)
        XCTAssertEqual(written.status, 201, written.response.text)
        let twice = try review("lamp", #"{"rating": 1, "text": "Changed my mind"}"#, ann.token)
        XCTAssertEqual(twice.status, 409)
        XCTAssertEqual(twice.json["type"] as? String, "/problems/review-exists")
        XCTAssertTrue(try shop.send("GET", "/api/v1/products/lamp").json["rating"] is NSNull, "a pending review counts for nothing")

        // Staff approve and reply; shoppers see it.
        let queue = try XCTUnwrap(try shop.send("GET", "/admin/v1/reviews", token: staff).json["reviews"] as? [[String: Any]])
        XCTAssertEqual(queue.count, 1)
        let key = try XCTUnwrap(queue.first?["key"] as? String)
        XCTAssertEqual(try shop.send("POST", "/admin/v1/reviews/\(key)/approve", token: staff).status, 200)
        XCTAssertEqual(try shop.send("POST", "/admin/v1/reviews/\(key)/reply", #"{"reply": "Thank you, Ann!"}"#, token: staff).status, 200)
        XCTAssertEqual(try shop.send("POST", "/admin/v1/reviews/\(key)/reply", #"{"reply": "<a href=x>spam</a>"}"#, token: staff).status, 422)
        let rating = try XCTUnwrap(try shop.send("GET", "/api/v1/products/lamp").json["rating"] as? [String: Any])
        XCTAssertEqual(rating["average"] as? Double, 4.0)
        XCTAssertEqual(rating["count"] as? Int, 1)
        let listed = try XCTUnwrap(try shop.send("GET", "/api/v1/products/lamp/reviews").json["reviews"] as? [[String: Any]])
        XCTAssertEqual(listed.first?["text"] as? String, "Lights the whole desk.\nWorth it.")
        XCTAssertEqual(listed.first?["reply"] as? String, "Thank you, Ann!")
        XCTAssertNil(listed.first?["customer"], "shoppers do not see who wrote it beyond the name given")

        // Search sorts by rating: the rated lamp before the unrated vase, whichever is newer.
        let byRating = try shop.send("GET", "/api/v1/products?sort=rating")
        XCTAssertEqual((byRating.json["products"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, ["lamp", "vase"], byRating.response.text)
        let found = try shop.send("GET", "/api/v1/search?q=product&sort=rating")
        XCTAssertEqual(((found.json["products"] as? [[String: Any]])?.first?["rating"] as? [String: Any])?["count"] as? Int, 1, found.response.text)
        let page = try shop.node.client().get("/products/lamp").text
        XCTAssertTrue(page.contains("4.0 out of 5, from 1 review") && page.contains("Lights the whole desk.") && page.contains("The shop replied: Thank you, Ann!"), page)

        // A rejection hides it again; an approval shows it once more.
        XCTAssertEqual(try shop.send("POST", "/admin/v1/reviews/\(key)/reject", token: staff).status, 200)
        XCTAssertTrue(try shop.send("GET", "/api/v1/products/lamp").json["rating"] is NSNull)
        XCTAssertFalse(try shop.node.client().get("/products/lamp").text.contains("Lights the whole desk."))
        XCTAssertEqual(try shop.send("POST", "/admin/v1/reviews/\(key)/approve", token: staff).status, 200)

        // The customer erases their account: their words and name leave with it.
        XCTAssertEqual(try shop.send("DELETE", "/api/v1/me", #"{"password": "correct horse"}"#, token: ann.token).status, 204)
        XCTAssertTrue(try shop.send("GET", "/api/v1/products/lamp").json["rating"] is NSNull, "an erased customer's stars no longer count")
        let kept = try XCTUnwrap(try shop.send("GET", "/admin/v1/reviews?status=rejected", token: staff).json["reviews"] as? [[String: Any]])
        XCTAssertEqual(kept.first?["text"] as? String, "(removed at the customer's request)")
        XCTAssertEqual(kept.first?["author"] as? String, "Former customer")
        XCTAssertFalse(try shop.node.client().get("/products/lamp").text.contains("Ann"))
    }

    func testApprovedReviewsReplicateInTheirRegionOrFleetWideWhereTheRegionSharesThem() throws {
        let fleet = try TestFleet()
        let sharing = try fleet.start("eu-1", region: "eu", extra: Shop.terms + "[reviews]\nshare = \"fleet\"\n")
        let local = try fleet.start("eu-2", region: "eu", peers: [(id: "eu-1", region: "eu", address: sharing.syncAddress ?? "")], extra: Shop.terms)
        let abroad = try fleet.start("us-1", region: "us", peers: [(id: "eu-1", region: "eu", address: sharing.syncAddress ?? "")], extra: Shop.terms)
        let euShop = Shop(node: sharing)
        try euShop.product("lamp", sku: "LAMP-1", price: 4_900, stock: 10)
        try euShop.product("vase", sku: "VASE-1", price: 2_900, stock: 10)
        for node in [local, abroad] { XCTAssertTrue(eventually { try node.adminGet("/api/v1/products/vase").status == 200 }) }
        let ann = try Self.buyer(euShop, email: "ann@example.com", sku: "LAMP-1")
        let bob = try Self.buyer(euShop, email: "bob@example.com", sku: "VASE-1")
        XCTAssertEqual(try euShop.send("POST", "/api/v1/products/lamp/reviews", #"{"rating": 5, "text": "Shared with everyone"}"#, token: ann.token).status, 201)
        XCTAssertEqual(try euShop.send("POST", "/api/v1/products/vase/reviews", #"{"rating": 2, "text": "Stays in Europe"}"#, token: bob.token).status, 201)

        // The lamp's review is approved where the region shares; the vase's at the other node of
        // the region, which does not: the pending review reached it, and so does its approval.
        let lampKey = "rv:lamp:\(ann.id)", vaseKey = "rv:vase:\(bob.id)"
        XCTAssertTrue(eventually { try Shop(node: local).send("GET", "/admin/v1/reviews", token: Self.staffToken(local)).json["reviews"].map { "\($0)" }?.contains(vaseKey) == true },
                      "a pending review reaches the region's other nodes for moderation")
        XCTAssertEqual(try euShop.send("POST", "/admin/v1/reviews/\(lampKey)/approve", token: Self.staffToken(sharing)).status, 200)
        XCTAssertEqual(try Shop(node: local).send("POST", "/admin/v1/reviews/\(vaseKey)/approve", token: Self.staffToken(local)).status, 200)

        let count = { (node: NodeProcess, product: String) -> Int? in
            ((try Shop(node: node).send("GET", "/api/v1/products/\(product)").json["rating"]) as? [String: Any])?["count"] as? Int
        }
        for node in [sharing, local] {
            XCTAssertTrue(eventually { try count(node, "lamp") == 1 && count(node, "vase") == 1 }, "both reviews show in their region")
        }
        XCTAssertTrue(eventually { try count(abroad, "lamp") == 1 }, "the shared review reaches another region")
        XCTAssertNil(try count(abroad, "vase"), "a review of a region that does not share stays in it")
        let reviews = try XCTUnwrap(try Shop(node: abroad).send("GET", "/api/v1/products/lamp/reviews").json["reviews"] as? [[String: Any]])
        XCTAssertEqual(reviews.first?["text"] as? String, "Shared with everyone")
        let held = try abroad.adminJSON("/admin/v1/replicated/reviews/\(vaseKey)")
        XCTAssertEqual(((held["state"] as? [String: Any])?["fields"] as? [String: Any])?.count, 0, "the region's own reviews never leave it: \(held)")
    }
}
