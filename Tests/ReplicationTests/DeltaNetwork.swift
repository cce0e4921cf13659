import NodeTesting
@testable import Replication


/// Replicas of one CRDT exchanging deltas over a network that reorders, duplicates and loses
/// messages (lost ones are resent at the end, as anti-entropy would).
struct DeltaNetwork<State: CRDT> {
    let ids: [ReplicaID]
    private(set) var replicas: [State]
    private var inFlight: [(to: Int, delta: State)] = []
    private var lost: [(to: Int, delta: State)] = []
    var random: SeededRandom
    /// States seen along the way, for the merge-law checks.
    private(set) var snapshots: [State] = []

    init(replicaCount: Int, seed: UInt64) {
        ids = (0..<replicaCount).map { "r\($0)" }
        replicas = Array(repeating: State(), count: replicaCount)
        random = SeededRandom(seed: seed)
    }

    /// Runs `steps` operations: each picks a replica, lets `operate` change it (returning the
    /// delta, or nil if the operation was refused), sends the delta to every other replica, then
    /// delivers some messages.
    mutating func run(steps: Int, operate: (inout State, ReplicaID, inout SeededRandom) -> State?) {
        for step in 0..<steps {
            let index = Int.random(in: 0..<replicas.count, using: &random)
            if let delta = operate(&replicas[index], ids[index], &random) {
                delta.checkInvariants()
                for other in replicas.indices where other != index { inFlight.append((other, delta)) }
            }
            replicas[index].checkInvariants()
            deliverSome()
            if step % 25 == 0 { snapshots.append(replicas[Int.random(in: 0..<replicas.count, using: &random)]) }
        }
    }

    private mutating func deliverSome() {
        for _ in 0..<Int.random(in: 0...3, using: &random) where !inFlight.isEmpty {
            let position = Int.random(in: 0..<inFlight.count, using: &random)
            let message = inFlight[position]
            switch Int.random(in: 0..<10, using: &random) {
            case 0:
                lost.append(message)  // dropped now, resent later
                inFlight.remove(at: position)
            case 1:
                deliver(message)      // delivered, and a duplicate stays in flight
            default:
                deliver(message)
                inFlight.remove(at: position)
            }
        }
    }

    private mutating func deliver(_ message: (to: Int, delta: State)) {
        replicas[message.to].merge(message.delta)
        replicas[message.to].checkInvariants()
    }

    /// The join of every replica's full state.
    var joinOfFullStates: State {
        replicas.reduce(State()) { $0.merging($1) }
    }

    /// Delivers everything still in flight and everything lost, in random order.
    mutating func drain() {
        var pending = inFlight + lost
        inFlight = []
        lost = []
        pending.shuffle(using: &random)
        for message in pending { deliver(message) }
    }
}
