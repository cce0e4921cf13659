@testable import Commerce
import Platform
import XCTest

/// Access tokens as a client or an attacker would present them.
final class AccessTokenTests: XCTestCase {
    private let oldKey = KeyRing.Key(id: "k1", secret: Array(0..<32))
    private let newKey = KeyRing.Key(id: "k2", secret: Array(repeating: 7, count: 32))
    private let now: Int64 = 1_700_000_000

    private func claims(expiresIn seconds: Int64 = AccessToken.lifetimeSeconds) -> AccessClaims {
        AccessClaims(subject: "cust-1", roles: ["customer"], audience: "outpost:eu", issuer: "store-1", issuedAt: now,
                     expiresAt: now + seconds, id: "t-1")
    }

    private func keys(_ keys: KeyRing.Key...) throws -> KeyRing { try XCTUnwrap(KeyRing(keys)) }

    func testATokenVerifiesOnEveryNodeHoldingItsKeyUntilItExpires() throws {
        let keys = try keys(oldKey)
        let token = AccessToken.sign(claims(), keys: keys)
        XCTAssertEqual(try AccessToken.verify(token, keys: keys, audience: "outpost:eu", nowSeconds: now + 60).get(), claims())
        XCTAssertEqual(AccessToken.verify(token, keys: keys, audience: "outpost:eu", nowSeconds: now + 15 * 60 + 31), .failure(.expired))
        XCTAssertEqual(AccessToken.verify(token, keys: keys, audience: "outpost:eu", nowSeconds: now - 31), .failure(.notYetValid))
        XCTAssertEqual(AccessToken.verify(token, keys: keys, audience: "outpost:us", nowSeconds: now), .failure(.audience))
    }

    func testATokenFromAnotherImplementationVerifies() throws {
        // HS256 by Python's hmac over its own JSON (other member order, an extra claim).
        let token = "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJleHAiOjE3MDAwMDA5MDAsInN1YiI6ImN1c3QtMSIsImF1ZCI6Im91dHBvc3Q6ZXUiLCJpc3MiOiJzdG9yZS0xIiwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImp0aSI6InQtMSIsInJvbGVzIjpbImN1c3RvbWVyIl0sImV4dHJhIjp7IngiOjF9fQ.q69Y3ieeuOPuT-kry-IgUF5tHXj54B5pcmH7RyvBsRM"
        XCTAssertEqual(try AccessToken.verify(token, keys: keys(oldKey), audience: "outpost:eu", nowSeconds: now).get(), claims())
    }

    func testRotationSignsWithTheNewKeyAndStillAcceptsTheOld() throws {
        let before = AccessToken.sign(claims(), keys: try keys(oldKey))
        let rotated = try keys(oldKey, newKey)
        let after = AccessToken.sign(claims(), keys: rotated)
        XCTAssertTrue(after.hasPrefix(Base64.encode(Array(#"{"alg":"HS256","typ":"at+jwt","kid":"k2"}"#.utf8), url: true, padded: false) + "."))
        XCTAssertNoThrow(try AccessToken.verify(before, keys: rotated, audience: "outpost:eu", nowSeconds: now).get())
        XCTAssertNoThrow(try AccessToken.verify(after, keys: rotated, audience: "outpost:eu", nowSeconds: now).get())
        XCTAssertEqual(AccessToken.verify(before, keys: try keys(newKey), audience: "outpost:eu", nowSeconds: now), .failure(.unknownKey),
                       "the old key dropped: its tokens are refused")
    }

    func testForgedAndTamperedTokensAreRefused() throws {
        let keys = try keys(oldKey)
        let token = AccessToken.sign(claims(), keys: keys)
        let parts = token.split(separator: ".").map(String.init)
        func part(_ json: String) -> String { Base64.encode(Array(json.utf8), url: true, padded: false) }
        func verify(_ token: String) -> Result<AccessClaims, TokenRefusal> { AccessToken.verify(token, keys: keys, audience: "outpost:eu", nowSeconds: now) }

        var admin = claims()
        admin.roles = ["hub_admin"]
        let elevated = AccessToken.sign(admin, keys: try self.keys(KeyRing.Key(id: "k1", secret: Array(repeating: 1, count: 32))))
        XCTAssertEqual(verify(parts[0] + "." + elevated.split(separator: ".")[1] + "." + parts[2]), .failure(.signature), "claims swapped")
        XCTAssertEqual(verify(elevated), .failure(.signature), "signed with a guessed secret")
        XCTAssertEqual(verify(part(#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#) + "." + parts[1] + "."), .failure(.algorithm))
        XCTAssertEqual(verify(part(#"{"alg":"HS512","typ":"at+jwt","kid":"k1"}"#) + "." + parts[1] + "." + parts[2]), .failure(.algorithm))
        XCTAssertEqual(verify(part(#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#) + "." + parts[1] + "." + parts[2]), .failure(.type))
        XCTAssertEqual(verify(part(#"{"alg":"HS256","typ":"at+jwt","kid":"k9"}"#) + "." + parts[1] + "." + parts[2]), .failure(.unknownKey))
        for malformed in ["", "a.b", "a.b.c.d", parts[0] + ".%%%." + parts[2], part("[1]") + "." + parts[1] + "." + parts[2], parts[0] + "." + parts[1]] {
            XCTAssertEqual(verify(malformed), .failure(.malformed), malformed)
        }
        // A well-signed token whose claims are not what an access token carries.
        let header = part(#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#), body = part(#"{"sub":"cust-1","aud":"outpost:eu"}"#)
        let signature = Base64.encode(HMACSHA256.authenticate(Array((header + "." + body).utf8), key: oldKey.secret), url: true, padded: false)
        XCTAssertEqual(verify(header + "." + body + "." + signature), .failure(.claims))
    }

    func testKeysMustBeDistinctAndLongEnough() {
        XCTAssertNil(KeyRing([]))
        XCTAssertNil(KeyRing([KeyRing.Key(id: "k1", secret: Array(repeating: 1, count: 16))]))
        XCTAssertNil(KeyRing([oldKey, KeyRing.Key(id: "k1", secret: newKey.secret)]))
    }
}
