import Platform
import XCTest

final class TLSTests: XCTestCase {
    /// A fleet: its CA and a way to enroll nodes.
    struct Fleet {
        let key = Ed25519KeyPair.generate()
        let certificate: String
        init(name: String = "test-fleet") throws { certificate = try Certificates.authority(key: key, name: name) }

        func enroll(_ nodeId: String, region: String) throws -> TLSContext {
            let nodeKey = Ed25519KeyPair.generate()
            let pem = try Certificates.issue(nodeId: nodeId, region: region, publicKeyPEM: nodeKey.publicKeyPEM,
                                             authorityKey: key, authorityCertificatePEM: certificate)
            return try TLSContext(certificatePEM: pem, key: nodeKey, authorityPEM: certificate)
        }
    }

    /// Moves ciphertext both ways until neither side has more to say.
    private func pump(_ a: TLSConnection, _ b: TLSConnection) throws -> (toA: [UInt8], toB: [UInt8]) {
        var toA: [UInt8] = [], toB: [UInt8] = []
        for _ in 0..<20 {
            let fromA = a.takeCiphertext(), fromB = b.takeCiphertext()
            if fromA.isEmpty && fromB.isEmpty { break }
            b.receiveCiphertext(fromA)
            toB += try b.readPlaintext()
            a.receiveCiphertext(fromB)
            toA += try a.readPlaintext()
        }
        return (toA, toB)
    }

    func testIssuedCertificatesNameTheNodeAndRegion() throws {
        let fleet = try Fleet()
        let nodeKey = Ed25519KeyPair.generate()
        let pem = try Certificates.issue(nodeId: "store-1", region: "eu-central", publicKeyPEM: nodeKey.publicKeyPEM,
                                         authorityKey: fleet.key, authorityCertificatePEM: fleet.certificate)
        XCTAssertEqual(Certificates.subject(ofPEM: pem), CertificateSubject(commonName: "store-1", organizationalUnit: "eu-central", role: "store"))
        XCTAssertTrue(Certificates.isSigned(pem, by: fleet.certificate))
        XCTAssertFalse(Certificates.isSigned(pem, by: try Fleet(name: "other").certificate))
        XCTAssertNil(Certificates.subject(ofPEM: "not a certificate"))
    }

    func testMutuallyAuthenticatedHandshakeCarriesDataBothWays() throws {
        let fleet = try Fleet()
        let client = try TLSConnection(context: try fleet.enroll("store-1", region: "eu"), isServer: false)
        let server = try TLSConnection(context: try fleet.enroll("hub", region: "eu"), isServer: true)
        _ = try client.readPlaintext()  // starts the handshake: ClientHello
        _ = try pump(client, server)
        XCTAssertTrue(client.isHandshakeComplete && server.isHandshakeComplete)
        XCTAssertEqual(server.peer, CertificateSubject(commonName: "store-1", organizationalUnit: "eu", role: "store"))
        XCTAssertEqual(client.peer, CertificateSubject(commonName: "hub", organizationalUnit: "eu", role: "store"))
        try client.writePlaintext(Array("hello hub".utf8))
        try server.writePlaintext(Array(repeating: 7, count: 100_000))
        let (toClient, toServer) = try pump(client, server)
        XCTAssertEqual(String(decoding: toServer, as: UTF8.self), "hello hub")
        XCTAssertEqual(toClient, Array(repeating: 7, count: 100_000))
    }

    func testAClientFromAnotherFleetIsRefused() throws {
        let fleet = try Fleet(), stranger = try Fleet(name: "stranger")
        let client = try TLSConnection(context: try stranger.enroll("intruder", region: "eu"), isServer: false)
        let server = try TLSConnection(context: try fleet.enroll("hub", region: "eu"), isServer: true)
        _ = try? client.readPlaintext()
        XCTAssertThrowsError(try pump(client, server))
        XCTAssertFalse(server.isHandshakeComplete && server.peer != nil)
    }

    func testAServerFromAnotherFleetIsRefused() throws {
        let fleet = try Fleet(), stranger = try Fleet(name: "stranger")
        let client = try TLSConnection(context: try fleet.enroll("store-1", region: "eu"), isServer: false)
        let server = try TLSConnection(context: try stranger.enroll("fake-hub", region: "eu"), isServer: true)
        _ = try client.readPlaintext()
        XCTAssertThrowsError(try pump(client, server))
        XCTAssertFalse(client.isHandshakeComplete)
    }

    func testACorruptedRecordIsAnError() throws {
        let fleet = try Fleet()
        let client = try TLSConnection(context: try fleet.enroll("store-1", region: "eu"), isServer: false)
        let server = try TLSConnection(context: try fleet.enroll("hub", region: "eu"), isServer: true)
        _ = try client.readPlaintext()
        _ = try pump(client, server)
        try client.writePlaintext(Array("order placed".utf8))
        var record = client.takeCiphertext()
        record[record.count - 3] ^= 0xFF
        server.receiveCiphertext(record)
        XCTAssertThrowsError(try server.readPlaintext())
    }

    func testAKeyThatDoesNotMatchTheCertificateIsRefused() throws {
        let fleet = try Fleet()
        let pem = try Certificates.issue(nodeId: "store-1", region: "eu", publicKeyPEM: Ed25519KeyPair.generate().publicKeyPEM,
                                         authorityKey: fleet.key, authorityCertificatePEM: fleet.certificate)
        XCTAssertThrowsError(try TLSContext(certificatePEM: pem, key: Ed25519KeyPair.generate(), authorityPEM: fleet.certificate))
    }
}
