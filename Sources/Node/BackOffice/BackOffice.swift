import Commerce
import HTTP
import Platform

/// Renders the back office's pages (`BackOfficeTemplates`) from view data, and reads the JSON
/// the node's API answered a page's request with.
enum BackOffice {
    typealias View = [String: Any]

    /// Parsed once; a template that does not parse is a bug in this binary, caught by every test
    /// that renders a page.
    static let library = CompiledTemplates.library(BackOfficeTemplates.all, of: "back-office")

    static func render(_ template: String, _ view: View) -> [UInt8] {
        CompiledTemplates.render(library, template, view, of: "back-office")
    }

    /// What a role is called on the pages.
    static func roleName(_ role: String) -> String {
        switch role {
        case "store_manager": "store manager"
        case "hub_admin": "hub admin"
        default: role
        }
    }

    /// A table's view (`office-table`): `rows` of cells, each a text or (text, link).
    static func table(_ caption: String?, _ headers: [String], _ rows: [[Cell]], empty: String) -> View {
        var view: View = ["headers": headers, "columns": headers.count, "empty": empty,
                          "rows": rows.map { ["cells": $0.map(\.view)] as View }]
        if let caption { view["caption"] = caption }
        return view
    }

    struct Cell {
        var text: String
        var href: String?
        var style: String?

        init(_ text: String, href: String? = nil, style: String? = nil) {
            self.text = text
            self.href = href
            self.style = style
        }

        static func number(_ value: Int64) -> Cell { Cell(String(value), style: "num") }

        var view: View {
            var view: View = ["text": text]
            if let href { view["href"] = href }
            if let style { view["class"] = style }
            return view
        }
    }

    /// The JSON body of an API answer.
    static func json(_ response: Response) -> LooseJSON? { LooseJSON.parse(response.body) }

    /// What a refusal from the API says, for a page: its detail (which names each bad field).
    static func refusalText(_ response: Response) -> String {
        guard let problem = json(response) else { return "the node answered \(response.status)" }
        return problem["detail"]?.text ?? problem["title"]?.text ?? "the node answered \(response.status)"
    }
}

extension LooseJSON {
    /// A member of an object.
    subscript(_ name: String) -> LooseJSON? {
        if case .object(let members) = self { members[name] } else { nil }
    }

    var text: String? { if case .string(let value) = self { value } else { nil } }
    var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    var items: [LooseJSON] { if case .array(let items) = self { items } else { [] } }
    var flag: Bool? { if case .bool(let value) = self { value } else { nil } }

    /// The value as text for a table cell: strings as they are, numbers in digits, nothing for null.
    var cellText: String {
        switch self {
        case .null: ""
        case .bool(let value): value ? "yes" : "no"
        case .integer(let value): String(value)
        case .number(let value): String(value)
        case .string(let value): value
        case .array(let items): items.map(\.cellText).joined(separator: ", ")
        case .object: "…"
        }
    }
}
