import Foundation
import NodeTesting
import Replication
import XCTest

/// The real sync session over a simulated network: seeded histories of writes on every replica,
/// with partitions, drops, duplicates, reordering and restarts; after healing, every replica
/// holds the same values, version vectors and digests, no order is lost, no cart leaves its
/// region, and stock is equal everywhere and never negative.
///
/// Twice: on in-memory stores (many seeds, fast), and on the node's own replica over SQLite with
/// its projections (a restart reopens the file; the stock view must match the counters), so a
/// bug of the persistence layer or of a projection is found by seed too.
///
/// Prints its first seed; `SEED=<n>` replays one; `SIM_SEEDS=<n>` runs more (make soak).
final class SyncSimulationTests: XCTestCase {
    func testReplicasConvergeAfterRandomFaults() {
        let outcome = simulate(seedsByDefault: 200, name: "memory") { SimulatedFleet(seed: $0) }
        XCTAssertGreaterThan(outcome.snapshots, 0, "some seed exercised the snapshot path")
    }

    func testNodeReplicasOnDiskConvergeAndTheirViewsAgreeAfterRandomFaults() {
        let outcome = simulate(seedsByDefault: 60, name: "disk") { seed in
            try SimulatedFleet(seed: seed) { id, region, peers, hub, relays in
                try SimulatedDiskReplica(id: id, region: region, compactionPeers: peers, hubId: hub, relaysGlobal: relays)
            }
        }
        XCTAssertGreaterThan(outcome.restarts, 0, "some seed reopened a replica from its file")
    }

    private func simulate<Replica: SimulatedReplica>(seedsByDefault: Int, name: String, fleet make: (UInt64) throws -> SimulatedFleet<Replica>)
        -> (snapshots: Int, restarts: Int) {
        let environment = ProcessInfo.processInfo.environment
        let seeds: [UInt64]
        if let replay = environment["SEED"].flatMap(UInt64.init) {
            seeds = [replay]
        } else {
            let base = UInt64.random(in: 1...UInt64.max / 2)
            let count = environment["SIM_SEEDS"].flatMap(Int.init) ?? seedsByDefault
            print("SyncSimulationTests (\(name)): seeds \(base)...\(base + UInt64(count) - 1) (SEED=<n> replays one)")
            seeds = (0..<UInt64(count)).map { base + $0 }
        }
        var snapshots = 0, messages = 0, restarts = 0
        for seed in seeds {
            var fleet: SimulatedFleet<Replica>
            do { fleet = try make(seed) } catch {
                XCTFail("SEED=\(seed): the fleet did not start: \(error)")
                return (snapshots, restarts)
            }
            fleet.run(steps: 250)
            let settled = fleet.heal()
            let problems = fleet.converged()
            snapshots += fleet.snapshotsSent
            messages += fleet.messagesDelivered
            restarts += fleet.restarts
            guard settled && problems.isEmpty else {
                XCTFail("SEED=\(seed) (\(name)): \(settled ? "" : "did not settle; ")\(problems.prefix(5).joined(separator: "; "))\nlast events:\n\(fleet.trace.joined(separator: "\n"))")
                return (snapshots, restarts)
            }
            for sku in SimulatedFleet<Replica>.skus {
                let stock = fleet.stock(sku)
                XCTAssertEqual(Set(stock).count, 1, "SEED=\(seed): \(sku) differs: \(stock)")
                XCTAssertGreaterThanOrEqual(stock.first ?? -1, 0, "SEED=\(seed)")
            }
        }
        print("SyncSimulationTests (\(name)): \(seeds.count) seeds converged; \(messages) messages delivered, \(snapshots) snapshots sent")
        return (snapshots, restarts)
    }
}
