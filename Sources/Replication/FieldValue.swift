/// A catalog field's value: text, an integer (prices in minor units, counts) or a flag.
public enum FieldValue: Hashable, Sendable, CanonicalEncodable, CanonicalDecodable {
    case text(String)
    case integer(Int64)
    case flag(Bool)

    public func encode(to writer: inout CanonicalWriter) {
        switch self {
        case .text(let value): writer.unsigned(0); writer.string(value)
        case .integer(let value): writer.unsigned(1); writer.signed(value)
        case .flag(let value): writer.unsigned(2); writer.bool(value)
        }
    }

    public init(from reader: inout CanonicalReader) throws(WireError) {
        switch try reader.unsigned() {
        case 0: self = .text(try reader.string())
        case 1: self = .integer(try reader.signed())
        case 2: self = .flag(try reader.bool())
        case let tag: throw .invalid("field value tag \(tag)")
        }
    }
}

/// In admin JSON a field is a plain JSON value: true/false, an integer, or a string.
extension FieldValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            self = .flag(flag)
        } else if let integer = try? container.decode(Int64.self) {
            self = .integer(integer)
        } else {
            self = .text(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .flag(let value): try container.encode(value)
        }
    }
}
