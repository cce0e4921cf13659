import Foundation
import HTTP
import NodeTesting
import XCTest

/// Carts, checkout with the sandbox acquirer, orders and their events, on a real noded.
final class ShoppingTests: XCTestCase {
    func testAGuestBuysWithATestCardAndARetryNeverPaysTwice() throws {
        let shop = try Shop.start()
        try shop.product("mug", sku: "MUG-1", price: 1_999, stock: 5)
        let cart = try shop.newCart()
        XCTAssertTrue(cart.hasPrefix("guest-"))
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/MUG-1", #"{"quantity": 2}"#).status, 200)
        let tooMany = try shop.send("PUT", "/api/v1/carts/\(cart)/lines/MUG-1", #"{"quantity": 6}"#)
        XCTAssertEqual(tooMany.status, 409)
        XCTAssertEqual(tooMany.json["type"] as? String, "/problems/insufficient-stock")
        XCTAssertEqual(tooMany.json["available"] as? Int, 5)
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/NOPE", #"{"quantity": 1}"#).json["type"] as? String, "/problems/item-unavailable")
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(cart)/lines/MUG-1", #"{"quantity": 0}"#).status, 422)
        XCTAssertEqual(try shop.send("GET", "/api/v1/carts/guest-nothex").status, 404)
        let seen = try shop.send("GET", "/api/v1/carts/\(cart)")
        XCTAssertEqual(seen.json["subtotal"] as? Int, 3_998)

        let body = Shop.checkoutBody()
        let noKey = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", body)
        XCTAssertEqual(noKey.status, 400)
        XCTAssertEqual(noKey.json["type"] as? String, "/problems/idempotency-key-required")
        let badAddress = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", #"{"email": "x", "payment_token": "tok_visa", "ship_to": {"line1": "1"}}"#, key: "k-bad")
        XCTAssertEqual(badAddress.status, 422)
        XCTAssertEqual(Set(((badAddress.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }),
                       ["email", "ship_to.city", "ship_to.postal_code", "ship_to.country"])

        let placed = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", body, key: "order-1")
        XCTAssertEqual(placed.status, 201, placed.response.text)
        XCTAssertEqual(placed.json["status"] as? String, "paid")
        XCTAssertEqual(placed.json["number"] as? String, "SHOP-000001")
        let totals = try XCTUnwrap(placed.json["totals"] as? [String: Any])
        // 2 x 19.99 + 4.95 shipping, 19 % tax included: 44.93 of which 7.17 tax.
        XCTAssertEqual(totals["subtotal"] as? Int, 3_998)
        XCTAssertEqual(totals["shipping"] as? Int, 495)
        XCTAssertEqual(totals["total"] as? Int, 4_493)
        XCTAssertEqual(totals["tax"] as? Int, 717)
        XCTAssertEqual((placed.json["ship_to"] as? [String: Any])?["city"] as? String, "Berlin")
        XCTAssertEqual(try shop.stock("MUG-1").available, 3)
        XCTAssertEqual((try shop.send("GET", "/api/v1/carts/\(cart)").json["lines"] as? [Any])?.count, 0, "the cart is empty after the order")

        let again = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", body, key: "order-1")
        XCTAssertEqual(again.status, 201)
        XCTAssertEqual(again.response.body, placed.response.body, "the same key and body answer the same order")
        XCTAssertEqual(again.response.headers["idempotent-replayed"], "true")
        let otherBody = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(token: "tok_mastercard"), key: "order-1")
        XCTAssertEqual(otherBody.status, 409)
        XCTAssertEqual(otherBody.json["type"] as? String, "/problems/idempotency-key-reused")
        XCTAssertEqual(try shop.stock("MUG-1").available, 3, "a replay takes no stock")
        XCTAssertEqual(try shop.send("POST", "/api/v1/carts/\(cart)/checkout", body, key: "order-2").json["type"] as? String, "/problems/cart-empty")

        let order = try XCTUnwrap(placed.json["id"] as? String), token = try XCTUnwrap(placed.json["order_token"] as? String)
        XCTAssertEqual(try shop.send("GET", "/api/v1/orders/\(order)?token=\(token)").json["status"] as? String, "paid")
        XCTAssertEqual(try shop.send("GET", "/api/v1/orders/\(order)").status, 404, "a guest order needs its token")
        XCTAssertEqual(try shop.send("GET", "/api/v1/orders/\(order)?token=wrong").status, 404)

        // Staff move it on; an event the status does not allow is refused with the status.
        let early = try shop.node.adminPost("/admin/v1/orders/\(order)/events", #"{"kind": "delivered"}"#)
        XCTAssertEqual(early.status, 409)
        XCTAssertTrue(early.text.contains(#""order_status":"paid""#) && early.text.contains(#""status":409"#), "the order's status in its own member: \(early.text)")
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/orders/\(order)/events", #"{"kind": "shipped"}"#).status, 422, "a shipment names carrier and tracking")
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/orders/\(order)/events", #"{"kind": "shipped", "carrier": "DHL", "tracking": "JD0001"}"#).status, 200)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/orders/\(order)/events", #"{"kind": "cancelled"}"#).status, 409, "shipped goods are not cancelled")
        let partial = try shop.node.adminPost("/admin/v1/orders/\(order)/events", #"{"kind": "refunded", "amount": 1000}"#)
        XCTAssertEqual(partial.status, 200, partial.text)
        XCTAssertTrue(partial.text.contains(#""refunded_amount":1000"#), partial.text)
        XCTAssertTrue(partial.text.contains(#""status":"shipped""#))
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/orders/\(order)/events", #"{"kind": "refunded", "amount": 99999}"#).status, 422)
        let rest = try shop.node.adminPost("/admin/v1/orders/\(order)/events", #"{"kind": "refunded"}"#)
        XCTAssertTrue(rest.text.contains(#""status":"refunded""#), rest.text)
        XCTAssertTrue(rest.text.contains(#""payment":{"id":"p-shop-"#) && rest.text.contains(#""status":"refunded","settlement":"open"}"#), rest.text)

        let search = try shop.node.adminJSON("/admin/v1/orders?status=refunded&node=shop")
        XCTAssertEqual((search["orders"] as? [[String: Any]])?.map { $0["id"] as? String }, [order])
        XCTAssertEqual(try shop.node.adminGet("/admin/v1/orders?status=lost").status, 400)
        XCTAssertEqual(try shop.node.adminGet("/admin/v1/orders?from=yesterday").status, 400)
        XCTAssertEqual((try shop.node.adminJSON("/admin/v1/orders?from=2999-01-01")["orders"] as? [Any])?.count, 0)
    }

    func testDeclinesKeepNothingARetryIsAskedForAndAnUnansweredPaymentHoldsStockUntilItExpires() throws {
        let shop = try Shop.start(extra: "reservation_seconds = 1\n")
        try shop.product("pen", sku: "PEN-1", price: 250, stock: 4)
        for (token, reason) in [("tok_decline_insufficient_funds", "insufficient_funds"), ("tok_decline_stolen", "stolen_card"), ("tok_decline_expired", "expired_card")] {
            let cart = try shop.newCart()
            try shop.send("PUT", "/api/v1/carts/\(cart)/lines/PEN-1", #"{"quantity": 1}"#)
            let declined = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(token: token), key: "k")
            XCTAssertEqual(declined.status, 402, declined.response.text)
            XCTAssertEqual(declined.json["type"] as? String, "/problems/payment-declined")
            XCTAssertEqual(declined.json["reason"] as? String, reason)
            XCTAssertEqual(declined.json["instance"] as? String, "/api/v1/carts/\(cart)/checkout", "like every problem: its instance")
            XCTAssertEqual(declined.json["request_id"] as? String, declined.response.headers["x-request-id"], "and its request id")
            XCTAssertTrue(declined.response.text.hasPrefix("{"), declined.response.text)
            XCTAssertEqual(try shop.stock("PEN-1").available, 4, "a declined card holds no stock")
            XCTAssertEqual((try shop.send("GET", "/api/v1/carts/\(cart)").json["lines"] as? [Any])?.count, 1, "the cart stays for another card")
            let replay = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(token: token), key: "k")
            var first = declined.json, again = replay.json
            XCTAssertNotNil(again.removeValue(forKey: "request_id"), "the replay carries its own request id")
            first["request_id"] = nil
            XCTAssertEqual(NSDictionary(dictionary: again), NSDictionary(dictionary: first), "the same answer, replayed")
        }

        let retried = try shop.newCart()
        try shop.send("PUT", "/api/v1/carts/\(retried)/lines/PEN-1", #"{"quantity": 1}"#)
        let approved = try shop.send("POST", "/api/v1/carts/\(retried)/checkout", Shop.checkoutBody(token: "tok_retry"), key: "k")
        XCTAssertEqual(approved.status, 201, "the acquirer's retry is made with the same payment id, then approved")
        XCTAssertEqual(try shop.stock("PEN-1").available, 3)

        let unanswered = try shop.newCart()
        try shop.send("PUT", "/api/v1/carts/\(unanswered)/lines/PEN-1", #"{"quantity": 2}"#)
        let pending = try shop.send("POST", "/api/v1/carts/\(unanswered)/checkout", Shop.checkoutBody(token: "tok_timeout"), key: "k")
        XCTAssertEqual(pending.status, 202, pending.response.text)
        XCTAssertEqual(pending.json["status"] as? String, "placed")
        XCTAssertNotNil(pending.json["reserved_until"])
        XCTAssertEqual(try shop.stock("PEN-1").available, 1, "an unpaid order holds its stock")
        let order = try XCTUnwrap(pending.json["id"] as? String)
        XCTAssertTrue(eventually { try shop.stock("PEN-1").available == 3 }, "the hold runs out and the stock returns")
        let expired = try shop.node.adminJSON("/api/v1/orders/\(order)")
        XCTAssertEqual(expired["status"] as? String, "cancelled")
        XCTAssertEqual((expired["payment"] as? [String: Any])?["status"] as? String, "voided", "a late authorization is voided")
        let movements = try shop.node.adminJSON("/admin/v1/inventory/PEN-1/movements")["movements"] as? [[String: Any]] ?? []
        XCTAssertEqual(movements.first?["reason"] as? String, "released")
        XCTAssertEqual(movements.first?["reference"] as? String, order)
    }

    func testAChangedPriceIsShownAndMustBeAcceptedBeforeCheckout() throws {
        let shop = try Shop.start()
        try shop.product("tea", sku: "TEA-1", price: 500, stock: 10)
        let cart = try shop.newCart()
        try shop.send("PUT", "/api/v1/carts/\(cart)/lines/TEA-1", #"{"quantity": 3}"#)
        XCTAssertEqual(try shop.node.adminSend("PATCH", "/admin/v1/catalog/products/tea",
                                               #"{"variants": [{"sku": "TEA-1", "prices": [{"region": "eu", "currency": "EUR", "amount": 650}]}]}"#).status, 200)
        let seen = try shop.send("GET", "/api/v1/carts/\(cart)")
        let line = try XCTUnwrap((seen.json["lines"] as? [[String: Any]])?.first)
        XCTAssertEqual(line["unit_price"] as? Int, 500, "the price at add time is kept")
        XCTAssertEqual(line["current_unit_price"] as? Int, 650)
        XCTAssertEqual(line["price_changed"] as? Bool, true)
        let refused = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "k1")
        XCTAssertEqual(refused.status, 409)
        XCTAssertEqual(refused.json["type"] as? String, "/problems/price-changed")
        XCTAssertEqual(try shop.stock("TEA-1").available, 10)
        XCTAssertEqual(try shop.send("POST", "/api/v1/carts/\(cart)/accept-prices").json["price_changes"] as? Bool, false)
        let placed = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "k2")
        XCTAssertEqual(placed.status, 201)
        XCTAssertEqual((placed.json["totals"] as? [String: Any])?["subtotal"] as? Int, 1_950)
    }

    func testACustomerSeesOnlyTheirOwnCartAndOrdersAndAGuestCartJoinsOnSignIn() throws {
        let shop = try Shop.start()
        try shop.product("cap", sku: "CAP-1", price: 1_500, stock: 10)
        try shop.product("hat", sku: "HAT-1", price: 2_500, stock: 10)
        let ann = try shop.register("ann@example.com"), bob = try shop.register("bob@example.com")
        let guest = try shop.newCart()
        try shop.send("PUT", "/api/v1/carts/\(guest)/lines/CAP-1", #"{"quantity": 2}"#)
        let annCart = try shop.newCart(token: ann.token)
        XCTAssertEqual(annCart, "cart-" + ann.id)
        try shop.send("PUT", "/api/v1/carts/\(annCart)/lines/HAT-1", #"{"quantity": 1}"#, token: ann.token)
        let signedIn = try shop.send("POST", "/api/v1/auth/sign-in", #"{"email": "ann@example.com", "password": "correct horse", "cart_id": "\#(guest)"}"#)
        XCTAssertEqual(signedIn.status, 200)
        XCTAssertTrue(eventually {
            let lines = try shop.send("GET", "/api/v1/me/cart", token: ann.token).json["lines"] as? [[String: Any]] ?? []
            return lines.compactMap { $0["sku"] as? String } == ["CAP-1", "HAT-1"]
        }, "the guest's lines joined Ann's cart")
        XCTAssertEqual((try shop.send("GET", "/api/v1/carts/\(guest)").json["lines"] as? [Any])?.count, 0)

        XCTAssertEqual(try shop.send("GET", "/api/v1/carts/\(annCart)").status, 401)
        XCTAssertEqual(try shop.send("GET", "/api/v1/carts/\(annCart)", token: bob.token).status, 403)
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(annCart)/lines/CAP-1", #"{"quantity": 9}"#, token: bob.token).status, 403)
        XCTAssertEqual(try shop.send("GET", "/api/v1/carts/\(annCart)", token: ann.token).status, 200)

        let placed = try shop.send("POST", "/api/v1/carts/\(annCart)/checkout", Shop.checkoutBody(email: nil), token: ann.token, key: "a1")
        XCTAssertEqual(placed.status, 201, placed.response.text)
        XCTAssertEqual(placed.json["email"] as? String, "ann@example.com", "a customer's order takes the account's email")
        XCTAssertNil(placed.json["order_token"])
        let order = try XCTUnwrap(placed.json["id"] as? String)
        XCTAssertEqual(try shop.send("GET", "/api/v1/orders/\(order)", token: bob.token).status, 403)
        XCTAssertEqual(try shop.send("GET", "/api/v1/orders/\(order)").status, 401)
        let history = try shop.send("GET", "/api/v1/me/orders", token: ann.token)
        XCTAssertEqual((history.json["orders"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, [order])
        XCTAssertEqual((try shop.send("GET", "/api/v1/me/orders", token: bob.token).json["orders"] as? [Any])?.count, 0)

        XCTAssertEqual(try shop.send("POST", "/api/v1/orders/\(order)/cancel", token: bob.token).status, 403)
        XCTAssertEqual(try shop.send("POST", "/api/v1/orders/\(order)/cancel", #"{"reason": 5}"#, token: ann.token).status, 422, "a reason is text")
        let cancelled = try shop.send("POST", "/api/v1/orders/\(order)/cancel", #"{"reason": "ordered the wrong size"}"#, token: ann.token)
        XCTAssertEqual(cancelled.json["status"] as? String, "cancelled", cancelled.response.text)
        XCTAssertEqual((cancelled.json["payment"] as? [String: Any])?["status"] as? String, "voided")
        XCTAssertTrue(eventually { try shop.stock("CAP-1").available == 10 && shop.stock("HAT-1").available == 10 }, "the stock came back")
        XCTAssertEqual(try shop.send("POST", "/api/v1/orders/\(order)/cancel", token: ann.token).status, 409)
        let noBody = try shop.send("POST", "/api/v1/carts", #"{"note": "x"}"#)
        XCTAssertEqual(noBody.status, 415, "a route that takes no body says so, not that the body is too large: \(noBody.response.text)")

        // The wishlist keeps a price too.
        let wish = "wish-" + ann.id
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(wish)/lines/HAT-1", #"{"quantity": 1}"#, token: ann.token).status, 200)
        XCTAssertEqual(try shop.send("PUT", "/api/v1/carts/\(wish)/lines/HAT-1", #"{"quantity": 2}"#, token: ann.token).status, 422)
        XCTAssertEqual((try shop.send("GET", "/api/v1/me/wishlist", token: ann.token).json["lines"] as? [[String: Any]])?.first?["unit_price"] as? Int, 2_500)
        XCTAssertEqual(try shop.send("GET", "/api/v1/carts/\(wish)", token: bob.token).status, 403)

        // Erasure: the order stays under the customer's id, its contact can no longer be opened.
        XCTAssertEqual((try shop.node.adminJSON("/api/v1/orders/\(order)")["ship_to"] as? [String: Any])?["city"] as? String, "Berlin")
        XCTAssertEqual(try shop.send("DELETE", "/api/v1/me", #"{"password": "correct horse"}"#, token: ann.token).status, 204)
        let kept = try shop.node.adminJSON("/api/v1/orders/\(order)")
        XCTAssertEqual(kept["customer"] as? String, ann.id, "the order is kept under a pseudonym")
        XCTAssertEqual(kept["status"] as? String, "cancelled")
        XCTAssertNil(kept["ship_to"], "the address went with the account")
        XCTAssertNil(kept["email"])
    }

    func testStockIsReceivedAdjustedWithAReasonAndTransferred() throws {
        let shop = try Shop.start()
        try shop.product("box", sku: "BOX-1", price: 100, stock: 0)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/inventory/receive", #"{"sku": "BOX-1", "units": 20, "note": "delivery 7"}"#).status, 200)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/inventory/receive", #"{"sku": "NOPE", "units": 20}"#).status, 422)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/inventory/receive", #"{"sku": "BOX-1", "units": 0}"#).status, 422)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/inventory/receive", #"{"sku": "BOX-1", "units": 1, "location": "mars"}"#).status, 422)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/inventory/adjust", #"{"sku": "BOX-1", "units": -2}"#).status, 422, "an adjustment has a reason")
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/inventory/adjust", #"{"sku": "BOX-1", "units": -2, "reason": "damaged"}"#).status, 200)
        let tooMany = try shop.node.adminPost("/admin/v1/inventory/adjust", #"{"sku": "BOX-1", "units": -50, "reason": "lost"}"#)
        XCTAssertEqual(tooMany.status, 409)
        XCTAssertEqual(try shop.stock("BOX-1").available, 18)

        XCTAssertEqual(try shop.node.adminSend("PUT", "/admin/v1/locations/back-room", #"{"name": "Back room", "kind": "warehouse"}"#).status, 200)
        XCTAssertEqual(try shop.node.adminSend("PUT", "/admin/v1/locations/Bad_Id", #"{"name": "x", "kind": "warehouse"}"#).status, 422)
        XCTAssertEqual(try shop.node.adminSend("PUT", "/admin/v1/locations/attic", #"{"name": "Attic", "kind": "castle"}"#).status, 422)
        let moved = try shop.node.adminPost("/admin/v1/inventory/transfer", #"{"sku": "BOX-1", "from": "shop", "to": "back-room", "units": 8}"#)
        XCTAssertEqual(moved.status, 200, moved.text)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/inventory/transfer", #"{"sku": "BOX-1", "from": "shop", "to": "back-room", "units": 11}"#).status, 409)
        XCTAssertEqual(try shop.node.adminPost("/admin/v1/inventory/transfer", #"{"sku": "BOX-1", "from": "shop", "to": "shop", "units": 1}"#).status, 422)
        let stock = try shop.node.adminJSON("/admin/v1/inventory/BOX-1")
        XCTAssertEqual(stock["available"] as? Int, 18)
        let byLocation = Dictionary(uniqueKeysWithValues: (stock["locations"] as? [[String: Any]] ?? []).map { ($0["location"] as? String ?? "", $0["available"] as? Int ?? -1) })
        XCTAssertEqual(byLocation, ["shop": 10, "back-room": 8])
        let reasons = (try shop.node.adminJSON("/admin/v1/inventory/BOX-1/movements")["movements"] as? [[String: Any]] ?? []).compactMap { $0["reason"] as? String }
        XCTAssertEqual(reasons, ["transfer_in", "transfer_out", "damaged", "received"])
        XCTAssertEqual((try shop.node.adminJSON("/admin/v1/locations")["locations"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, ["back-room"])
        XCTAssertEqual(try shop.node.client().get("/admin/v1/inventory/BOX-1").status, 401)
    }

    func testCardNumbersAndContactsAreNeverStoredOrLoggedInClear() throws {
        let shop = try Shop.start()
        try shop.product("sock", sku: "SOCK-1", price: 300, stock: 10)
        let pan = "4242424242424242", cvv = "737"
        for index in 0..<3 {
            let cart = try shop.newCart()
            try shop.send("PUT", "/api/v1/carts/\(cart)/lines/SOCK-1", #"{"quantity": 1}"#)
            let refused = try shop.send("POST", "/api/v1/carts/\(cart)/checkout",
                                        #"{"email": "a@example.com", "payment_token": "\#(pan)", "cvv": "\#(cvv)", "ship_to": {"line1": "1 A St", "city": "B", "postal_code": "1", "country": "DE"}}"#, key: "pan-\(index)")
            XCTAssertEqual(refused.status, 422)
            XCTAssertFalse(refused.response.text.contains(pan), "the refusal does not echo it")
            XCTAssertEqual(try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "ok-\(index)").status, 201)
        }
        let stopped = try shop.node.stop()
        XCTAssertEqual(stopped, 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: shop.node.dataDirectory).map { shop.node.dataDirectory + "/" + $0 } + [shop.node.logPath]
        XCTAssertTrue(files.contains { $0.hasSuffix("node.sqlite") })
        for file in files {
            guard let bytes = FileManager.default.contents(atPath: file) else { continue }
            XCTAssertNil(bytes.range(of: Data(pan.utf8)), "\(file) holds the card number")
            XCTAssertNil(bytes.range(of: Data("4242 4242".utf8)), "\(file) holds the card number")
            // Orders replicate everywhere: their contact is sealed, never in clear.
            XCTAssertNil(bytes.range(of: Data("1 High Street".utf8)), "\(file) holds an address in clear")
            XCTAssertNil(bytes.range(of: Data("guest@example.com".utf8)), "\(file) holds an email in clear")
        }
    }

    /// Issue 24, item 6: a card number in any field is refused before it is stored or logged.
    func testACardNumberInAnyFieldIsRefusedAndNeverKept() throws {
        let shop = try Shop.start()
        try shop.product("pen", sku: "PEN-1", price: 250, stock: 5)
        let cart = try shop.newCart()
        try shop.send("PUT", "/api/v1/carts/\(cart)/lines/PEN-1", #"{"quantity": 1}"#)
        let asToken = try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(token: "tok_4242424242424242"), key: "pan-1")
        XCTAssertEqual(asToken.status, 422, asToken.response.text)
        let body = Shop.checkoutBody().replacingOccurrences(of: "Ann Smith", with: "Ann 4242 4242 4242 4242")
        XCTAssertEqual(try shop.send("POST", "/api/v1/carts/\(cart)/checkout", body, key: "pan-2").status, 422, "in a name too")
        XCTAssertFalse(asToken.response.text.contains("4242424242424242"), "the refusal does not echo it")
        XCTAssertEqual(try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "ok").status, 201, "a token is taken")
        XCTAssertEqual(try shop.node.stop(), 0)
        for file in ["node.sqlite", "node.sqlite-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: shop.node.dataDirectory + "/" + file))) ?? Data()
            XCTAssertNil(bytes.range(of: Data("4242424242424242".utf8)), "\(file) holds no card number")
            XCTAssertNil(bytes.range(of: Data("4242 4242 4242 4242".utf8)), "\(file) holds no card number")
        }
        XCTAssertFalse(shop.node.log.contains("4242424242424242") || shop.node.log.contains("4242 4242 4242 4242"), "nor does the log")
    }

    /// Issue 24, item 11 (orders): a busy day pages through with a cursor, no order skipped or
    /// repeated, whatever the page size.
    func testOrdersPageThroughWithACursor() throws {
        let shop = try Shop.start()
        try shop.product("pen", sku: "PEN-1", price: 250, stock: 100)
        for index in 0..<25 {
            let cart = try shop.newCart()
            try shop.send("PUT", "/api/v1/carts/\(cart)/lines/PEN-1", #"{"quantity": 1}"#)
            XCTAssertEqual(try shop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "k\(index)").status, 201)
        }
        var seen: [String] = [], cursor: String?, pages = 0
        repeat {
            let page = try shop.node.adminJSON("/admin/v1/orders?limit=10" + (cursor.map { "&cursor=" + $0 } ?? ""))
            seen += (page["orders"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            cursor = page["next_cursor"] as? String
            pages += 1
        } while cursor != nil && pages < 10
        XCTAssertEqual(seen.count, 25, "every order once")
        XCTAssertEqual(Set(seen).count, 25, "none twice")
        XCTAssertEqual(pages, 3)
        XCTAssertEqual(try shop.node.adminGet("/admin/v1/orders?cursor=not-ours").status, 400)
    }

    /// Issue 24, item 11 (every other list): walked one row a page, each list gives every row
    /// once, and a cursor that is not the node's is 400.
    func testEveryListRoutePagesWithACursor() throws {
        let hub = try NodeProcess.start(config: "[node]\nid = \"hub\"\nregion = \"eu\"\nrole = \"hub\"\n" + Shop.terms)
        let hubShop = Shop(node: hub)
        try hubShop.product("pen", sku: "PEN-1", price: 250, stock: 0)
        for index in 0..<3 {
            XCTAssertEqual(try hub.adminPost("/admin/v1/promotions", #"{"id": "p\#(index)", "name": "P\#(index)", "kind": "percentage", "percent_bp": 100, "code": "CODE\#(index)"}"#).status, 201)
            XCTAssertEqual(try hub.adminPost("/admin/v1/shipping-methods", #"{"id": "m\#(index)", "name": "M\#(index)", "region": "eu", "currency": "EUR", "countries": ["DE"], "rate": {"flat": 495}, "min_days": 1, "max_days": 3}"#).status, 201)
            XCTAssertEqual(try hub.adminSend("PUT", "/admin/v1/locations/loc-\(index)", #"{"name": "L\#(index)", "kind": "warehouse"}"#).status, 200)
            XCTAssertEqual(try hub.adminSend("PUT", "/admin/v1/pos/staff/s\(index)", #"{"name": "S\#(index)", "role": "cashier", "pin": "1234"}"#).status, 200)
            XCTAssertEqual(try hub.adminSend("PUT", "/admin/v1/ledger/policies/node-\(index)?allow_unknown=true", #"{"floor_limit": 100, "exposure_cap": 1000}"#).status, 200)
            XCTAssertEqual(try hub.adminPost("/admin/v1/inventory/receive", #"{"sku": "PEN-1", "units": 10}"#).status, 200)
        }
        for index in 0..<3 {
            let cart = try hubShop.newCart()
            try hubShop.send("PUT", "/api/v1/carts/\(cart)/lines/PEN-1", #"{"quantity": 1}"#)
            let placed = try hubShop.send("POST", "/api/v1/carts/\(cart)/checkout", Shop.checkoutBody(), key: "k\(index)")
            XCTAssertEqual(placed.status, 201, placed.response.text)
            if index == 0 {
                let id = try XCTUnwrap(placed.json["id"] as? String)
                XCTAssertEqual(try hub.adminPost("/admin/v1/orders/\(id)/events", #"{"kind": "shipped", "carrier": "DHL", "tracking": "T1"}"#).status, 200)
                XCTAssertTrue(eventually { try SettlementTests.payment(hub, order: id)["settlement"] as? String == "settled" }, "accounts are opened")
            }
            XCTAssertEqual(try hub.adminPost("/admin/v1/ledger/checkpoints", "").status, 201)
        }

        func walk(_ path: String, _ member: String, id: (Any) -> String?) throws -> [String] {
            var seen: [String] = [], cursor: String?, pages = 0
            repeat {
                let page = try hub.adminJSON(path + (path.contains("?") ? "&" : "?") + "limit=1" + (cursor.map { "&cursor=" + $0 } ?? ""))
                if let rows = page[member] as? [Any] { seen += rows.compactMap(id) } else if let rows = page[member] as? [String: Any] { seen += rows.keys }
                cursor = page["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 100
            XCTAssertEqual(Set(seen).count, seen.count, "\(path): no row twice")
            // "not-ours", base64url: decodes, but is no cursor this node gave.
            XCTAssertEqual(try hub.adminGet(path + (path.contains("?") ? "&" : "?") + "cursor=bm90LW91cnM").status, 400, path)
            return seen
        }
        let field = { (name: String) in { (row: Any) in (row as? [String: Any])?[name] as? String } }
        XCTAssertEqual(try walk("/admin/v1/promotions", "promotions", id: field("id")), ["p0", "p1", "p2"])
        XCTAssertEqual(try walk("/admin/v1/shipping-methods", "shipping_methods", id: field("id")), ["m0", "m1", "m2"])
        XCTAssertEqual(try walk("/admin/v1/locations", "locations", id: field("id")), ["loc-0", "loc-1", "loc-2"])
        XCTAssertEqual(try walk("/admin/v1/pos/staff", "staff", id: field("id")), ["s0", "s1", "s2"])
        XCTAssertEqual(try walk("/admin/v1/ledger/policies", "nodes", id: { _ in nil }).sorted(), ["node-0", "node-1", "node-2"])
        XCTAssertEqual(try walk("/admin/v1/inventory/PEN-1/movements", "movements", id: { row in
            ((row as? [String: Any])?["reason"] as? String).map { $0 + "-" + UUID().uuidString } }).count, 6, "three receipts and three sales")
        XCTAssertEqual(try walk("/admin/v1/pick-list", "orders", id: field("id")).count, 2, "the two unshipped orders")
        XCTAssertEqual(try walk("/admin/v1/ledger/checkpoints", "checkpoints", id: field("text")).count, 3)
        let accounts = try walk("/admin/v1/ledger/balances", "accounts", id: field("id"))
        XCTAssertEqual(accounts, accounts.sorted())
        XCTAssertEqual(accounts.count, (try hub.adminJSON("/admin/v1/ledger/balances")["accounts"] as? [Any])?.count, "every account, a page at a time")
        for path in ["/admin/v1/promotions", "/admin/v1/pick-list", "/admin/v1/inventory/PEN-1/movements", "/admin/v1/ledger/checkpoints"] {
            XCTAssertEqual(try hub.adminGet(path + "?cursor=%%%").status, 400, path)
            XCTAssertEqual(try hub.adminGet(path + "?limit=0").status, 400, path)
        }
    }
}
