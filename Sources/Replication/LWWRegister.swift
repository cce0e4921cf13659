/// A last-writer-wins register: the value written at the latest hybrid-clock time. The replica id
/// inside the timestamp breaks ties between concurrent writes; a forged duplicate timestamp with
/// another value is broken by the values' canonical bytes, so replicas still agree.
public struct LWWRegister<Value: ReplicatedValue>: CRDT {
    /// The current value; nil until first written.
    public private(set) var value: Value?
    /// When `value` was written.
    public private(set) var timestamp: HLCTimestamp?

    public init() {}

    public init(value: Value, timestamp: HLCTimestamp) {
        self.value = value
        self.timestamp = timestamp
    }

    /// Writes `value` at `timestamp`; returns the delta.
    @discardableResult
    public mutating func set(_ value: Value, at timestamp: HLCTimestamp) -> LWWRegister {
        let delta = LWWRegister(value: value, timestamp: timestamp)
        merge(delta)
        return delta
    }

    public mutating func merge(_ other: LWWRegister) {
        guard let theirs = other.timestamp else { return }
        guard let mine = timestamp else {
            self = other
            return
        }
        if theirs > mine {
            self = other
        } else if theirs == mine && other.value != value
                    && value.canonicalBytes.lexicographicallyPrecedes(other.value.canonicalBytes) {
            // Two writes with one timestamp only come from a faulty or forged peer: both sides
            // keep the value with the greater encoding, so they still agree.
            self = other
        }
    }

    public func checkInvariants() {
        precondition((value == nil) == (timestamp == nil), "a register has both a value and a time, or neither")
    }

    public func encode(to writer: inout CanonicalWriter) {
        value.encode(to: &writer)
        timestamp.encode(to: &writer)
    }
}
