import Node
import NodeTesting
import Platform
import XCTest

final class NodeIdentityTests: XCTestCase {
    func testFirstLoadCreatesSecretsOwnerOnlyAndLaterLoadsReuseThem() throws {
        let dir = TemporaryDirectory()
        let first = try NodeIdentity.loadOrCreate(directory: dir.path, configuredId: nil, storedId: nil)
        XCTAssertTrue(first.nodeId.hasPrefix("node-"))
        XCTAssertEqual(Files.permissions(dir.file("node.key")), 0o600)
        XCTAssertEqual(Files.permissions(dir.file("admin.token")), 0o600)
        XCTAssertEqual(first.adminToken.count, 64)
        let second = try NodeIdentity.loadOrCreate(directory: dir.path, configuredId: nil, storedId: first.nodeId)
        XCTAssertEqual(second.nodeId, first.nodeId)
        XCTAssertEqual(second.adminToken, first.adminToken)
        XCTAssertEqual(second.keyPair.publicKey, first.keyPair.publicKey)
    }

    func testAConfiguredIdIsUsedOnFirstStartAndMustMatchLater() throws {
        let dir = TemporaryDirectory()
        XCTAssertEqual(try NodeIdentity.loadOrCreate(directory: dir.path, configuredId: "store-1", storedId: nil).nodeId, "store-1")
        XCTAssertThrowsError(try NodeIdentity.loadOrCreate(directory: dir.path, configuredId: "store-2", storedId: "store-1")) { error in
            XCTAssertEqual((error as? ConfigError)?.key, "node.id")
        }
    }

    func testRefusesSecretsOthersCanRead() throws {
        let dir = TemporaryDirectory()
        _ = try NodeIdentity.loadOrCreate(directory: dir.path, configuredId: nil, storedId: nil)
        chmod(dir.file("admin.token"), 0o644)
        XCTAssertThrowsError(try NodeIdentity.loadOrCreate(directory: dir.path, configuredId: nil, storedId: "x")) { error in
            XCTAssertTrue("\(error)".contains("chmod 600"))
        }
    }

    func testAdminTokenCheck() throws {
        let dir = TemporaryDirectory()
        let identity = try NodeIdentity.loadOrCreate(directory: dir.path, configuredId: nil, storedId: nil)
        XCTAssertTrue(identity.acceptsAdminToken(identity.adminToken))
        XCTAssertFalse(identity.acceptsAdminToken(nil))
        XCTAssertFalse(identity.acceptsAdminToken(String(identity.adminToken.dropLast()) + "x"))
    }
}
