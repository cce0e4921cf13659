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

    /// The most one replica's entry (units added, removed, or moved to one other replica) may
    /// reach: 2^40, about 10^12, beyond any stock or redemption count. With at most
    /// `entriesMax` entries per map every sum stays far inside `Int64`.
    public static let entryUnitsMax: UInt64 = 1 << 40
    public static let entriesMax = 1 << 16

    public init() {}

    /// A state as given, unchecked (a decoder's, or a test playing a hostile peer): check
    /// `validityProblem()` before merging it anywhere.
    public init(increments: [ReplicaID: UInt64], decrements: [ReplicaID: UInt64], transfers: [Transfer: UInt64]) {
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
        /// The replica's entry would pass `entryUnitsMax`.
        case tooLarge(requested: UInt64, room: UInt64)
    }

    /// Adds `amount` units under `replica`, or refuses (past `entryUnitsMax`) and changes nothing.
    @discardableResult
    public mutating func increment(by amount: UInt64, replica: ReplicaID) throws(Refusal) -> BoundedCounter {
        let current = increments[replica] ?? 0
        guard amount <= Self.entryUnitsMax - current else { throw .tooLarge(requested: amount, room: Self.entryUnitsMax - current) }
        increments[replica] = current + amount
        return self
    }

    /// Removes `amount` units using `replica`'s own rights, or refuses and changes nothing.
    @discardableResult
    public mutating func decrement(by amount: UInt64, replica: ReplicaID) throws(Refusal) -> BoundedCounter {
        let available = rights(of: replica)
        // Rights never exceed what was added (at most entryUnitsMax per entry): no overflow below.
        guard available >= 0, amount <= UInt64(available) else { throw .insufficientRights(available: available, requested: amount) }
        decrements[replica, default: 0] += amount
        return self
    }

    /// Moves `amount` of `replica`'s rights to `target`, or refuses and changes nothing.
    @discardableResult
    public mutating func transfer(_ amount: UInt64, from replica: ReplicaID, to target: ReplicaID) throws(Refusal) -> BoundedCounter {
        precondition(replica != target, "a transfer goes to another replica")
        let available = rights(of: replica)
        guard available >= 0, amount <= UInt64(available) else { throw .insufficientRights(available: available, requested: amount) }
        let key = Transfer(from: replica, to: target), current = transfers[key] ?? 0
        guard amount <= Self.entryUnitsMax - current else { throw .tooLarge(requested: amount, room: Self.entryUnitsMax - current) }
        transfers[key] = current + amount
        return self
    }

    public mutating func merge(_ other: BoundedCounter) {
        increments.merge(other.increments, uniquingKeysWith: max)
        decrements.merge(other.decrements, uniquingKeysWith: max)
        transfers.merge(other.transfers, uniquingKeysWith: max)
    }

    public static var mergeCanInvalidate: Bool { true }

    /// Entries within their bounds (so no sum below can overflow), no transfer to oneself, the
    /// value and every replica's rights at zero or more. A peer's state that fails this is
    /// refused whole: it would take stock below zero or crash a sum.
    ///
    /// - Complexity: O(entries).
    public func validityProblem() -> String? {
        for (name, count) in [("increments", increments.count), ("decrements", decrements.count), ("transfers", transfers.count)]
        where count > Self.entriesMax {
            return "a stock counter has \(count) \(name), more than \(Self.entriesMax)"
        }
        for (replica, units) in increments where units > Self.entryUnitsMax { return "\(replica) added \(units) units, more than \(Self.entryUnitsMax)" }
        for (replica, units) in decrements where units > Self.entryUnitsMax { return "\(replica) removed \(units) units, more than \(Self.entryUnitsMax)" }
        for (transfer, units) in transfers {
            if transfer.from == transfer.to { return "\(transfer.from) moved rights to itself" }
            if units > Self.entryUnitsMax { return "\(transfer.from) moved \(units) units to \(transfer.to), more than \(Self.entryUnitsMax)" }
        }
        // Within those bounds every sum fits an Int64 (2^16 entries of 2^40 units is 2^56).
        var held: [ReplicaID: Int64] = [:]
        for (replica, units) in increments { held[replica, default: 0] += Int64(units) }
        for (replica, units) in decrements { held[replica, default: 0] -= Int64(units) }
        for (transfer, units) in transfers {
            held[transfer.to, default: 0] += Int64(units)
            held[transfer.from, default: 0] -= Int64(units)
        }
        if let (replica, rights) = held.first(where: { $0.value < 0 }) { return "\(replica) would hold \(rights) rights" }
        return nil
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
