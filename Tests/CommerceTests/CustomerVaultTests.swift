@testable import Commerce
import Platform
import Replication
import XCTest

/// Customers' personal data as the replicated collection holds it: sealed, and still readable
/// after a key rotation.
final class CustomerVaultTests: XCTestCase {
    private let first = KeyRing.Key(id: "d1", secret: Array(repeating: 1, count: 32))
    private let second = KeyRing.Key(id: "d2", secret: Array(repeating: 2, count: 32))

    func testPersonalFieldsAreSealedAndOpenAfterARotation() throws {
        var customer = Customer(id: "c-1", email: "ann@example.com", name: "Ann", phone: "+44 20 7946 0000", passwordHash: "$scrypt$x", createdMs: 5)
        customer.addresses = [Address(label: "home", line1: "1 High St", city: "Leeds", postalCode: "LS1 1AA", country: "GB")]
        let before = CustomerVault(dataKeys: try XCTUnwrap(KeyRing([first])))
        let fields = before.fields(of: customer)
        for field in ["email", "name", "phone", "addresses"] {
            guard case .text(let sealed)? = fields[field] else { return XCTFail("\(field) missing") }
            XCTAssertTrue(sealed.hasPrefix("d1."), sealed)
            XCTAssertFalse(sealed.contains("ann") || sealed.contains("Leeds"), sealed)
        }
        XCTAssertEqual(before.customer(id: "c-1", from: fields), customer)

        let rotated = CustomerVault(dataKeys: try XCTUnwrap(KeyRing([first, second])))
        XCTAssertEqual(rotated.customer(id: "c-1", from: fields), customer, "values sealed before the rotation still open")
        guard case .text(let resealed)? = rotated.fields(of: customer)["email"] else { return XCTFail("no email") }
        XCTAssertTrue(resealed.hasPrefix("d2."), "the newest key seals")
        XCTAssertEqual(rotated.emailKey("ANN@example.com"), before.emailKey("ann@example.com"), "the email index survives a rotation")

        XCTAssertNil(before.customer(id: "c-2", from: fields), "a value moved to another account does not open")
        XCTAssertNil(CustomerVault(dataKeys: try XCTUnwrap(KeyRing([second]))).customer(id: "c-1", from: fields), "another region's keys")
    }
}
