import ArgumentParser
import Foundation
import HTTP
import Node

extension NodeCtl {
    struct Peers: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The sync peers a node dials.", subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)
    }
}

extension NodeCtl.Peers {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the peers: from the configuration file and added at run time.")
        @OptionGroup var connection: NodeConnection
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() throws {
            try reportingFailures {
                let peers = try connection.getAdmin("/admin/v1/sync/peers", as: [SyncPeerBody].self)
                if json {
                    print(String(decoding: try JSONCoding.encode(peers), as: UTF8.self))
                } else if peers.isEmpty {
                    print("No peers.")
                } else {
                    print(Columns.render(header: ["PEER", "REGION", "ADDRESS", "FROM"],
                                         rows: peers.map { [$0.nodeId, $0.region, $0.address, $0.source ?? ""] }))
                }
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a peer to dial, kept across restarts. Its fleet certificate must name this id and region.")
        @OptionGroup var connection: NodeConnection
        @Option(name: .customLong("node-id"), help: "The peer's node id.") var nodeId: String
        @Option(name: .long, help: "The peer's region.") var region: String
        @Option(name: .long, help: "Its sync address, HOST:PORT.") var address: String

        func run() throws {
            try reportingFailures {
                let body = try JSONCoding.encode(SyncPeerBody(nodeId: nodeId, region: region, address: address))
                try connection.admin("POST", "/admin/v1/sync/peers", json: body)
                print("added peer \(nodeId) (\(region)) at \(address)")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a peer added at run time; its link closes.")
        @OptionGroup var connection: NodeConnection
        @Option(name: .customLong("node-id"), help: "The peer's node id.") var nodeId: String

        func run() throws {
            try reportingFailures {
                try connection.admin("DELETE", "/admin/v1/sync/peers/\(nodeId)")
                print("removed peer \(nodeId)")
            }
        }
    }
}
