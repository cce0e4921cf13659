@testable import Commerce
import Replication
import XCTest

/// The catalog's rules without a node: barcodes, typo distance, field layout, input validation.
final class CatalogRulesTests: XCTestCase {
    func testBarcodesNeedTheirCheckDigit() {
        XCTAssertNil(Barcode.problem(with: "4006381333931"))  // EAN-13
        XCTAssertNil(Barcode.problem(with: "036000291452"))  // UPC-A
        XCTAssertEqual(Barcode.problem(with: "4006381333932"), "check digit is 2, should be 1")
        XCTAssertNotNil(Barcode.problem(with: "40063813339"))
        XCTAssertNotNil(Barcode.problem(with: "40063813339x1"))
        XCTAssertEqual(Barcode.normalized("036000291452"), "0036000291452")
        for n in 0..<50 { XCTAssertNil(Barcode.problem(with: DemoCatalog.ean13(400_000_000_000 + UInt64(n)))) }
    }

    func testTyposAreWithinTheEditsAllowedForTheWordsLength() {
        let vocabulary = SearchVocabulary([("laptop", 40), ("laptops", 10), ("lamp", 5), ("tea", 3)])
        XCTAssertEqual(vocabulary.correction(for: "lapotp"), "laptop", "a transposition is one edit")
        XCTAssertEqual(vocabulary.correction(for: "labtop"), "laptop")
        XCTAssertEqual(vocabulary.correction(for: "lmap"), "lamp")
        XCTAssertNil(vocabulary.correction(for: "tex"), "three letters: no guessing")
        XCTAssertNil(vocabulary.correction(for: "keyboard"))
        XCTAssertEqual(vocabulary.completions(of: "lap", limit: 5), ["laptop", "laptops"], "the more common first")
        XCTAssertEqual(SearchVocabulary.distance(Array("kitten".unicodeScalars), Array("sitting".unicodeScalars), limit: 5), 3)
    }

    func testAProductSurvivesItsFieldsAndChangesAreOneDelta() throws {
        let product = DemoCatalog(products: 3, seed: 7).products[2]
        XCTAssertEqual(CatalogFields.product(id: product.id, from: CatalogFields.fields(of: product)), product)

        var entry = CatalogFields.Entry()
        var clock = HybridLogicalClock(replica: "hub")
        let created = try XCTUnwrap(CatalogFields.delta(from: &entry, to: CatalogFields.fields(of: product), replica: "hub", at: clock.tick(wallMs: 1)))
        var replica = CatalogFields.Entry()
        replica.merge(created)
        XCTAssertEqual(CatalogFields.values(of: replica), CatalogFields.fields(of: product))
        XCTAssertNil(CatalogFields.delta(from: &entry, to: CatalogFields.fields(of: product), replica: "hub", at: clock.tick(wallMs: 2)), "nothing differs")

        var renamed = product
        renamed.names["en"] = "Renamed"
        renamed.variants.removeLast()
        let change = try XCTUnwrap(CatalogFields.delta(from: &entry, to: CatalogFields.fields(of: renamed), replica: "hub", at: clock.tick(wallMs: 3)))
        replica.merge(change)
        XCTAssertEqual(CatalogFields.product(id: product.id, from: CatalogFields.values(of: replica)), renamed)
        entry.checkInvariants()
        replica.checkInvariants()
    }

    func testEveryBadFieldOfAProductIsNamed() {
        let lookup = CatalogLookup(skuOwner: { $0 == "TAKEN" ? "other" : nil }, barcodeOwner: { _ in nil }, categoryExists: { $0 == "tea" })
        let json: LooseJSON = .object([
            "id": .string("tea-1"), "category": .string("coffee"), "featured": .string("yes"),
            "name": .object(["en": .string("Tea"), "xx-yy": .string("?")]),
            "variants": .array([
                .object(["sku": .string("TAKEN"), "prices": .array([.object(["region": .string("eu"), "currency": .string("EUR"), "amount": .integer(5)])])]),
                .object(["sku": .string("T-2"), "barcode": .string("123"), "prices": .array([])]),
            ]),
        ])
        guard case .failure(let failure) = ProductInput.create(json, createdMs: 0, lookup: lookup) else { return XCTFail("accepted") }
        XCTAssertEqual(Set(failure.errors.map(\.field)), ["category", "featured", "name.xx-yy", "variants[0].sku", "variants[1].barcode", "variants[1].prices"])
    }
}
