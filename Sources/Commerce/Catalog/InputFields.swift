/// The members of a JSON object an admin sent, read field by field: every field that is
/// missing, malformed or unknown becomes one `FieldError`, so a reply names them all at once.
public struct InputFields {
    public let members: [String: LooseJSON]
    public private(set) var errors: [FieldError] = []

    /// Refuses every member not in `known`, naming `what` the object is.
    public init(_ members: [String: LooseJSON], known: Set<String>, what: String) {
        self.members = members
        for name in members.keys.sorted() where !known.contains(name) { errors.append(FieldError(name, "is not a \(what) field")) }
    }

    public mutating func fail(_ field: String, _ reason: String) { errors.append(FieldError(field, reason)) }

    public mutating func text(_ name: String) -> String? {
        switch members[name] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: fail(name, "must be a string"); return nil
        }
    }

    public mutating func count(_ name: String, _ range: ClosedRange<Int64>) -> Int64? {
        switch members[name] {
        case nil, .null?: return nil
        case .integer(let value)? where range.contains(value): return value
        default: fail(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)"); return nil
        }
    }

    /// Throws every error gathered, if any.
    public func check() throws(ValidationFailure) {
        guard errors.isEmpty else { throw ValidationFailure(errors) }
    }
}
