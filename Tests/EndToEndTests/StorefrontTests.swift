import Foundation
import HTTP
import NodeTesting
import XCTest

/// The storefront as a shopper uses it: headless Chromium loads each page from a real noded, the
/// test reads what Chromium built and follows its links and forms. Screenshots are saved outside
/// git (the path is printed).
final class StorefrontTests: XCTestCase {
    private var browser: HeadlessBrowser!

    override func setUpWithError() throws {
        guard let browser = HeadlessBrowser() else {
            // .ci/setup installs chromium; without it these tests cannot say anything.
            throw XCTSkip("chromium is not installed: run bash .ci/setup")
        }
        self.browser = browser
    }

    /// Computers > Laptops, Kitchen; a laptop in two colours with stock for one, another laptop,
    /// a desktop, a mug whose name holds markup, and a draft.
    private func shop() throws -> NodeProcess {
        let node = try NodeProcess.start(config: "[node]\nid = \"berlin\"\nregion = \"eu\"\nlocale = \"en\"\n[storefront]\nname = \"Test Shop\"\n")
        for (id, body) in [("computers", #"{"name": {"en": "Computers", "de": "Computer"}}"#),
                           ("laptops", #"{"name": {"en": "Laptops", "de": "Notebooks"}, "parent": "computers"}"#),
                           ("kitchen", #"{"name": {"en": "Kitchen"}, "position": 2}"#)] {
            XCTAssertEqual(try node.adminSend("PUT", "/admin/v1/catalog/categories/\(id)", body).status, 200)
        }
        func variant(_ sku: String, _ colour: String, _ amount: Int, barcode: String? = nil) -> String {
            #"{"sku": "\#(sku)", \#(barcode.map { "\"barcode\": \"\($0)\"," } ?? "") "attributes": {"colour": "\#(colour)"}, "prices": [{"region": "eu", "currency": "EUR", "amount": \#(amount)}]}"#
        }
        let products = [
            #"{"id": "ultrabook-13", "status": "active", "featured": true, "category": "laptops", "name": {"en": "Ultrabook 13 Laptop", "de": "Ultrabook 13 Notebook"}, "description": {"en": "A light laptop for travel."}, "attributes": {"brand": "Acme"}, "images": ["/images/laptops.svg"], "variants": [\#(variant("UB13-BLK", "black", 129_900, barcode: "4006381333931")), \#(variant("UB13-SLV", "silver", 134_900))]}"#,
            #"{"id": "gamer-17", "status": "active", "category": "laptops", "name": {"en": "Gamer 17 Laptop"}, "attributes": {"brand": "Zeta"}, "variants": [\#(variant("GM17-RED", "red", 219_900))]}"#,
            #"{"id": "desktop-tower", "status": "active", "category": "computers", "name": {"en": "Desktop Tower"}, "attributes": {"brand": "Acme"}, "variants": [\#(variant("DT-1", "black", 99_900))]}"#,
            #"{"id": "mug", "status": "active", "category": "kitchen", "name": {"en": "Sneaky <img src=x onerror=alert(1)> Mug"}, "description": {"en": "Tea & \"coffee\""}, "variants": [\#(variant("MUG-1", "white", 1_290))]}"#,
            #"{"id": "draft-thing", "status": "draft", "category": "laptops", "name": {"en": "Secret Laptop"}, "variants": [\#(variant("SECRET", "black", 100))]}"#,
        ]
        for body in products {
            let created = try node.adminPost("/admin/v1/catalog/products", body)
            XCTAssertEqual(created.status, 201, created.text)
        }
        XCTAssertEqual(try node.adminPost("/admin/v1/replicated/inventory/UB13-BLK@berlin", #"{"op":"increment","units":3}"#).status, 200)
        XCTAssertEqual(try node.adminPost("/admin/v1/replicated/inventory/DT-1@berlin", #"{"op":"increment","units":40}"#).status, 200)
        return node
    }

    func testAShopperBrowsesFromHomeToACategoryToAProduct() throws {
        let node = try shop()
        let home = try browser.open(node.baseURL + "/")
        XCTAssertEqual(home.title, "Test Shop")
        XCTAssertEqual(home.elements("h1").first?.text, "Welcome to Test Shop")
        XCTAssertTrue(home.linkTexts.contains("Computers 3 products"), "categories with their counts (descendants included): \(home.linkTexts)")
        XCTAssertEqual(home.texts(class: "name").first, "Ultrabook 13 Laptop", "featured first")
        try browser.screenshot(home.url, name: "storefront-home")

        // The category page lists its descendants' products, with filters as links.
        let computers = try browser.open(home.link("Computers"))
        XCTAssertEqual(computers.elements("h1").first?.text, "Computers")
        XCTAssertEqual(Set(computers.texts(class: "name")), ["Ultrabook 13 Laptop", "Gamer 17 Laptop", "Desktop Tower"], "no draft, no kitchen")
        XCTAssertTrue(computers.linkTexts.contains("Laptops"), "subcategory facet")
        XCTAssertEqual(computers.texts(class: "stock").sorted(), ["In stock", "Low stock: 3 left here", "Out of stock"].sorted())
        let red = try browser.open(computers.link("red"))
        XCTAssertEqual(red.texts(class: "name"), ["Gamer 17 Laptop"], "a colour filter narrows the list")
        XCTAssertTrue(red.linkTexts.contains("✓ red"), "the chosen filter is marked")
        XCTAssertEqual(Set(try browser.open(red.link("Clear all filters")).texts(class: "name")).count, 3)

        // Sorting is a form: it keeps the filters and works without JavaScript.
        let byPrice = try browser.open(computers.submit(formWithClass: "sort", ["sort": "-price"]))
        XCTAssertEqual(byPrice.texts(class: "name"), ["Gamer 17 Laptop", "Ultrabook 13 Laptop", "Desktop Tower"])
        XCTAssertEqual(byPrice.texts(class: "price"), ["€2,199.00", "from €1,299.00", "€999.00"], "prices in the shopper's locale, from the cheapest variant")
        try browser.screenshot(byPrice.url, name: "storefront-category")
        try browser.screenshot(byPrice.url, name: "storefront-category-phone", width: 390, height: 844)

        // A product page: price, stock here and variants; choosing a variant is a link.
        let product = try browser.open(byPrice.link("Ultrabook 13 Laptop"))
        XCTAssertEqual(product.title, "Ultrabook 13 Laptop · Test Shop")
        XCTAssertEqual(product.elements("p", class: "price").first?.text, "€1,299.00")
        XCTAssertEqual(product.elements("p", class: "stock").first?.text, "Low stock: 3 left here")
        XCTAssertEqual(product.elements("p", class: "sku").first?.text, "SKU UB13-BLK · EAN/UPC 4006381333931")
        XCTAssertEqual(product.elements("nav", class: "crumbs").first?.text, "Home Computers Laptops Ultrabook 13 Laptop")
        try browser.screenshot(product.url, name: "storefront-product")
        let silver = try browser.open(product.link("silver"))
        XCTAssertEqual(silver.elements("p", class: "price").first?.text, "€1,349.00")
        XCTAssertEqual(silver.elements("p", class: "stock").first?.text, "Out of stock")

        // A page follows the catalog: an admin's change shows at once (the page cache lets go).
        XCTAssertEqual(try node.adminSend("PATCH", "/admin/v1/catalog/products/ultrabook-13", #"{"name": {"en": "Ultrabook 13 Pro"}}"#).status, 200)
        XCTAssertEqual(try browser.open(product.url).elements("h1").first?.text, "Ultrabook 13 Pro")
        print("storefront screenshots in \(browser.screenshotDirectory)")
    }

    func testSearchKeepsTheQueryCorrectsTyposAndOffersSuggestions() throws {
        let node = try shop()
        let home = try browser.open(node.baseURL + "/")
        let results = try browser.open(home.submit(formWithClass: "search", ["q": "lapotp"]))
        XCTAssertTrue(results.html.contains("value=\"lapotp\""), "the search box keeps what was typed")
        XCTAssertEqual(results.elements("p", class: "notice").first?.text, "Showing results for laptop.")
        XCTAssertEqual(Set(results.texts(class: "name")), ["Ultrabook 13 Laptop", "Gamer 17 Laptop"])
        try browser.screenshot(results.url, name: "storefront-search")

        let partial = try browser.open(home.submit(formWithClass: "search", ["q": "lap"]))
        XCTAssertTrue(partial.elements("p", class: "suggestions").first?.text.contains("laptop") == true,
                      "a partial word is offered its completions: \(partial.elements("p", class: "suggestions"))")
        XCTAssertTrue(try browser.open(partial.link("laptop")).texts(class: "name").contains("Gamer 17 Laptop"))

        let nothing = try browser.open(home.submit(formWithClass: "search", ["q": "zzqx"]))
        XCTAssertEqual(nothing.elements("p", class: "empty").first?.text, "No products match “zzqx”.")

        // Pages: the next page carries the query; the first page is a link away.
        let first = try browser.open(node.baseURL + "/search?q=laptop&limit=1")
        let second = try browser.open(first.link("Next page »"))
        XCTAssertNotEqual(first.texts(class: "name"), second.texts(class: "name"))
        XCTAssertTrue(second.html.contains("value=\"laptop\""))
        XCTAssertEqual(try browser.open(second.link("« First page")).texts(class: "name"), first.texts(class: "name"))
    }

    func testDataIsEscapedAndMissingPagesSayWhatIsMissing() throws {
        let node = try shop()
        let kitchen = try browser.open(node.baseURL + "/categories/kitchen")
        XCTAssertEqual(kitchen.texts(class: "name"), ["Sneaky <img src=x onerror=alert(1)> Mug"], "markup in data is shown as text")
        XCTAssertFalse(kitchen.html.contains("<img src=\"x\""), "no element was made from data")
        let mug = try browser.open(kitchen.link("Sneaky <img src=x onerror=alert(1)> Mug"))
        XCTAssertEqual(mug.elements("p", class: "description").first?.text, "Tea & \"coffee\"")
        let hostile = try browser.open(node.baseURL + "/search?q=%22%3E%3Cscript%3Edocument.title%3D1%3C%2Fscript%3E")
        XCTAssertTrue(hostile.title.hasPrefix("Results for"), "a query cannot run script: \(hostile.title)")

        let client = try node.client()
        for path in ["/products/draft-thing", "/products/nope", "/categories/nowhere"] {
            let missing = try client.get(path)
            XCTAssertEqual(missing.status, 404, path)
            XCTAssertEqual(missing.headers["content-type"], "text/html; charset=utf-8")
            XCTAssertTrue(missing.text.contains("<h1>Not found</h1>"), path)
        }
        let bad = try client.get("/categories/computers?sort=cheapest")
        XCTAssertEqual(bad.status, 400)
        XCTAssertTrue(bad.text.contains("sort must be one of"), "the page says what was wrong")

        // Pages are cacheable like the API: ETag, 304, and one copy per language.
        let page = try client.get("/products/ultrabook-13")
        XCTAssertEqual(page.headers["vary"], "Accept-Language")
        XCTAssertEqual(try client.get("/products/ultrabook-13", headers: [("If-None-Match", try XCTUnwrap(page.headers["etag"]))]).status, 304)
        let german = try client.get("/products/ultrabook-13", headers: [("Accept-Language", "de-DE,de;q=0.9")])
        XCTAssertTrue(german.text.contains("Ultrabook 13 Notebook") && german.text.contains("1.299,00"), "German names and prices")
        XCTAssertTrue(try client.get("/static/storefront.css").headers["content-type"]?.hasPrefix("text/css") == true)
    }
}
