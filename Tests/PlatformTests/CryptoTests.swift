import Platform
import XCTest

final class CryptoTests: XCTestCase {
    func testSHA256MatchesFIPSVectors() {
        XCTAssertEqual(Hex.encode(SHA256.hash(Array("abc".utf8))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Hex.encode(SHA256.hash([])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testOneDigesterHashesMessageAfterMessageAlike() {
        let digester = SHA256Digester()
        for _ in 0..<2 {
            XCTAssertEqual(Hex.encode(digester.hash(Array("abc".utf8))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            XCTAssertEqual(Hex.encode(digester.hash([])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        }
        let long = [UInt8](repeating: 0x61, count: 1_000_000)
        XCTAssertEqual(Hex.encode(digester.hash(long)), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testHMACMatchesRFC4231() {
        // Test case 1
        let key1 = [UInt8](repeating: 0x0b, count: 20)
        XCTAssertEqual(Hex.encode(HMACSHA256.authenticate(Array("Hi There".utf8), key: key1)),
                       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        // Test case 2
        let mac = HMACSHA256.authenticate(Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8))
        XCTAssertEqual(Hex.encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        XCTAssertTrue(HMACSHA256.isValid(mac, for: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8)))
        XCTAssertFalse(HMACSHA256.isValid(mac, for: Array("what do ya want for nothing!".utf8), key: Array("Jefe".utf8)))
    }

    func testSecureRandomGivesTheLengthAskedAndDoesNotRepeat() {
        let a = SecureRandom.bytes(32), b = SecureRandom.bytes(32)
        XCTAssertEqual(a.count, 32)
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(SecureRandom.bytes(0), [])
    }

    func testEd25519MatchesRFC8032TestOne() throws {
        let seed = try XCTUnwrap(Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        let key = try XCTUnwrap(Ed25519KeyPair.fromSeed(seed))
        XCTAssertEqual(Hex.encode(key.publicKey), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = key.sign([])
        XCTAssertEqual(Hex.encode(signature),
                       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        XCTAssertTrue(Ed25519KeyPair.verify(signature, of: [], publicKey: key.publicKey))
        XCTAssertFalse(Ed25519KeyPair.verify(signature, of: [1], publicKey: key.publicKey))
    }

    func testEd25519KeysSurvivePEM() throws {
        let key = Ed25519KeyPair.generate()
        let loaded = try XCTUnwrap(Ed25519KeyPair.fromPEM(key.privateKeyPEM))
        XCTAssertEqual(loaded.publicKey, key.publicKey)
        XCTAssertTrue(key.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        XCTAssertNil(Ed25519KeyPair.fromPEM("-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n"))
    }

    func testConstantTimeEquals() {
        XCTAssertTrue(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        XCTAssertFalse(constantTimeEquals([1, 2, 3], [1, 2, 4]))
        XCTAssertFalse(constantTimeEquals([1, 2], [1, 2, 3]))
    }

    func testHexRoundTripsAndRejectsNonHex() {
        XCTAssertEqual(Hex.decode(Hex.encode([0, 15, 255])), [0, 15, 255])
        XCTAssertNil(Hex.decode("abc"))
        XCTAssertNil(Hex.decode("zz"))
    }
}

final class ZstdTests: XCTestCase {
    func testRoundTrips() throws {
        let input = Array(String(repeating: "outpost sells offline. ", count: 1000).utf8)
        let compressed = Zstd.compress(input)
        XCTAssertLessThan(compressed.count, input.count / 10)
        XCTAssertEqual(try Zstd.decompress(compressed, maxOutputBytes: input.count), input)
    }

    func testRefusesOutputBeyondTheBound() {
        let bomb = Zstd.compress([UInt8](repeating: 0, count: 10 << 20))
        XCTAssertLessThan(bomb.count, 4096, "ten megabytes of zeros compress to almost nothing")
        XCTAssertThrowsError(try Zstd.decompress(bomb, maxOutputBytes: 1 << 20)) { error in
            XCTAssertEqual(error as? Zstd.Failure, .tooLarge(boundBytes: 1 << 20))
        }
    }

    func testRejectsGarbageAndTruncatedFrames() {
        XCTAssertThrowsError(try Zstd.decompress(Array("definitely not zstd".utf8), maxOutputBytes: 1024))
        XCTAssertThrowsError(try Zstd.decompress([], maxOutputBytes: 1024))
        let frame = Zstd.compress(Array(String(repeating: "abc", count: 500).utf8))
        XCTAssertThrowsError(try Zstd.decompress(Array(frame.dropLast(3)), maxOutputBytes: 4096))
    }

    /// An ETag stays the same across restarts and releases, and changes with any byte.
    func testFingerprintIsStableAndSeesEveryByte() {
        let page = Array(String(repeating: "{\"id\":\"p-1\",\"name\":\"Lamp\"},", count: 40).utf8) + [7, 9, 11]
        XCTAssertEqual(Fingerprint.of(page), Fingerprint.of(Array(page)))
        // Pinned: browsers and proxies hold ETags across a node's restarts and updates.
        XCTAssertEqual(Fingerprint.of(Array("outpost edge commerce".utf8)), 0x171d_9fef_ed14_3806)
        var seen = Set([Fingerprint.of(page)])
        for index in page.indices {
            var changed = page
            changed[index] ^= 1
            XCTAssertTrue(seen.insert(Fingerprint.of(changed)).inserted, "byte \(index) does not change the fingerprint")
        }
        XCTAssertNotEqual(Fingerprint.of([0]), Fingerprint.of([0, 0]), "lengths differ")
        XCTAssertNotEqual(Fingerprint.of(Array(page.dropLast())), Fingerprint.of(page))
    }
}
