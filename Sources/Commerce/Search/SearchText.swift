import Foundation

/// Text as the search index sees it: lower case, diacritics removed, split into runs of
/// letters and digits (what FTS5's unicode61 tokenizer with remove_diacritics does).
public enum SearchText {
    public static func fold(_ text: String) -> String {
        // ASCII (most of a catalog) only needs lowering: Foundation's folding costs microseconds
        // a call, and every product written folds its name.
        guard text.utf8.allSatisfy({ $0 < 0x80 }) else {
            return text.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil)
        }
        return String(decoding: text.utf8.map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    public static func terms(_ text: String) -> [String] {
        fold(text).split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// Calls `body` with each of `terms(text)` in order. Runs of ASCII (most of a catalog) are
    /// split and lowered byte by byte; only a run holding other characters is folded.
    static func forEachTerm(in text: String, _ body: (String) -> Void) {
        let paragraphSeparator: [UInt8] = [0xE2, 0x80, 0xA9]  // between a text's locales
        var term: [UInt8] = []
        term.reserveCapacity(32)
        var foreign = false  // the run holds a non-ASCII byte
        func endRun() {
            if foreign && term == paragraphSeparator {
                // nothing: it only separates
            } else if foreign {
                for folded in terms(String(decoding: term, as: UTF8.self)) { body(folded) }
            } else if !term.isEmpty {
                body(String(decoding: term, as: UTF8.self))
            }
            term.removeAll(keepingCapacity: true)
            foreign = false
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): term.append(byte)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): term.append(byte + 32)
            case 0x80...:
                term.append(byte)
                foreign = true
            default:
                endRun()
            }
        }
        endRun()
    }
}

/// The index's terms with how many products hold each: for typo correction and completions.
struct SearchVocabulary {
    /// Sorted by term.
    let terms: [(term: String, documents: Int)]
    private let byLength: [Int: [Int]]

    init(_ rows: [(String, Int)]) {
        terms = rows.sorted { $0.0 < $1.0 }.map { (term: $0.0, documents: $0.1) }
        var byLength: [Int: [Int]] = [:]
        for (index, entry) in terms.enumerated() { byLength[entry.term.count, default: []].append(index) }
        self.byLength = byLength
    }

    /// The first index whose term is not below `prefix`.
    private func lowerBound(_ prefix: String) -> Int {
        var low = 0, high = terms.count
        while low < high {
            let mid = (low + high) / 2
            if terms[mid].term < prefix { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Whether `word` is a whole term of the index.
    func contains(_ word: String) -> Bool {
        let index = lowerBound(word)
        return index < terms.count && terms[index].term == word
    }

    func hasPrefix(_ prefix: String) -> Bool {
        let index = lowerBound(prefix)
        return index < terms.count && terms[index].term.hasPrefix(prefix)
    }

    /// Terms starting with `prefix`, most common first.
    func completions(of prefix: String, limit: Int) -> [String] {
        var found: [(String, Int)] = []
        var index = lowerBound(prefix)
        while index < terms.count, terms[index].term.hasPrefix(prefix), found.count < 2_000 {
            found.append((terms[index].term, terms[index].documents))
            index += 1
        }
        return found.sorted { ($1.1, $0.0) < ($0.1, $1.0) }.prefix(limit).map(\.0)
    }

    /// The closest common term within the edits allowed for the word's length (none up to 3
    /// letters, one up to 5, two beyond), ties to the term in more products. Nil if none.
    func correction(for word: String) -> String? {
        let length = word.count
        let allowed = length <= 3 ? 0 : length <= 5 ? 1 : 2
        guard allowed > 0 else { return nil }
        let letters = Array(word.unicodeScalars)
        var best: (term: String, distance: Int, documents: Int)?
        for candidateLength in (length - allowed)...(length + allowed) {
            for index in byLength[candidateLength] ?? [] {
                let entry = terms[index]
                let distance = Self.distance(letters, Array(entry.term.unicodeScalars), limit: allowed)
                guard distance <= allowed else { continue }
                if let current = best, (distance, -entry.documents) >= (current.distance, -current.documents) { continue }
                best = (entry.term, distance, entry.documents)
            }
        }
        return best?.term
    }

    /// Damerau-Levenshtein (optimal string alignment) distance, giving up above `limit`.
    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar], limit: Int) -> Int {
        if abs(a.count - b.count) > limit { return limit + 1 }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...max(1, a.count) where !a.isEmpty {
            current[0] = i
            var rowMinimum = current[0]
            for j in 1...max(1, b.count) where !b.isEmpty {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { value = min(value, previous2[j - 2] + 1) }
                current[j] = value
                rowMinimum = min(rowMinimum, value)
            }
            if rowMinimum > limit { return limit + 1 }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
