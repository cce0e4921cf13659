import Foundation
import NodeTesting
import Replication
import XCTest

/// The real sync session over a simulated network: seeded histories of writes on every replica,
/// with partitions, drops, duplicates, reordering and restarts; after healing, every replica
/// holds the same values, version vectors and digests, no order is lost, no cart leaves its
/// region, and stock is equal everywhere and never negative.
///
/// Prints its first seed; `SEED=<n>` replays one; `SIM_SEEDS=<n>` runs more (make soak).
final class SyncSimulationTests: XCTestCase {
    func testReplicasConvergeAfterRandomFaults() {
        let environment = ProcessInfo.processInfo.environment
        let seeds: [UInt64]
        if let replay = environment["SEED"].flatMap(UInt64.init) {
            seeds = [replay]
        } else {
            let base = UInt64.random(in: 1...UInt64.max / 2)
            let count = environment["SIM_SEEDS"].flatMap(Int.init) ?? 200
            print("SyncSimulationTests: seeds \(base)...\(base + UInt64(count) - 1) (SEED=<n> replays one)")
            seeds = (0..<UInt64(count)).map { base + $0 }
        }
        var snapshots = 0, messages = 0
        for seed in seeds {
            var fleet = SimulatedFleet(seed: seed)
            fleet.run(steps: 250)
            let settled = fleet.heal()
            let problems = fleet.converged()
            snapshots += fleet.snapshotsSent
            messages += fleet.messagesDelivered
            guard settled && problems.isEmpty else {
                XCTFail("SEED=\(seed): \(settled ? "" : "did not settle; ")\(problems.prefix(5).joined(separator: "; "))\nlast events:\n\(fleet.trace.joined(separator: "\n"))")
                return
            }
            for sku in ["sku-0", "sku-1"] {
                let stock = fleet.stock(sku)
                XCTAssertEqual(Set(stock).count, 1, "SEED=\(seed): \(sku) differs: \(stock)")
                XCTAssertGreaterThanOrEqual(stock.first ?? -1, 0, "SEED=\(seed)")
            }
        }
        print("SyncSimulationTests: \(seeds.count) seeds converged; \(messages) messages delivered, \(snapshots) snapshots sent")
        XCTAssertGreaterThan(snapshots, 0, "some seed exercised the snapshot path")
    }
}
