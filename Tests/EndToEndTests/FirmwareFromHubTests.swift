import Foundation
import Node
import NodeTesting
import Replication
import XCTest

/// Firmware from the hub (firmware-image/README.md, "Updates from the hub"): the hub puts a
/// checked bundle on its shelf, offers it over its sync links, and a store fetches it and keeps
/// it only if it arrived as offered. Real noded processes, real RAUC bundles made with test keys.
final class FirmwareFromHubTests: XCTestCase {
    private var fleet: TestFleet!
    private var fixtures: FirmwareFixtures!
    private var keyring = ""
    private var hub: NodeProcess!

    override func setUpWithError() throws {
        try XCTSkipUnless(FirmwareFixtures.raucInstalled, "rauc is installed by .ci/setup")
        fleet = try TestFleet()
        fixtures = FirmwareFixtures(scratch: fleet.scratch)
        keyring = try fixtures.makeKeys("firmware") + "/ca.pem"
        hub = try fleet.start("hub", region: "eu", role: "hub")
    }

    // XCTest keeps every test case object until the process ends: without this the hub would
    // outlive the test run.
    override func tearDown() {
        hub = nil
        fixtures = nil
        fleet = nil
    }

    private func nodectl(_ arguments: [String]) throws -> CommandResult {
        try runExecutable("nodectl", ["firmware"] + arguments + ["--keyring", keyring])
    }

    private func shelf(_ node: NodeProcess) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: node.dataDirectory + "/firmware")) ?? []).sorted()
    }

    private func offered(_ node: NodeProcess) -> [String] {
        ((try? node.adminJSON("/admin/v1/firmware")["offered"] as? [[String: Any]]) ?? nil)?.compactMap { $0["version"] as? String } ?? []
    }

    func testAStoreFetchesWhatItsHubPublishedAndKeepsNothingAlteredOnTheWay() throws {
        let good = try fixtures.makeBundle(keys: fleet.scratch.file("firmware"), version: "0.2.0-test", name: "good")

        // The hub's shelf takes only a bundle that checks whole.
        let altered = fleet.scratch.file("altered.raucb")
        try fixtures.alter(good, to: altered)
        let refused = try nodectl(["publish", altered, "--data-dir", hub.dataDirectory])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("altered after signing"), refused.stderr)
        XCTAssertEqual(shelf(hub).filter { $0.hasSuffix(".raucb") }, [], "nothing was put on the shelf")

        let published = try nodectl(["publish", good, "--data-dir", hub.dataDirectory])
        XCTAssertEqual(published.status, 0, published.stderr)
        XCTAssertTrue(published.stdout.contains("published 0.2.0-test for outpost-x86_64"), published.stdout)
        XCTAssertTrue(published.stdout.contains("the node offers: 0.2.0-test"), published.stdout)

        // A store linked to the hub is offered it, and fetches it byte for byte.
        let store = try fleet.start("store-1", region: "eu", peers: [("hub", "eu", hub.syncAddress ?? "")])
        XCTAssertTrue(eventually { self.offered(store) == ["0.2.0-test"] }, "the hub offers its shelf when the link comes up")
        let fetched = try runExecutable("nodectl", ["firmware", "fetch", "--data-dir", store.dataDirectory])
        XCTAssertEqual(fetched.status, 0, fetched.stderr)
        let path = store.dataDirectory + "/firmware/0.2.0-test.raucb"
        XCTAssertTrue(fetched.stdout.contains("fetched 0.2.0-test: \(path)"), fetched.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: good)))
        XCTAssertEqual(try runExecutable("nodectl", ["firmware", "check", path, "--keyring", keyring]).status, 0, "what arrived checks as signed and intact")

        // A newer bundle published after the link came up is offered at once. Altered on the
        // hub's disk after publishing, it reaches the store damaged: the store discards it, keeps
        // the bundle it had, and leaves no part behind.
        let newer = try fixtures.makeBundle(keys: fleet.scratch.file("firmware"), version: "0.3.0-test", name: "newer")
        XCTAssertEqual(try nodectl(["publish", newer, "--data-dir", hub.dataDirectory]).status, 0)
        XCTAssertTrue(eventually { self.offered(store) == ["0.2.0-test", "0.3.0-test"] })
        try fixtures.alter(newer, to: hub.dataDirectory + "/firmware/0.3.0-test.raucb", at: 1 << 20)
        let damaged = try runExecutable("nodectl", ["firmware", "fetch", "0.3.0-test", "--data-dir", store.dataDirectory])
        XCTAssertEqual(damaged.status, 1)
        XCTAssertTrue(damaged.stderr.contains("damaged or altered on the way"), damaged.stderr)
        XCTAssertEqual(shelf(store), ["0.2.0-test.raucb", "0.2.0-test.raucb.json"])

        // What is not offered, or not said, is refused with a reason and starts nothing.
        let unknown = try store.adminPost("/admin/v1/firmware/fetch", #"{"version":"9.9.9"}"#)
        XCTAssertEqual(unknown.status, 409)
        XCTAssertTrue(unknown.text.contains("\"reason\":\"not_offered\""), unknown.text)
        let ambiguous = try runExecutable("nodectl", ["firmware", "fetch", "--data-dir", store.dataDirectory])
        XCTAssertTrue(ambiguous.stderr.contains("say which version: the hub offers 0.2.0-test, 0.3.0-test"), ambiguous.stderr)

        // Withdrawn, a bundle is offered no more.
        XCTAssertEqual(try runExecutable("nodectl", ["firmware", "withdraw", "0.3.0-test", "--data-dir", hub.dataDirectory]).status, 0)
        XCTAssertTrue(eventually { self.offered(store) == ["0.2.0-test"] })
    }

    /// The hub falls silent mid-fetch (stopped): the store's link times out, the fetch waits, and
    /// goes on from what arrived once the hub is back and offers the same bundle again.
    func testAFetchCutOffByALostLinkGoesOnWhenTheHubIsBack() throws {
        let good = try fixtures.makeBundle(keys: fleet.scratch.file("firmware"), name: "good")
        XCTAssertEqual(try nodectl(["publish", good, "--data-dir", hub.dataDirectory]).status, 0)
        let store = try fleet.start("store-1", region: "eu", peers: [("hub", "eu", hub.syncAddress ?? "")], extra: "link_timeout_ms = 2000\n")
        XCTAssertTrue(eventually { self.offered(store) == ["0.2.0-test"] })

        kill(hub.processIdentifier, SIGSTOP)
        defer { kill(hub.processIdentifier, SIGCONT) }
        XCTAssertEqual(try store.adminPost("/admin/v1/firmware/fetch", "{}").status, 202, "the link still looks up: the requests go out")
        XCTAssertTrue(eventually { (try store.adminJSON("/admin/v1/firmware")["fetch"] as? [String: Any])?["state"] as? String == "waiting_for_hub" },
                      "the silent link is closed and the fetch waits")
        let second = try runExecutable("nodectl", ["firmware", "fetch", "--data-dir", store.dataDirectory])
        XCTAssertEqual(second.status, 1, "a second fetch is refused while one is under way")
        XCTAssertTrue(second.stderr.contains("is being fetched"), second.stderr)
        kill(hub.processIdentifier, SIGCONT)
        XCTAssertTrue(eventually { (try store.adminJSON("/admin/v1/firmware")["fetch"] as? [String: Any])?["state"] as? String == "ready" })
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: store.dataDirectory + "/firmware/0.2.0-test.raucb")),
                       try Data(contentsOf: URL(fileURLWithPath: good)))
    }

    /// A peer with a valid certificate asking for more than the hub keeps open is cut off; a
    /// request that reaches past any bundle never decodes.
    func testAPeerAskingTooMuchAtOnceIsCutOff() throws {
        let good = try fixtures.makeBundle(keys: fleet.scratch.file("firmware"), name: "good")
        XCTAssertEqual(try nodectl(["publish", good, "--data-dir", hub.dataDirectory]).status, 0)

        let greedy = try RoguePeer(fleet: fleet, nodeId: "store-9", region: "eu", to: hub)
        try greedy.send(RoguePeer.hello("store-9", region: "eu"))
        let requests = (0..<64).flatMap { index in
            SyncFrame.encode(.firmwareRequest(version: "0.2.0-test", offset: UInt64(index % 2) << 20, length: 1 << 20))
        }
        try greedy.sendFrame(requests)
        XCTAssertTrue(greedy.waitForClose())
        XCTAssertEqual(greedy.closingError?.code, .tooManyRequests, String(describing: greedy.closingError))
        XCTAssertTrue(greedy.received.contains { if case .firmwareOffer(let offers) = $0 { offers.map(\.version) == ["0.2.0-test"] } else { false } },
                      "the hub offered its shelf first")

        let reaching = try RoguePeer(fleet: fleet, nodeId: "store-8", region: "eu", to: hub)
        try reaching.send(RoguePeer.hello("store-8", region: "eu"))
        try reaching.send(.firmwareRequest(version: "../../node.sqlite", offset: 0, length: 1))
        XCTAssertTrue(reaching.waitForClose())
        XCTAssertEqual(reaching.closingError?.code, .malformedFrame)
        XCTAssertTrue(hub.isRunning)
    }
}
