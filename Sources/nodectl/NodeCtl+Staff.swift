import ArgumentParser
import Foundation

extension NodeCtl {
    struct Staff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "staff",
            abstract: "Who signs in to this node's back office (/admin/): add or change, list, remove accounts.",
            subcommands: [Add.self, List.self, Remove.self])
    }
}

extension NodeCtl.Staff {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a back-office account, or change one (name, role, password); its sessions end.",
            discussion: "The password is read from --password-file (one line; 0600 is wise), or from standard input when that is '-'. It never goes on the command line.")
        @OptionGroup var connection: NodeConnection
        @Argument(help: "The sign-in name (a-z, 0-9, '.', '_', '-').") var id: String
        @Option(name: .long, help: "Their name as pages show it.") var name: String
        @Option(name: .long, help: "store_manager, operator, or hub_admin (the hub only).") var role: String
        @Option(name: .long, help: "A file holding the password, or - for standard input.") var passwordFile: String

        func validate() throws {
            guard ["store_manager", "operator", "hub_admin"].contains(role) else {
                throw ValidationError("--role must be store_manager, operator or hub_admin")
            }
        }

        func run() throws {
            try reportingFailures {
                let text: String
                if passwordFile == "-" {
                    text = readLine(strippingNewline: true) ?? ""
                } else {
                    guard let data = FileManager.default.contents(atPath: passwordFile) else { throw CLIFailure("cannot read \(passwordFile)") }
                    text = String(decoding: data, as: UTF8.self)
                }
                let password = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
                let data = try JSONSerialization.data(withJSONObject: ["name": name, "role": role, "password": password])
                _ = try connection.admin("PUT", "/admin/v1/staff-accounts/\(id)", json: Array(data))
                print("\(id) (\(role)) can sign in at /admin/ on this node.")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The back-office accounts of this node.")
        @OptionGroup var connection: NodeConnection

        func run() throws {
            try reportingFailures {
                let reply = try jsonObject(try connection.admin("GET", "/admin/v1/staff-accounts"))
                let rows = (reply["accounts"] as? [[String: Any]] ?? []).map { account -> [String] in
                    [account["id"] as? String ?? "", account["name"] as? String ?? "", account["role"] as? String ?? "", account["changed_at"] as? String ?? ""]
                }
                print(rows.isEmpty ? "No back-office accounts: add one with nodectl staff add." : Columns.render(header: ["ACCOUNT", "NAME", "ROLE", "CHANGED"], rows: rows))
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a back-office account; its sessions end at once.")
        @OptionGroup var connection: NodeConnection
        @Argument(help: "The sign-in name.") var id: String

        func run() throws {
            try reportingFailures {
                _ = try connection.admin("DELETE", "/admin/v1/staff-accounts/\(id)")
                print("\(id) can no longer sign in.")
            }
        }
    }
}
