import Foundation
import NodeTesting
import Platform
import XCTest

/// noded under systemd (`Type=notify`, `WatchdogSec=`), with the test as the service manager:
/// the unit is started when the node serves, the watchdog is petted from the loop, a stuck loop
/// leaves it unpetted (systemd then restarts the node), and a stop is announced.
final class ServiceManagerTests: XCTestCase {
    func testTheNodeSaysWhenItIsReadyPetsTheWatchdogAndSaysWhenItStops() throws {
        let scratch = TemporaryDirectory()
        let manager = try ServiceManagerSocket(path: scratch.file("notify"))
        let node = try NodeProcess.start(environment: ["NOTIFY_SOCKET": manager.path, "WATCHDOG_USEC": "200000"])
        let ready = try XCTUnwrap(manager.await("READY=1", within: 10), "READY=1 once listening")
        let status = ready.last?.lines.first { $0.hasPrefix("STATUS=") } ?? ""
        XCTAssertTrue(status.contains(node.baseURL.replacingOccurrences(of: "http://", with: "")), status)
        XCTAssertEqual(try node.client().get("/readyz").status, 200, "ready for systemd is ready for the load balancer")
        let pets = (0..<3).compactMap { _ in manager.await("WATCHDOG=1", within: 2) }
        XCTAssertEqual(pets.count, 3, "petted every 100 ms (half of WatchdogSec=200ms)")
        XCTAssertEqual(try node.stop(), 0)
        XCTAssertNotNil(manager.await("STOPPING=1", within: 5), "the stop is announced")
    }

    func testALoopStuckPastTheWatchdogIntervalDoesNotPetIt() throws {
        let scratch = TemporaryDirectory()
        let manager = try ServiceManagerSocket(path: scratch.file("notify"))
        let node = try NodeProcess.start(environment: ["NOTIFY_SOCKET": manager.path, "WATCHDOG_USEC": "200000",
                                                       "OUTPOST_TEST_FAULT": "stall-loop-after-ready"])
        XCTAssertNotNil(manager.await("READY=1", within: 10))
        var last: UInt64?, longestGapMs: UInt64 = 0
        while let message = manager.receive(within: 3) {
            guard message.lines.contains("WATCHDOG=1") else { continue }
            if let last { longestGapMs = max(longestGapMs, (message.atNs - last) / 1_000_000) }
            last = message.atNs
            if longestGapMs >= 1_500 { break }
        }
        XCTAssertGreaterThanOrEqual(longestGapMs, 1_500, "no pet while the loop was stuck for 2 s (systemd would restart the node at 200 ms)")
        XCTAssertEqual(try node.stop(), 0, "the loop turns again afterwards")
    }

    func testTheNotifierReadsTheServiceManagersEnvironment() throws {
        XCTAssertNil(ServiceNotifier(socketPath: nil, watchdogUsec: "1000000", watchdogPid: nil), "not under systemd")
        let notifier = try XCTUnwrap(ServiceNotifier(socketPath: "@outpost-test", watchdogUsec: "30000000", watchdogPid: nil))
        XCTAssertEqual(notifier.watchdogIntervalMs, 15_000, "half of WatchdogSec")
        XCTAssertNil(ServiceNotifier(socketPath: "/run/x", watchdogUsec: "30000000", watchdogPid: "1")?.watchdogIntervalMs,
                     "another process's watchdog is not petted")
        XCTAssertNil(ServiceNotifier(socketPath: "/run/x", watchdogUsec: "zero", watchdogPid: nil)?.watchdogIntervalMs)
        XCTAssertNil(ServiceNotifier(socketPath: "/" + String(repeating: "x", count: 200), watchdogUsec: nil, watchdogPid: nil), "longer than sun_path")
    }
}
