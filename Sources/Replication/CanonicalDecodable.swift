/// A value that reads back its canonical encoding, strictly.
public protocol CanonicalDecodable {
    init(from reader: inout CanonicalReader) throws(WireError)
}

extension CanonicalDecodable {
    /// Decodes a whole byte string; trailing bytes are an error.
    public init(canonicalBytes bytes: [UInt8]) throws(WireError) {
        var reader = CanonicalReader(bytes)
        self = try Self(from: &reader)
        try reader.finish()
    }
}

extension String: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) { self = try reader.string() }
}

extension Int64: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) { self = try reader.signed() }
}

extension UInt64: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) { self = try reader.unsigned() }
}

extension Bool: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) { self = try reader.bool() }
}

extension Optional: CanonicalDecodable where Wrapped: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) {
        self = try reader.bool() ? try Wrapped(from: &reader) : nil
    }
}

extension HLCTimestamp: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) { self = try reader.timestamp() }
}

extension Dot: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) { self = try reader.dot() }
}

extension VersionVector: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) { self = try reader.versionVector() }
}

extension CanonicalReader {
    /// Reads a set written by `CanonicalWriter.sorted`: strictly ascending encodings.
    public mutating func sortedSet<T: CanonicalDecodable & Hashable>(of type: T.Type) throws(WireError) -> Set<T> {
        var result = Set<T>()
        try sortedItems { (reader: inout CanonicalReader) throws(WireError) in result.insert(try T(from: &reader)) }
        return result
    }

    /// Reads a map written by `CanonicalWriter.sortedMap`: keys in strictly ascending encodings.
    public mutating func sortedMap<K: CanonicalDecodable & Hashable, V>(
        keys: K.Type, _ value: (inout CanonicalReader) throws(WireError) -> V
    ) throws(WireError) -> [K: V] {
        var result: [K: V] = [:]
        try sortedItems { (reader: inout CanonicalReader) throws(WireError) in
            let key = try K(from: &reader)
            result[key] = try value(&reader)
        }
        return result
    }

    /// Reads `count` items, checking that each item's leading key encoding ascends strictly.
    private mutating func sortedItems(_ item: (inout CanonicalReader) throws(WireError) -> Void) throws(WireError) {
        let count = try count()
        var previous: [UInt8]?
        for _ in 0..<count {
            let start = offset
            try item(&self)
            let encoded = slice(from: start)
            if let previous, !previous.lexicographicallyPrecedes(encoded) { throw .unordered("a map or set") }
            previous = encoded
        }
    }
}

extension CausalContext: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) {
        let compact = try reader.versionVector()
        let cloud = try reader.sortedSet(of: Dot.self)
        self.init(compact: compact, cloud: cloud)
        guard cloud.allSatisfy({ $0.counter > compact[$0.replica] + 1 }) else { throw .invalid("a causal context is not normalised") }
    }
}

extension LWWRegister: CanonicalDecodable where Value: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) {
        let value = try Value?(from: &reader)
        let timestamp = try HLCTimestamp?(from: &reader)
        switch (value, timestamp) {
        case (nil, nil): self.init()
        case let (value?, timestamp?): self.init(value: value, timestamp: timestamp)
        default: throw .invalid("a register has a value without a time or a time without a value")
        }
    }
}

extension PNCounter: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) {
        self.init()
        let increments = try reader.sortedMap(keys: String.self) { (r: inout CanonicalReader) throws(WireError) in try r.unsigned() }
        let decrements = try reader.sortedMap(keys: String.self) { (r: inout CanonicalReader) throws(WireError) in try r.unsigned() }
        self.init(increments: increments, decrements: decrements)
    }
}

extension GSet: CanonicalDecodable where Element: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) {
        self.init(try reader.sortedSet(of: Element.self))
    }
}

extension ORSet: CanonicalDecodable where Element: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) {
        let entries = try reader.sortedMap(keys: Element.self) { (r: inout CanonicalReader) throws(WireError) in DotSet(try r.sortedSet(of: Dot.self)) }
        let context = try CausalContext(from: &reader)
        guard entries.values.allSatisfy({ !$0.isEmpty && $0.allSatisfy(context.contains) }) else {
            throw .invalid("an OR-set entry has no dots, or dots outside its context")
        }
        self.init(entries: entries, context: context)
    }
}

extension ORMap: CanonicalDecodable where Key: CanonicalDecodable, Value: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) {
        let entries = try reader.sortedMap(keys: Key.self) { (r: inout CanonicalReader) throws(WireError) in
            Entry(dots: DotSet(try r.sortedSet(of: Dot.self)), value: try Value(from: &r))
        }
        let context = try CausalContext(from: &reader)
        guard entries.values.allSatisfy({ ($0.dots.isEmpty == false || !$0.value.isBottom) && $0.dots.allSatisfy(context.contains) }) else {
            throw .invalid("an OR-map entry is empty, or has dots outside its context")
        }
        self.init(entries: entries, context: context)
    }
}

extension BoundedCounter.Transfer: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) {
        let from = try reader.string(), to = try reader.string()
        guard from != to else { throw .invalid("a rights transfer to itself") }
        self.init(from: from, to: to)
    }
}

extension BoundedCounter: CanonicalDecodable {
    public init(from reader: inout CanonicalReader) throws(WireError) {
        let increments = try reader.sortedMap(keys: String.self) { (r: inout CanonicalReader) throws(WireError) in try r.unsigned() }
        let decrements = try reader.sortedMap(keys: String.self) { (r: inout CanonicalReader) throws(WireError) in try r.unsigned() }
        let transfers = try reader.sortedMap(keys: Transfer.self) { (r: inout CanonicalReader) throws(WireError) in try r.unsigned() }
        self.init(increments: increments, decrements: decrements, transfers: transfers)
        // A state from a peer must keep the invariants (no negative stock or rights) and its
        // bounds (checked before anything is summed: sums of unchecked entries overflow).
        if let problem = validityProblem() { throw .invalid(problem) }
    }
}
