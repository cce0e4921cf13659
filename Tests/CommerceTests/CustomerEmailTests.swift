import Commerce
import XCTest

final class CustomerEmailTests: XCTestCase {
    func testAnEmailNeedsOneAtALocalPartAndADottedDomain() {
        for good in ["ana@example.com", "a.b+shop@mail.example.co.uk", "jürgen@beispiel.de"] {
            XCTAssertTrue(Customer.isEmail(good), good)
        }
        let tooLong = String(repeating: "a", count: 250) + "@b.de"
        for bad in ["", "ana", "@example.com", "ana@", "ana@example", "ana@.example.com", "ana@example.com.", "a@b@c.de",
                    "ana @example.com", "ana@exa\tmple.com", "ana@example.com\u{1}", tooLong] {
            XCTAssertFalse(Customer.isEmail(bad), bad)
        }
    }
}
