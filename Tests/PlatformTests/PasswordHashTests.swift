import Platform
import XCTest

final class PasswordHashTests: XCTestCase {
    func testScryptMatchesRFC7914Vectors() throws {
        XCTAssertEqual(try XCTUnwrap(Scrypt.derive(password: [], salt: [], n: 16, r: 1, p: 1, length: 64)).hexString,
                       "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")
        XCTAssertEqual(try XCTUnwrap(Scrypt.derive(password: Array("password".utf8), salt: Array("NaCl".utf8), n: 1024, r: 8, p: 16, length: 64)).hexString,
                       "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
        XCTAssertNil(Scrypt.derive(password: [], salt: [], n: 1000, r: 1, p: 1, length: 32), "N must be a power of two")
        XCTAssertNil(Scrypt.derive(password: [], salt: [], n: 1 << 20, r: 8, p: 1, length: 32, maxMemoryBytes: 1 << 20), "over the memory bound")
    }

    func testAPasswordVerifiesAndNothingElseDoes() throws {
        let stored = PasswordHash.make("correct horse battery staple", cost: .testing)
        XCTAssertTrue(stored.verifies("correct horse battery staple"))
        XCTAssertFalse(stored.verifies("correct horse battery stapler"))
        XCTAssertFalse(stored.verifies(""))
        XCTAssertNotEqual(PasswordHash.make("same", cost: .testing).salt, PasswordHash.make("same", cost: .testing).salt, "a fresh salt each time")

        let encoded = stored.encoded
        XCTAssertTrue(encoded.hasPrefix("$scrypt$ln=10,r=8,p=1$"), encoded)
        let parsed = try XCTUnwrap(PasswordHash(encoded: encoded))
        XCTAssertEqual(parsed, stored)
        XCTAssertTrue(parsed.verifies("correct horse battery staple"))
    }

    func testStoredHashesThatAreNotOursAreRefused() {
        for bad in ["", "$scrypt$", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "$scrypt$ln=99,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                    "$scrypt$ln=10,r=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$scrypt$ln=10,r=8,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
                    "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ$aGFzaA"] {
            XCTAssertNil(PasswordHash(encoded: bad), bad)
        }
    }

    func testBase64MatchesRFC4648() {
        let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base64.encode(Array(plain.utf8), url: false, padded: true), encoded)
            XCTAssertEqual(Base64.decode(encoded, url: false), Array(plain.utf8))
            XCTAssertEqual(Base64.decode(encoded.replacingOccurrences(of: "=", with: ""), url: false), Array(plain.utf8))
        }
        XCTAssertEqual(Base64.encode([0xfb, 0xff], url: true, padded: false), "-_8")
        XCTAssertEqual(Base64.encode([0xfb, 0xff], url: false, padded: false), "+/8")
        XCTAssertEqual(Base64.decode("-_8", url: true), [0xfb, 0xff])
        for bad in ["-_8", "Zg=a", "Z", "Zh", "Zm9v!"] { XCTAssertNil(Base64.decode(bad, url: false), bad) }
        XCTAssertNil(Base64.decode("+/8", url: true))
    }
}

private extension Array where Element == UInt8 {
    var hexString: String { Hex.encode(self) }
}
