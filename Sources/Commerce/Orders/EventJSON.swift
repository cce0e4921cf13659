import Platform

/// Writes the JSON text of order and payment events: members in the order given (callers give
/// them sorted, so one event is one string everywhere), absent optionals left out. Written out
/// because Foundation's JSONEncoder cost more than the rest of a checkout together.
struct EventJSONWriter {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        JSONText.appendString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        JSONText.appendString(value, to: &bytes)
    }

    mutating func int(_ name: String, _ value: Int64?) {
        guard let value else { return }
        key(name)
        JSONText.appendInt(Int(value), to: &bytes)
    }

    mutating func bool(_ name: String, _ value: Bool?) {
        guard let value else { return }
        key(name)
        bytes += Array((value ? "true" : "false").utf8)
    }

    mutating func objects<T>(_ name: String, _ values: [T]?, _ write: (inout EventJSONWriter, T) -> Void) {
        guard let values else { return }
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            var inner = EventJSONWriter()
            write(&inner, value)
            bytes += inner.finished
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func object(_ name: String, _ write: ((inout EventJSONWriter) -> Void)?) {
        guard let write else { return }
        key(name)
        var inner = EventJSONWriter()
        write(&inner)
        bytes += inner.finished
    }

    /// A member whose value is JSON text already written (an event's `data`).
    mutating func raw(_ name: String, _ json: String) {
        key(name)
        bytes += Array(json.utf8)
    }

    var finished: [UInt8] { bytes + [UInt8(ascii: "}")] }
    var text: String { String(decoding: finished, as: UTF8.self) }
}

/// Reads members of a parsed event object, by type.
struct EventJSONReader {
    let members: [String: LooseJSON]

    init?(_ text: String) {
        guard case .object(let members)? = LooseJSON.parse(Array(text.utf8)) else { return nil }
        self.members = members
    }

    init(members: [String: LooseJSON]) {
        self.members = members
    }

    func string(_ name: String) -> String? { if case .string(let value)? = members[name] { value } else { nil } }
    /// An integer member; one beyond ±`EventJSON.integerMagnitudeMax` reads as absent, so that
    /// folds summing events from other nodes cannot overflow.
    func int(_ name: String) -> Int64? {
        if case .integer(let value)? = members[name], value.magnitude <= EventJSONReader.integerMagnitudeMax { value } else { nil }
    }

    /// 2^42: ms timestamps until 2109, and ten times the highest price.
    static let integerMagnitudeMax: UInt64 = 1 << 42
    func bool(_ name: String) -> Bool? { if case .bool(let value)? = members[name] { value } else { nil } }
    func object(_ name: String) -> EventJSONReader? { if case .object(let value)? = members[name] { EventJSONReader(members: value) } else { nil } }
    func objects(_ name: String) -> [EventJSONReader]? {
        guard case .array(let items)? = members[name] else { return nil }
        return items.compactMap { if case .object(let value) = $0 { EventJSONReader(members: value) } else { nil } }
    }
}
