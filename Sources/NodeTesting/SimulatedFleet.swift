import Platform
import Replication

/// A fleet of in-memory replicas running the real `SyncSession` over a simulated network that
/// partitions, drops, duplicates and reorders messages and restarts replicas, all driven by one
/// seed. After `heal()` every replica must hold the same values, version vectors and digests.
///
/// Collections: `orders` (global, grow-only sets), `carts` (region-scoped OR-maps of quantity
/// registers), `inventory` (global bounded counters, sold concurrently everywhere).
public struct SimulatedFleet<Replica: SimulatedReplica> {
    public struct Node {
        public var store: Replica
        public var up = true
        /// Orders written here, to check none is lost.
        public var ordersWritten: [String] = []
    }

    struct Link {
        let a: Int, b: Int
        var sessions: [SyncSession?] = [nil, nil]
        /// Messages in flight towards a (index 0) and towards b (index 1).
        var queues: [[SyncMessage]] = [[], []]
        var partitioned = false
        var isOpen: Bool { sessions[0] != nil }
    }

    public let seed: UInt64
    public private(set) var nodes: [Node]
    var links: [Link] = []
    public private(set) var wallMs: Int64 = 1_763_700_000_000
    var random: SeededRandom
    /// The last events, for a failure report.
    public private(set) var trace: [String] = []
    public private(set) var messagesDelivered = 0
    public private(set) var snapshotsSent = 0
    public private(set) var restarts = 0
    public static var regions: [String] { ["eu", "us"] }

    /// `replica` makes each node's replica: (id, region, compaction peers, hub, relays global).
    public init(seed: UInt64, replica: (ReplicaID, String, [ReplicaID: String], ReplicaID, Bool) throws -> Replica) rethrows {
        self.seed = seed
        random = SeededRandom(seed: seed)
        let count = Int.random(in: 3...5, using: &random)
        let ids = (0..<count).map { "n\($0)" }
        let regionOf = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, Self.regions[$0 % 2]) })
        // Sometimes one store is forgotten by the others' compaction: it catches up by snapshot,
        // which only the hub (n0) sends of global collections (sync/PROTOCOL.md §5, authority).
        let forgotten = Bool.random(using: &random) ? ids.dropFirst().randomElement(using: &random) : nil
        nodes = try ids.map { id in
            var peers = regionOf.filter { $0.key != id }
            if let forgotten, forgotten != id { peers[forgotten] = nil }
            return Node(store: try replica(id, regionOf[id] ?? "eu", peers, ids[0], id == ids[0]))
        }
        // Half the fleets are a full mesh; the others a star around n0 (stores linked to their
        // hub only), where a lost delta has no second path and must be resent on the same link.
        let star = Bool.random(using: &random)
        for a in 0..<count {
            for b in (a + 1)..<count where !star || a == 0 { links.append(Link(a: a, b: b)) }
        }
    }

    /// n0 is the fleet's hub, which relays every node's changes; the others are stores.
    static func role(of index: Int) -> String { index == 0 ? "hub" : "store" }

    // MARK: Running

    /// Runs `steps` random events.
    public mutating func run(steps: Int) {
        for _ in 0..<steps {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<35: write()
            case 35..<80: deliverOne(faults: true)
            case 80..<90: tick(byMs: Int64.random(in: 1_000...20_000, using: &random))
            case 90..<94: togglePartition()
            case 94..<96: restart()
            default: reconnect()
            }
            for node in nodes { node.store.checkInvariants() }
        }
    }

    /// Ends every fault, reconnects everything and runs until nothing is in flight after a full
    /// round of anti-entropy. Returns false if it did not settle.
    public mutating func heal() -> Bool {
        note("heal")
        for index in links.indices { links[index].partitioned = false }
        for index in nodes.indices where !nodes[index].up { nodes[index].up = true }
        for _ in 0..<60 {
            reconnect(all: true)
            var guardCount = 0
            while deliverOne(faults: false) {
                guardCount += 1
                if guardCount > 200_000 { return false }
            }
            if converged().isEmpty { return true }
            tick(byMs: 31_000)  // past the summary interval: every link re-summarises
        }
        return false
    }

    // MARK: Events

    mutating func write() {
        let index = Int.random(in: 0..<nodes.count, using: &random)
        guard nodes[index].up else { return }
        wallMs += Int64.random(in: 1...50, using: &random)
        let id = nodes[index].store.nodeId
        switch Int.random(in: 0..<3, using: &random) {
        case 0:
            let order = "order-\(id)-\(nodes[index].ordersWritten.count)"
            nodes[index].ordersWritten.append(order)
            nodes[index].store.commitLocal(GSet([order]), key: "day-\(Int.random(in: 0..<4, using: &random))", in: "orders", wallMs: wallMs)
            note("\(id) writes \(order)")
        case 1:
            let cart = "cart-\(nodes[index].store.region)-\(Int.random(in: 0..<3, using: &random))"
            var state = nodes[index].store.state(at: cart, in: "carts", as: ORMap<String, LWWRegister<Int64>>.self) ?? ORMap()
            let sku = "sku-\(Int.random(in: 0..<4, using: &random))"
            let delta: ORMap<String, LWWRegister<Int64>>
            if Int.random(in: 0..<4, using: &random) == 0 {
                delta = state.remove(sku)
            } else {
                let quantity = Int64.random(in: 1...5, using: &random)
                let at = nodes[index].store.tick(wallMs: wallMs)
                delta = state.update(sku, replica: id) { $0.set(quantity, at: at) }
            }
            nodes[index].store.commitLocal(delta, key: cart, in: "carts", wallMs: wallMs)
            note("\(id) changes \(cart)")
        default:
            let sku = Self.skus[Int.random(in: 0..<2, using: &random)]
            var stock = nodes[index].store.state(at: sku, in: "inventory", as: BoundedCounter.self) ?? BoundedCounter()
            let amount = UInt64.random(in: 1...4, using: &random)
            let delta: BoundedCounter?
            switch Int.random(in: 0..<4, using: &random) {
            case 0: delta = try? stock.increment(by: amount, replica: id)
            case 1:
                let target = nodes[Int.random(in: 0..<nodes.count, using: &random)].store.nodeId
                delta = target == id ? nil : try? stock.transfer(amount, from: id, to: target)
            default: delta = try? stock.decrement(by: amount, replica: id)
            }
            guard let delta else { return }
            nodes[index].store.commitLocal(delta, key: sku, in: "inventory", wallMs: wallMs)
            note("\(id) moves stock of \(sku)")
        }
        pumpAll(of: index)
    }

    /// Delivers the next message of a random busy link direction. Returns false if none is busy.
    @discardableResult
    mutating func deliverOne(faults: Bool) -> Bool {
        let busy = links.indices.flatMap { link in (0..<2).compactMap { links[link].queues[$0].isEmpty ? nil : (link, $0) } }
        guard let (link, side) = busy.randomElement(using: &random) else { return false }
        if faults {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<4:
                let dropped = links[link].queues[side].removeFirst()
                note("drop \(dropped.typeCode) on \(link)")
                return true
            case 4..<8:
                links[link].queues[side].insert(links[link].queues[side][0], at: 0)  // duplicated
            case 8..<12 where links[link].queues[side].count > 1:
                links[link].queues[side].swapAt(0, 1)  // reordered
            default: break
            }
        }
        let message = links[link].queues[side].removeFirst()
        let receiver = side == 0 ? links[link].a : links[link].b
        guard var session = links[link].sessions[side] else { return true }
        messagesDelivered += 1
        let actions = session.receive(message, wallMs: wallMs, store: &nodes[receiver].store)
        links[link].sessions[side] = session
        handle(actions, link: link, side: side)
        return true
    }

    mutating func tick(byMs delta: Int64) {
        wallMs += delta
        for index in nodes.indices where nodes[index].up { nodes[index].store.idle(wallMs: wallMs) }
        for link in links.indices where links[link].isOpen {
            for side in 0..<2 {
                guard var session = links[link].sessions[side] else { continue }
                let node = side == 0 ? links[link].a : links[link].b
                let actions = session.tick(wallMs: wallMs, store: nodes[node].store)
                links[link].sessions[side] = session
                handle(actions, link: link, side: side)
            }
        }
    }

    mutating func togglePartition() {
        let link = Int.random(in: 0..<links.count, using: &random)
        links[link].partitioned.toggle()
        note("link \(link) \(links[link].partitioned ? "partitioned" : "healed")")
        if links[link].partitioned { closeLink(link) }
    }

    mutating func restart() {
        let index = Int.random(in: 0..<nodes.count, using: &random)
        note("restart \(nodes[index].store.nodeId)")
        for link in links.indices where links[link].a == index || links[link].b == index { closeLink(link) }
        // Sessions are not durable; the replica reads back what it committed.
        nodes[index].store.restart()
        restarts += 1
    }

    mutating func reconnect(all: Bool = false) {
        for link in links.indices where !links[link].isOpen && !links[link].partitioned {
            guard all || Int.random(in: 0..<3, using: &random) == 0 else { continue }
            let (a, b) = (links[link].a, links[link].b)
            guard nodes[a].up && nodes[b].up else { continue }
            links[link].sessions = [a, b].map { index in
                let peer = index == a ? b : a
                return SyncSession(nodeId: nodes[index].store.nodeId, region: nodes[index].store.region, role: Self.role(of: index),
                                   expectedPeer: (nodes[peer].store.nodeId, nodes[peer].store.region, Self.role(of: peer)))
            }
            for side in 0..<2 {
                let node = side == 0 ? a : b
                guard var session = links[link].sessions[side] else { continue }
                let now = nodes[node].store.tick(wallMs: wallMs)
                let actions = session.start(now: now, wallMs: wallMs)
                links[link].sessions[side] = session
                handle(actions, link: link, side: side)
            }
        }
    }

    private mutating func closeLink(_ link: Int) {
        links[link].sessions = [nil, nil]
        links[link].queues = [[], []]
    }

    private mutating func handle(_ actions: [SyncAction], link: Int, side: Int) {
        let node = side == 0 ? links[link].a : links[link].b
        for action in actions {
            switch action {
            case .send(let message):
                guard links[link].isOpen, !links[link].partitioned else { continue }
                if case .snapshot = message { snapshotsSent += 1 }
                links[link].queues[1 - side].append(message)
            case .close(_, let reason):
                note("link \(link) closed by \(nodes[node].store.nodeId): \(reason)")
                closeLink(link)
                return
            case .applied:
                pumpAll(of: node)
            case .peerIdentified, .rightsRequested, .rightsDeclined, .firmwareOffered, .firmwareRequested, .firmwareReceived,
                 .backupStateReceived, .backupAppended, .backupAcknowledged:
                break
            }
        }
    }

    /// After a replica changed: every open link of it sends what its peer lacks.
    private mutating func pumpAll(of node: Int) {
        for link in links.indices where links[link].isOpen && (links[link].a == node || links[link].b == node) {
            let side = links[link].a == node ? 0 : 1
            guard var session = links[link].sessions[side] else { continue }
            let actions = session.pump(store: nodes[node].store, wallMs: wallMs)
            links[link].sessions[side] = session
            handle(actions, link: link, side: side)
        }
    }

    private mutating func note(_ event: String) {
        trace.append(event)
        if trace.count > 60 { trace.removeFirst(trace.count - 60) }
    }

    // MARK: Checks

    /// Every difference between replicas that should agree; empty when converged.
    public func converged() -> [String] {
        var problems: [String] = []
        for collection in ["orders", "carts", "inventory"] {
            for a in nodes.indices {
                for b in nodes.indices where b > a {
                    let sa = nodes[a].store, sb = nodes[b].store
                    let shared = sa.collectionNames(sharedWithRegion: sb.region).contains(collection)
                    guard shared else { continue }
                    // Region data travels only over links inside the region: replicas agree when
                    // such a path joins them.
                    if collection == "carts" && !regionPath(a, b) { continue }
                    guard let x = sa.summary(of: collection), let y = sb.summary(of: collection) else { continue }
                    if x.applied != y.applied { problems.append("\(collection): \(sa.nodeId) applied \(x.applied), \(sb.nodeId) \(y.applied)") }
                    if x.digest != y.digest { problems.append("\(collection): digests of \(sa.nodeId) and \(sb.nodeId) differ") }
                }
            }
        }
        for node in nodes {
            // Region-scoped data never reaches another region.
            for cart in node.store.keys(of: "carts") where !cart.hasPrefix("cart-\(node.store.region)-") {
                problems.append("\(node.store.nodeId) in \(node.store.region) holds \(cart)")
            }
            // No acknowledged order is lost.
            let orders = node.store.keys(of: "orders").reduce(into: Set<String>()) { all, key in
                all.formUnion(node.store.state(at: key, in: "orders", as: GSet<String>.self)?.elements ?? [])
            }
            for other in nodes {
                for order in other.ordersWritten where !orders.contains(order) { problems.append("\(node.store.nodeId) lacks \(order)") }
            }
        }
        // Every view built from the replicated data agrees with it.
        for node in nodes { problems += node.store.viewProblems() }
        return problems
    }

    /// Whether links between replicas of one region join `a` and `b`.
    func regionPath(_ a: Int, _ b: Int) -> Bool {
        let region = nodes[a].store.region
        var seen: Set<Int> = [a], frontier = [a]
        while let next = frontier.popLast() {
            if next == b { return true }
            for link in links where link.a == next || link.b == next {
                let other = link.a == next ? link.b : link.a
                if nodes[other].store.region == region && seen.insert(other).inserted { frontier.append(other) }
            }
        }
        return false
    }

    /// Stock per SKU at every replica, which must all agree and never be negative.
    /// The inventory keys written: SKUs at a location, as the node keys its stock counters.
    public static var skus: [String] { ["sku-0@main", "sku-1@main"] }

    public func stock(_ sku: String) -> [Int64] {
        nodes.map { $0.store.state(at: sku, in: "inventory", as: BoundedCounter.self)?.value ?? 0 }
    }
}

extension SimulatedFleet where Replica == SimulatedMemoryReplica {
    /// The fleet on in-memory stores.
    public init(seed: UInt64) {
        self.init(seed: seed) { id, region, peers, hub, relays in
            SimulatedMemoryReplica(id: id, region: region, compactionPeers: peers, hubId: hub, relaysGlobal: relays)
        }
    }
}

/// SplitMix64: one seed, one history.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
