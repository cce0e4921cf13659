import Commerce
import Foundation
import HTTP
import Mustache
import Platform

/// Renders the storefront's pages from view data: plain dictionaries and arrays of strings,
/// booleans and nested dictionaries, so what a template can show is decided here, not there.
enum Storefront {
    typealias View = [String: Any]

    /// Parsed once. A template that does not parse is a bug in this binary, caught by every test
    /// that renders a page.
    static let library = CompiledTemplates.library(StorefrontTemplates.all, of: "storefront")

    static func render(_ template: String, _ view: View) -> [UInt8] {
        CompiledTemplates.render(library, template, view, of: "storefront")
    }

    static let htmlContentType = "text/html; charset=utf-8"

    /// `path?name=value&...` with names and values percent-encoded.
    static func href(_ path: String, _ items: [(name: String, value: String)]) -> String {
        guard !items.isEmpty else { return path }
        return path + "?" + items.map { PercentEncoding.encode($0.name) + "=" + PercentEncoding.encode($0.value) }.joined(separator: "&")
    }

    /// A path segment (an id) percent-encoded.
    static func segment(_ text: String) -> String { PercentEncoding.encode(text) }

    /// What a shopper reads about a variant's stock here.
    static func stockLabel(_ state: CatalogJSON.StockState, here: Int64) -> String {
        switch state {
        case .inStock: "In stock"
        case .lowStock: "Low stock: \(here) left here"
        case .onRequest: "Available on request"
        case .outOfStock: "Out of stock"
        }
    }

    /// A placeholder picture for an image path the node has no file for (the demo catalog's
    /// `/images/NAME.svg`): a tinted tile with the name, so pages look whole offline.
    static func placeholderImage(named name: String) -> [UInt8] {
        let hue = FNV1a.hash(name.utf8) % 360
        let label = name.replacingOccurrences(of: "-", with: " ").capitalized
            .replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        return Array("""
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 240" role="img" aria-label="\(label)">\
            <rect width="320" height="240" fill="hsl(\(hue),45%,88%)"/>\
            <circle cx="160" cy="105" r="48" fill="hsl(\(hue),45%,70%)"/>\
            <text x="160" y="200" font-family="sans-serif" font-size="22" text-anchor="middle" fill="hsl(\(hue),40%,30%)">\(label)</text></svg>
            """.utf8)
    }
}

/// Mustache templates compiled into the binary (the storefront's, the back office's), parsed
/// into a library once.
enum CompiledTemplates {
    static func library(_ templates: [String: String], of what: String) -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in templates {
            do { try library.register(text, named: name) } catch { preconditionFailure("\(what) template \(name): \(error)") }
        }
        return library
    }

    static func render(_ library: MustacheLibrary, _ template: String, _ view: [String: Any], of what: String) -> [UInt8] {
        guard let html = library.render(view, withTemplate: template) else { preconditionFailure("no \(what) template \(template)") }
        return Array(html.utf8)
    }
}

/// Prices as a shopper in a locale reads them ("€1,299.00", "1.299,00 €"). Formatters are costly
/// to make, so each (locale, currency) keeps one; pages are cached, so this runs on misses only.
/// Loop-only, like the node that owns it.
final class PriceText {
    private var formatters: [String: NumberFormatter] = [:]

    func format(_ amount: Int64, currency: String, locale: String) -> String {
        let key = locale + "|" + currency
        let formatter: NumberFormatter
        if let existing = formatters[key] {
            formatter = existing
        } else {
            formatter = NumberFormatter()
            formatter.locale = Locale(identifier: locale.replacingOccurrences(of: "-", with: "_"))
            formatter.numberStyle = .currency
            formatter.currencyCode = currency
            // ICU keeps the locale currency's digits; the amount's currency decides them.
            formatter.minimumFractionDigits = Price.minorUnitDigits(currency)
            formatter.maximumFractionDigits = Price.minorUnitDigits(currency)
            if formatters.count > 256 { formatters.removeAll() }
            formatters[key] = formatter
        }
        let digits = formatter.maximumFractionDigits
        var scale = Decimal(1)
        for _ in 0..<digits { scale *= 10 }
        let value = Decimal(amount) / scale
        return formatter.string(from: value as NSDecimalNumber) ?? "\(currency) \(value)"
    }
}
