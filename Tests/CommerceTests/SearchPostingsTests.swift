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

/// Filters and facets over search matches, from the in-memory facts.
final class SearchableFactsTests: XCTestCase {
    func testFiltersNeedEveryConditionAndFacetsCountInTheAPIsOrder() throws {
        let facts = SearchableFacts()
        facts.set(1, category: "laptops", price: 99_900, attributes: [("colour", "black"), ("size", "13")])
        facts.set(2, category: "laptops", price: 149_900, attributes: [("colour", "red")])
        facts.set(3, category: "bags", price: 4_900, attributes: [("colour", "black")])
        facts.set(4, category: nil, price: nil, attributes: [])

        var filter = SearchableFacts.Filter()
        XCTAssertNil(facts.predicate(filter), "no filter, no test")
        filter.attributes = ["colour": ["black", "blue"]]
        var keep = try XCTUnwrap(facts.predicate(filter))
        XCTAssertEqual([1, 2, 3, 4].filter(keep), [1, 3], "one of the values")
        filter.categories = ["laptops"]
        keep = try XCTUnwrap(facts.predicate(filter))
        XCTAssertEqual([1, 2, 3, 4].filter(keep), [1], "and the category")
        filter = SearchableFacts.Filter(minPrice: 5_000)
        keep = try XCTUnwrap(facts.predicate(filter))
        XCTAssertEqual([1, 2, 3, 4].filter(keep), [1, 2], "no price is outside any price range")

        let counted = facts.facets(of: [1, 2, 3, 4], priceBands: [0, 5_000, 100_000])
        XCTAssertTrue(counted.categories.elementsEqual([("laptops", 2), ("bags", 1)]) { $0 == $1 }, "\(counted.categories)")
        XCTAssertTrue(counted.attributes.elementsEqual([("colour", "black", 2), ("colour", "red", 1), ("size", "13", 1)]) { $0 == $1 })
        XCTAssertTrue(counted.prices.elementsEqual([(0, 5_000, 1), (5_000, 100_000, 1), (100_000, nil, 1)]) {
            $0.from == $1.0 && $0.to == $1.1 && $0.count == $1.2
        })

        facts.remove(1)
        XCTAssertEqual(facts.facets(of: [1, 2], priceBands: [0]).categories.first?.count, 1, "a removed product counts nowhere")
    }

    func testChangingProductsOverAndOverKeepsTheirCurrentValuesOnly() {
        let facts = SearchableFacts()
        for round in 0..<20 {
            for rowid in UInt32(0)..<1_000 {
                facts.set(rowid, category: "c", price: 100, attributes: [("round", "\(round)"), ("kind", rowid % 2 == 0 ? "even" : "odd")])
            }
        }
        let counted = facts.facets(of: 0..<1_000, priceBands: [0])
        XCTAssertTrue(counted.attributes.elementsEqual([("kind", "even", 500), ("kind", "odd", 500), ("round", "19", 1_000)]) { $0 == $1 },
                      "\(counted.attributes)")
        let even = facts.predicate(SearchableFacts.Filter(attributes: ["kind": ["even"]]))
        XCTAssertEqual((UInt32(0)..<10).filter { even?($0) ?? false }, [0, 2, 4, 6, 8])
    }
}
