import ArgumentParser
import Foundation
import HTTP
import Node

extension NodeCtl {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a node's id, region, role, version, uptime, database size and address.")

        @OptionGroup var connection: NodeConnection

        @Flag(name: .long, help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            try reportingFailures {
                let status = try connection.getAdmin("/admin/v1/status", as: NodeStatusReport.self)
                if json {
                    print(String(decoding: try JSONCoding.encode(status), as: UTF8.self))
                } else {
                    print(Self.table(status))
                }
            }
        }

        static func table(_ status: NodeStatusReport) -> String {
            TextTable.render([
                ("Node", status.nodeId),
                ("Region", status.region),
                ("Role", status.role),
                ("Version", status.version),
                ("Uptime", Format.duration(seconds: status.uptimeSeconds)),
                ("Database", "\(Format.bytes(status.databaseBytes)) (schema \(status.schemaVersion))"),
                ("Address", status.addresses.joined(separator: ", ")),
                ("Configuration", status.configuration.map { $0 == NodeStatusReport.embeddedDefaults ? $0 + " (not provisioned)" : $0 } ?? "-"),
            ] + (status.restore.map { [("Restore", $0)] } ?? []))
        }
    }
}
