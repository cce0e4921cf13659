/// A deterministic binary encoding: the same value gives the same bytes on every node, so digests
/// agree byte for byte and ties can be broken the same way everywhere.
///
/// Integers are LEB128 varints (signed ones zigzag), byte strings and text are length-prefixed,
/// maps and sets are written in ascending order of their encoded keys.
public struct CanonicalWriter: Sendable {
    public var bytes: [UInt8] = []

    public init() {}

    public mutating func unsigned(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    public mutating func signed(_ value: Int64) {
        unsigned(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func data(_ value: [UInt8]) {
        unsigned(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func string(_ value: String) {
        unsigned(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    public mutating func value<T: CanonicalEncodable>(_ value: T) {
        value.encode(to: &self)
    }

    /// Writes the count, then each element in ascending order of its encoding.
    ///
    /// - Complexity: O(n log n); no sorting for zero or one element (most event sets).
    @inlinable
    public mutating func sorted<C: Collection>(_ elements: C) where C.Element: CanonicalEncodable {
        unsigned(UInt64(elements.count))
        if elements.count <= 1 {
            for element in elements { element.encode(to: &self) }
            return
        }
        // Closures, not key paths: a key path is resolved at run time on every call.
        let encoded = elements.map { $0.canonicalBytes }.sorted { $0.lexicographicallyPrecedes($1) }
        for item in encoded { bytes.append(contentsOf: item) }
    }

    /// Writes the count, then each (key, value) in ascending order of the key's encoding.
    @inlinable
    public mutating func sortedMap<K: CanonicalEncodable, V>(_ map: [K: V], _ encodeValue: (inout CanonicalWriter, V) -> Void) {
        unsigned(UInt64(map.count))
        if map.count <= 1 {
            for (key, value) in map {
                key.encode(to: &self)
                encodeValue(&self, value)
            }
            return
        }
        // The key encodings go into one flat buffer and positions are sorted by them: only plain
        // integers move while sorting, and comparing touches no reference counts.
        let positions = Array(map.indices)
        var keys = CanonicalWriter()
        var bounds = [0]
        bounds.reserveCapacity(positions.count + 1)
        for position in positions {
            map[position].key.encode(to: &keys)
            bounds.append(keys.bytes.count)
        }
        let order = keys.bytes.withUnsafeBufferPointer { flat in
            bounds.withUnsafeBufferPointer { bounds in
                (0..<positions.count).sorted { a, b in
                    Self.precedes(flat, bounds[a]..<bounds[a + 1], bounds[b]..<bounds[b + 1])
                }
            }
        }
        for index in order {
            bytes.append(contentsOf: keys.bytes[bounds[index]..<bounds[index + 1]])
            encodeValue(&self, map[positions[index]].value)
        }
    }
}

extension CanonicalWriter {
    /// Byte order of two ranges of one buffer; a prefix comes first.
    @inlinable
    static func precedes(_ bytes: UnsafeBufferPointer<UInt8>, _ a: Range<Int>, _ b: Range<Int>) -> Bool {
        let common = min(a.count, b.count)
        var i = 0
        while i < common {
            let x = bytes[a.lowerBound + i], y = bytes[b.lowerBound + i]
            if x != y { return x < y }
            i += 1
        }
        return a.count < b.count
    }
}

/// A value with a canonical encoding.
public protocol CanonicalEncodable {
    func encode(to writer: inout CanonicalWriter)
}

extension CanonicalEncodable {
    public var canonicalBytes: [UInt8] {
        var writer = CanonicalWriter()
        encode(to: &writer)
        return writer.bytes
    }
}

extension String: CanonicalEncodable {
    public func encode(to writer: inout CanonicalWriter) { writer.string(self) }
}

extension Int64: CanonicalEncodable {
    public func encode(to writer: inout CanonicalWriter) { writer.signed(self) }
}

extension Int: CanonicalEncodable {
    public func encode(to writer: inout CanonicalWriter) { writer.signed(Int64(self)) }
}

extension UInt64: CanonicalEncodable {
    public func encode(to writer: inout CanonicalWriter) { writer.unsigned(self) }
}

extension Bool: CanonicalEncodable {
    public func encode(to writer: inout CanonicalWriter) { writer.bool(self) }
}

extension Optional: CanonicalEncodable where Wrapped: CanonicalEncodable {
    public func encode(to writer: inout CanonicalWriter) {
        switch self {
        case .none: writer.bool(false)
        case .some(let value):
            writer.bool(true)
            value.encode(to: &writer)
        }
    }
}

/// What replicated collections may hold: comparable across nodes through its encoding.
public typealias ReplicatedValue = CanonicalEncodable & CanonicalDecodable & Equatable & Sendable
