import Foundation
import NodeTesting
import PropertyBased
import Testing
@testable import Replication

/// For every CRDT: random histories on 3-5 replicas over a network that reorders, duplicates and
/// loses deltas. Deltas applied in any order give the join of the full states, every replica
/// converges, and merge is commutative, associative and idempotent on states met along the way.
/// A failure prints PropertyBased's seed; `.fixedSeed(...)` on the test replays it.
@Suite struct CRDTPropertyTests {
    /// Histories per type; PROPERTY_CASES raises it for soak runs.
    static let cases = ProcessInfo.processInfo.environment["PROPERTY_CASES"].flatMap(Int.init) ?? 25
    static let steps = 400

    /// Runs one history and checks convergence and the merge laws.
    static func check<State: CRDT>(_ type: State.Type, seed: UInt64, operate: (inout State, ReplicaID, inout SeededRandom) -> State?) {
        var random = SeededRandom(seed: seed)
        let replicaCount = Int.random(in: 3...5, using: &random)
        var network = DeltaNetwork<State>(replicaCount: replicaCount, seed: seed)
        network.run(steps: steps, operate: operate)
        let join = network.joinOfFullStates
        network.drain()
        for (index, replica) in network.replicas.enumerated() {
            #expect(replica == join, "replica \(index) differs from the join of full states (seed \(seed))")
            #expect(replica.canonicalBytes == join.canonicalBytes, "encodings differ (seed \(seed))")
            #expect((try? State(canonicalBytes: replica.canonicalBytes)) == replica, "decoding the encoding gives the state back (seed \(seed))")
        }
        checkLaws(network.snapshots + network.replicas, random: &random)
    }

    static func checkLaws<State: CRDT>(_ states: [State], random: inout SeededRandom) {
        guard states.count >= 3 else { return }
        for _ in 0..<30 {
            let a = states.randomElement(using: &random)!, b = states.randomElement(using: &random)!, c = states.randomElement(using: &random)!
            #expect(a.merging(b) == b.merging(a), "merge is commutative")
            #expect(a.merging(b).merging(c) == a.merging(b.merging(c)), "merge is associative")
            #expect(a.merging(a) == a, "merge is idempotent")
            #expect(a.merging(State()) == a, "the bottom state is neutral")
            a.merging(b).checkInvariants()
        }
    }

    /// A hybrid clock per replica for registers, with wall time that jumps both ways.
    final class Clocks: @unchecked Sendable {
        // Used from one test's synchronous closure only.
        var clocks: [ReplicaID: HybridLogicalClock] = [:]
        var wallMs: Int64 = 1_000_000
        func tick(_ replica: ReplicaID, _ random: inout SeededRandom) -> HLCTimestamp {
            wallMs += Int64.random(in: -50...100, using: &random)
            var clock = clocks[replica] ?? HybridLogicalClock(replica: replica)
            let reading = clock.tick(wallMs: wallMs)
            clocks[replica] = clock
            return reading
        }
    }

    @Test func lwwRegisterConverges() async {
        await propertyCheck(count: Self.cases, input: Gen.uint64()) { seed in
            let clocks = Clocks()
            Self.check(LWWRegister<String>.self, seed: seed) { register, replica, random in
                register.set("v\(Int.random(in: 0..<50, using: &random))", at: clocks.tick(replica, &random))
            }
        }
    }

    @Test func pnCounterConverges() async {
        await propertyCheck(count: Self.cases, input: Gen.uint64()) { seed in
            Self.check(PNCounter.self, seed: seed) { counter, replica, random in
                let amount = UInt64.random(in: 1...10, using: &random)
                return Bool.random(using: &random) ? counter.increment(by: amount, replica: replica) : counter.decrement(by: amount, replica: replica)
            }
        }
    }

    @Test func growOnlySetConverges() async {
        await propertyCheck(count: Self.cases, input: Gen.uint64()) { seed in
            Self.check(GSet<String>.self, seed: seed) { set, _, random in
                set.insert("event-\(Int.random(in: 0..<500, using: &random))")
            }
        }
    }

    @Test func observedRemoveSetConverges() async {
        await propertyCheck(count: Self.cases, input: Gen.uint64()) { seed in
            Self.check(ORSet<String>.self, seed: seed) { set, replica, random in
                let element = "sku-\(Int.random(in: 0..<12, using: &random))"
                return Int.random(in: 0..<3, using: &random) == 0 ? set.remove(element) : set.insert(element, replica: replica)
            }
        }
    }

    @Test func observedRemoveMapOfRegistersConverges() async {
        await propertyCheck(count: Self.cases, input: Gen.uint64()) { seed in
            let clocks = Clocks()
            Self.check(ORMap<String, LWWRegister<Int64>>.self, seed: seed) { cart, replica, random in
                let sku = "sku-\(Int.random(in: 0..<8, using: &random))"
                if Int.random(in: 0..<4, using: &random) == 0 { return cart.remove(sku) }
                let quantity = Int64.random(in: 1...5, using: &random)
                let at = clocks.tick(replica, &random)
                return cart.update(sku, replica: replica) { $0.set(quantity, at: at) }
            }
        }
    }

    @Test func observedRemoveMapOfCountersConverges() async {
        await propertyCheck(count: Self.cases, input: Gen.uint64()) { seed in
            Self.check(ORMap<String, PNCounter>.self, seed: seed) { map, replica, random in
                let key = "k\(Int.random(in: 0..<6, using: &random))"
                if Int.random(in: 0..<5, using: &random) == 0 { return map.remove(key) }
                let amount = UInt64.random(in: 1...3, using: &random)
                return map.update(key, replica: replica) { $0.increment(by: amount, replica: replica) }
            }
        }
    }

    /// Stock sold concurrently everywhere: never below zero anywhere, rights always conserved
    /// (checkInvariants after every operation and every merge), and every unit accounted for.
    @Test func boundedCounterNeverGoesNegativeAndConservesRights() async {
        await propertyCheck(count: Self.cases, input: Gen.uint64()) { seed in
            var added: UInt64 = 0, sold: UInt64 = 0
            Self.check(BoundedCounter.self, seed: seed) { stock, replica, random in
                let amount = UInt64.random(in: 1...6, using: &random)
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<2:
                    added += amount
                    return try? stock.increment(by: amount, replica: replica)
                case 2..<4:
                    let target = "r\(Int.random(in: 0..<3, using: &random))"
                    guard target != replica else { return nil }
                    return try? stock.transfer(amount, from: replica, to: target)
                default:
                    guard let delta = try? stock.decrement(by: amount, replica: replica) else { return nil }
                    sold += amount
                    return delta
                }
            }
            // A lost replica sold nothing it was not allowed to: the books balance.
            #expect(added >= sold)
        }
    }
}
