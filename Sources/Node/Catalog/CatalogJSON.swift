import Commerce
import HTTP
import Platform

/// How catalog entries look in JSON: whole for admins (every locale and region), localised for
/// shoppers (their locale, this node's region's prices, stock as this node sees it).
enum CatalogJSON {
    static func texts(_ texts: [String: String]) -> JSONValue {
        .object(texts.sorted { $0.key < $1.key }.map { JSONMember($0.key, .string($0.value)) })
    }

    static func attributes(_ attributes: [String: String]) -> JSONValue { texts(attributes) }

    static func price(_ price: Price) -> JSONValue {
        .object([JSONMember("region", .string(price.region)), JSONMember("currency", .string(price.currency)), JSONMember("amount", .int(price.amount))])
    }

    static func admin(_ product: Product) -> JSONValue {
        var members: [JSONMember] = [
            JSONMember("id", .string(product.id)), JSONMember("status", .string(product.status.rawValue)),
            JSONMember("category", product.category.map { .string($0) } ?? .null), JSONMember("featured", .bool(product.featured)),
            JSONMember("name", texts(product.names)), JSONMember("description", texts(product.descriptions)),
            JSONMember("attributes", attributes(product.attributes)), JSONMember("images", .array(product.images.map { .string($0) })),
        ]
        members.append(JSONMember("variants", .array(product.variants.map { variant in
            .object([
                JSONMember("sku", .string(variant.sku)), JSONMember("barcode", variant.barcode.map { .string($0) } ?? .null),
                JSONMember("attributes", attributes(variant.attributes)), JSONMember("prices", .array(variant.prices.map(price))),
            ])
        })))
        members.append(JSONMember("created_at", .string(WallClock.iso8601(ms: product.createdMs))))
        return .object(members)
    }

    /// What a shopper sees of one variant's stock on this node.
    enum StockState: String {
        case inStock = "in_stock", lowStock = "low_stock", onRequest = "available_on_request", outOfStock = "out_of_stock"

        /// Units this node may sell decide "here"; stock elsewhere in the fleet can be asked for.
        init(available: Int64, here: Int64) {
            if here > Self.lowStockUnits { self = .inStock } else if here > 0 { self = .lowStock } else if available > 0 { self = .onRequest } else { self = .outOfStock }
        }

        static let lowStockUnits: Int64 = 5
    }

    /// A product's rating as shoppers read it: the average to one decimal and how many approved
    /// reviews it is over; null before the first.
    static func rating(_ rating: ReviewBook.Rating?) -> JSONValue {
        guard let rating, rating.count > 0 else { return .null }
        return .object([JSONMember("average", .double(rating.average)), JSONMember("count", .int(rating.count))])
    }

    static func shopper(_ product: Product, locale: String, fallback: String, region: String, rating: ReviewBook.Rating? = nil,
                        stock: (String) -> (available: Int64, here: Int64)) -> JSONValue {
        let variants: [JSONValue] = product.variants.map { variant in
            let prices = variant.prices(in: region)
            let units = stock(variant.sku)
            return .object([
                JSONMember("sku", .string(variant.sku)), JSONMember("barcode", variant.barcode.map { .string($0) } ?? .null),
                JSONMember("attributes", attributes(variant.attributes)),
                JSONMember("price", prices.first.map { .object([JSONMember("amount", .int($0.amount)), JSONMember("currency", .string($0.currency))]) } ?? .null),
                JSONMember("stock", .string(StockState(available: units.available, here: units.here).rawValue)),
            ])
        }
        let cheapest = product.variants.flatMap { $0.prices(in: region) }.min { $0.amount < $1.amount }
        return .object([
            JSONMember("id", .string(product.id)),
            JSONMember("name", .string(Product.localized(product.names, locale, fallback: fallback) ?? product.id)),
            JSONMember("description", Product.localized(product.descriptions, locale, fallback: fallback).map { .string($0) } ?? .null),
            JSONMember("category", product.category.map { .string($0) } ?? .null), JSONMember("featured", .bool(product.featured)),
            JSONMember("attributes", attributes(product.attributes)), JSONMember("images", .array(product.images.map { .string($0) })),
            JSONMember("price_from", cheapest.map { .object([JSONMember("amount", .int($0.amount)), JSONMember("currency", .string($0.currency))]) } ?? .null),
            JSONMember("rating", Self.rating(rating)),
            JSONMember("variants", .array(variants)),
            JSONMember("created_at", .string(WallClock.iso8601(ms: product.createdMs))),
        ])
    }

    static func facets(_ facets: Facets) -> JSONValue {
        var attributes: [String: [JSONValue]] = [:]
        for entry in facets.attributes {
            attributes[entry.name, default: []].append(.object([JSONMember("value", .string(entry.value)), JSONMember("count", .int(Int64(entry.count)))]))
        }
        return .object([
            JSONMember("categories", .array(facets.categories.map { .object([JSONMember("id", .string($0.id)), JSONMember("count", .int(Int64($0.count)))]) })),
            JSONMember("attributes", .object(attributes.sorted { $0.key < $1.key }.map { JSONMember($0.key, .array($0.value)) })),
            JSONMember("prices", .array(facets.prices.map { band in
                .object([JSONMember("from", .int(band.from)), JSONMember("to", band.to.map { .int($0) } ?? .null), JSONMember("count", .int(Int64(band.count)))])
            })),
        ])
    }
}

extension Response {
    /// A strong validator for a body: FNV-1a of its bytes (a validator, not a secret).
    static func etag(of body: [UInt8]) -> String {
        "\"" + String(Fingerprint.of(body), radix: 16) + "\""
    }

    /// Catalog answers carry a validator: an `If-None-Match` that matches gets 304 and no body.
    /// Answers depend on the shopper's language (`Accept-Language`), so shared caches must keep
    /// one per language.
    static func cacheable(_ body: [UInt8], etag: String, for request: Request, contentType: String = Response.jsonContentType,
                          maxAgeSeconds: Int = 15) -> Response {
        var headers = HTTPHeaders()
        headers.set("ETag", etag)
        // 0: a browser keeps the page but asks each time (a 304 when nothing changed).
        headers.set("Cache-Control", maxAgeSeconds == 0 ? "no-cache" : "public, max-age=\(maxAgeSeconds)")
        headers.set("Vary", "Accept-Language")
        if let match = request.headers["if-none-match"], match == "*" || match.split(separator: ",").contains(where: {
            let tag = $0.trimmingCharacters(in: .whitespaces)
            return tag == etag || tag == "W/" + etag
        }) {
            return Response(status: 304, headers: headers)
        }
        return Response(status: 200, contentType: contentType, headers: headers, body: body)
    }
}

/// Catalog entries as the admin API takes them: what `nodectl catalog` sends.
public enum CatalogInput {
    /// One line of an import (no `created_at`: the node sets it).
    public static func product(_ product: Product) -> [UInt8] {
        guard case .object(let members) = CatalogJSON.admin(product) else { return [] }
        return JSONValue.object(members.filter { $0.key != "created_at" }).encoded()
    }

    /// The body of `PUT /admin/v1/catalog/categories/{id}`.
    public static func category(_ category: Category) -> [UInt8] {
        JSONValue.object([JSONMember("name", CatalogJSON.texts(category.names)), JSONMember("parent", category.parent.map { .string($0) } ?? .null),
                          JSONMember("position", .int(category.position))]).encoded()
    }
}
