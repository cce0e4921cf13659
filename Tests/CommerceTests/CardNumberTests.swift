@testable import Commerce
import XCTest

/// Card numbers are recognised wherever they hide; barcodes and ids are not mistaken for them.
final class CardNumberTests: XCTestCase {
    func testCardNumbersAreFoundInAnyShape() {
        for text in ["4242424242424242", "tok_4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242", "378282246310005",
                     "card 5555555555554444 please", "6011111111111117", "2223003122003222"] {
            XCTAssertTrue(CardNumber.appears(in: text), text)
        }
        XCTAssertFalse(PaymentRequest.isToken("tok_4242424242424242"), "a token with a card number inside is not a token")
        XCTAssertTrue(PaymentRequest.isToken("tok_visa"))
    }

    func testBarcodesIdsAndOtherNumbersAreNot() {
        for text in ["4006381333931", "40063813339310", "o-store-1-mxbybypk-0", "+44 20 7946 0000", "4242424242424241", "1234567890123456",
                     "tok_decline_insufficient_funds", "2026-12-06T15:00:00Z", ""] {
            XCTAssertFalse(CardNumber.appears(in: text), text)
        }
        XCTAssertTrue(LooseJSON.object(["note": .array([.string("pay with 4242424242424242")])]).containsCardNumber)
    }
}
