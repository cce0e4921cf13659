@testable import Platform
import XCTest

final class SealedBoxTests: XCTestCase {
    func testAES256GCMMatchesTheGCMSpecificationsTestCase16() throws {
        let key = try XCTUnwrap(Hex.decode("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"))
        let nonce = try XCTUnwrap(Hex.decode("cafebabefacedbaddecaf888"))
        let plaintext = try XCTUnwrap(Hex.decode("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"))
        let context = try XCTUnwrap(Hex.decode("feedfacedeadbeeffeedfacedeadbeefabaddad2"))
        let box = SealedBox.seal(plaintext, key: key, context: context, nonce: nonce)
        XCTAssertEqual(Hex.encode(box), "01" + "cafebabefacedbaddecaf888"
                       + "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                       + "76fc6ece0f4e1768cddf8853bb2d551b")
        XCTAssertEqual(SealedBox.open(box, key: key, context: context), plaintext)
    }

    func testABoxOpensOnlyWithItsKeyAndContextAndUnaltered() {
        let key = SecureRandom.bytes(32)
        let box = SealedBox.seal(Array("ann@example.com".utf8), key: key, context: Array("customer:c-1/email".utf8))
        XCTAssertEqual(box.count, 15 + SealedBox.overheadBytes)
        XCTAssertEqual(SealedBox.open(box, key: key, context: Array("customer:c-1/email".utf8)), Array("ann@example.com".utf8))
        XCTAssertNil(SealedBox.open(box, key: SecureRandom.bytes(32), context: Array("customer:c-1/email".utf8)), "another key")
        XCTAssertNil(SealedBox.open(box, key: key, context: Array("customer:c-2/email".utf8)), "moved to another record")
        for index in [0, 1, 13, box.count - 1] {
            var altered = box
            altered[index] ^= 0x01
            XCTAssertNil(SealedBox.open(altered, key: key, context: Array("customer:c-1/email".utf8)), "byte \(index) changed")
        }
        XCTAssertNil(SealedBox.open(Array(box.prefix(20)), key: key))
        XCTAssertNotEqual(SealedBox.seal([1, 2, 3], key: key), SealedBox.seal([1, 2, 3], key: key), "a fresh nonce each time")
        XCTAssertEqual(SealedBox.open(SealedBox.seal([], key: key), key: key), [])
    }
}
