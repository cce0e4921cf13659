import Foundation
import NodeTesting
import PropertyBased
import Testing
@testable import Replication

/// A peer with a valid fleet certificate is still hostile: random deltas and snapshots with
/// extreme counters (2^63, sums past 2^64, negative rights, transfers to oneself), any origin and
/// any key are either applied whole, leaving every state valid, or refused whole, leaving the
/// collection as it was. Nothing traps. A failure prints PropertyBased's seed.
@Suite struct HostileInputTests {
    static let cases = (ProcessInfo.processInfo.environment["PROPERTY_CASES"].flatMap(Int.init) ?? 25) * 4
    static let replicas = ["victim", "mallory", "hub", "store-2"]

    /// Mostly the values that break naive arithmetic, sometimes small honest ones.
    static func units(_ random: inout SeededRandom) -> UInt64 {
        let limit = BoundedCounter.entryUnitsMax
        let picks: [UInt64] = [0, 1, 7, limit - 1, limit, limit + 1, 1 << 62, 1 << 63, (1 << 63) + 1, UInt64.max, UInt64.max - 1,
                               UInt64.random(in: 0...UInt64.max, using: &random), UInt64.random(in: 0...100, using: &random)]
        return picks.randomElement(using: &random) ?? 0
    }

    static func counter(_ random: inout SeededRandom) -> BoundedCounter {
        var increments: [ReplicaID: UInt64] = [:], decrements: [ReplicaID: UInt64] = [:]
        var transfers: [BoundedCounter.Transfer: UInt64] = [:]
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            let replica = replicas.randomElement(using: &random) ?? "mallory"
            switch Int.random(in: 0..<3, using: &random) {
            case 0: increments[replica] = units(&random)
            case 1: decrements[replica] = units(&random)
            default:
                // Self-transfers too: the decoder takes them; validity must refuse them.
                let target = replicas.randomElement(using: &random) ?? "victim"
                transfers[BoundedCounter.Transfer(from: replica, to: target)] = units(&random)
            }
        }
        return BoundedCounter(increments: increments, decrements: decrements, transfers: transfers)
    }

    static func stamp(_ random: inout SeededRandom) -> HLCTimestamp {
        HLCTimestamp(physicalMs: Int64.random(in: 0...Int64.max, using: &random), logical: UInt32.random(in: 0...UInt32.max, using: &random),
                     replica: replicas.randomElement(using: &random) ?? "mallory")
    }

    /// A collection holding honest stock of the victim's, 10 units.
    static func honestStock() -> KeyedCollection<BoundedCounter> {
        var collection = KeyedCollection<BoundedCounter>(name: "inventory", scope: .global)
        var stock = BoundedCounter()
        let delta = (try? stock.increment(by: 10, replica: "victim")) ?? BoundedCounter()
        _ = collection.commitLocal(key: "SKU-1@shop", delta: delta, origin: "victim",
                                   timestamp: HLCTimestamp(physicalMs: 1_000, logical: 0, replica: "victim"))
        return collection
    }

    @Test func hostileStockDeltasAreAppliedWholeOrRefusedWhole() async {
        await propertyCheck(count: Self.cases, input: Gen.uint64()) { seed in
            var random = SeededRandom(seed: seed)
            var collection = Self.honestStock()
            for _ in 0..<30 {
                let deltas = (0..<Int.random(in: 1...4, using: &random)).map { _ in
                    let origin = Self.replicas.randomElement(using: &random) ?? "mallory"
                    let counter = Bool.random(using: &random) ? collection.applied[origin] + 1 : UInt64.random(in: 0...UInt64.max, using: &random)
                    return WireDelta(dot: Dot(replica: origin, counter: counter), timestamp: Self.stamp(&random),
                                     key: ["SKU-1@shop", "SKU-2@shop"].randomElement(using: &random) ?? "", payload: Self.counter(&random).canonicalBytes)
                }
                let before = collection.canonicalState, appliedBefore = collection.applied
                do {
                    _ = try collection.apply(deltas)
                    collection.checkInvariants()
                    for (key, state) in collection.states { #expect(state.validityProblem() == nil, "\(key) kept invalid (seed \(seed))") }
                } catch {
                    #expect(collection.canonicalState == before, "a refused frame changed nothing (seed \(seed))")
                    #expect(collection.applied == appliedBefore)
                }
            }
        }
    }

    @Test func hostileStockSnapshotsAreMergedWholeOrRefusedWhole() async {
        await propertyCheck(count: Self.cases, input: Gen.uint64()) { seed in
            var random = SeededRandom(seed: seed)
            var collection = Self.honestStock()
            for _ in 0..<10 {
                var writer = CanonicalWriter()
                let states = Dictionary((0..<Int.random(in: 1...3, using: &random)).map { ("SKU-\($0)@shop", Self.counter(&random)) }) { a, _ in a }
                writer.sortedMap(states) { $1.encode(to: &$0) }
                let before = collection.canonicalState
                do {
                    _ = try collection.mergeSnapshot(writer.bytes, covers: VersionVector(["mallory": UInt64.random(in: 0...3, using: &random)]))
                    collection.checkInvariants()
                } catch {
                    #expect(collection.canonicalState == before, "a refused snapshot changed nothing (seed \(seed))")
                }
            }
        }
    }

    /// Two states each within bounds whose merge is not: the frame that would make it is refused.
    @Test func aMergeThatWouldBreakRightsIsRefused() throws {
        var collection = Self.honestStock()
        // The victim moved its 10 units' rights to store-2.
        var stock = collection.states["SKU-1@shop"] ?? BoundedCounter()
        let moved = try stock.transfer(10, from: "victim", to: "store-2")
        _ = collection.commitLocal(key: "SKU-1@shop", delta: moved, origin: "victim", timestamp: HLCTimestamp(physicalMs: 1_500, logical: 0, replica: "victim"))
        // Mallory claims the victim also sold its 10 units: valid alone (added 10, removed 10),
        // but merged with the transfer the victim would hold -10 rights and stock would be -10.
        let forged = BoundedCounter(increments: ["victim": 10], decrements: ["victim": 10], transfers: [:])
        #expect(forged.validityProblem() == nil)
        let delta = WireDelta(dot: Dot(replica: "mallory", counter: 1), timestamp: HLCTimestamp(physicalMs: 2_000, logical: 0, replica: "mallory"),
                              key: "SKU-1@shop", payload: forged.canonicalBytes)
        #expect(throws: WireError.self) { try collection.apply([delta]) }
        #expect(collection.states["SKU-1@shop"]?.value == 10)
        #expect(collection.applied["mallory"] == 0)

        let huge = BoundedCounter(increments: ["mallory": 1 << 63], decrements: [:], transfers: [:])
        let overflow = WireDelta(dot: Dot(replica: "mallory", counter: 1), timestamp: HLCTimestamp(physicalMs: 2_000, logical: 0, replica: "mallory"),
                                 key: "SKU-1@shop", payload: huge.canonicalBytes)
        #expect(throws: WireError.self) { try collection.apply([overflow]) }
        #expect(collection.applied["mallory"] == 0)
    }

    /// Through a sync session, as a link would deliver them: a hostile DELTAS frame closes the
    /// link with malformed_frame and applies nothing.
    @Test func aSessionClosesOnHostileDeltasAndAppliesNothing() async {
        await propertyCheck(count: Self.cases, input: Gen.uint64()) { seed in
            var random = SeededRandom(seed: seed)
            var store = MemoryReplica(nodeId: "victim", region: "eu", collections: [Self.honestStock()], compactionPeers: [:],
                                      digest: { Array($0.prefix(32)) })
            var session = SyncSession(nodeId: "victim", region: "eu", role: "store", expectedPeer: ("mallory", "eu", "store"))
            _ = session.start(now: HLCTimestamp(physicalMs: 1_000, logical: 0, replica: "victim"), wallMs: 1_000)
            _ = session.receive(.hello(minVersion: 1, maxVersion: 1, nodeId: "mallory", region: "eu", role: "store",
                                       now: HLCTimestamp(physicalMs: 1_000, logical: 0, replica: "mallory")), wallMs: 1_000, store: &store)
            let before = store.collections["inventory"]?.canonicalState
            let deltas = (0..<Int.random(in: 1...3, using: &random)).map { index in
                WireDelta(dot: Dot(replica: "mallory", counter: UInt64(index + 1)), timestamp: Self.stamp(&random), key: "SKU-1@shop",
                          payload: Self.counter(&random).canonicalBytes)
            }
            let actions = session.receive(.deltas(collection: ["inventory", "ledger", "carts"].randomElement(using: &random) ?? "", deltas: deltas),
                                          wallMs: 1_001, store: &store)
            let closed = actions.contains { if case .close = $0 { true } else { false } }
            if closed { #expect(store.collections["inventory"]?.canonicalState == before, "seed \(seed)") }
            store.collections["inventory"]?.checkInvariants()
        }
    }

    /// Clock readings at the ends of Int64 (which would overflow the drift check) are refused
    /// by the decoder, and the clock itself never traps on them.
    @Test func extremeClockReadingsAreRefusedWithoutTrapping() {
        for physical in [Int64.min, -1, HLCTimestamp.physicalMsMax + 1, Int64.max] {
            let hello = SyncMessage.hello(minVersion: 1, maxVersion: 1, nodeId: "mallory", region: "eu", role: "store",
                                          now: HLCTimestamp(physicalMs: physical, logical: 0, replica: "mallory"))
            #expect(throws: WireError.self) { try SyncMessage.decode(hello.encoded()) }
            var clock = HybridLogicalClock(replica: "victim")
            _ = try? clock.observe(HLCTimestamp(physicalMs: physical, logical: UInt32.max, replica: "mallory"), wallMs: 1_000)
        }
    }
}
