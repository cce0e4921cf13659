import Commerce
import Foundation
import HTTP
import Platform
import Replication

/// One bad line of an import.
struct ImportError {
    var line: Int
    var field: String
    var reason: String

    var json: JSONValue {
        .object([JSONMember("line", .int(Int64(line))), JSONMember("field", .string(field)), JSONMember("reason", .string(reason))])
    }
}

extension OutpostNode {
    static let importBytesMax = 512 << 20
    /// The reply lists at most this many errors (and says how many there were).
    static let importErrorsListed = 10_000

    /// `POST /admin/v1/catalog/import`: JSON Lines, one product per line, all or nothing.
    ///
    /// Lines are parsed on the thread pool; validation (which reads the catalog's tables) and the
    /// commit run on the loop, in one transaction, so other writes wait for an import.
    func registerCatalogImportRoute() {
        router.add("POST", "/admin/v1/catalog/import", access: .roles(["catalog_admin"]), bodyBytesMax: Self.importBytesMax, spoolsBody: true, doc: RouteDoc(
            operationId: "importProducts", summary: "Create or replace many products at once: all of them, or none.",
            description: """
                Body: JSON Lines (application/x-ndjson), one product per line as POST /admin/v1/catalog/products takes it. \
                A product that exists is replaced whole (its creation time kept). If any line is bad nothing changes and \
                the 422 problem lists every bad line in `errors` (line, field, reason).
                """,
            tags: ["catalog"], requestBody: .init(0, "Products, one JSON object per line.", contentType: "application/x-ndjson", schema: ["type": "string"]),
            replies: [
                .init(200, "Imported: counts of created and replaced products.", schema: ["type": "object"]),
                .init(422, "Bad lines; nothing imported.", contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef),
            ])
        ) { [unowned self] request, responder in
            // The body is on disk (a spool), never in memory whole. Parsed in parts on the thread
            // pool (its threads run them side by side), each part read in chunks, then put back in
            // file order on the loop.
            let started = EventLoop.hrtimeNs()
            guard let file = request.bodyFile else { return importProducts([], startedNs: started, responder: responder) }
            loop.queueWork({ try? Self.parts(ofFile: file, count: 4) }, completion: { [unowned self] result in
                guard case .success(let parts?) = result else {
                    return responder.fail(HTTPError(.internalError, detail: "the upload could not be read back"))
                }
                let gathered = ParsedParts(count: parts.count)
                for (index, range) in parts.enumerated() {
                    loop.queueWork({ try? Self.parseLines(file: file, range: range) }, completion: { [unowned self] result in
                        guard case .success(let part?) = result else { return gathered.fail(responder) }
                        gathered.parts[index] = part
                        gathered.remaining -= 1
                        guard gathered.remaining == 0, !gathered.failed else { return }
                        var all: [(line: Int, json: Result<LooseJSON, ImportParseError>)] = []
                        var offset = 0
                        for part in gathered.parts {
                            all += part.lines.map { (offset + $0.line, $0.json) }
                            offset += part.lineCount
                        }
                        importProducts(all, startedNs: started, responder: responder)
                    })
                }
            })
        }
    }

    /// Ranges of the file that end at line ends (blocking reads: the work queue's).
    private static func parts(ofFile file: String, count: Int) throws -> [Range<Int>] {
        let size = Int(Files.size(file))
        var ranges: [Range<Int>] = []
        var start = 0
        for part in 1...count {
            var end = part == count ? size : max(start, size * part / count)
            if end > 0 && end < size {
                // Move the cut just past the next newline at or after end - 1.
                var found: Int?, position = end - 1
                try Files.readChunks(file, from: position, chunkBytes: 64 << 10) { chunk in
                    if let newline = chunk.firstIndex(of: UInt8(ascii: "\n")) { found = position + (newline - chunk.startIndex) + 1 }
                    position += chunk.count
                    return found == nil
                }
                end = found ?? size
            }
            if end > start { ranges.append(start..<end) }
            start = max(start, end)
        }
        return ranges.isEmpty ? [0..<0] : ranges
    }

    /// Each non-empty line of the file's range as JSON, or why it is not; line numbers from 1
    /// within the part. Read in chunks: a line may span two.
    private static func parseLines(file: String, range: Range<Int>) throws -> (lines: [(line: Int, json: Result<LooseJSON, ImportParseError>)], lineCount: Int) {
        var out: [(Int, Result<LooseJSON, ImportParseError>)] = []
        var lineNumber = 0
        var carry: [UInt8] = []
        func take(_ line: ArraySlice<UInt8>) {
            lineNumber += 1
            let trimmed = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            if trimmed.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { return }
            if let json = LooseJSON.parse(trimmed) { out.append((lineNumber, .success(json))) } else {
                out.append((lineNumber, .failure(ImportParseError())))
            }
        }
        try Files.readChunks(file, from: range.lowerBound, limit: range.count) { chunk in
            var rest = chunk
            while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
                if carry.isEmpty { take(rest[..<newline]) } else {
                    carry += rest[..<newline]
                    take(carry[...])
                    carry.removeAll(keepingCapacity: true)
                }
                rest = rest[(newline + 1)...]
            }
            carry += rest
            return true
        }
        if !carry.isEmpty { take(carry[...]) }  // a last line without its newline
        return (out, lineNumber)
    }

    private func importProducts(_ lines: [(line: Int, json: Result<LooseJSON, ImportParseError>)], startedNs: UInt64, responder: Responder) {
        let parsedNs = EventLoop.hrtimeNs()
        let catalog = self.catalog, replica = self.replica, me = identity.nodeId
        let products: [Product], existing: Set<String>, errors: [ImportError]
        do { (products, existing, errors) = try validateImport(lines) } catch { return responder.fail(error) }
        guard errors.isEmpty else {
            var error = HTTPError(.validation, detail: "\(errors.count) problem\(errors.count == 1 ? "" : "s") on \(Set(errors.map(\.line)).count) line(s); nothing was imported")
            error.problem.extensions = [("errors", .array(errors.prefix(Self.importErrorsListed).map(\.json))), ("errors_total", .int(Int64(errors.count)))]
            return responder.fail(error)
        }
        let validatedNs = EventLoop.hrtimeNs()
        var committingNs: UInt64 = 0
        writer.submit({ _ in
            committingNs = EventLoop.hrtimeNs()
            var changes: [(key: String, delta: CatalogFields.Entry, at: HLCTimestamp)] = []
            var imported: [String: Product] = [:]
            changes.reserveCapacity(products.count)
            imported.reserveCapacity(products.count)
            let wallMs = WallClock.nowMs()
            for product in products {
                var entry = replica.state(at: product.id, in: Collections.catalog) ?? CatalogFields.Entry()
                let at = replica.tick(wallMs: wallMs)
                guard let delta = CatalogFields.delta(from: &entry, to: CatalogFields.fields(of: product), replica: me, at: at) else { continue }
                changes.append((product.id, delta, at))
                imported[product.id] = product
            }
            // The entries now hold exactly these products' fields (the deltas set every field
            // that differed and removed the rest), so the catalog's tables are written from the
            // products in hand rather than decoded back from the entries.
            try replica.commit(changes, in: Collections.catalog) { keys in
                try catalog.project(products: keys.map { ($0, imported[$0]) })
            }
        }, completion: { [unowned self] result in
            switch result {
            case .success:
                let committedNs = EventLoop.hrtimeNs()
                replicatedChanged()
                // Search reads the new products now, as part of the import, not on a shopper's
                // next search (a whole catalog takes seconds).
                do { try catalog.prepareSearch(nowMs: WallClock.nowMs()) } catch {
                    logger.error("search index not refreshed after an import", metadata: ["error": "\(error)"])
                }
                let ms = { (from: UInt64, to: UInt64) in Int64((to &- from) / 1_000_000) }
                logger.info("catalog imported", metadata: [
                    "products": "\(products.count)", "parse_ms": "\(ms(startedNs, parsedNs))", "validate_ms": "\(ms(parsedNs, validatedNs))",
                    "commit_ms": "\(ms(committingNs, committedNs))", "search_ms": "\(ms(committedNs, EventLoop.hrtimeNs()))",
                ])
                responder.send(.json(.object([JSONMember("imported", .int(Int64(products.count))),
                                              JSONMember("created", .int(Int64(products.count - existing.count))),
                                              JSONMember("replaced", .int(Int64(existing.count)))])))
                // The file and its parsed lines were hundreds of megabytes for a big catalog.
                loop.queueWork({ ProcessStats.returnFreeMemory() }, completion: { _ in })
            case .failure(let error):
                responder.fail(error)
            }
        })
    }
}

extension OutpostNode {
    /// Every line checked in one read transaction, against the catalog and the lines before it:
    /// the products, those that replace one already here, and every line's problems.
    private func validateImport(_ lines: [(line: Int, json: Result<LooseJSON, ImportParseError>)]) throws
        -> (products: [Product], existing: Set<String>, errors: [ImportError]) {
        var errors: [ImportError] = []
        var products: [Product] = []
        var existing = Set<String>()
        // SKUs, barcodes and ids claimed by earlier lines of the same file.
        var fileSkus: [String: String] = [:], fileBarcodes: [String: String] = [:], fileIds: [String: Int] = [:]
        // A product the file replaces holds only what its line gives it: its SKUs and barcodes
        // in the catalog are free for other lines (the first line to claim one gets it).
        var replacing = Set<String>()
        for case (_, .success(.object(let members))) in lines {
            if case .string(let id)? = members["id"] { replacing.insert(id) }
        }
        let base = catalog.lookup
        let lookup = CatalogLookup(
            skuOwner: { fileSkus[$0] ?? base.skuOwner($0).flatMap { replacing.contains($0) ? nil : $0 } },
            barcodeOwner: { fileBarcodes[$0] ?? base.barcodeOwner($0).flatMap { replacing.contains($0) ? nil : $0 } },
            categoryExists: base.categoryExists)
        let now = WallClock.nowMs()
        // In one read transaction: every line looks its SKUs and barcodes up.
        try database.reading {
            for (line, parsed) in lines {
                guard case .success(let json) = parsed else {
                    errors.append(ImportError(line: line, field: "", reason: "is not a JSON object"))
                    continue
                }
                let result = ProductInput.create(json, createdMs: now, lookup: lookup)
                switch result {
                case .failure(let failure):
                    errors += failure.errors.map { ImportError(line: line, field: $0.field, reason: $0.reason) }
                case .success(var product):
                    if let earlier = fileIds[product.id] {
                        errors.append(ImportError(line: line, field: "id", reason: "\(product.id) is on line \(earlier) too"))
                        continue
                    }
                    fileIds[product.id] = line
                    for variant in product.variants {
                        fileSkus[variant.sku] = product.id
                        if let barcode = variant.barcode { fileBarcodes[Barcode.normalized(barcode)] = product.id }
                    }
                    if let current = self.product(product.id) {
                        product.createdMs = current.createdMs
                        existing.insert(product.id)
                    }
                    products.append(product)
                }
            }
        }
        return (products, existing, errors)
    }
}

struct ImportParseError: Error {}

/// The parts of an import as their parsing finishes (on the loop).
private final class ParsedParts {
    var parts: [(lines: [(line: Int, json: Result<LooseJSON, ImportParseError>)], lineCount: Int)]
    var remaining: Int
    /// A part could not be read back: answered once, the other parts' results dropped.
    var failed = false

    func fail(_ responder: Responder) {
        guard !failed else { return }
        failed = true
        responder.fail(HTTPError(.internalError, detail: "the upload could not be read back"))
    }

    init(count: Int) {
        parts = Array(repeating: ([], 0), count: count)
        remaining = count
    }
}
