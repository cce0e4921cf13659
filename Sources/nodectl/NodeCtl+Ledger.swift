import ArgumentParser
import Foundation
import HTTP
import Node
import Platform

extension NodeCtl {
    struct Ledger: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The hub's ledger (role hub_admin): verify it, read balances, export the journal, reconcile, set offline payment policies.",
            discussion: "Exit status: 0 clean, 1 a failure (the node refused or could not be reached), 2 the check found problems (verify, reconcile).",
            subcommands: [Status.self, Verify.self, Checkpoints.self, Balances.self, Export.self, Reconcile.self, AcquirerReport.self, Policy.self, Offline.self])
    }
}

/// A time a ledger command takes: ISO 8601 UTC, or a bare day (its midnight, UTC).
struct LedgerTime: ExpressibleByArgument {
    let text: String

    init?(argument: String) {
        let full = argument.count == 10 ? argument + "T00:00:00Z" : argument
        guard WallClock.parseISO8601(full) != nil else { return nil }
        text = full
    }
}

/// Prints `object` as JSON (the --json output of ledger commands).
private func printJSON(_ object: Any) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) {
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Every page of a list route: its `member` arrays (or objects) joined, following
/// `next_cursor`; the other members from the first page.
func allPages(_ connection: NodeConnection, _ path: String, member: String) throws -> [String: Any] {
    var report = try jsonObject(try connection.admin("GET", path))
    var cursor = report["next_cursor"] as? String
    while let next = cursor {
        let page = try jsonObject(try connection.admin("GET", path + (path.contains("?") ? "&" : "?") + "cursor=" + next))
        if let items = page[member] as? [Any] { report[member] = (report[member] as? [Any] ?? []) + items }
        if let items = page[member] as? [String: Any] { report[member] = (report[member] as? [String: Any] ?? [:]).merging(items) { $1 } }
        cursor = page["next_cursor"] as? String
    }
    report["next_cursor"] = nil
    return report
}

func jsonObject(_ response: ClientResponse) throws -> [String: Any] {
    guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
        throw CLIFailure("the node answered with a body nodectl does not understand")
    }
    return object
}

private func query(_ pairs: [(String, String?)]) -> String {
    let present = pairs.compactMap { name, value in value.map { "\(name)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.:"))) ?? $0)" } }
    return present.isEmpty ? "" : "?" + present.joined(separator: "&")
}

/// A time window and where its CSV goes: what `export` and `acquirer-report` take.
struct CSVWindow: ParsableArguments {
    @Option(name: .long, help: "Start (ISO 8601 UTC, or a day).") var from: LedgerTime
    @Option(name: .long, help: "End, exclusive (ISO 8601 UTC, or a day).") var to: LedgerTime
    @Option(name: [.short, .long], help: "Write to this file instead of stdout.") var output: String?

    /// The CSV `route` gives for the window, written to `output` (stdout without one).
    func download(_ connection: NodeConnection, _ route: String) throws {
        let text = try connection.admin("GET", route + query([("from", from.text), ("to", to.text)])).text
        guard let output else { return print(text, terminator: "") }
        do { try text.write(toFile: output, atomically: true, encoding: .utf8) } catch { throw CLIFailure("cannot write \(output): \(error.localizedDescription)") }
    }
}

extension NodeCtl.Ledger {
    struct Checkpoints: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The hub's signed checkpoints of its journal's head that a node holds, one per line (to keep, or to give to `ledger verify --checkpoints`).")
        @OptionGroup var connection: NodeConnection
        @Option(name: .long, help: "Only those signed at or after this UTC time (ISO 8601 or YYYY-MM-DD).") var since: String?
        @Flag(name: .long, help: "Hub: sign the head now first.") var sign = false
        @Flag(name: .long, help: "Print JSON instead of lines.") var json = false

        func run() throws {
            try reportingFailures {
                if sign { _ = try connection.admin("POST", "/admin/v1/ledger/checkpoints") }
                let path = "/admin/v1/ledger/checkpoints" + (since.map { query([("since", $0.count == 10 ? $0 + "T00:00:00Z" : $0)]) } ?? "")
                let report = try allPages(connection, path, member: "checkpoints")
                if json { return printJSON(report) }
                for checkpoint in report["checkpoints"] as? [[String: Any]] ?? [] { print(checkpoint["text"] as? String ?? "") }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the journal's hash chain and every balance, and check it against the signed checkpoints; name the first bad entry (exit 2 if any).",
            discussion: """
                The hub checks its journal against every checkpoint of its head it holds. Give the checkpoints the stores hold too \
                (on each store: nodectl ledger checkpoints > store.txt), or an archived file: a rewrite of the hub's books that \
                recomputes every hash still differs from a checkpoint signed before it.
                """)
        @OptionGroup var connection: NodeConnection
        @Option(name: .customLong("checkpoints"), help: "A file of checkpoints (one per line, as `nodectl ledger checkpoints` prints them); repeatable.")
        var checkpointFiles: [String] = []
        @Flag(name: .long, help: "Print JSON instead of text.") var json = false

        func run() throws {
            var valid = true
            try reportingFailures {
                var lines: [String] = []
                for file in checkpointFiles {
                    guard let data = FileManager.default.contents(atPath: file) else { throw CLIFailure("cannot read \(file)") }
                    lines.append(String(decoding: data, as: UTF8.self))
                }
                let response = checkpointFiles.isEmpty
                    ? try connection.admin("GET", "/admin/v1/ledger/verify")
                    : try connection.send("POST", "/admin/v1/ledger/verify", body: Array(lines.joined(separator: "\n").utf8), contentType: "text/plain", timeoutMs: 120_000)
                guard (200..<300).contains(response.status) else { throw CLIFailure(NodeConnection.describe(response, url: connection.address)) }
                let report = try jsonObject(response)
                valid = report["valid"] as? Bool ?? false
                if json { return printJSON(report) }
                let entries = report["entries"] as? Int ?? 0
                let problems = report["problems"] as? [[String: Any]] ?? []
                let anchors = report["checkpoints"] as? [String: Any] ?? [:]
                let anchoredText = "checked against \(anchors["checked"] as? Int ?? 0) signed checkpoint(s), anchored through entry \(anchors["anchored_through"] as? Int ?? 0)"
                if valid {
                    print("The ledger verifies: \(entries) entries, head \(report["head"] as? String ?? ""), debits equal credits in every currency; \(anchoredText).")
                } else {
                    print("THE LEDGER DOES NOT VERIFY (\(entries) entries):")
                    for problem in problems {
                        let at = (problem["seq"] as? Int).map { "entry \($0)" } ?? (problem["account"] as? String).map { "account \($0)" } ?? "totals"
                        print("  \(at): \(problem["reason"] as? String ?? "")")
                    }
                }
                for (currency, sums) in (report["totals"] as? [String: [String: Int]] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    print("  \(currency): debits \(sums["debits"] ?? 0), credits \(sums["credits"] ?? 0)")
                }
            }
            if !valid { throw ExitCode(2) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Where the books are, which hub leads settlement, and the settlement queue (any node).")
        @OptionGroup var connection: NodeConnection
        @Flag(name: .long, help: "Print JSON instead of text.") var json = false

        func run() throws {
            try reportingFailures {
                let report = try connection.getAdmin("/admin/v1/ledger/status", as: LedgerStatusReport.self)
                if json { return print(String(decoding: try JSONCoding.encode(report), as: UTF8.self)) }
                print(Self.render(report))
            }
        }

        static func render(_ r: LedgerStatusReport) -> String {
            var lines = ["Node \(r.nodeId) (\(r.role))"]
            if let store = r.store { lines.append("Books: \(store == "postgresql" ? "PostgreSQL, shared by the fleet's hubs" : "this hub's SQLite database")") }
            if let leader = r.leader {
                lines.append("Settlement leader: \(leader.hub) (epoch \(leader.epoch), since \(leader.since))\(leader.hub == r.nodeId ? ": this hub" : "")")
            } else if r.store == "sqlite" {
                lines.append("Settlement leader: this hub (the only one)")
            }
            if r.store != nil {
                lines.append("This hub settles: \(r.leads ? "yes" + (r.leadingSince.map { ", since \($0)" } ?? "") : "no, it follows")")
            }
            if r.store == "postgresql" {
                lines.append("Lease: \(r.leaseHolder.map { "held by \($0), epoch \(r.leaseEpoch ?? 0)" } ?? "free or unknown")")
                if let problem = r.leaseProblem { lines.append("Lease problem: \(problem)") }
            }
            if let hub = r.hub { lines.append("Forwards to hub: \(hub)") }
            if let queued = r.paymentsQueued {
                lines.append("Payments queued for settlement: \(queued); since start: \(r.paymentsSettled ?? 0) settled, \(r.transfersCreated ?? 0) transfers")
            }
            return lines.joined(separator: "\n")
        }
    }

    struct Balances: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every account's balance, now or at a time.")
        @OptionGroup var connection: NodeConnection
        @Option(name: .long, help: "An account id, or the start of ids (clearing: for every clearing account).") var account: String?
        @Option(name: .long, help: "Balances as they stood at this time (ISO 8601 UTC, or a day).") var at: LedgerTime?
        @Flag(name: .long, help: "Print JSON instead of a table.") var json = false

        func run() throws {
            try reportingFailures {
                let report = try allPages(connection, "/admin/v1/ledger/balances" + query([("account", account), ("at", at?.text)]), member: "accounts")
                if json { return printJSON(report) }
                let accounts = report["accounts"] as? [[String: Any]] ?? []
                print("Balances at \(report["at"] as? String ?? "now") (minor units)\n")
                print(Columns.render(header: ["ACCOUNT", "KIND", "CURRENCY", "BALANCE", "DEBITS", "CREDITS", "PENDING DR", "PENDING CR"], rows: accounts.map { a in
                    [a["id"] as? String ?? "", a["kind"] as? String ?? "", a["currency"] as? String ?? "", "\(a["balance"] as? Int ?? 0)",
                     "\(a["debits_posted"] as? Int ?? 0)", "\(a["credits_posted"] as? Int ?? 0)", "\(a["debits_pending"] as? Int ?? 0)",
                     "\(a["credits_pending"] as? Int ?? 0)"]
                }))
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The journal's entries between two times, as CSV (amounts in minor units).")
        @OptionGroup var connection: NodeConnection
        @OptionGroup var window: CSVWindow

        func run() throws {
            try reportingFailures { try window.download(connection, "/admin/v1/ledger/journal.csv") }
        }
    }

    struct AcquirerReport: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "acquirer-report", abstract: "The sandbox acquirer's settlement report between two times (CSV), as an acquirer sends it.")
        @OptionGroup var connection: NodeConnection
        @OptionGroup var window: CSVWindow

        func run() throws {
            try reportingFailures { try window.download(connection, "/admin/v1/ledger/acquirer-report.csv") }
        }
    }

    struct Reconcile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare every node's payments, the journal and the acquirer's settlement report; list each difference (exit 2 if any).")
        @OptionGroup var connection: NodeConnection
        @Option(name: .long, help: "Payments made from (ISO 8601 UTC, or a day).") var from: LedgerTime
        @Option(name: .long, help: "Payments made before (ISO 8601 UTC, or a day).") var to: LedgerTime
        @Option(name: .customLong("acquirer-report"), help: "The acquirer's settlement report (CSV).") var acquirerReport: String?
        @Flag(name: .long, help: "Print JSON instead of tables.") var json = false

        func run() throws {
            var clean = true
            try reportingFailures {
                var body: [UInt8]?
                if let acquirerReport {
                    guard let data = FileManager.default.contents(atPath: acquirerReport) else { throw CLIFailure("cannot read \(acquirerReport)") }
                    body = Array(data)
                }
                let path = "/admin/v1/ledger/reconcile" + query([("from", from.text), ("to", to.text)])
                let response = try connection.send("POST", path, body: body ?? [], contentType: body == nil ? nil : "text/csv", timeoutMs: 60_000)
                guard (200..<300).contains(response.status) else { throw CLIFailure(NodeConnection.describe(response, url: connection.address)) }
                let report = try jsonObject(response)
                clean = report["clean"] as? Bool ?? false
                if json { return printJSON(report) }
                let differences = report["differences"] as? [[String: Any]] ?? []
                print("Payments made from \(report["from"] as? String ?? "") to \(report["to"] as? String ?? ""): "
                      + (clean ? "no differences." : "\(differences.count) difference\(differences.count == 1 ? "" : "s").") + "\n")
                if !differences.isEmpty {
                    let amount = { (value: Any?) in (value as? Int).map(String.init) ?? "-" }
                    print(Columns.render(header: ["KIND", "PAYMENT", "REF", "NODE", "CUR", "PAYMENTS", "LEDGER", "ACQUIRER", "DETAIL"], rows: differences.map { d in
                        [d["kind"] as? String ?? "", d["payment"] as? String ?? "", d["reference"] as? String ?? "", d["node"] as? String ?? "",
                         d["currency"] as? String ?? "", amount(d["payments_amount"]), amount(d["ledger_amount"]), amount(d["acquirer_amount"]),
                         d["detail"] as? String ?? ""]
                    }) + "\n")
                }
                let totals = report["totals"] as? [String: [String: [String: Int]]] ?? [:]
                print(Columns.render(header: ["NODE", "CURRENCY", "PAYMENTS", "SETTLED", "DIFFERENCES"], rows: totals.sorted { $0.key < $1.key }.flatMap { node, currencies in
                    currencies.sorted { $0.key < $1.key }.map { currency, sums in
                        [node, currency, "\(sums["payments"] ?? 0)", "\(sums["settled"] ?? 0)", "\(sums["differences"] ?? 0)"]
                    }
                }))
            }
            if !clean { throw ExitCode(2) }
        }
    }

    struct Policy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the offline card payment policies, or set one (hub): --for NODE-ID or default, --floor-limit, --exposure-cap, --deadline-hours.")
        @OptionGroup var connection: NodeConnection
        @Option(name: .customLong("for"), help: "The node whose policy to set (its id), or `default`.") var target: String?
        @Option(name: .customLong("floor-limit"), help: "The most one offline card payment may be (minor units).") var floorLimit: Int64?
        @Option(name: .customLong("exposure-cap"), help: "The most the node's unsettled offline card payments may add up to (minor units).") var exposureCap: Int64?
        @Option(name: .customLong("deadline-hours"), help: "Hours the hub has to settle an offline payment (1 to 168, default 24).") var deadlineHours: Int64?
        @Flag(name: .customLong("allow-unknown"), help: "Set it for a node the hub has not heard of yet (not yet enrolled).") var allowUnknown = false

        func validate() throws {
            if target == nil && (floorLimit != nil || exposureCap != nil || deadlineHours != nil) {
                throw ValidationError("--for names whose policy to set (a node id or default)")
            }
            if target != nil && (floorLimit == nil || exposureCap == nil) { throw ValidationError("setting a policy takes --floor-limit and --exposure-cap") }
        }

        func run() throws {
            try reportingFailures {
                if let target, let floorLimit, let exposureCap {
                    var body: [String: Any] = ["floor_limit": floorLimit, "exposure_cap": exposureCap]
                    if let deadlineHours { body["deadline_hours"] = deadlineHours }
                    let data = try JSONSerialization.data(withJSONObject: body)
                    try connection.admin("PUT", "/admin/v1/ledger/policies/\(target)" + (allowUnknown ? "?allow_unknown=true" : ""), json: Array(data))
                    print("Policy of \(target) set: floor limit \(floorLimit), exposure cap \(exposureCap), deadline \(deadlineHours ?? 24) h. It replicates to the node.")
                    return
                }
                let report = try allPages(connection, "/admin/v1/ledger/policies", member: "nodes")
                var rows: [[String]] = []
                let row = { (name: String, policy: [String: Any]) in
                    [name, "\(policy["floor_limit"] as? Int ?? 0)", "\(policy["exposure_cap"] as? Int ?? 0)", "\(policy["deadline_hours"] as? Int ?? 0) h"]
                }
                rows.append(row("default", report["default"] as? [String: Any] ?? [:]))
                for (node, policy) in (report["nodes"] as? [String: [String: Any]] ?? [:]).sorted(by: { $0.key < $1.key }) { rows.append(row(node, policy)) }
                print(Columns.render(header: ["NODE", "FLOOR LIMIT", "EXPOSURE CAP", "DEADLINE"], rows: rows))
            }
        }
    }

    struct Offline: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "This node's card payments taken while the hub was out of reach and not yet settled; exit 2 if any is past its deadline.")
        @OptionGroup var connection: NodeConnection
        @Flag(name: .long, help: "Print JSON instead of text.") var json = false

        func run() throws {
            var overdue = 0
            try reportingFailures {
                let report = try allPages(connection, "/admin/v1/payments/offline", member: "payments")
                overdue = report["overdue"] as? Int ?? 0
                if json { return printJSON(report) }
                let policy = report["policy"] as? [String: Any] ?? [:]
                print("Card payments: \((report["online"] as? Bool ?? true) ? "online" : "OFFLINE (the hub is out of reach)"), hub \(report["hub"] as? String ?? "unknown")")
                print("Policy: floor limit \(policy["floor_limit"] as? Int ?? 0), exposure cap \(policy["exposure_cap"] as? Int ?? 0), deadline \(policy["deadline_hours"] as? Int ?? 0) h")
                print("Open: \(report["open"] as? Int ?? 0) payment(s), exposure \(report["exposure"] as? Int ?? 0)\(overdue > 0 ? ", \(overdue) PAST THEIR DEADLINE" : "")")
                let payments = report["payments"] as? [[String: Any]] ?? []
                if !payments.isEmpty {
                    print("\n" + Columns.render(header: ["PAYMENT", "ORDER", "AMOUNT", "CUR", "TAKEN", "DEADLINE", ""], rows: payments.map { p in
                        [p["payment"] as? String ?? "", p["order"] as? String ?? "", "\(p["amount"] as? Int ?? 0)", p["currency"] as? String ?? "",
                         p["taken_at"] as? String ?? "", p["deadline"] as? String ?? "", (p["overdue"] as? Bool ?? false) ? "OVERDUE" : ""]
                    }))
                }
                let declined = report["declined"] as? [[String: Any]] ?? []
                if !declined.isEmpty {
                    let total = report["declined_total"] as? Int ?? declined.count
                    print("\nDeclined after the sale: \(total) order(s) owe their payment; collect another tender or cancel each\(total > declined.count ? " (the oldest \(declined.count) shown)" : ""):")
                    print(Columns.render(header: ["ORDER", "NUMBER", "TOTAL", "CUR", "PLACED"], rows: declined.map { d in
                        [d["order"] as? String ?? "", d["number"] as? String ?? "", "\(d["total"] as? Int ?? 0)", d["currency"] as? String ?? "", d["placed_at"] as? String ?? ""]
                    }))
                }
            }
            if overdue > 0 { throw ExitCode(2) }
        }
    }
}
