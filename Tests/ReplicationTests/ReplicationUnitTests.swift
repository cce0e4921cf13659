import Testing
@testable import Replication

@Suite struct HybridLogicalClockTests {
    @Test func staysMonotonicWhenTheWallClockGoesBack() {
        var clock = HybridLogicalClock(replica: "a")
        let first = clock.tick(wallMs: 1_000)
        let second = clock.tick(wallMs: 400)
        let third = clock.tick(wallMs: 1_000)
        #expect(first < second && second < third)
        #expect(second.physicalMs == 1_000 && second.logical == 1)
        #expect(clock.tick(wallMs: 2_000) == HLCTimestamp(physicalMs: 2_000, logical: 0, replica: "a"))
    }

    @Test func adoptsRemoteTimeWithinTheDriftBound() throws {
        var clock = HybridLogicalClock(replica: "a", maxDriftMs: 1_000)
        _ = clock.tick(wallMs: 5_000)
        let remote = HLCTimestamp(physicalMs: 5_800, logical: 7, replica: "b")
        let after = try clock.observe(remote, wallMs: 5_000)
        #expect(after > remote)
        #expect(after.physicalMs == 5_800 && after.logical == 8)
    }

    @Test func refusesRemoteTimeTooFarAhead() {
        var clock = HybridLogicalClock(replica: "a", maxDriftMs: 1_000)
        let before = clock.tick(wallMs: 5_000)
        #expect(throws: ClockError.tooFarInFuture(remote: HLCTimestamp(physicalMs: 9_000, logical: 0, replica: "b"), aheadMs: 4_000)) {
            _ = try clock.observe(HLCTimestamp(physicalMs: 9_000, logical: 0, replica: "b"), wallMs: 5_000)
        }
        #expect(clock.last == before, "nothing was adopted")
    }

    @Test func replicaBreaksTies() {
        #expect(HLCTimestamp(physicalMs: 1, logical: 0, replica: "a") < HLCTimestamp(physicalMs: 1, logical: 0, replica: "b"))
    }
}

@Suite struct CausalContextTests {
    @Test func outOfOrderDotsCompactOnceTheGapCloses() {
        var context = CausalContext()
        context.insert(Dot(replica: "a", counter: 3))
        context.insert(Dot(replica: "a", counter: 2))
        #expect(context.cloud.count == 2)
        #expect(!context.contains(Dot(replica: "a", counter: 1)))
        context.insert(Dot(replica: "a", counter: 1))
        #expect(context.cloud.isEmpty)
        #expect(context.compact["a"] == 3)
        context.checkInvariants()
    }

    @Test func versionVectorsCompare() {
        let a = VersionVector(["x": 2, "y": 1]), b = VersionVector(["x": 2, "y": 3]), c = VersionVector(["x": 3])
        #expect(a.compare(b) == .before)
        #expect(b.compare(a) == .after)
        #expect(b.compare(c) == .concurrent)
        #expect(a.compare(a) == .equal)
        #expect(b.missing(from: a).map { "\($0.replica) \($0.from)-\($0.through)" } == ["y 2-3"])
    }
}

@Suite struct ORSetTests {
    @Test func concurrentAddBeatsRemove() {
        var a = ORSet<String>(), b = ORSet<String>()
        b.merge(a.insert("milk", replica: "a"))
        let removal = b.remove("milk")        // b removes what it has seen...
        let readd = a.insert("milk", replica: "a")  // ...while a adds it again
        a.merge(removal)
        b.merge(readd)
        #expect(a.contains("milk") && b.contains("milk"))
        #expect(a == b)
    }

    @Test func removeAfterSeeingTheAddRemoves() {
        var a = ORSet<String>(), b = ORSet<String>()
        b.merge(a.insert("milk", replica: "a"))
        a.merge(b.remove("milk"))
        #expect(!a.contains("milk"))
    }
}

@Suite struct BoundedCounterTests {
    @Test func aReplicaSellsOnlyWithinItsRights() throws {
        var hub = BoundedCounter()
        try hub.increment(by: 10, replica: "hub")
        var store = BoundedCounter()
        store.merge(try hub.transfer(4, from: "hub", to: "store"))
        #expect(store.rights(of: "store") == 4)
        store.merge(try store.decrement(by: 4, replica: "store"))
        #expect(throws: BoundedCounter.Refusal.insufficientRights(available: 0, requested: 1)) {
            try store.decrement(by: 1, replica: "store")
        }
        hub.merge(store)
        #expect(hub.value == 6)
        #expect(hub.rights(of: "hub") == 6)
        hub.checkInvariants()
    }

    @Test func partitionedSalesNeverOversell() throws {
        var seed = BoundedCounter()
        try seed.increment(by: 5, replica: "a")
        _ = try seed.transfer(2, from: "a", to: "b")
        var a = seed, b = seed
        // Partitioned: each sells all it may, and no more.
        _ = try a.decrement(by: 3, replica: "a")
        _ = try b.decrement(by: 2, replica: "b")
        #expect(throws: BoundedCounter.Refusal.self) { try a.decrement(by: 1, replica: "a") }
        #expect(throws: BoundedCounter.Refusal.self) { try b.decrement(by: 1, replica: "b") }
        a.merge(b)
        b.merge(a)
        #expect(a == b)
        #expect(a.value == 0)
        a.checkInvariants()
    }
}

@Suite struct CanonicalEncodingTests {
    @Test func mapsEncodeTheSameWhateverTheInsertionOrder() {
        var x = PNCounter(), y = PNCounter()
        for replica in ["c", "a", "b"] { x.increment(by: 1, replica: replica) }
        for replica in ["b", "c", "a"] { y.increment(by: 1, replica: replica) }
        #expect(x.canonicalBytes == y.canonicalBytes)
    }

    @Test func dotSetsAreSetsWhateverTheOrderOfInsertion() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let dots = (0..<Int.random(in: 0...6, using: &random)).map { _ in
                Dot(replica: ["a", "b", "hub"].randomElement(using: &random) ?? "a", counter: UInt64.random(in: 1...4, using: &random))
            }
            let set = DotSet(dots)
            #expect(set == DotSet(dots.shuffled(using: &random)))
            #expect(Array(set) == Set(dots).sorted(), "unique, ascending")
            #expect(set.count == Set(dots).count)
            let probe = Dot(replica: "a", counter: 2)
            #expect(set.contains(probe) == dots.contains(probe))
            #expect(set.filter { $0.replica != "a" } == DotSet(dots.filter { $0.replica != "a" }))
            #expect(set.union(DotSet(probe)) == DotSet(dots + [probe]))
        }
        #expect(DotSet().isEmpty)
        #expect(DotSet(Dot(replica: "a", counter: 1)) == [Dot(replica: "a", counter: 1)])
    }

    @Test func varintsAndZigzag() {
        var writer = CanonicalWriter()
        writer.unsigned(300)
        writer.signed(-1)
        writer.signed(1)
        #expect(writer.bytes == [0xAC, 0x02, 0x01, 0x02])
    }
}
