@testable import Commerce
import Foundation
import Platform
import XCTest

/// Access tokens as a client, another node of the fleet, or an attacker would present them.
final class AccessTokenTests: XCTestCase {
    /// Certificates made here are valid from an hour ago: tokens are checked at today's time.
    private let now = Int64(Date().timeIntervalSince1970)

    /// A fleet CA and nodes it enrolled, as `nodectl enroll` makes them.
    private struct Fleet {
        let caKey = Ed25519KeyPair.generate()
        let caPEM: String

        init() throws {
            caPEM = try Certificates.authority(key: caKey, name: "test-fleet")
        }

        func signer(_ nodeId: String, region: String, role: String = "store", enrolled: Bool = true) throws -> TokenSigner {
            let key = Ed25519KeyPair.generate()
            guard enrolled else { return TokenSigner(nodeId: nodeId, keyPair: key, certificateDER: nil) }
            let pem = try Certificates.issue(nodeId: nodeId, region: region, role: role, publicKeyPEM: key.publicKeyPEM,
                                             authorityKey: caKey, authorityCertificatePEM: caPEM)
            return TokenSigner(nodeId: nodeId, keyPair: key, certificateDER: Certificates.der(ofPEM: pem))
        }

        func verifier(_ nodeId: String, region: String, role: String = "store") -> TokenVerifier {
            TokenVerifier(nodeId: nodeId, region: region, role: role, publicKey: Ed25519KeyPair.generate().publicKey, authorityPEM: caPEM)
        }
    }

    private func claims(_ roles: [String] = ["customer"], issuer: String = "store-1", audience: String = "outpost:eu",
                        lifetime: Int64 = AccessToken.lifetimeSeconds) -> AccessClaims {
        AccessClaims(subject: "cust-1", roles: roles, audience: audience, issuer: issuer, issuedAt: now, expiresAt: now + lifetime, id: "t-1",
                     session: "s-1")
    }

    func testATokenVerifiesOnEveryNodeOfItsRegionUntilItExpires() throws {
        let fleet = try Fleet()
        let token = AccessToken.sign(claims(), by: try fleet.signer("store-1", region: "eu"))
        let other = fleet.verifier("store-2", region: "eu")
        XCTAssertEqual(try other.verify(token, audience: "outpost:eu", nowSeconds: now + 60).get(),
                       VerifiedToken(claims: claims(), issuerRegion: "eu", issuerRole: "store"))
        XCTAssertEqual(other.verify(token, audience: "outpost:eu", nowSeconds: now + 15 * 60 + 31).map(\.claims), .failure(.expired), "remembered, still expires")
        XCTAssertEqual(fleet.verifier("store-3", region: "eu").verify(token, audience: "outpost:eu", nowSeconds: now - 31).map(\.claims), .failure(.notYetValid))
        XCTAssertEqual(fleet.verifier("store-9", region: "us").verify(token, audience: "outpost:us", nowSeconds: now).map(\.claims), .failure(.audience))
    }

    func testATokenFromAnotherImplementationVerifies() {
        // Made with Python's `cryptography` (x509 builder, Ed25519): a CA, store-1's certificate
        // (CN store-1, OU eu, title store) in x5c, other member order and an extra claim.
        let caPEM = """
            -----BEGIN CERTIFICATE-----
            MIIBFzCByqADAgECAgEBMAUGAytlcDArMRYwFAYDVQQDDA1maXh0dXJlLWZsZWV0
            MREwDwYDVQQLDAhmbGVldC1jYTAeFw0yMzAxMDEwMDAwMDBaFw0zMzAxMDEwMDAw
            MDBaMCsxFjAUBgNVBAMMDWZpeHR1cmUtZmxlZXQxETAPBgNVBAsMCGZsZWV0LWNh
            MCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbijEzAR
            MA8GA1UdEwEB/wQFMAMBAf8wBQYDK2VwA0EAv2VBTUJiXyup/t0eJT9TiM4Gw7to
            x1rDxoh0cKLOezOpAX2sW28uJ27S04mrtAUzNeZamFmM89p7ft1EiPnYDQ==
            -----END CERTIFICATE-----

            """
        let token = "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFZERTQSIsImtpZCI6InN0b3JlLTEiLCJ4NWMiOlsiTUlJQkdEQ0J5NkFEQWdFQ0FnRUNNQVVHQXl0bGNEQXJNUll3RkFZRFZRUUREQTFtYVhoMGRYSmxMV1pzWldWME1SRXdEd1lEVlFRTERBaG1iR1ZsZEMxallUQWVGdzB5TXpBeE1ERXdNREF3TURCYUZ3MHpNekF4TURFd01EQXdNREJhTUM4eEVEQU9CZ05WQkFNTUIzTjBiM0psTFRFeEN6QUpCZ05WQkFzTUFtVjFNUTR3REFZRFZRUU1EQVZ6ZEc5eVpUQXFNQVVHQXl0bGNBTWhBQ21zdXVGQnZNcndzaTRhbE5OTkM4YzJIbEp0Qy80U3lKZVV2Sk1pbG0zWG94QXdEakFNQmdOVkhSTUJBZjhFQWpBQU1BVUdBeXRsY0FOQkFMTzhVS0FXTnh2Y0JKaUU4cU4raU9SNnJ5d0VRQTFYdDJaTmRvZEtRRFd0WHVFMDFhS0hVN1NxTkluYmNvbDBsY2oxTGlrcVptQVVKaEdodjk4b1BBUT0iXX0.eyJleHAiOjE3MDAwMDA5MDAsInN1YiI6ImN1c3QtMSIsImF1ZCI6Im91dHBvc3Q6ZXUiLCJpc3MiOiJzdG9yZS0xIiwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImp0aSI6InQtMSIsInJvbGVzIjpbImN1c3RvbWVyIl0sImV4dHJhIjp7IngiOjF9fQ.xMP6796U3ArQthgQr7Lx4xp_N9ERYPkPka9KFvNB0Ye4YzJpqzaLlTfis9LhznNjMtgItuKL8nvxKs-5j9EQDg"
        let verifier = TokenVerifier(nodeId: "store-2", region: "eu", role: "store", publicKey: Ed25519KeyPair.generate().publicKey, authorityPEM: caPEM)
        let made: Int64 = 1_700_000_000
        let expected = AccessClaims(subject: "cust-1", roles: ["customer"], audience: "outpost:eu", issuer: "store-1", issuedAt: made,
                                    expiresAt: made + 900, id: "t-1")
        XCTAssertEqual(try verifier.verify(token, audience: "outpost:eu", nowSeconds: made).get().claims, expected)
    }

    func testOnlyTheHubGrantsHubAdminAndARegionsTokensComeFromItsNodes() throws {
        let fleet = try Fleet()
        let hubVerifier = fleet.verifier("hub", region: "eu", role: "hub")
        let store = try fleet.signer("store-1", region: "us")
        // The attack of the finding: a us store's key, audience eu, role hub_admin.
        let forged = AccessToken.sign(claims(["hub_admin"], audience: "outpost:eu"), by: store)
        XCTAssertEqual(hubVerifier.verify(forged, audience: "outpost:eu", nowSeconds: now).map(\.claims), .failure(.authority))
        let otherRegion = AccessToken.sign(claims(["customer"], audience: "outpost:eu"), by: store)
        XCTAssertEqual(fleet.verifier("store-2", region: "eu").verify(otherRegion, audience: "outpost:eu", nowSeconds: now).map(\.claims),
                       .failure(.authority), "a us node cannot sign for eu customers")
        let hub = try fleet.signer("hub", region: "eu", role: "hub")
        let admin = AccessToken.sign(claims(["hub_admin"], issuer: "hub", audience: "outpost:us"), by: hub)
        XCTAssertNoThrow(try fleet.verifier("store-1", region: "us").verify(admin, audience: "outpost:us", nowSeconds: now).get(), "the hub grants anywhere")
    }

    func testLifetimesPastFifteenMinutesAreRefused() throws {
        let fleet = try Fleet()
        let token = AccessToken.sign(claims(lifetime: 10 * 365 * 86_400), by: try fleet.signer("store-1", region: "eu"))
        XCTAssertEqual(fleet.verifier("store-2", region: "eu").verify(token, audience: "outpost:eu", nowSeconds: now).map(\.claims), .failure(.lifetime))
    }

    func testANodeWithoutACertificateIsTrustedByItselfAlone() throws {
        let fleet = try Fleet()
        let lone = try fleet.signer("lone", region: "eu", enrolled: false)
        let token = AccessToken.sign(claims(issuer: "lone"), by: lone)
        let itself = TokenVerifier(nodeId: "lone", region: "eu", role: "store", publicKey: lone.keyPair.publicKey, authorityPEM: nil)
        XCTAssertNoThrow(try itself.verify(token, audience: "outpost:eu", nowSeconds: now).get())
        XCTAssertEqual(fleet.verifier("store-2", region: "eu").verify(token, audience: "outpost:eu", nowSeconds: now).map(\.claims), .failure(.unknownIssuer))
    }

    func testForgedAndTamperedTokensAreRefused() throws {
        let fleet = try Fleet(), foreign = try Fleet()
        let signer = try fleet.signer("store-1", region: "eu")
        let token = AccessToken.sign(claims(), by: signer)
        let parts = token.split(separator: ".").map(String.init)
        func part(_ json: String) -> String { Base64.encode(Array(json.utf8), url: true, padded: false) }
        func verify(_ token: String) -> Result<AccessClaims, TokenRefusal> {
            fleet.verifier("store-2", region: "eu").verify(token, audience: "outpost:eu", nowSeconds: now).map(\.claims)
        }
        let header = String(decoding: Base64.decode(parts[0], url: true) ?? [], as: UTF8.self)

        let elevated = AccessToken.sign(claims(["operator"]), by: signer)
        XCTAssertEqual(verify(parts[0] + "." + elevated.split(separator: ".")[1] + "." + parts[2]), .failure(.signature), "claims swapped")
        let impostor = TokenSigner(nodeId: "store-1", keyPair: Ed25519KeyPair.generate(), certificateDER: signer.certificateDER)
        XCTAssertEqual(verify(AccessToken.sign(claims(), by: impostor)), .failure(.signature), "someone else's certificate, own key")
        XCTAssertEqual(verify(AccessToken.sign(claims(), by: try foreign.signer("store-1", region: "eu"))), .failure(.unknownIssuer), "another fleet's CA")
        XCTAssertEqual(verify(AccessToken.sign(claims(issuer: "store-7"), by: signer)), .failure(.unknownIssuer), "iss is not the certificate's node")
        XCTAssertEqual(verify(part(header.replacingOccurrences(of: "\"kid\":\"store-1\"", with: "\"kid\":\"store-2\"")) + "." + parts[1] + "." + parts[2]),
                       .failure(.unknownIssuer), "kid is not the certificate's node")
        XCTAssertEqual(verify(part(#"{"alg":"none","typ":"at+jwt","kid":"store-1"}"#) + "." + parts[1] + "."), .failure(.algorithm))
        XCTAssertEqual(verify(part(header.replacingOccurrences(of: "EdDSA", with: "HS256")) + "." + parts[1] + "." + parts[2]), .failure(.algorithm))
        XCTAssertEqual(verify(part(header.replacingOccurrences(of: "at+jwt", with: "JWT")) + "." + parts[1] + "." + parts[2]), .failure(.type))
        for malformed in ["", "a.b", "a.b.c.d", parts[0] + ".%%%." + parts[2], part("[1]") + "." + parts[1] + "." + parts[2], parts[0] + "." + parts[1]] {
            XCTAssertEqual(verify(malformed), .failure(.malformed), malformed)
        }
        // A well-signed token whose claims are not what an access token carries.
        let body = part(#"{"sub":"cust-1","aud":"outpost:eu"}"#)
        let signature = Base64.encode(signer.keyPair.sign(Array((parts[0] + "." + body).utf8)), url: true, padded: false)
        XCTAssertEqual(verify(parts[0] + "." + body + "." + signature), .failure(.claims))
    }
}
