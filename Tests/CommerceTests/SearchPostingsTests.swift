@testable import Commerce
import XCTest

/// Search's in-memory index: matching every phrase, BM25 order, prefixes, and changes.
final class SearchPostingsTests: XCTestCase {
    private func index(_ products: [UInt32: [String]]) -> SearchPostings {
        let postings = SearchPostings()
        for (rowid, columns) in products.sorted(by: { $0.key < $1.key }) { postings.set(rowid, columns: columns) }
        return postings
    }

    private func words(_ text: String) -> [SearchPostings.Phrase] {
        text.split(separator: " ").map { SearchPostings.Phrase(term: String($0), prefix: $0.hasSuffix("*") ? true : false) }
            .map { SearchPostings.Phrase(term: $0.term.replacingOccurrences(of: "*", with: ""), prefix: $0.prefix) }
    }

    func testEveryWordMustMatchAndNamesOutrankDescriptions() {
        let postings = index([
            1: ["Trail Lamp", "A lamp for the tent", "", "black"],
            2: ["Camp Stove", "Cooks on a trail, lamp not included", "", "grey"],
            3: ["Black Lamp", "", "", "black"],
            4: ["Desk", "", "", ""],
        ])
        XCTAssertEqual(postings.search(words("lamp"), limit: 10).rowids, [3, 1, 2], "in the name beats in the description; shorter names first")
        XCTAssertEqual(postings.search(words("lamp"), limit: 10).matches, 3)
        XCTAssertEqual(postings.search(words("black lamp"), limit: 10).rowids, [3, 1], "both words, in any column")
        XCTAssertEqual(postings.search(words("trail stove"), limit: 10).rowids, [2])
        XCTAssertEqual(postings.search(words("lamp desk"), limit: 10).rowids, [])
        XCTAssertEqual(postings.search(words("nothing"), limit: 10).rowids, [])
    }

    func testAPrefixMatchesEveryTermItStarts() {
        let postings = index([1: ["Laptop Stand", "", "LAP-1 4000000000017", ""], 2: ["Lamp", "", "LMP-2", ""], 3: ["Chair", "", "", ""]])
        XCTAssertEqual(Set(postings.search(words("la*"), limit: 10).rowids), [1, 2])
        XCTAssertEqual(postings.search(words("400000*"), limit: 10).rowids, [1], "a barcode by its start")
        XCTAssertEqual(postings.search(words("lap 1"), limit: 10).rowids, [1], "a SKU by its parts")
    }

    func testTheBestComeFirstAndTiesGoToTheLowerRowid() {
        var products: [UInt32: [String]] = [:]
        for rowid in UInt32(1)...200 { products[rowid] = [rowid % 10 == 0 ? "Tent Tent" : "Tent", "", "", ""] }
        let postings = index(products)
        let best = postings.search(words("tent"), limit: 5)
        XCTAssertEqual(best.rowids, [10, 20, 30, 40, 50], "two mentions beat one; equal scores in rowid order")
        XCTAssertEqual(best.matches, 200)
        XCTAssertEqual(postings.search(words("tent"), limit: 500).rowids.count, 200)
    }

    func testChangedAndRemovedProductsAreFoundAsTheyAreNow() {
        let postings = index([1: ["Red Shoe", "", "", ""], 2: ["Blue Shoe", "", "", ""]])
        postings.set(1, columns: ["Green Boot", "", "", ""])
        XCTAssertEqual(postings.search(words("shoe"), limit: 10).rowids, [2])
        XCTAssertEqual(postings.search(words("green"), limit: 10).rowids, [1])
        XCTAssertEqual(postings.search(words("red"), limit: 10).rowids, [])
        postings.remove(2)
        XCTAssertEqual(postings.search(words("shoe"), limit: 10).rowids, [])
        XCTAssertEqual(postings.documentCount, 1)
        XCTAssertFalse(postings.vocabulary.contains { $0.0 == "shoe" }, "a term nobody holds is not offered")
        postings.set(0, columns: ["Shoe", "", "", ""])
        XCTAssertEqual(postings.search(words("shoe"), limit: 10).rowids, [0], "a lower rowid written later is found")
    }

    func testTermsAreSplitAndFoldedAsTheIndexDoes() {
        for text in ["Crème Brûlée-Torch 2000", "ÉCOLE d'été", "plain ascii, TEXT: 42x"] {
            var split: [String] = []
            SearchText.forEachTerm(in: text) { split.append($0) }
            XCTAssertEqual(split, SearchText.terms(text), text)
        }
    }
}
