@testable import Commerce
import Replication
import XCTest

/// The JSON parser an import reads every line with, and what the import relies on: a validated
/// product is exactly what its replicated fields decode to.
final class LooseJSONTests: XCTestCase {
    private func parse(_ text: String) -> LooseJSON? { LooseJSON.parse(Array(text.utf8)) }

    func testValuesOfEveryKind() {
        XCTAssertEqual(parse(#" {"a": [1, -2, 3.5, 1e3, -0.25E-2, true, false, null, "x"], "b": {}} "#), .object([
            "a": .array([.integer(1), .integer(-2), .number(3.5), .number(1000), .number(-0.0025), .bool(true), .bool(false), .null, .string("x")]),
            "b": .object([:]),
        ]))
        XCTAssertEqual(parse("[]"), .array([]))
        XCTAssertEqual(parse("9223372036854775807"), .integer(.max))
        XCTAssertEqual(parse("9223372036854775808"), .number(9_223_372_036_854_775_808), "past 64 bits: a double")
        XCTAssertEqual(parse(#"{"a": 1, "a": 2}"#), .object(["a": .integer(2)]), "a repeated name: the last counts")
    }

    func testStringsWithEscapesAndUnicode() {
        XCTAssertEqual(parse(#""Crème \"brûlée\" \\ \/ \b\f\n\r\t""#), .string("Crème \"brûlée\" \\ / \u{8}\u{C}\n\r\t"))
        XCTAssertEqual(parse(#""\u00e9\u20AC\ud83d\ude00""#), .string("é€😀"))
        XCTAssertEqual(parse(#""日本語""#), .string("日本語"))
    }

    func testWhatIsNotJSONIsRefused() {
        for bad in ["", " ", "{", "[1,]", "{\"a\":1,}", "{a:1}", "'x'", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "[1] 2",
                    "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\ude00\"", "\"tab\there\"", "\"open", "NaN", "{\"a\" 1}", "[1 2]"] {
            XCTAssertNil(parse(bad), "\(bad) is not JSON")
        }
        XCTAssertNil(LooseJSON.parse([0x22, 0xC3, 0x28, 0x22]), "invalid UTF-8")
        XCTAssertNil(parse(String(repeating: "[", count: 300) + String(repeating: "]", count: 300)), "nested too deep")
        XCTAssertNotNil(parse(String(repeating: "[", count: 200) + String(repeating: "]", count: 200)))
    }

    func testAValidatedProductIsWhatItsFieldsDecodeTo() throws {
        // Variants, prices and images given out of order: validation puts them in the order
        // decoding does, which the import counts on when it writes the tables from the products.
        let line = #"""
            {"id": "p-1", "status": "active", "category": "cat", "featured": true,
             "name": {"en": "Trail Shoe", "de": "Laufschuh"}, "description": {"en": "Light."},
             "attributes": {"brand": "Acme", "colour": "red"}, "images": ["/b.jpg", "/a.jpg"],
             "variants": [
               {"sku": "Z-2", "attributes": {"size": "44"}, "prices": [{"region": "eu", "currency": "EUR", "amount": 9900},
                 {"region": "ch", "currency": "CHF", "amount": 9800}, {"region": "eu", "currency": "CHF", "amount": 10500}]},
               {"sku": "A-1", "barcode": "4006381333931", "attributes": {"size": "42"}, "prices": [{"region": "eu", "currency": "EUR", "amount": 9500}]}
             ]}
            """#
        let json = try XCTUnwrap(parse(line))
        let lookup = CatalogLookup(skuOwner: { _ in nil }, barcodeOwner: { _ in nil }, categoryExists: { $0 == "cat" })
        let product = try ProductInput.create(json, createdMs: 5, lookup: lookup).get()
        XCTAssertEqual(product.variants.map(\.sku), ["A-1", "Z-2"])
        XCTAssertEqual(CatalogFields.product(id: product.id, from: CatalogFields.fields(of: product)), product)
    }

    func testDecodingIgnoresFieldsItDoesNotKnow() throws {
        let product = DemoCatalog(products: 2, seed: 3).products[1]
        var fields = CatalogFields.fields(of: product)
        fields["name/en/extra"] = .text("a path too deep")
        fields["gift-wrap"] = .flag(true)  // a newer node's field
        fields["variant/GONE/barcode"] = .text("4006381333931")  // a removed variant's leftover
        fields["variant/\(product.variants[0].sku)/price/eu"] = .integer(1)  // no currency
        XCTAssertEqual(CatalogFields.product(id: product.id, from: fields), product)
    }
}
