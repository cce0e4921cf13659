/// Why bytes from a peer could not be decoded. Decoding never traps: every malformed input is
/// one of these.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated
    case overlongVarint
    case invalidUTF8
    case unordered(String)
    case trailingBytes(Int)
    case unknownMessage(UInt64)
    case invalid(String)

    public var description: String {
        switch self {
        case .truncated: return "the message ends before its last field"
        case .overlongVarint: return "a varint is longer than 10 bytes or not minimal"
        case .invalidUTF8: return "a string is not UTF-8"
        case .unordered(let what): return "\(what) is not in canonical order"
        case .trailingBytes(let count): return "\(count) bytes follow the last field"
        case .unknownMessage(let type): return "unknown message type \(type)"
        case .invalid(let why): return why
        }
    }
}

/// Reads what `CanonicalWriter` wrote, strictly: non-minimal varints, lengths past the end,
/// invalid UTF-8 and unordered maps are errors, so one value has exactly one encoding.
public struct CanonicalReader {
    private let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var isAtEnd: Bool { offset == bytes.count }
    public var remaining: Int { bytes.count - offset }

    public mutating func unsigned() throws(WireError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        for index in 0..<10 {
            guard offset < bytes.count else { throw .truncated }
            let byte = bytes[offset]
            offset += 1
            if index == 9 && byte > 1 { throw .overlongVarint }  // past 64 bits
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                if byte == 0 && index > 0 { throw .overlongVarint }  // a redundant zero group
                return value
            }
            shift += 7
        }
        throw .overlongVarint
    }

    public mutating func signed() throws(WireError) -> Int64 {
        let raw = try unsigned()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    public mutating func bool() throws(WireError) -> Bool {
        guard offset < bytes.count else { throw .truncated }
        let byte = bytes[offset]
        offset += 1
        guard byte <= 1 else { throw .invalid("a boolean is \(byte)") }
        return byte == 1
    }

    /// A count that must be plausible for what remains (each item takes at least one byte).
    public mutating func count() throws(WireError) -> Int {
        let value = try unsigned()
        guard value <= UInt64(remaining) else { throw .truncated }
        return Int(value)
    }

    public mutating func data() throws(WireError) -> [UInt8] {
        let length = try count()
        defer { offset += length }
        return Array(bytes[offset..<offset + length])
    }

    public mutating func string() throws(WireError) -> String {
        let raw = try data()
        guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8 }
        return text
    }

    public mutating func fixed(_ length: Int) throws(WireError) -> [UInt8] {
        guard length <= remaining else { throw .truncated }
        defer { offset += length }
        return Array(bytes[offset..<offset + length])
    }

    /// The bytes read since `start`.
    func slice(from start: Int) -> [UInt8] { Array(bytes[start..<offset]) }

    /// Throws unless every byte was read.
    public func finish() throws(WireError) {
        if !isAtEnd { throw .trailingBytes(remaining) }
    }
}

extension CanonicalReader {
    public mutating func timestamp() throws(WireError) -> HLCTimestamp {
        let physical = try signed()
        // Milliseconds since 1970 and before 2^50 (year 37648): anything else is hostile, and
        // would overflow the clock's arithmetic.
        guard (0...HLCTimestamp.physicalMsMax).contains(physical) else { throw .invalid("clock reading \(physical) ms out of range") }
        let logical = try unsigned()
        guard logical <= UInt64(UInt32.max) else { throw .invalid("logical clock out of range") }
        let replica = try string()
        return HLCTimestamp(physicalMs: physical, logical: UInt32(logical), replica: replica)
    }

    public mutating func dot() throws(WireError) -> Dot {
        let replica = try string()
        let counter = try unsigned()
        guard counter > 0 else { throw .invalid("a dot's counter is 0") }
        return Dot(replica: replica, counter: counter)
    }

    public mutating func versionVector() throws(WireError) -> VersionVector {
        let entries = try count()
        var counters: [ReplicaID: UInt64] = [:]
        var previous: [UInt8]?
        for _ in 0..<entries {
            let start = offset
            let origin = try string()
            let key = Array(bytes[start..<offset])
            if let previous, !previous.lexicographicallyPrecedes(key) { throw .unordered("a version vector") }
            previous = key
            let counter = try unsigned()
            guard counter > 0 else { throw .invalid("a version vector holds a zero counter") }
            counters[origin] = counter
        }
        return VersionVector(counters)
    }
}
