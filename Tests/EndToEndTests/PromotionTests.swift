import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// Promotions as shoppers and marketing staff meet them, on real nodes.
final class PromotionTests: XCTestCase {
    private func promotion(_ shop: Shop, _ body: String) throws -> [String: Any] {
        let created = try shop.node.adminPost("/admin/v1/promotions", body)
        XCTAssertEqual(created.status, 201, created.text)
        return (try? JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any]) ?? [:]
    }

    private func cart(_ shop: Shop, _ lines: [(String, Int)], code: String? = nil, token: String? = nil) throws -> String {
        let cart = try shop.newCart(token: token)
        for (sku, quantity) in lines {
            XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/\(sku)", #"{"quantity": \#(quantity)}"#, token: token).status, 200)
        }
        if let code { XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/discount-code", #"{"code": "\#(code)"}"#, token: token).status, 200) }
        return cart
    }

    private func checkout(_ shop: Shop, _ cart: String, key: String = UUID().uuidString, token: String? = nil, card: String = "tok_visa")
        throws -> (status: Int, json: [String: Any], response: ClientResponse) {
        try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(token: card, email: token == nil ? "guest@example.com" : nil), token: token, key: key)
    }

    private func discounts(_ json: [String: Any]) -> [String: Int] {
        Dictionary(((json["discounts"] as? [[String: Any]]) ?? []).map { ($0["promotion"] as? String ?? "", $0["amount"] as? Int ?? 0) }, uniquingKeysWith: +)
    }

    func testDiscountCodesShowOnTheCartAndTheOrderAndAreCounted() throws {
        let shop = try Shop.start()
        try shop.product("mug", sku: "MUG-1", price: 1000, stock: 50)
        try shop.product("pot", sku: "POT-1", price: 2500, stock: 50)
        _ = try promotion(shop, #"{"id": "ten", "name": "Ten off", "kind": "percentage", "code": "SAVE10", "percent_bp": 1000, "min_spend": 2000, "currency": "EUR"}"#)
        _ = try promotion(shop, #"{"id": "fiver", "name": "Five euros", "kind": "fixed_amount", "code": "FIVER", "amount": 500, "currency": "EUR"}"#)
        _ = try promotion(shop, #"{"id": "ship", "name": "Free shipping", "kind": "free_shipping", "code": "SHIPFREE"}"#)

        // A code the cart does not qualify for yet is kept and explained; checkout refuses it.
        let cart = try cart(shop, [("MUG-1", 1)], code: "save10")
        var view = try shop.send("GET", "/api/v1/carts/\(cart)").json
        let status = try XCTUnwrap(view["discount_code"] as? [String: Any])
        XCTAssertEqual(status["code"] as? String, "SAVE10")
        XCTAssertEqual(status["applies"] as? Bool, false)
        XCTAssertEqual(status["reason"] as? String, "minimum_spend")
        let refused = try checkout(shop, cart)
        XCTAssertEqual(refused.status, 409)
        XCTAssertEqual(refused.json["type"] as? String, "/problems/discount-code-not-applicable")
        XCTAssertEqual(refused.json["reason"] as? String, "minimum_spend")

        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/POT-1", #"{"quantity": 1}"#).status, 200)
        view = try shop.send("GET", "/api/v1/carts/\(cart)").json
        XCTAssertEqual((view["discount_code"] as? [String: Any])?["applies"] as? Bool, true)
        XCTAssertEqual(discounts(view), ["ten": 350])
        XCTAssertEqual(view["total"] as? Int, 3500 - 350 + 495)
        let placed = try checkout(shop, cart)
        XCTAssertEqual(placed.status, 201, placed.response.text)
        XCTAssertEqual(discounts(placed.json), ["ten": 350])
        let totals = try XCTUnwrap(placed.json["totals"] as? [String: Any])
        XCTAssertEqual(totals["discount"] as? Int, 350)
        XCTAssertEqual(totals["total"] as? Int, 3645)
        XCTAssertNil(try shop.send("GET", "/api/v1/carts/\(cart)").json["discount_code"], "the code is used up with the cart")
        let ten = try shop.node.adminJSON("/admin/v1/promotions/ten")
        XCTAssertEqual((ten["redemptions"] as? [String: Any])?["fleet"] as? Int, 1)
        XCTAssertEqual((ten["redemptions"] as? [String: Any])?["by_node"] as? [String: Int], ["shop": 1])

        // A fixed amount, and free shipping (the fee stays on the order, the discount waives it).
        let fiver = try checkout(shop, try self.cart(shop, [("MUG-1", 1)], code: "FIVER"))
        XCTAssertEqual(discounts(fiver.json), ["fiver": 500])
        XCTAssertEqual((fiver.json["totals"] as? [String: Any])?["total"] as? Int, 1000 - 500 + 495)
        let shipping = try checkout(shop, try self.cart(shop, [("MUG-1", 1)], code: "SHIPFREE"))
        XCTAssertEqual(discounts(shipping.json), ["ship": 495])
        XCTAssertEqual((shipping.json["totals"] as? [String: Any])?["shipping"] as? Int, 495)
        XCTAssertEqual((shipping.json["totals"] as? [String: Any])?["total"] as? Int, 1000)

        // Bad codes change nothing.
        let other = try self.cart(shop, [("MUG-1", 1)])
        let unknown = try shop.send("PUT", "/api/v1/carts/\(other)/discount-code", #"{"code": "NOPE"}"#)
        XCTAssertEqual(unknown.status, 422)
        XCTAssertEqual(unknown.json["reason"] as? String, "unknown")
        XCTAssertNil(try shop.send("GET", "/api/v1/carts/\(other)").json["discount_code"])
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(other)/discount-code", #"{"code": 5}"#).status, 422)
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(other)/discount-code", "{").status, 400)
        XCTAssertEqual(try shop.send("DELETE", "/api/v1/carts/\(other)/discount-code").status, 200)
    }

    func testAutomaticPromotionsStackInTheirOrder() throws {
        let shop = try Shop.start()
        try shop.product("mug", sku: "MUG-1", price: 1000, stock: 50)
        try shop.product("pot", sku: "POT-1", price: 2500, stock: 50)
        _ = try promotion(shop, #"{"id": "mugs-3for2", "name": "Three mugs for two", "kind": "buy_x_get_y", "buy": 2, "get": 1, "products": ["mug"]}"#)
        _ = try promotion(shop, #"{"id": "tiers", "name": "Spend more, save more", "kind": "tiered_spend", "currency": "EUR", "tiers": [{"from": 5000, "amount": 500}, {"from": 10000, "percent_bp": 1000}]}"#)

        let cart = try cart(shop, [("MUG-1", 3)])
        XCTAssertEqual(discounts(try shop.send("GET", "/api/v1/carts/\(cart)").json), ["mugs-3for2": 1000])
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/POT-1", #"{"quantity": 2}"#).status, 200)
        let view = try shop.send("GET", "/api/v1/carts/\(cart)").json
        XCTAssertEqual((view["discounts"] as? [[String: Any]])?.compactMap { $0["promotion"] as? String }, ["mugs-3for2", "tiers"])
        XCTAssertEqual(discounts(view), ["mugs-3for2": 1000, "tiers": 500])
        let placed = try checkout(shop, cart)
        XCTAssertEqual(placed.status, 201, placed.response.text)
        XCTAssertEqual((placed.json["totals"] as? [String: Any])?["discount"] as? Int, 1500)
        XCTAssertEqual((placed.json["totals"] as? [String: Any])?["total"] as? Int, 8000 - 1500 + 495)
    }

    func testValidityStatusAndLimitsAreEnforced() throws {
        let shop = try Shop.start()
        try shop.product("mug", sku: "MUG-1", price: 1000, stock: 50)
        _ = try promotion(shop, #"{"id": "later", "name": "Later", "kind": "percentage", "percent_bp": 500, "code": "LATER", "starts_at": "2999-01-01T00:00:00Z"}"#)
        _ = try promotion(shop, #"{"id": "past", "name": "Past", "kind": "percentage", "percent_bp": 500, "code": "PAST", "ends_at": "2000-01-01T00:00:00Z"}"#)
        _ = try promotion(shop, #"{"id": "once", "name": "Once each", "kind": "percentage", "percent_bp": 500, "code": "ONCE", "per_customer_limit": 1}"#)
        _ = try promotion(shop, #"{"id": "one", "name": "Only one", "kind": "fixed_amount", "amount": 100, "currency": "EUR", "code": "ONLYONE", "usage_cap": 1}"#)
        let plain = try cart(shop, [("MUG-1", 1)])
        for (code, reason) in [("LATER", "not_started"), ("PAST", "expired")] {
            let refused = try shop.send("PUT", "/api/v1/carts/\(plain)/discount-code", #"{"code": "\#(code)"}"#)
            XCTAssertEqual(refused.status, 422)
            XCTAssertEqual(refused.json["reason"] as? String, reason)
        }

        // Paused after the shopper applied it: the checkout refuses; resumed, it applies again.
        let paused = try cart(shop, [("MUG-1", 1)], code: "ONLYONE")
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/promotions/one/pause", "").status, 200)
        XCTAssertEqual(try checkout(shop, paused).json["reason"] as? String, "not_active")
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/promotions/one/resume", "").status, 200)

        // A cap of one: the declined card gives its redemption back, the paid order keeps it.
        XCTAssertEqual(try checkout(shop, paused, card: "tok_decline_insufficient_funds").status, 402)
        XCTAssertEqual(try checkout(shop, paused).status, 201)
        let exhausted = try checkout(shop, try cart(shop, [("MUG-1", 1)], code: "ONLYONE"))
        XCTAssertEqual(exhausted.status, 409)
        XCTAssertEqual(exhausted.json["type"] as? String, "/problems/discount-code-exhausted")
        XCTAssertEqual(((try shop.node.adminJSON("/admin/v1/promotions/one"))["redemptions"] as? [String: Any])?["left"] as? Int, 0)

        // Once per customer: guests must sign in, a customer's second order is refused.
        XCTAssertEqual(try checkout(shop, try cart(shop, [("MUG-1", 1)], code: "ONCE")).json["reason"] as? String, "sign_in_required")
        let customer = try shop.register("ann@example.com")
        XCTAssertEqual(try checkout(shop, try cart(shop, [("MUG-1", 1)], code: "ONCE", token: customer.token), token: customer.token).status, 201)
        let second = try checkout(shop, try cart(shop, [("MUG-1", 1)], code: "ONCE", token: customer.token), token: customer.token)
        XCTAssertEqual(second.status, 409)
        XCTAssertEqual(second.json["reason"] as? String, "customer_limit")

        // Retired is final, and frees the code.
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/promotions/once/retire", "").status, 200)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/promotions/once/resume", "").status, 409)
        _ = try promotion(shop, #"{"id": "once-again", "name": "Once more", "kind": "percentage", "percent_bp": 500, "code": "once"}"#)
    }

    func testBadPromotionsAreRefusedWithEveryFieldNamed() throws {
        let shop = try Shop.start()
        _ = try promotion(shop, #"{"id": "ten", "name": "Ten", "kind": "percentage", "percent_bp": 1000, "code": "TEN"}"#)
        let bad = try shop.node.adminPost("/admin/v1/promotions", #"{"id": "Bad Id", "name": "", "kind": "fixed_amount", "percent_bp": 0, "colour": "red", "tiers": 3}"#)
        XCTAssertEqual(bad.status, 422)
        let fields = Set(((try JSONSerialization.jsonObject(with: Data(bad.body)) as? [String: Any])?["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
        XCTAssertTrue(fields.isSuperset(of: ["id", "name", "percent_bp", "colour", "tiers", "amount"]), "\(fields)")
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/promotions", #"{"id": "ten", "name": "Again", "kind": "free_shipping"}"#).status, 409)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/promotions", #"{"id": "other", "name": "Same code", "kind": "free_shipping", "code": "ten"}"#).status, 409)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/promotions", #"{"id": "auto", "name": "Capped", "kind": "free_shipping", "usage_cap": 5}"#).status, 422)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/promotions/nope/pause", "").status, 404)
        XCTAssertEqual(((try shop.node.adminJSON("/admin/v1/promotions"))["promotions"] as? [Any])?.count, 1, "nothing was written")
    }

    /// The cap holds fleet-wide while stores are cut off from each other: each redeems within
    /// the rights it holds, and after healing the redemptions add up to at most the cap.
    func testACappedCodeRedeemedOnTwoPartitionedStoresNeverExceedsItsCap() throws {
        let fleet = try TestFleet()
        let terms = Shop.terms
        let storeA = try fleet.start("store-a", region: "eu", extra: terms)
        let storeB = try fleet.start("store-b", region: "eu", extra: terms)
        let peers = [("store-a", "eu", storeA.syncAddress ?? ""), ("store-b", "eu", storeB.syncAddress ?? "")].map { (id: $0.0, region: $0.1, address: $0.2) }
        var hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: peers, extra: terms)
        let hubShop = Shop(node: hub)
        try hubShop.product("mug", sku: "MUG-1", price: 1000, stock: 100)
        for store in ["store-a", "store-b"] {
            XCTAssertEqual(try hub.adminPost("/admin/v1/replicated/inventory/MUG-1@hub", #"{"op":"transfer","units":50,"to":"\#(store)"}"#).status, 200)
        }
        _ = try promotion(hubShop, #"{"id": "launch", "name": "Launch", "kind": "fixed_amount", "amount": 100, "currency": "EUR", "code": "LAUNCH", "usage_cap": 6}"#)
        for store in ["store-a", "store-b"] {
            XCTAssertEqual(try hub.adminPost("/admin/v1/replicated/redemptions/launch", #"{"op":"transfer","units":3,"to":"\#(store)"}"#).status, 200)
        }
        for (name, store) in [("store-a", storeA), ("store-b", storeB)] {
            XCTAssertTrue(eventually { try Shop(node: store).stock("MUG-1") == (100, 50) })
            XCTAssertTrue(eventually {
                let redemptions = try store.adminJSON("/admin/v1/promotions/launch")["redemptions"] as? [String: Any]
                return (redemptions?["rights"] as? [String: Int])?[name] == 3
            }, "each store holds rights to 3 of the 6 redemptions")
        }

        XCTAssertEqual(try hub.stop(), 0)
        var redeemed: [String: Int] = [:]
        for round in 0..<5 {
            for (name, store) in [("store-a", storeA), ("store-b", storeB)] {
                let shop = Shop(node: store)
                let answer = try checkout(shop, try cart(shop, [("MUG-1", 1)], code: "LAUNCH"), key: "\(name)-\(round)")
                if answer.status == 201 { redeemed[name, default: 0] += 1 } else {
                    XCTAssertEqual(answer.json["type"] as? String, "/problems/discount-code-exhausted", answer.response.text)
                }
            }
        }
        XCTAssertEqual(redeemed, ["store-a": 3, "store-b": 3], "each store redeems within the rights it holds, then refuses")

        hub = try fleet.start("hub", region: "eu", role: "hub", listen: false, peers: peers, extra: terms)
        let nodes = [hub, storeA, storeB]
        XCTAssertTrue(eventually {
            let summaries = try nodes.map { try $0.replicatedSummary() }
            return ["redemptions", "orders"].allSatisfy { name in summaries.allSatisfy { $0[name]?.digest == summaries[0][name]?.digest } }
        }, "the fleet converges after the partition heals")
        for node in nodes {
            let redemptions = try XCTUnwrap(try node.adminJSON("/admin/v1/promotions/launch")["redemptions"] as? [String: Any])
            XCTAssertEqual(redemptions["fleet"] as? Int, 6, "at most the cap, counted the same on every node")
            XCTAssertEqual(redemptions["left"] as? Int, 0)
        }
    }

    /// A store holding no redemptions of a capped code asks the hub while the shopper waits.
    func testAStoreWithoutRedemptionsAsksTheHubDuringTheCheckout() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub", extra: Shop.terms)
        let store = try fleet.start("store-a", region: "eu", peers: [("hub", "eu", hub.syncAddress ?? "")], extra: Shop.terms)
        let shop = Shop(node: store)
        try shop.product("mug", sku: "MUG-1", price: 1000, stock: 10)
        _ = try promotion(Shop(node: hub), #"{"id": "launch", "name": "Launch", "kind": "percentage", "percent_bp": 1000, "code": "LAUNCH", "usage_cap": 40}"#)
        XCTAssertTrue(eventually { try shop.send("PUT", "/api/v1/carts/\(try shop.newCart())/discount-code", #"{"code": "LAUNCH"}"#).status == 200 })
        let placed = try checkout(shop, try cart(shop, [("MUG-1", 1)], code: "LAUNCH"))
        XCTAssertEqual(placed.status, 201, placed.response.text)
        let redemptions = try XCTUnwrap(try store.adminJSON("/admin/v1/promotions/launch")["redemptions"] as? [String: Any])
        XCTAssertEqual(redemptions["left"] as? Int, 39)
        XCTAssertEqual((redemptions["rights"] as? [String: Int])?["store-a"], 1, "a batch of cap/20 = 2 was granted, one used")
    }
}
