/// A counter that never goes below zero, even when replicas decrement it while partitioned:
/// stock (AntidoteDB's bounded counter, an escrow of rights).
///
/// Each replica holds rights to decrement. It gains them by incrementing (receiving stock) or by
/// transfers from other replicas, and spends them by decrementing (selling) or transferring. A
/// replica only ever decrements or transfers its own rights, so the sum of all rights equals the
/// value and no replica can take the value below zero.
///
/// Deltas are the whole (small) state: a decrement made with rights received by transfer must
/// never arrive at a third replica without that transfer, whatever the delivery order.
public struct BoundedCounter: CRDT {
    /// Source and destination of a rights transfer.
    public struct Transfer: Hashable, Sendable, CanonicalEncodable {
        public init(from: ReplicaID, to: ReplicaID) {
            self.from = from
            self.to = to
        }

        public let from: ReplicaID
        public let to: ReplicaID

        public func encode(to writer: inout CanonicalWriter) {
            writer.string(from)
            writer.string(to)
        }
    }

    /// Replica -> units it added. Only that replica raises its entry.
    public private(set) var increments: [ReplicaID: UInt64] = [:]
    /// Replica -> units it removed (sold).
    public private(set) var decrements: [ReplicaID: UInt64] = [:]
    /// (from, to) -> units of rights moved, in total. Only `from` raises its entries.
    public private(set) var transfers: [Transfer: UInt64] = [:]

    public init() {}

    init(increments: [ReplicaID: UInt64], decrements: [ReplicaID: UInt64], transfers: [Transfer: UInt64]) {
        self.increments = increments
        self.decrements = decrements
        self.transfers = transfers
    }

    /// Units in stock: everything added less everything removed.
    public var value: Int64 {
        Int64(increments.values.reduce(0, +)) - Int64(decrements.values.reduce(0, +))
    }

    /// Units `replica` may remove or transfer now.
    public func rights(of replica: ReplicaID) -> Int64 {
        var total = Int64(increments[replica] ?? 0) - Int64(decrements[replica] ?? 0)
        for (transfer, amount) in transfers {
            if transfer.to == replica { total += Int64(amount) }
            if transfer.from == replica { total -= Int64(amount) }
        }
        return total
    }

    /// Every replica that appears in this counter.
    public var replicas: Set<ReplicaID> {
        Set(increments.keys).union(decrements.keys).union(transfers.keys.flatMap { [$0.from, $0.to] })
    }

    public enum Refusal: Error, Equatable, Sendable {
        /// The replica holds fewer rights than asked; it may ask others for a transfer.
        case insufficientRights(available: Int64, requested: UInt64)
    }

    @discardableResult
    public mutating func increment(by amount: UInt64, replica: ReplicaID) -> BoundedCounter {
        increments[replica, default: 0] += amount
        return self
    }

    /// Removes `amount` units using `replica`'s own rights, or refuses and changes nothing.
    @discardableResult
    public mutating func decrement(by amount: UInt64, replica: ReplicaID) throws(Refusal) -> BoundedCounter {
        let available = rights(of: replica)
        guard Int64(amount) <= available else { throw .insufficientRights(available: available, requested: amount) }
        decrements[replica, default: 0] += amount
        return self
    }

    /// Moves `amount` of `replica`'s rights to `target`, or refuses and changes nothing.
    @discardableResult
    public mutating func transfer(_ amount: UInt64, from replica: ReplicaID, to target: ReplicaID) throws(Refusal) -> BoundedCounter {
        precondition(replica != target, "a transfer goes to another replica")
        let available = rights(of: replica)
        guard Int64(amount) <= available else { throw .insufficientRights(available: available, requested: amount) }
        transfers[Transfer(from: replica, to: target), default: 0] += amount
        return self
    }

    public mutating func merge(_ other: BoundedCounter) {
        increments.merge(other.increments, uniquingKeysWith: max)
        decrements.merge(other.decrements, uniquingKeysWith: max)
        transfers.merge(other.transfers, uniquingKeysWith: max)
    }

    public func checkInvariants() {
        precondition(value >= 0, "stock below zero: \(value)")
        var total: Int64 = 0
        for replica in replicas {
            let held = rights(of: replica)
            precondition(held >= 0, "\(replica) holds negative rights: \(held)")
            total += held
        }
        precondition(total == value, "rights (\(total)) do not add up to the value (\(value))")
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.sortedMap(increments) { $0.unsigned($1) }
        writer.sortedMap(decrements) { $0.unsigned($1) }
        writer.sortedMap(transfers) { $0.unsigned($1) }
    }
}
