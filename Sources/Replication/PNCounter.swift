/// A counter that goes up and down: per replica, the total it added and the total it removed.
public struct PNCounter: CRDT {
    /// Replica -> sum of its increments. Only that replica raises its entry.
    public private(set) var increments: [ReplicaID: UInt64] = [:]
    /// Replica -> sum of its decrements.
    public private(set) var decrements: [ReplicaID: UInt64] = [:]

    public init() {}

    init(increments: [ReplicaID: UInt64], decrements: [ReplicaID: UInt64]) {
        self.increments = increments.filter { $0.value > 0 }
        self.decrements = decrements.filter { $0.value > 0 }
    }

    public var value: Int64 {
        Int64(bitPattern: increments.values.reduce(0, &+) &- decrements.values.reduce(0, &+))
    }

    @discardableResult
    public mutating func increment(by amount: UInt64, replica: ReplicaID) -> PNCounter {
        increments[replica, default: 0] += amount
        var delta = PNCounter()
        delta.increments[replica] = increments[replica]
        return delta
    }

    @discardableResult
    public mutating func decrement(by amount: UInt64, replica: ReplicaID) -> PNCounter {
        decrements[replica, default: 0] += amount
        var delta = PNCounter()
        delta.decrements[replica] = decrements[replica]
        return delta
    }

    public mutating func merge(_ other: PNCounter) {
        increments.merge(other.increments, uniquingKeysWith: max)
        decrements.merge(other.decrements, uniquingKeysWith: max)
    }

    public func checkInvariants() {}

    public func encode(to writer: inout CanonicalWriter) {
        writer.sortedMap(increments) { $0.unsigned($1) }
        writer.sortedMap(decrements) { $0.unsigned($1) }
    }
}
