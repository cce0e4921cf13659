/// A replica's name: the node id. Dots, clocks and rights are keyed by it.
public typealias ReplicaID = String

/// A hybrid logical clock reading: wall-clock milliseconds, a counter for events within one
/// millisecond, and the replica, which makes every reading unique and totally ordered.
public struct HLCTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since the Unix epoch, as far as this clock knows.
    public let physicalMs: Int64
    /// Orders events within one `physicalMs`.
    public let logical: UInt32
    /// Breaks ties between replicas.
    public let replica: ReplicaID

    /// The latest physical time a reading may carry (2^50 ms, far past any real clock): bounds
    /// every difference of two readings inside `Int64`.
    public static let physicalMsMax: Int64 = 1 << 50

    public init(physicalMs: Int64, logical: UInt32, replica: ReplicaID) {
        self.physicalMs = physicalMs
        self.logical = logical
        self.replica = replica
    }

    public static func < (a: HLCTimestamp, b: HLCTimestamp) -> Bool {
        if a.physicalMs != b.physicalMs { return a.physicalMs < b.physicalMs }
        if a.logical != b.logical { return a.logical < b.logical }
        return a.replica.utf8.lexicographicallyPrecedes(b.replica.utf8)
    }

    public var description: String { "\(physicalMs).\(logical)@\(replica)" }
}

extension HLCTimestamp: CanonicalEncodable {
    public func encode(to writer: inout CanonicalWriter) {
        writer.signed(physicalMs)
        writer.unsigned(UInt64(logical))
        writer.string(replica)
    }
}

/// A remote reading this clock refuses to adopt.
public enum ClockError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The remote clock is ahead of ours by more than the allowed drift.
    case tooFarInFuture(remote: HLCTimestamp, aheadMs: Int64)

    public var description: String {
        switch self {
        case .tooFarInFuture(let remote, let ahead):
            return "timestamp \(remote) is \(ahead) ms ahead of this node's clock; refusing to adopt it"
        }
    }
}

/// A hybrid logical clock (Kulkarni et al.): close to wall time, yet monotonic when the wall
/// clock jumps back, and causal across replicas. Pure: the wall time is a parameter.
///
/// ```swift
/// var clock = HybridLogicalClock(replica: "store-1")
/// let a = clock.tick(wallMs: 1_000)          // 1000.0@store-1
/// let b = clock.tick(wallMs: 900)            // 1000.1@store-1: the wall clock went back
/// ```
public struct HybridLogicalClock: Sendable {
    public let replica: ReplicaID
    /// Remote readings further ahead of our wall clock than this are refused, so one node with a
    /// wrong clock cannot drag the fleet's clocks into the future.
    public let maxDriftMs: Int64
    /// The last reading given out or adopted. Never decreases.
    public private(set) var last: HLCTimestamp

    public init(replica: ReplicaID, maxDriftMs: Int64 = 60_000, last: HLCTimestamp? = nil) {
        self.replica = replica
        self.maxDriftMs = maxDriftMs
        self.last = last ?? HLCTimestamp(physicalMs: 0, logical: 0, replica: replica)
    }

    /// A reading for a local event.
    public mutating func tick(wallMs: Int64) -> HLCTimestamp {
        let physical = max(last.physicalMs, wallMs)
        return advance(to: physical, after: physical == last.physicalMs ? last.logical : nil)
    }

    /// Takes a remote reading into account (on receiving a delta) and returns a reading after
    /// both. Throws, adopting nothing, if the remote is too far ahead of `wallMs`.
    public mutating func observe(_ remote: HLCTimestamp, wallMs: Int64) throws(ClockError) -> HLCTimestamp {
        // Subtraction that reports overflow: `remote` may come from a hostile peer.
        let (difference, overflowed) = remote.physicalMs.subtractingReportingOverflow(wallMs)
        let ahead = overflowed ? (remote.physicalMs > wallMs ? Int64.max : Int64.min) : difference
        guard ahead <= maxDriftMs else { throw .tooFarInFuture(remote: remote, aheadMs: ahead) }
        let physical = max(last.physicalMs, remote.physicalMs, wallMs)
        var previous: UInt32?
        if physical == last.physicalMs { previous = last.logical }
        if physical == remote.physicalMs { previous = max(previous ?? 0, remote.logical) }
        return advance(to: physical, after: previous)
    }

    private mutating func advance(to physical: Int64, after logical: UInt32?) -> HLCTimestamp {
        var physical = physical
        var next: UInt32 = 0
        if let logical {
            if logical == UInt32.max {
                physical += 1  // four billion events in one millisecond: borrow the next one
            } else {
                next = logical + 1
            }
        }
        let reading = HLCTimestamp(physicalMs: physical, logical: next, replica: replica)
        precondition(reading > last, "the clock went backwards")
        last = reading
        return reading
    }
}
