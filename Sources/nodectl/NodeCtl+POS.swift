import ArgumentParser
import Foundation

extension NodeCtl {
    struct POS: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pos",
            abstract: "The store's tills: pair one, list and revoke them, set staff PINs.",
            subcommands: [Pair.self, Devices.self, Revoke.self, CloseShift.self, Staff.self])
    }
}

extension NodeCtl.POS {
    struct Pair: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a one-time pairing code for a till: enter it on the terminal (POST /pos/v1/pair) within 15 minutes.")
        @OptionGroup var connection: NodeConnection
        @Option(name: .long, help: "The name the till gets (\"Till 1\").") var name: String

        func run() throws {
            try reportingFailures {
                let data = try JSONSerialization.data(withJSONObject: ["name": name])
                let reply = try jsonObject(try connection.admin("POST", "/admin/v1/pos/pairing-codes", json: Array(data)))
                let code = reply["code"] as? String ?? ""
                let grouped = stride(from: 0, to: code.count, by: 4).map { start -> String in
                    let from = code.index(code.startIndex, offsetBy: start)
                    return String(code[from..<code.index(from, offsetBy: min(4, code.count - start))])
                }.joined(separator: " ")
                print("Pairing code for \(name): \(grouped)")
                print("Good once, until \(reply["expires_at"] as? String ?? "?").")
            }
        }
    }

    struct Devices: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tills paired with this node, revoked ones marked.")
        @OptionGroup var connection: NodeConnection

        func run() throws {
            try reportingFailures {
                let reply = try allPages(connection, "/admin/v1/pos/devices", member: "devices")
                let rows = (reply["devices"] as? [[String: Any]] ?? []).map { device -> [String] in
                    [device["id"] as? String ?? "", device["name"] as? String ?? "", device["paired_at"] as? String ?? "",
                     (device["revoked_at"] as? String).map { "revoked " + $0 } ?? "active"]
                }
                print(rows.isEmpty ? "No till is paired with this node." : Columns.render(header: ["DEVICE", "NAME", "PAIRED", "STATE"], rows: rows))
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a till: its key and sessions are refused from the next request on.")
        @OptionGroup var connection: NodeConnection
        @Argument(help: "The device's id (nodectl pos devices).") var device: String

        func run() throws {
            try reportingFailures {
                let reply = try jsonObject(try connection.admin("POST", "/admin/v1/pos/devices/\(device)/revoke", json: Array("{}".utf8)))
                print("Till \(device) revoked.")
                if let shift = reply["open_shift"] as? String {
                    FileHandle.standardError.write(Data("nodectl: warning: shift \(shift) is still open on \(device); count its drawer and close it: nodectl pos close-shift \(shift) --counted <cash>\n".utf8))
                }
            }
        }
    }

    struct CloseShift: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "close-shift",
            abstract: "Close a till's open shift from the back office (a till revoked or broken mid-shift) and print its Z-report.")
        @OptionGroup var connection: NodeConnection
        @Argument(help: "The shift's id.") var shift: String
        @Option(name: .long, help: "The cash counted in that till's drawer, in minor units.") var counted: Int64

        func validate() throws {
            guard counted >= 0 else { throw ValidationError("--counted: the cash counted, 0 or more minor units") }
        }

        func run() throws {
            try reportingFailures {
                let data = try JSONSerialization.data(withJSONObject: ["counted": counted])
                let reply = try connection.admin("POST", "/admin/v1/pos/shifts/\(shift)/close?format=text", json: Array(data))
                print(reply.text, terminator: "")
            }
        }
    }

    struct Staff: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or change a member of till staff (cashier or store_manager) and their PIN.")
        @OptionGroup var connection: NodeConnection
        @Argument(help: "The staff member's id (a-z, 0-9, -).") var id: String
        @Option(name: .long, help: "Their name as receipts show it.") var name: String
        @Option(name: .long, help: "cashier or store_manager.") var role: String = "cashier"
        @Option(name: .long, help: "4 to 8 digits.") var pin: String

        func run() throws {
            try reportingFailures {
                let data = try JSONSerialization.data(withJSONObject: ["name": name, "role": role, "pin": pin])
                _ = try connection.admin("PUT", "/admin/v1/pos/staff/\(id)", json: Array(data))
                print("\(id) (\(role)) can sign in at this node's tills.")
            }
        }
    }
}
