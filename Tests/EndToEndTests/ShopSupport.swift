import Foundation
import HTTP
import NodeTesting
import XCTest

/// A shop on one real noded for the shopping tests: products with stock, and JSON in and out.
struct Shop {
    let node: NodeProcess

    /// EU prices include 19 % tax; shipping is a flat 4.95.
    static let terms = "[checkout]\ntax_rate_bp = 1900\nprices_include_tax = true\nshipping_flat_fee = 495\n"

    static func start(id: String = "shop", extra: String = "") throws -> Shop {
        Shop(node: try NodeProcess.start(config: config(id: id, extra: extra)))
    }

    /// The shop's configuration file, `extra` appended.
    static func config(id: String, extra: String = "") -> String {
        "[node]\nid = \"\(id)\"\nregion = \"eu\"\n[auth]\npassword_cost = 10\n" + terms + extra
    }

    /// An active product with one variant `sku` at `price` (EUR cents), and `stock` units received here.
    func product(_ id: String, sku: String, price: Int, stock: Int) throws {
        let body = """
            {"id": "\(id)", "status": "active", "name": {"en": "Product \(id)"},
             "variants": [{"sku": "\(sku)", "prices": [{"region": "eu", "currency": "EUR", "amount": \(price)}]}]}
            """
        let created = try node.adminPost("/admin/v1/catalog/products", body)
        XCTAssertEqual(created.status, 201, created.text)
        if stock > 0 {
            let received = try node.adminPost("/admin/v1/inventory/receive", #"{"sku": "\#(sku)", "units": \#(stock)}"#)
            XCTAssertEqual(received.status, 200, received.text)
        }
    }

    @discardableResult
    func send(_ method: String, _ path: String, _ body: String? = nil, token: String? = nil, key: String? = nil) throws -> (status: Int, json: [String: Any], response: ClientResponse) {
        var headers: [(String, String)] = []
        if body != nil { headers.append(("Content-Type", "application/json")) }
        if let token { headers.append(("Authorization", "Bearer " + token)) }
        if let key { headers.append(("Idempotency-Key", key)) }
        let response = try node.client().send(method, path, headers: headers, body: body.map { Array($0.utf8) })
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:], response)
    }

    func newCart(token: String? = nil) throws -> String {
        let created = try send("POST", "/api/v1/carts", token: token)
        XCTAssertEqual(created.status, 201)
        return try XCTUnwrap(created.json["id"] as? String)
    }

    func stock(_ sku: String) throws -> (available: Int, here: Int) {
        let json = try node.adminJSON("/admin/v1/inventory/\(sku)")
        return (json["available"] as? Int ?? -1, json["available_here"] as? Int ?? -1)
    }

    static func checkoutBody(token: String = "tok_visa", email: String? = "guest@example.com") -> String {
        """
        {\(email.map { "\"email\": \"\($0)\"," } ?? "") "payment_token": "\(token)",
         "ship_to": {"name": "Ann Smith", "line1": "1 High Street", "city": "Berlin", "postal_code": "10115", "country": "DE"}}
        """
    }

    func register(_ email: String) throws -> (id: String, token: String) {
        let registered = try send("POST", "/api/v1/auth/register", #"{"email": "\#(email)", "password": "correct horse"}"#)
        XCTAssertEqual(registered.status, 201)
        let customer = try XCTUnwrap(registered.json["customer"] as? [String: Any])
        return (try XCTUnwrap(customer["id"] as? String), try XCTUnwrap(registered.json["access_token"] as? String))
    }
}
