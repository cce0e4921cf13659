/// Any JSON document, decoded without a schema: input is checked member by member so a
/// validation error can name every bad field, not just the first one a typed decoder trips on.
public enum LooseJSON: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([LooseJSON])
    case object([String: LooseJSON])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([LooseJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: LooseJSON].self))
        }
    }

    /// What a message calls this kind of value.
    public var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

import Foundation

extension LooseJSON {
    /// Parses one JSON document with Foundation's JSONSerialization (several times faster than
    /// decoding `LooseJSON` through `Decodable`, which throws on every guess).
    public static func parse(_ bytes: some Collection<UInt8>) -> LooseJSON? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else { return nil }
        return LooseJSON(foundation: object)
    }

    /// Containers and strings are tested first: asking whether a Swift array is an `NSNull` or
    /// `NSNumber` bridges it to an Objective-C object first, which cost more than the parse.
    init?(foundation value: Any) {
        if let members = value as? [String: Any] {
            var out: [String: LooseJSON] = [:]
            for (key, item) in members {
                guard let element = LooseJSON(foundation: item) else { return nil }
                out[key] = element
            }
            self = .object(out)
        } else if let items = value as? [Any] {
            var out: [LooseJSON] = []
            out.reserveCapacity(items.count)
            for item in items {
                guard let element = LooseJSON(foundation: item) else { return nil }
                out.append(element)
            }
            self = .array(out)
        } else if let text = value as? String {
            self = .string(text)
        } else if let number = value as? NSNumber {
            // JSON true/false come back as NSNumbers of type char; other numbers as integers or doubles.
            let type = String(cString: number.objCType)
            if type == "c" {
                self = .bool(number.boolValue)
            } else if type == "d" || type == "f" {
                self = .number(number.doubleValue)
            } else {
                self = .integer(number.int64Value)
            }
        } else if value is NSNull {
            self = .null
        } else {
            return nil
        }
    }
}
