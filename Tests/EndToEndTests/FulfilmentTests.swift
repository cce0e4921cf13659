import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// Shipping methods at checkout, picking and partial shipments, returns with restock, refund and
/// exchange, on real nodes.
final class FulfilmentTests: XCTestCase {
    private func method(_ shop: Shop, _ body: String) throws {
        let created = try shop.node.adminPost("/admin/v1/shipping-methods", body)
        XCTAssertEqual(created.status, 201, created.text)
    }

    private func cart(_ shop: Shop, _ lines: [(String, Int)], token: String? = nil) throws -> String {
        let cart = try shop.newCart(token: token)
        for (sku, quantity) in lines {
            XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/\(sku)", #"{"quantity": \#(quantity)}"#, token: token).status, 200)
        }
        return cart
    }

    private func checkout(_ shop: Shop, _ cart: String, method: String? = nil, country: String? = "DE", token: String? = nil)
        throws -> (status: Int, json: [String: Any], response: ClientResponse) {
        var fields = [#""payment_token": "tok_visa""#]
        if token == nil { fields.append(#""email": "ann@example.com""#) }
        if let method { fields.append(#""shipping_method": "\#(method)""#) }
        if let country {
            fields.append(#""ship_to": {"name": "Ann Smith", "line1": "1 High Street", "city": "Town", "postal_code": "10115", "country": "\#(country)"}"#)
        }
        return try shop.send("POST", "/api/v1/carts/\(cart)/checkout", "{" + fields.joined(separator: ", ") + "}", token: token, key: UUID().uuidString)
    }

    /// A product with two variants, each weighing `grams`.
    private func shirt(_ shop: Shop, stock: Int) throws {
        let body = """
            {"id": "shirt", "status": "active", "name": {"en": "Shirt"}, "variants": [
              {"sku": "SHIRT-M", "attributes": {"size": "M", "weight_g": "400"}, "prices": [{"region": "eu", "currency": "EUR", "amount": 2000}]},
              {"sku": "SHIRT-L", "attributes": {"size": "L", "weight_g": "400"}, "prices": [{"region": "eu", "currency": "EUR", "amount": 2000}]}]}
            """
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/catalog/products", body).status, 201)
        for sku in ["SHIRT-M", "SHIRT-L"] {
            XCTAssertEqual(try shop.node.adminPost("/admin/v1/inventory/receive", #"{"sku": "\#(sku)", "units": \#(stock)}"#).status, 200)
        }
    }

    private func event(_ shop: Shop, _ order: String, _ body: String) throws -> (status: Int, json: [String: Any], response: ClientResponse) {
        try shop.send("POST", "/admin/v1/orders/\(order)/events", body, token: shop.node.adminToken)
    }

    private func admin(_ shop: Shop, _ path: String, _ body: String? = nil) throws -> (status: Int, json: [String: Any], response: ClientResponse) {
        try shop.send("POST", path, body, token: shop.node.adminToken)
    }

    func testTheCheckoutOffersTheMethodsOfTheAddressAndCart() throws {
        let shop = try Shop.start()
        try shirt(shop, stock: 20)
        try method(shop, #"{"id": "dhl", "name": "DHL Paket", "region": "eu", "currency": "EUR", "countries": ["DE", "AT"], "rate": {"flat": 495}, "free_from": 10000, "min_days": 1, "max_days": 3}"#)
        try method(shop, #"{"id": "parcel", "name": "Parcel", "region": "eu", "currency": "EUR", "countries": ["FR"], "rate": {"weight": [{"up_to_g": 1000, "fee": 700}, {"up_to_g": 5000, "fee": 1500}]}, "min_days": 2, "max_days": 5}"#)
        try method(shop, #"{"id": "courier", "name": "Courier", "region": "eu", "currency": "EUR", "countries": ["DE"], "rate": {"value": [{"from": 0, "fee": 900}, {"from": 5000, "fee": 1900}]}, "min_days": 0, "max_days": 1}"#)
        try method(shop, #"{"id": "collect", "name": "Collect in store", "region": "eu", "currency": "EUR", "collect_at": "shop", "min_days": 0, "max_days": 1}"#)

        let bad = try shop.node.adminPost("/admin/v1/shipping-methods", #"{"id": "Bad Id", "region": "eu", "currency": "euro", "countries": ["germany"], "rate": {"flat": -1}, "min_days": 5, "max_days": 2, "colour": 1}"#)
        XCTAssertEqual(bad.status, 422)
        let named = Set(((try? JSONSerialization.jsonObject(with: Data(bad.body)) as? [String: Any])?["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
        XCTAssertEqual(named, ["id", "name", "currency", "countries", "rate", "max_days", "colour"])
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/shipping-methods", #"{"id": "dhl", "name": "Again", "region": "eu", "currency": "EUR", "rate": {"flat": 1}, "min_days": 1, "max_days": 2}"#).status, 409)

        let cartId = try cart(shop, [("SHIRT-M", 2)])
        func options(_ country: String?, cart: String? = nil) throws -> [String: Int] {
            let answer = try shop.send("GET", "/api/v1/carts/\(cart ?? cartId)/shipping-options" + (country.map { "?country=" + $0 } ?? ""))
            XCTAssertEqual(answer.status, 200, answer.response.text)
            return Dictionary(uniqueKeysWithValues: ((answer.json["options"] as? [[String: Any]]) ?? []).map { ($0["id"] as? String ?? "", $0["fee"] as? Int ?? -1) })
        }
        XCTAssertEqual(try options("DE"), ["collect": 0, "dhl": 495, "courier": 900])
        XCTAssertEqual(try options("FR"), ["collect": 0, "parcel": 700], "800 g fit the first weight band")
        XCTAssertEqual(try options(nil), ["collect": 0], "without an address, collection only")
        XCTAssertEqual(try shop.send("GET", "/api/v1/carts/\(cartId)/shipping-options?country=france").status, 400)
        XCTAssertEqual(try shop.send("GET", "/api/v1/carts/\(cartId)").json["shipping"] as? Int, 495, "the cart shows the cheapest delivery")

        let refused = try checkout(shop, cartId, method: "parcel", country: "DE")
        XCTAssertEqual(refused.status, 422)
        XCTAssertEqual(refused.json["type"] as? String, "/problems/shipping-method-unavailable")
        XCTAssertEqual(Set(refused.json["offered"] as? [String] ?? []), ["collect", "dhl", "courier"])
        let noAddress = try checkout(shop, cartId, method: "dhl", country: nil)
        XCTAssertEqual(noAddress.status, 422, "delivery needs an address")

        let courier = try checkout(shop, cartId, method: "courier")
        XCTAssertEqual(courier.status, 201, courier.response.text)
        XCTAssertEqual((courier.json["totals"] as? [String: Any])?["shipping"] as? Int, 900)
        XCTAssertEqual((courier.json["totals"] as? [String: Any])?["total"] as? Int, 4900)
        let shipping = try XCTUnwrap(courier.json["shipping"] as? [String: Any])
        XCTAssertEqual(shipping["method"] as? String, "courier")
        XCTAssertNotNil(shipping["latest"] as? String)

        // Click-and-collect: no address at all, and none kept.
        let collected = try checkout(shop, try cart(shop, [("SHIRT-L", 1)]), method: "collect", country: nil)
        XCTAssertEqual(collected.status, 201, collected.response.text)
        XCTAssertEqual((collected.json["shipping"] as? [String: Any])?["collect_at"] as? String, "shop")
        XCTAssertTrue(collected.json["ship_to"] is NSNull)
        XCTAssertEqual((collected.json["totals"] as? [String: Any])?["shipping"] as? Int, 0)

        // Free from the threshold; without a method, the cheapest delivery to the address.
        let big = try checkout(shop, try cart(shop, [("SHIRT-M", 5)]))
        XCTAssertEqual((big.json["shipping"] as? [String: Any])?["method"] as? String, "dhl")
        XCTAssertEqual((big.json["totals"] as? [String: Any])?["shipping"] as? Int, 0)

        XCTAssertEqual(try shop.node.adminPost("/admin/v1/shipping-methods/courier/retire", "").status, 200)
        XCTAssertEqual(try options("DE", cart: try cart(shop, [("SHIRT-M", 1)])), ["collect": 0, "dhl": 495], "a retired method is offered no more")
    }

    func testAnOrderShipsInPartsFromItsPickList() throws {
        let shop = try Shop.start()
        try shop.product("mug", sku: "MUG-1", price: 1000, stock: 10)
        try shop.product("pot", sku: "POT-1", price: 2500, stock: 10)
        let placed = try checkout(shop, try cart(shop, [("MUG-1", 3), ("POT-1", 1)]))
        XCTAssertEqual(placed.status, 201, placed.response.text)
        let order = try XCTUnwrap(placed.json["id"] as? String)

        func pickList() throws -> [String: Int] {
            let list = try shop.node.adminJSON("/admin/v1/pick-list?location=shop")
            return Dictionary(uniqueKeysWithValues: ((list["totals"] as? [[String: Any]]) ?? []).map { ($0["sku"] as? String ?? "", $0["quantity"] as? Int ?? 0) })
        }
        XCTAssertEqual(try pickList(), ["MUG-1": 3, "POT-1": 1])

        let tooMany = try event(shop, order, #"{"kind": "shipped", "carrier": "DHL", "tracking": "T1", "items": [{"sku": "MUG-1", "quantity": 4}]}"#)
        XCTAssertEqual(tooMany.status, 422)
        XCTAssertEqual(tooMany.json["left"] as? Int, 3)
        XCTAssertEqual(try event(shop, order, #"{"kind": "shipped", "carrier": "DHL", "tracking": "T1", "items": [{"sku": "TEA-9", "quantity": 1}]}"#).status, 422)

        var first = try event(shop, order, #"{"kind": "shipped", "carrier": "DHL", "tracking": "T1", "location": "shop", "items": [{"sku": "MUG-1", "quantity": 2}]}"#)
        XCTAssertEqual(first.status, 200, first.response.text)
        XCTAssertEqual(first.json["status"] as? String, "partially_shipped")
        XCTAssertEqual((first.json["payment"] as? [String: Any])?["status"] as? String, "captured", "the first parcel captures the payment")
        XCTAssertEqual((first.json["fulfilment"] as? [String: Any])?["unshipped"] as? [String: Int], ["MUG-1": 1, "POT-1": 1])
        XCTAssertEqual(try pickList(), ["MUG-1": 1, "POT-1": 1])
        XCTAssertEqual(try shop.send("POST", "/admin/v1/orders/\(order)/events", #"{"kind": "cancelled"}"#, token: shop.node.adminToken).status, 409,
                       "goods that left cannot be cancelled")

        first = try event(shop, order, #"{"kind": "shipped", "carrier": "UPS", "tracking": "T2"}"#)
        XCTAssertEqual(first.json["status"] as? String, "shipped", "the rest of the units")
        XCTAssertEqual(try pickList(), [:])
        let delivered = try event(shop, order, #"{"kind": "delivered"}"#)
        XCTAssertEqual(delivered.json["status"] as? String, "delivered")
        let shipments = ((delivered.json["events"] as? [[String: Any]]) ?? []).filter { $0["kind"] as? String == "shipped" }
        XCTAssertEqual(shipments.compactMap { $0["tracking"] as? String }, ["T1", "T2"])
    }

    /// A return restocks on every node of the fleet and refunds what was paid for the goods.
    func testAReturnRestocksOnEveryNodeAndRefunds() throws {
        let fleet = try TestFleet()
        let storeA = try fleet.start("store-a", region: "eu", extra: Shop.terms)
        let storeB = try fleet.start("store-b", region: "eu", peers: [(id: "store-a", region: "eu", address: storeA.syncAddress ?? "")], extra: Shop.terms)
        let shop = Shop(node: storeA), other = Shop(node: storeB)
        try shop.product("mug", sku: "MUG-1", price: 1000, stock: 10)
        XCTAssertTrue(eventually { try other.stock("MUG-1").available == 10 })

        let customer = try shop.register("ann@example.com")
        let placed = try checkout(shop, try cart(shop, [("MUG-1", 3)], token: customer.token), token: customer.token)
        XCTAssertEqual(placed.status, 201, placed.response.text)
        let order = try XCTUnwrap(placed.json["id"] as? String)
        XCTAssertEqual((placed.json["totals"] as? [String: Any])?["total"] as? Int, 3495)

        let early = try shop.send("POST", "/api/v1/orders/\(order)/returns", #"{"items": [{"sku": "MUG-1", "quantity": 1, "reason": "damaged"}]}"#, token: customer.token)
        XCTAssertEqual(early.status, 409, "nothing shipped yet")
        XCTAssertEqual(try event(shop, order, #"{"kind": "shipped", "carrier": "DHL", "tracking": "T1"}"#).status, 200)
        XCTAssertTrue(eventually { try other.stock("MUG-1").available == 7 })

        // Bad requests change nothing.
        for body in [#"{"items": [{"sku": "MUG-1", "quantity": 4, "reason": "damaged"}]}"#, #"{"items": [{"sku": "MUG-1", "quantity": 1, "reason": "meh"}]}"#,
                     #"{"items": []}"#, #"{"lines": []}"#] {
            let refused = try shop.send("POST", "/api/v1/orders/\(order)/returns", body, token: customer.token)
            XCTAssertTrue([422].contains(refused.status), body + " " + refused.response.text)
        }
        let stranger = try shop.register("bob@example.com")
        XCTAssertEqual(try shop.send("POST", "/api/v1/orders/\(order)/returns", #"{"items": [{"sku": "MUG-1", "quantity": 1, "reason": "damaged"}]}"#, token: stranger.token).status, 403)

        let asked = try shop.send("POST", "/api/v1/orders/\(order)/returns", #"{"items": [{"sku": "MUG-1", "quantity": 2, "reason": "damaged"}]}"#, token: customer.token)
        XCTAssertEqual(asked.status, 201, asked.response.text)
        let returnId = try XCTUnwrap(((asked.json["returns"] as? [[String: Any]])?.first)?["id"] as? String)
        let base = "/admin/v1/orders/\(order)/returns/\(returnId)"
        XCTAssertEqual(try admin(shop, base + "/receive").json["return_status"] as? String, "requested", "received before approval: 409")

        // Approved and received on the other store: one unit back on the shelf, one written off.
        XCTAssertTrue(eventually { (try other.send("GET", "/api/v1/orders/\(order)", token: other.node.adminToken).json["returns"] as? [Any])?.count == 1 })
        XCTAssertEqual(try admin(other, base + "/approve").status, 200)
        let ghost = try admin(other, base + "/receive", #"{"items": [{"sku": "MUG-1", "quantity": 1, "disposition": "restock", "location": "ghost-loc"}, {"sku": "MUG-1", "quantity": 1, "disposition": "write_off"}]}"#)
        XCTAssertEqual(ghost.status, 422, "a restock into a location that does not exist is refused, as a receipt is: \(ghost.response.text)")
        XCTAssertTrue(ghost.response.text.contains("no location") && ghost.response.text.contains("ghost-loc"), ghost.response.text)
        let received = try admin(other, base + "/receive", #"{"items": [{"sku": "MUG-1", "quantity": 1, "disposition": "restock"}, {"sku": "MUG-1", "quantity": 1, "disposition": "write_off"}]}"#)
        XCTAssertEqual(received.status, 200, received.response.text)
        for node in [shop, other] {
            XCTAssertTrue(eventually { try node.stock("MUG-1").available == 8 }, "the restocked unit is stock again on every node")
        }
        // The sandbox acquirer keeps its books on the node that took the payment: the refund goes there.
        XCTAssertTrue(eventually { ((try shop.send("GET", "/api/v1/orders/\(order)", token: customer.token).json["returns"] as? [[String: Any]])?.first?["status"] as? String) == "received" })
        let refunded = try admin(shop, base + "/refund")
        XCTAssertEqual(refunded.status, 200, refunded.response.text)
        XCTAssertEqual(refunded.json["refunded_amount"] as? Int, 2000, "two mugs as paid; the shipping stays (the order is not all back)")
        let returned = try XCTUnwrap((refunded.json["returns"] as? [[String: Any]])?.first)
        XCTAssertEqual(returned["status"] as? String, "refunded")
        XCTAssertEqual(try admin(shop, base + "/refund").status, 409, "refunded once")
        let payment = try XCTUnwrap(placed.json["payment"] as? [String: Any])["id"] as? String
        XCTAssertTrue(eventually {
            let state = try shop.node.adminJSON("/admin/v1/replicated/payments/\(payment ?? "")")["state"] as? [String: Any]
            let events = state?["events"] as? [String] ?? []
            return events.contains { $0.contains(#""kind":"refunded""#) && $0.contains(#""amount":2000"#) }
        }, "a refund payment event, replicated")

        // The last mug back: its price and the shipping fee, everything left of the payment.
        let last = try shop.send("POST", "/api/v1/orders/\(order)/returns", #"{"items": [{"sku": "MUG-1", "quantity": 1, "reason": "no_longer_needed"}]}"#, token: customer.token)
        let lastId = try XCTUnwrap(((last.json["returns"] as? [[String: Any]])?.last)?["id"] as? String)
        XCTAssertEqual(try admin(shop, "/admin/v1/orders/\(order)/returns/\(lastId)/approve").status, 200)
        XCTAssertEqual(try admin(shop, "/admin/v1/orders/\(order)/returns/\(lastId)/receive").status, 200)
        let done = try admin(shop, "/admin/v1/orders/\(order)/returns/\(lastId)/refund")
        XCTAssertEqual(done.json["refunded_amount"] as? Int, 3495)
        XCTAssertEqual(done.json["status"] as? String, "refunded")
    }

    func testAnExchangeSendsTheOtherSizeAtNoCharge() throws {
        let shop = try Shop.start()
        try shirt(shop, stock: 5)
        let placed = try checkout(shop, try cart(shop, [("SHIRT-M", 1)]))
        let order = try XCTUnwrap(placed.json["id"] as? String)
        let token = try XCTUnwrap(placed.json["order_token"] as? String)
        XCTAssertEqual(try event(shop, order, #"{"kind": "shipped", "carrier": "DHL", "tracking": "T1"}"#).status, 200)

        let asked = try shop.send("POST", "/api/v1/orders/\(order)/returns?token=\(token)",
                                  #"{"items": [{"sku": "SHIRT-M", "quantity": 1, "reason": "size_or_fit", "exchange_sku": "SHIRT-L"}]}"#)
        XCTAssertEqual(asked.status, 201, asked.response.text)
        let returnId = try XCTUnwrap(((asked.json["returns"] as? [[String: Any]])?.first)?["id"] as? String)
        let base = "/admin/v1/orders/\(order)/returns/\(returnId)"
        XCTAssertEqual(try admin(shop, base + "/approve").status, 200)
        let received = try admin(shop, base + "/receive")
        XCTAssertEqual(received.status, 200, received.response.text)
        let exchange = try XCTUnwrap(((received.json["returns"] as? [[String: Any]])?.first)?["exchange_order"] as? String)
        XCTAssertEqual(try admin(shop, base + "/refund").status, 422, "nothing to refund: the other size is the refund")

        let replacement = try shop.send("GET", "/api/v1/orders/\(exchange)?token=\(token)")
        XCTAssertEqual(replacement.status, 200, "the guest's link opens the exchange too")
        XCTAssertEqual(replacement.json["status"] as? String, "paid")
        let noPayment = replacement.json["payment"] as? [String: Any]
        XCTAssertTrue(noPayment?["id"] is NSNull && noPayment?["status"] as? String == "none" && noPayment?["settlement"] as? String == "none",
                      "paid with no payment: nothing authorized to capture (issue 24, item 5): \(replacement.response.text)")
        XCTAssertEqual((replacement.json["totals"] as? [String: Any])?["total"] as? Int, 0)
        XCTAssertEqual(((replacement.json["lines"] as? [[String: Any]])?.first)?["sku"] as? String, "SHIRT-L")
        XCTAssertEqual((replacement.json["ship_to"] as? [String: Any])?["line1"] as? String, "1 High Street", "sent where the first parcel went")
        XCTAssertEqual(try shop.stock("SHIRT-M").available, 5, "the returned M is back on the shelf")
        XCTAssertEqual(try shop.stock("SHIRT-L").available, 4, "the L left for the exchange")
        let sent = try event(shop, exchange, #"{"kind": "shipped", "carrier": "DHL", "tracking": "T2"}"#)
        XCTAssertEqual(sent.json["status"] as? String, "shipped", "an exchange ships without a payment to capture: \(sent.response.text)")
        XCTAssertEqual((sent.json["payment"] as? [String: Any])?["status"] as? String, "none", "still no payment once shipped")
        let promotions = try shop.node.adminJSON("/admin/v1/promotions")["promotions"] as? [Any]
        XCTAssertEqual(promotions?.count, 0, "an exchange is no promotion")
    }
}
