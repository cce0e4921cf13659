import Foundation

/// The searchable products' words in memory: for each word, the products holding it with how
/// strongly (occurrences weighted by column), so a query is matched and ranked by BM25 over
/// every match in well under a millisecond.
///
/// The FTS5 table stays the index of record, written in the catalog's transactions; this is
/// read from it. A write only marks its product stale, and the next search reads the stale
/// products' committed rows again, so a rolled-back write leaves nothing behind here.
/// (Ranking inside FTS5 cost 2–5 ms for 500 candidates: its position lists and per-row
/// document sizes are read through SQL; here it is arithmetic over arrays.)
final class SearchPostings {
    /// Name, description, codes (SKUs, barcodes), attribute values: the FTS5 table's columns.
    static let columnWeights: [Float] = [10, 1, 6, 3]
    static let k1: Float = 1.2
    static let b: Float = 0.75

    /// A posting: product rowid in the high half, the weighted frequency's bits in the low
    /// half, so a list sorted as integers is sorted by product.
    private typealias Posting = UInt64

    private var terms = InternedStrings()
    private var postings: [[Posting]] = []
    /// Per product rowid: the ids of its terms (to take it out again) and its length in tokens.
    private var documentTerms: [UInt32: [UInt32]] = [:]
    private var lengths: [Float] = []
    private var totalLength: Double = 0
    /// Term ids sorted by term, for prefixes; nil after new terms arrive.
    private var sortedTermIds: [UInt32]?

    var documentCount: Int { documentTerms.count }

    // MARK: Changing

    /// Indexes product `rowid` with its column texts, replacing what it had.
    func set(_ rowid: UInt32, columns: [String]) {
        remove(rowid)
        norms = nil
        // Each occurrence as (term, column), sorted so a term's occurrences are adjacent.
        var occurrences = scratch
        occurrences.removeAll(keepingCapacity: true)
        for (column, text) in columns.prefix(Self.columnWeights.count).enumerated() {
            SearchText.forEachTerm(in: text) { term in occurrences.append(UInt64(termId(term)) << 8 | UInt64(column)) }
        }
        occurrences.sort()
        if Int(rowid) >= lengths.count { lengths.append(contentsOf: repeatElement(0, count: Int(rowid) + 1 - lengths.count)) }
        lengths[Int(rowid)] = Float(occurrences.count)
        totalLength += Double(occurrences.count)
        var held: [UInt32] = []
        var index = 0
        while index < occurrences.count {
            let term = UInt32(truncatingIfNeeded: occurrences[index] >> 8)
            var weight: Float = 0
            while index < occurrences.count, occurrences[index] >> 8 == UInt64(term) {
                weight += Self.columnWeights[Int(occurrences[index] & 0xff)]
                index += 1
            }
            held.append(term)
            let posting = UInt64(rowid) << 32 | UInt64(weight.bitPattern)
            if let last = postings[Int(term)].last, last > posting {
                postings[Int(term)].insert(posting, at: Self.lowerBound(postings[Int(term)], rowid))
            } else {
                postings[Int(term)].append(posting)
            }
        }
        documentTerms[rowid] = held
        scratch = occurrences
    }

    /// Kept between calls to `set`, so indexing a product allocates no list of its words.
    private var scratch: [UInt64] = []

    func remove(_ rowid: UInt32) {
        guard let held = documentTerms.removeValue(forKey: rowid) else { return }
        norms = nil
        totalLength -= Double(lengths[Int(rowid)])
        lengths[Int(rowid)] = 0
        for term in held {
            let index = Self.lowerBound(postings[Int(term)], rowid)
            if index < postings[Int(term)].count, postings[Int(term)][index] >> 32 == UInt64(rowid) {
                postings[Int(term)].remove(at: index)
            }
        }
    }

    func removeAll() {
        terms = InternedStrings()
        postings = []
        documentTerms = [:]
        lengths = []
        totalLength = 0
        sortedTermIds = nil
        norms = nil
    }

    private func termId(_ term: String) -> UInt32 {
        let id = terms.id(term)
        if Int(id) == postings.count {
            postings.append([])
            sortedTermIds = nil
        }
        return id
    }

    // MARK: Reading

    /// Every term held by at least one product, with how many hold it.
    var vocabulary: [(String, Int)] {
        zip(terms.strings, postings).compactMap { $1.isEmpty ? nil : ($0, $1.count) }
    }

    /// What a query asks for: each phrase a whole term or a prefix; a product must hold every one.
    struct Phrase: Equatable {
        var term: String
        var prefix: Bool
    }

    /// The products holding every phrase and passing `filter`, best first by BM25 (ties to the
    /// lower rowid), at most `limit` of them; and how many matched in all.
    ///
    /// `prefixTermsMax`: a prefix reads at most this many of the terms it starts, those in the
    /// most products (as-you-type suggestions: "la" starts thousands of terms, and a keystroke's
    /// work must stay bounded; the rarer completions come with the next letter).
    func search(_ phrases: [Phrase], limit: Int, prefixTermsMax: Int? = nil, filter: ((UInt32) -> Bool)? = nil) -> (rowids: [UInt32], matches: Int) {
        guard !phrases.isEmpty, limit > 0 else { return ([], 0) }
        var lists = phrases.map { postingLists($0, termsMax: prefixTermsMax) }
        // The smallest phrase decides the candidates; the others only look them up.
        lists.sort { $0.reduce(0) { $0 + $1.count } < $1.reduce(0) { $0 + $1.count } }
        let norms = lengthNorms()
        let documents = Double(max(1, documentCount))
        func inverseFrequency(_ holding: Int) -> Float {
            Float(max(1e-6, log((documents - Double(holding) + 0.5) / (Double(holding) + 0.5))))
        }
        let first = Self.merged(lists[0])
        var rowids = [UInt32](repeating: 0, count: first.count)
        var scores = [Float](repeating: 0, count: first.count)
        let firstIdf = inverseFrequency(first.count)
        norms.withUnsafeBufferPointer { norms in
            for (index, posting) in first.enumerated() {
                let rowid = UInt32(truncatingIfNeeded: posting >> 32)
                rowids[index] = rowid
                scores[index] = Self.contribution(posting, norms[Int(rowid)], firstIdf)
            }
        }
        for phrase in lists.dropFirst() where !rowids.isEmpty {
            let list = phrase.count == 1 ? phrase[0] : Self.merged(phrase)
            let idf = inverseFrequency(list.count)
            var kept = 0
            var cursor = 0
            norms.withUnsafeBufferPointer { norms in
                for index in rowids.indices {
                    let rowid = rowids[index]
                    cursor = Self.gallop(list, rowid, from: cursor)
                    guard cursor < list.count, list[cursor] >> 32 == UInt64(rowid) else { continue }
                    rowids[kept] = rowid
                    scores[kept] = scores[index] + Self.contribution(list[cursor], norms[Int(rowid)], idf)
                    kept += 1
                }
            }
            rowids.removeLast(rowids.count - kept)
            scores.removeLast(scores.count - kept)
        }
        if let filter {
            var kept = 0
            for index in rowids.indices where filter(rowids[index]) {
                rowids[kept] = rowids[index]
                scores[kept] = scores[index]
                kept += 1
            }
            rowids.removeLast(rowids.count - kept)
            scores.removeLast(scores.count - kept)
        }
        return (Self.best(rowids, scores, limit: limit), rowids.count)
    }

    /// BM25's share of one phrase in one product: its weighted frequency, saturating, against
    /// the product's length.
    @inline(__always)
    private static func contribution(_ posting: Posting, _ norm: Float, _ idf: Float) -> Float {
        let frequency = Float(bitPattern: UInt32(truncatingIfNeeded: posting))
        return idf * frequency * (k1 + 1) / (frequency + norm)
    }

    /// Per rowid, k1 × (1 − b + b × length / average length): recomputed after writes only.
    private var norms: [Float]?

    private func lengthNorms() -> [Float] {
        if let norms, norms.count == lengths.count { return norms }
        let average = Float(totalLength / Double(max(1, documentCount)))
        let fresh = lengths.map { Self.k1 * (1 - Self.b + Self.b * $0 / max(average, 1)) }
        norms = fresh
        return fresh
    }

    /// The lists a phrase reads: its term's, or those of every term it starts.
    private func postingLists(_ phrase: Phrase, termsMax: Int?) -> [[Posting]] {
        guard phrase.prefix else { return terms.existing(phrase.term).map { [postings[Int($0)]] } ?? [] }
        let sorted = sortedTermIds ?? {
            let ids = (0..<UInt32(terms.count)).sorted { terms[$0] < terms[$1] }
            sortedTermIds = ids
            return ids
        }()
        var low = 0, high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if terms[sorted[mid]] < phrase.term { low = mid + 1 } else { high = mid }
        }
        var lists: [[Posting]] = []
        while low < sorted.count, terms[sorted[low]].hasPrefix(phrase.term) {
            if !postings[Int(sorted[low])].isEmpty { lists.append(postings[Int(sorted[low])]) }
            low += 1
        }
        if let termsMax, lists.count > termsMax {
            lists.sort { $0.count > $1.count }
            lists.removeLast(lists.count - termsMax)
        }
        return lists
    }

    /// One list from several, a product's frequencies added up: merged in pairs, each pass
    /// linear, so k lists of P postings in all cost P × log k (sorting them together cost P × log P
    /// and a copy of them all).
    private static func merged(_ lists: [[Posting]]) -> [Posting] {
        if lists.count <= 1 { return lists.first ?? [] }
        var round = lists
        while round.count > 1 {
            var next: [[Posting]] = []
            next.reserveCapacity((round.count + 1) / 2)
            var index = 0
            while index + 1 < round.count {
                next.append(mergedPair(round[index], round[index + 1]))
                index += 2
            }
            if index < round.count { next.append(round[index]) }
            round = next
        }
        return round[0]
    }

    private static func mergedPair(_ a: [Posting], _ b: [Posting]) -> [Posting] {
        var out: [Posting] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                while i < a.count && j < b.count {
                    let left = a[i] >> 32, right = b[j] >> 32
                    if left < right {
                        out.append(a[i]); i += 1
                    } else if right < left {
                        out.append(b[j]); j += 1
                    } else {
                        let sum = Float(bitPattern: UInt32(truncatingIfNeeded: a[i])) + Float(bitPattern: UInt32(truncatingIfNeeded: b[j]))
                        out.append(left << 32 | UInt64(sum.bitPattern))
                        i += 1
                        j += 1
                    }
                }
                while i < a.count { out.append(a[i]); i += 1 }
                while j < b.count { out.append(b[j]); j += 1 }
            }
        }
        return out
    }

    /// The index of `rowid`'s posting in `list`, or where it would go.
    private static func lowerBound(_ list: [Posting], _ rowid: UInt32) -> Int {
        lowerBound(list, UInt64(rowid) << 32, from: 0, to: list.count)
    }

    private static func lowerBound(_ list: [Posting], _ key: UInt64, from: Int, to: Int) -> Int {
        var low = from, high = to
        while low < high {
            let mid = (low + high) / 2
            if list[mid] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// `lowerBound` from `start`, in doubling steps first: candidates come in rowid order, so
    /// each lookup starts where the last one ended and most are a step or two away.
    private static func gallop(_ list: [Posting], _ rowid: UInt32, from start: Int) -> Int {
        let key = UInt64(rowid) << 32
        guard start < list.count, list[start] < key else { return start }
        var below = start, offset = 1
        while start + offset < list.count, list[start + offset] < key {
            below = start + offset
            offset *= 2
        }
        return lowerBound(list, key, from: below + 1, to: min(start + offset, list.count))
    }

    /// The `limit` best rowids, best first, without sorting every match.
    private static func best(_ rowids: [UInt32], _ scores: [Float], limit: Int) -> [UInt32] {
        // One integer per match that orders as (score, then lower rowid): scores are positive,
        // and a positive float's bits order as its value.
        var heap: [UInt64] = []  // a min-heap of the best so far: the worst of them on top
        heap.reserveCapacity(min(limit, rowids.count))
        for index in rowids.indices {
            let key = UInt64(scores[index].bitPattern) << 32 | UInt64(UInt32.max - rowids[index])
            if heap.count < limit {
                heap.append(key)
                var child = heap.count - 1
                while child > 0 {
                    let parent = (child - 1) / 2
                    guard heap[parent] > heap[child] else { break }
                    heap.swapAt(parent, child)
                    child = parent
                }
            } else if key > heap[0] {
                heap[0] = key
                var parent = 0
                while true {
                    let left = 2 * parent + 1, right = left + 1
                    var smallest = parent
                    if left < heap.count, heap[left] < heap[smallest] { smallest = left }
                    if right < heap.count, heap[right] < heap[smallest] { smallest = right }
                    if smallest == parent { break }
                    heap.swapAt(parent, smallest)
                    parent = smallest
                }
            }
        }
        heap.sort()
        return heap.reversed().map { UInt32.max - UInt32(truncatingIfNeeded: $0) }
    }
}
