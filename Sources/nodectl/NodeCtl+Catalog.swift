import ArgumentParser
import Commerce
import CSV
import Foundation
import HTTP
import Node

extension NodeCtl {
    struct Catalog: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The node's catalog: import products, or load a generated demo catalog.", subcommands: [Import.self, Demo.self])
    }
}

/// A product to import and the file lines it came from, for reporting the node's findings.
struct ImportItem {
    var json: [UInt8]
    /// The line of the product's first row (JSON Lines: its line).
    var line: Int
    /// CSV: the line of each variant's row, in file order.
    var variantLines: [Int] = []

    /// The file line a node's error on `field` points at.
    func line(for field: String) -> Int {
        guard field.hasPrefix("variants["), let close = field.firstIndex(of: "]"),
              let index = Int(field[field.index(field.startIndex, offsetBy: 9)..<close]), index < variantLines.count else { return line }
        return variantLines[index]
    }
}

extension NodeCtl.Catalog {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import products from CSV or JSON Lines: all of them, or none.",
            discussion: """
                JSON Lines: one product per line, as POST /admin/v1/catalog/products takes it.
                CSV: a header row, then one row per variant; rows with the same id are one product, whose \
                product columns come from its first row. Columns: id, status, category, featured, images \
                (space-separated), name.LOCALE, description.LOCALE, attr.NAME; and per variant sku, barcode, \
                variant.NAME, price.REGION.CURRENCY (minor units). Lines count CSV records, the header being 1.
                Every bad line is reported (line, field, reason) and nothing is imported; the exit status is then 1.
                """)
        @OptionGroup var connection: NodeConnection
        @Argument(help: "The file: .csv, or .jsonl / .ndjson.") var file: String
        @Option(name: .long, help: "csv or jsonl; by default from the file's extension.") var format: String?

        func run() throws {
            try reportingFailures {
                guard let data = FileManager.default.contents(atPath: file) else { throw CLIFailure("cannot read \(file)") }
                let kind = format ?? (file.lowercased().hasSuffix(".csv") ? "csv" : "jsonl")
                let items: [ImportItem]
                switch kind {
                case "csv": items = try CSVProducts.items(from: String(decoding: data, as: UTF8.self))
                case "jsonl", "ndjson": items = Self.jsonLines(data)
                default: throw CLIFailure("--format must be csv or jsonl, not \(kind)")
                }
                try send(items, connection: connection, source: file)
            }
        }

        static func jsonLines(_ data: Data) -> [ImportItem] {
            var items: [ImportItem] = []
            for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
            where !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) {
                items.append(ImportItem(json: Array(line), line: index + 1))
            }
            return items
        }
    }

    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a generated catalog: the same categories and products for the same --products and --seed.")
        @OptionGroup var connection: NodeConnection
        @Option(name: .long, help: "How many products.") var products = 1_000
        @Option(name: .long, help: "Seed of the generator.") var seed: UInt64 = 1
        @Option(name: .long, help: "Regions to price in, comma-separated (eu: EUR, uk: GBP, others: USD).") var regions = "eu"

        func validate() throws {
            guard (1...1_000_000).contains(products) else { throw ValidationError("--products must be from 1 to 1000000") }
        }

        func run() throws {
            try reportingFailures {
                let demo = DemoCatalog(products: products, seed: seed, regions: regions.split(separator: ",").map(String.init))
                for category in demo.categories {
                    try connection.admin("PUT", "/admin/v1/catalog/categories/\(category.id)", json: CatalogInput.category(category))
                }
                let items = demo.products.enumerated().map { ImportItem(json: CatalogInput.product($1), line: $0 + 1) }
                try send(items, connection: connection, source: "the demo catalog")
            }
        }
    }
}

/// Sends products to the node's import and reports its answer.
func send(_ items: [ImportItem], connection: NodeConnection, source: String, report: (String) -> Void = { print($0) }) throws {
    var body: [UInt8] = []
    for item in items {
        body += item.json
        body.append(UInt8(ascii: "\n"))
    }
    let response = try connection.send("POST", "/admin/v1/catalog/import", body: body, contentType: "application/x-ndjson", timeoutMs: 600_000)
    if response.status == 200 {
        let counts = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
        report("imported \(counts["imported"] as? Int ?? items.count) products from \(source): \(counts["created"] as? Int ?? 0) created, \(counts["replaced"] as? Int ?? 0) replaced")
        return
    }
    guard response.status == 422, let problem = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
          let errors = problem["errors"] as? [[String: Any]] else {
        throw CLIFailure(NodeConnection.describe(response, url: connection.address))
    }
    for error in errors {
        let index = (error["line"] as? Int ?? 1) - 1  // the node's line: the product's position in what was sent
        let field = error["field"] as? String ?? ""
        let line = index < items.count ? items[index].line(for: field) : index + 1
        FileHandle.standardError.write(Data("\(source):\(line): \(field.isEmpty ? "" : field + ": ")\(error["reason"] as? String ?? "")\n".utf8))
    }
    let total = problem["errors_total"] as? Int ?? errors.count
    throw CLIFailure("\(total) problem\(total == 1 ? "" : "s") in \(source); nothing was imported")
}

/// CSV rows to product JSON, one row per variant.
enum CSVProducts {
    static let productColumns: Set<String> = ["id", "status", "category", "featured", "images"]
    static let variantColumns: Set<String> = ["sku", "barcode"]

    static func items(from text: String) throws -> [ImportItem] {
        let reader: CSVReader
        do { reader = try CSVReader(string: text, hasHeaderRow: true) } catch { throw CLIFailure("the CSV does not parse: \(error)") }
        guard let header = reader.headerRow else { throw CLIFailure("the CSV has no header row") }
        var problems: [String] = []
        for column in header where !(productColumns.contains(column) || variantColumns.contains(column) || column.hasPrefix("name.")
                                     || column.hasPrefix("description.") || column.hasPrefix("attr.") || column.hasPrefix("variant.")
                                     || (column.hasPrefix("price.") && column.split(separator: ".").count == 3)) {
            problems.append("line 1: column \"\(column)\" is not one an import knows")
        }
        guard header.contains("id") else { throw CLIFailure("line 1: an id column is required") }
        var order: [String] = []
        var products: [String: (product: [String: Any], variants: [[String: Any]], line: Int, variantLines: [Int])] = [:]
        var line = 1
        while let row = reader.next() {
            line += 1
            guard row.count == header.count else {
                problems.append("line \(line): \(row.count) fields, the header has \(header.count)")
                continue
            }
            var fields: [String: String] = [:]
            for (column, value) in zip(header, row) where !value.isEmpty { fields[column] = value }
            let id = fields["id"] ?? ""
            if products[id] == nil {
                order.append(id)
                var product: [String: Any] = ["id": id, "variants": [[String: Any]]()]
                var names: [String: String] = [:], descriptions: [String: String] = [:], attributes: [String: String] = [:]
                for (column, value) in fields {
                    switch column {
                    case "status", "category": product[column] = value
                    case "featured":
                        guard value == "true" || value == "false" else { problems.append("line \(line): featured: must be true or false"); continue }
                        product[column] = value == "true"
                    case "images": product[column] = value.split(separator: " ").map(String.init)
                    default:
                        if column.hasPrefix("name.") { names[String(column.dropFirst(5))] = value }
                        if column.hasPrefix("description.") { descriptions[String(column.dropFirst(12))] = value }
                        if column.hasPrefix("attr.") { attributes[String(column.dropFirst(5))] = value }
                    }
                }
                if !names.isEmpty { product["name"] = names }
                if !descriptions.isEmpty { product["description"] = descriptions }
                if !attributes.isEmpty { product["attributes"] = attributes }
                products[id] = (product, [], line, [])
            }
            var variant: [String: Any] = [:], attributes: [String: String] = [:], prices: [[String: Any]] = []
            for (column, value) in fields {
                if variantColumns.contains(column) { variant[column] = value }
                if column.hasPrefix("variant.") { attributes[String(column.dropFirst(8))] = value }
                if column.hasPrefix("price.") {
                    let parts = column.split(separator: ".")
                    guard let amount = Int64(value) else { problems.append("line \(line): \(column): \"\(value)\" is not a whole number of minor units"); continue }
                    prices.append(["region": String(parts[1]), "currency": String(parts[2]), "amount": amount])
                }
            }
            if !attributes.isEmpty { variant["attributes"] = attributes }
            variant["prices"] = prices
            products[id]?.variants.append(variant)
            products[id]?.variantLines.append(line)
        }
        if let error = reader.error { problems.append("line \(line + 1): \(error)") }
        guard problems.isEmpty else {
            for problem in problems { FileHandle.standardError.write(Data("\(problem)\n".utf8)) }
            throw CLIFailure("\(problems.count) problem\(problems.count == 1 ? "" : "s") in the CSV; nothing was imported")
        }
        return try order.compactMap { id in
            guard var entry = products[id] else { return nil }
            entry.product["variants"] = entry.variants
            let json = try JSONSerialization.data(withJSONObject: entry.product, options: [.sortedKeys])
            return ImportItem(json: Array(json), line: entry.line, variantLines: entry.variantLines)
        }
    }
}
