import Foundation
import HTTP
import NodeTesting
import XCTest

/// `nodectl catalog import` and `nodectl catalog demo` against a real noded.
final class CatalogImportTests: XCTestCase {
    private func start() throws -> NodeProcess {
        let node = try NodeProcess.start(config: "[node]\nid = \"shop\"\nregion = \"eu\"\n")
        XCTAssertEqual(try node.adminSend("PUT", "/admin/v1/catalog/categories/tea", #"{"name": {"en": "Tea"}}"#).status, 200)
        return node
    }

    private func count(_ node: NodeProcess) throws -> Int {
        let page = try JSONSerialization.jsonObject(with: Data(try node.client().get("/api/v1/products?limit=100&facets=false").body)) as? [String: Any]
        return (page?["products"] as? [Any])?.count ?? -1
    }

    func testAGoodCSVImportsEveryProductWithItsVariants() throws {
        let node = try start()
        let scratch = TemporaryDirectory()
        let file = scratch.file("products.csv")
        try """
            id,status,category,name.en,name.de,description.en,attr.origin,sku,barcode,variant.size,price.eu.EUR
            sencha,active,tea,Sencha,Sencha Grüntee,"A green tea, steamed",Japan,SEN-50,4006381333931,50 g,650
            sencha,,,,,,,SEN-100,,100 g,1150
            assam,active,tea,Assam,,Malty black tea,India,ASM-100,036000291452,100 g,890
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try runExecutable("nodectl", ["catalog", "import", file, "--data-dir", node.dataDirectory])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("imported 2 products"), result.stdout)
        let product = try JSONSerialization.jsonObject(with: Data(try node.client().get("/api/v1/products/by-sku/SEN-100").body)) as? [String: Any]
        XCTAssertEqual(product?["id"] as? String, "sencha")
        XCTAssertEqual((product?["variants"] as? [[String: Any]])?.count, 2)
        XCTAssertEqual(product?["description"] as? String, "A green tea, steamed", "quoted CSV fields keep their commas")

        // Importing again replaces; nothing doubles.
        let again = try runExecutable("nodectl", ["catalog", "import", file, "--data-dir", node.dataDirectory])
        XCTAssertTrue(again.stdout.contains("0 created, 2 replaced"), again.stdout)
        XCTAssertEqual(try count(node), 2)
    }

    func testABadFileReportsEveryBadLineAndImportsNothing() throws {
        let node = try start()
        let scratch = TemporaryDirectory()
        let csv = scratch.file("bad.csv")
        try """
            id,status,category,name.en,sku,barcode,price.eu.EUR
            good-one,active,tea,Good,GOOD-1,,100
            bad-one,active,coffee,Bad,BAD-1,,100
            bad-one,,,,BAD-2,4006381333932,100
            """.write(toFile: csv, atomically: true, encoding: .utf8)
        let result = try runExecutable("nodectl", ["catalog", "import", csv, "--data-dir", node.dataDirectory])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("bad.csv:3: category:"), result.stderr)
        XCTAssertTrue(result.stderr.contains("bad.csv:4: variants[1].barcode: check digit"), result.stderr)
        XCTAssertTrue(result.stderr.contains("nothing was imported"), result.stderr)
        XCTAssertEqual(try count(node), 0, "the good line was not imported either")

        let structure = scratch.file("short.csv")
        try "id,name.en,sku,colour\nx,X,X-1\n".write(toFile: structure, atomically: true, encoding: .utf8)
        let short = try runExecutable("nodectl", ["catalog", "import", structure, "--data-dir", node.dataDirectory])
        XCTAssertEqual(short.status, 1)
        XCTAssertTrue(short.stderr.contains("column \"colour\""), short.stderr)
        XCTAssertTrue(short.stderr.contains("line 2: 3 fields, the header has 4"), short.stderr)

        let jsonl = scratch.file("bad.jsonl")
        try """
            {"id": "fine", "name": {"en": "Fine"}, "category": "tea", "variants": [{"sku": "FINE-1", "prices": [{"region": "eu", "currency": "EUR", "amount": 1}]}]}

            {"id": "broken", "name":
            {"id": "fine", "name": {"en": "Twice"}, "variants": [{"sku": "FINE-2", "prices": [{"region": "eu", "currency": "EUR", "amount": 1}]}]}
            """.write(toFile: jsonl, atomically: true, encoding: .utf8)
        let lines = try runExecutable("nodectl", ["catalog", "import", jsonl, "--data-dir", node.dataDirectory])
        XCTAssertEqual(lines.status, 1)
        XCTAssertTrue(lines.stderr.contains("bad.jsonl:3: is not a JSON object"), lines.stderr)
        XCTAssertTrue(lines.stderr.contains("bad.jsonl:4: id: fine is on line 1 too"), lines.stderr)
        XCTAssertEqual(try count(node), 0)
    }

    func testAnImportThatChangesProductsReplacesTheirVariantsSearchAndStatus() throws {
        let node = try start()
        let scratch = TemporaryDirectory()
        func importLines(_ lines: String) throws {
            let file = scratch.file("products.jsonl")
            try lines.write(toFile: file, atomically: true, encoding: .utf8)
            let result = try runExecutable("nodectl", ["catalog", "import", file, "--data-dir", node.dataDirectory])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        func get(_ path: String) throws -> (status: Int, json: [String: Any]?) {
            let response = try node.client().get(path)
            return (response.status, try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        }
        func found(_ query: String) throws -> [String] {
            ((try get("/api/v1/search?q=\(query)").json?["products"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
        }
        let price = #"[{"region": "eu", "currency": "EUR", "amount": 500}]"#
        try importLines("""
            {"id": "sencha", "status": "active", "category": "tea", "name": {"en": "Sencha"}, "attributes": {"origin": "Japan"}, "variants": [{"sku": "SEN-50", "prices": \(price)}, {"sku": "SEN-100", "prices": \(price)}]}
            {"id": "assam", "status": "active", "category": "tea", "name": {"en": "Assam"}, "variants": [{"sku": "ASM-100", "prices": \(price)}]}
            {"id": "chai", "status": "active", "category": "tea", "name": {"en": "Chai"}, "variants": [{"sku": "CHAI-1", "prices": \(price)}]}
            """)
        XCTAssertEqual(try found("sencha"), ["sencha"])
        XCTAssertEqual(try get("/api/v1/products?category=tea&attr.origin=Japan").json?["products"].map { ($0 as? [Any])?.count }, 1)

        // Renamed, a variant gone, a SKU moved to the other product, one no longer on sale.
        try importLines("""
            {"id": "sencha", "status": "active", "category": "tea", "name": {"en": "Gyokuro"}, "attributes": {"origin": "Kyoto"}, "variants": [{"sku": "SEN-50", "prices": \(price)}]}
            {"id": "assam", "status": "active", "category": "tea", "name": {"en": "Assam"}, "variants": [{"sku": "ASM-100", "prices": \(price)}, {"sku": "SEN-100", "prices": \(price)}]}
            {"id": "chai", "status": "draft", "category": "tea", "name": {"en": "Chai"}, "variants": [{"sku": "CHAI-1", "prices": \(price)}]}
            """)
        XCTAssertEqual(try found("gyokuro"), ["sencha"])
        XCTAssertEqual(try found("sencha"), [], "the old name is gone from search")
        XCTAssertEqual(try found("chai"), [], "a draft is not searchable")
        XCTAssertEqual(try get("/api/v1/products/by-sku/SEN-100").json?["id"] as? String, "assam")
        XCTAssertEqual(try get("/api/v1/products/by-sku/SEN-50").json?["id"] as? String, "sencha")
        XCTAssertEqual(try get("/api/v1/products?category=tea&attr.origin=Japan").json?["products"].map { ($0 as? [Any])?.count }, 0,
                       "the old attribute value no longer filters")
    }

    func testTheDemoCatalogIsDeterministicAndSearchable() throws {
        let node = try NodeProcess.start(config: "[node]\nid = \"shop\"\nregion = \"eu\"\n")
        let first = try runExecutable("nodectl", ["catalog", "demo", "--products", "300", "--data-dir", node.dataDirectory])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("300 created"), first.stdout)
        let again = try runExecutable("nodectl", ["catalog", "demo", "--products", "300", "--data-dir", node.dataDirectory])
        XCTAssertTrue(again.stdout.contains("0 created, 300 replaced"), again.stdout)
        let replicated = try node.adminJSON("/admin/v1/replicated?digests=false")
        XCTAssertEqual((replicated["catalog"] as? [String: Any])?["keys"] as? Int, 300 + 17, "the same products and categories: nothing changed")
        let laptops = try JSONSerialization.jsonObject(with: Data(try node.client().get("/api/v1/search?q=laptop").body)) as? [String: Any]
        XCTAssertFalse((laptops?["products"] as? [Any] ?? []).isEmpty)
        XCTAssertEqual(try runExecutable("nodectl", ["catalog", "demo", "--products", "0", "--data-dir", node.dataDirectory]).status, 64)
    }
}
