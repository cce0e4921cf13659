import Foundation
import NodeTesting
import XCTest

/// `nodectl peers` against real nodes.
final class PeersTests: XCTestCase {
    func testPeersAddedAtRunTimeReplicateSurviveRestartsAndCanBeRemoved() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub")
        let hubSync = try XCTUnwrap(hub.syncAddress)
        var store = try fleet.start("store-1", region: "eu", listen: false)
        let dir = fleet.dataDirectory("store-1")
        XCTAssertEqual(try hub.adminPost("/admin/v1/replicated/orders/o-1", #"{"op":"add","event":"placed"}"#).status, 200)

        let added = try runExecutable("nodectl", ["peers", "add", "--data-dir", dir, "--node-id", "hub", "--region", "eu", "--address", hubSync])
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertTrue(eventually { (try store.replicatedState("orders", "o-1")["events"] as? [String]) == ["placed"] }, "the added peer replicates")
        let listed = try runExecutable("nodectl", ["peers", "list", "--data-dir", dir])
        XCTAssertTrue(listed.stdout.contains("hub") && listed.stdout.contains("added"), listed.stdout)

        // Kept across a restart.
        XCTAssertEqual(try store.stop(), 0)
        store = try fleet.start("store-1", region: "eu", listen: false)
        XCTAssertEqual(try hub.adminPost("/admin/v1/replicated/orders/o-2", #"{"op":"add","event":"placed"}"#).status, 200)
        XCTAssertTrue(eventually { (try store.replicatedState("orders", "o-2")["events"] as? [String]) == ["placed"] })

        // Bad input is refused with one line and changes nothing.
        let bad = try runExecutable("nodectl", ["peers", "add", "--data-dir", dir, "--node-id", "x", "--region", "eu", "--address", "nowhere"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("HOST:PORT"), bad.stderr)

        let removed = try runExecutable("nodectl", ["peers", "remove", "--data-dir", dir, "--node-id", "hub"])
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertTrue(eventually { ((try store.adminJSON("/admin/v1/sync/status")["peers"] as? [Any]) ?? [1]).isEmpty }, "the link is gone")
        let again = try runExecutable("nodectl", ["peers", "remove", "--data-dir", dir, "--node-id", "hub"])
        XCTAssertEqual(again.status, 1, "removing twice says there is no such peer")
    }

    func testAPeerFromTheConfigurationCannotBeRemovedAtRunTime() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub")
        let store = try fleet.start("store-1", region: "eu", peers: [("hub", "eu", hub.syncAddress ?? "")])
        _ = store
        let refused = try runExecutable("nodectl", ["peers", "remove", "--data-dir", fleet.dataDirectory("store-1"), "--node-id", "hub"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("configured in the file"), refused.stderr)
    }
}
