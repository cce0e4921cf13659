/// Strings numbered in the order first seen, so in-memory tables (search's postings, the
/// searchable facts) hold a small number per word, category or attribute, not a string.
struct InternedStrings {
    private var ids: [String: UInt32] = [:]
    private(set) var strings: [String] = []

    var count: Int { strings.count }

    /// The string's number, given the next one if it is new.
    mutating func id(_ string: String) -> UInt32 {
        if let id = ids[string] { return id }
        let id = UInt32(strings.count)
        ids[string] = id
        strings.append(string)
        return id
    }

    /// The string's number if it has one.
    func existing(_ string: String) -> UInt32? { ids[string] }

    subscript(id: UInt32) -> String { strings[Int(id)] }
}
