import ArgumentParser
import Foundation

extension NodeCtl {
    struct Reports: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reports",
            abstract: "Sales figures this node holds: per window, or the best sellers.",
            subcommands: [Sales.self, Products.self])
    }
}

extension NodeCtl.Reports {
    /// The range and filters both reports take.
    struct Scope: ParsableArguments {
        @Option(name: .long, help: "Start, UTC ISO 8601 (default: the start of today).") var from: String?
        @Option(name: .long, help: "End, exclusive (default: now).") var to: String?
        @Option(name: .long, help: "web or till.") var channel: String?
        @Option(name: .long, help: "A store's node id.") var store: String?
        @Option(name: .long, help: "A region.") var region: String?
        @Flag(name: .long, help: "Print CSV instead of a table.") var csv = false

        var query: [(String, String)] {
            [("from", from), ("to", to), ("channel", channel), ("store", store), ("region", region)].compactMap { name, value in value.map { (name, $0) } }
                + (csv ? [("format", "csv")] : [])
        }
    }

    static func path(_ base: String, _ items: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:")
        return base + "?" + items.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $1)" }.joined(separator: "&")
    }

    struct Sales: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Orders, revenue, refunds and payment mix per window (money in minor units).")
        @OptionGroup var connection: NodeConnection
        @OptionGroup var scope: Scope
        @Option(name: .long, help: "5m, 1h or 1d.") var window = "1h"
        @Option(name: .long, help: "total, channel, store or region.") var by = "total"

        func run() throws {
            try reportingFailures {
                let response = try connection.admin("GET", NodeCtl.Reports.path("/admin/v1/reports/sales", scope.query + [("window", window), ("by", by)]))
                if scope.csv { return print(response.text, terminator: "") }
                let reply = try jsonObject(response)
                let columns = ["orders", "units", "gross", "discounts", "tax", "refunds", "net", "average_order_value", "cash", "card", "card_offline"]
                func row(_ w: [String: Any], first: String) -> [String] {
                    [first] + (by == "total" ? [] : [w[by] as? String ?? ""]) + [w["currency"] as? String ?? ""] + columns.map { String(w[$0] as? Int ?? 0) }
                }
                let header = ["WINDOW"] + (by == "total" ? [] : [by.uppercased()]) + ["CUR"] + columns.map { $0 == "average_order_value" ? "AOV" : $0.uppercased() }
                var rows = (reply["windows"] as? [[String: Any]] ?? []).map { row($0, first: $0["start"] as? String ?? "") }
                rows += (reply["totals"] as? [[String: Any]] ?? []).map { row($0, first: "TOTAL") }
                print(rows.isEmpty ? "Nothing sold from \(reply["from"] as? String ?? "?") to \(reply["to"] as? String ?? "?")." : Columns.render(header: header, rows: rows))
            }
        }
    }

    struct Products: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The best sellers by revenue (minor units).")
        @OptionGroup var connection: NodeConnection
        @OptionGroup var scope: Scope
        @Option(name: .long, help: "product or category.") var by = "product"
        @Option(name: .long, help: "1 to 100.") var limit = 10

        func run() throws {
            try reportingFailures {
                let response = try connection.admin("GET", NodeCtl.Reports.path("/admin/v1/reports/products", scope.query + [("by", by), ("limit", String(limit))]))
                if scope.csv { return print(response.text, terminator: "") }
                let rows = (try jsonObject(response)["products"] as? [[String: Any]] ?? []).map { p -> [String] in
                    [p[by] as? String ?? "", p["name"] as? String ?? "", p["currency"] as? String ?? "", String(p["units"] as? Int ?? 0),
                     String(p["revenue"] as? Int ?? 0), String(p["returned_units"] as? Int ?? 0)]
                }
                print(rows.isEmpty ? "Nothing sold in that range." : Columns.render(header: [by.uppercased(), "NAME", "CUR", "UNITS", "REVENUE", "RETURNED"], rows: rows))
            }
        }
    }
}
