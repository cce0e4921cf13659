import ArgumentParser
import Foundation
import Node
import Platform

extension NodeCtl {
    /// `nodectl enroll`: issues a node its fleet certificate.
    struct Enroll: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a node its fleet certificate (node id as CN, region as OU, role as title) into its data directory.",
            discussion: """
                Uses the node's own key (DATA_DIR/node.key, created if the node never ran) and writes
                DATA_DIR/node.crt and DATA_DIR/ca.crt, and the fleet's access-token keys (CA_DIR/auth.keys, made at
                the first enrollment) as DATA_DIR/auth.keys, so tokens made on one node are good on the others.
                Start the node with the same --node-id, --region and --role: the role is what the fleet trusts it \
                to do (only the hub relays other nodes' changes and issues hub_admin tokens), and a node refuses \
                to start with a role its certificate does not grant.
                """)

        @Option(name: .customLong("ca-dir"), help: "The fleet CA directory (from nodectl fleet init).")
        var caDir: String

        @Option(name: .customLong("data-dir"), help: "The node's data directory (created if missing).")
        var dataDir: String

        @OptionGroup var node: NodeNaming

        @Option(name: .long, help: "Validity in days.")
        var days = 825

        func validate() throws {
            guard (1...3650).contains(days) else { throw ValidationError("--days must be between 1 and 3650") }
        }

        func run() throws {
            try reportingFailures {
                let authority = try FleetFiles.authority(in: caDir)
                do {
                    try FleetFiles.enroll(nodeId: node.nodeId, region: node.region, role: node.role, dataDir: dataDir, caDir: caDir, authority: authority, days: days)
                } catch let failure as CLIFailure {
                    throw failure
                } catch {
                    throw CLIFailure("cannot enroll \(node.nodeId) in \(dataDir): \(error)")
                }
                print("enrolled \(node.nodeId) (region \(node.region), role \(node.role)): \(dataDir)/\(NodeIdentity.certificateFile)")
            }
        }
    }
}

/// Who a node is, as `enroll` and `provision make` take it: its id, region and role, checked as
/// noded checks them.
struct NodeNaming: ParsableArguments {
    @Option(name: .customLong("node-id"), help: "The node's id.")
    var nodeId: String

    @Option(name: .long, help: "The node's region.")
    var region: String

    @Option(name: .long, help: "The node's role: store, regional or hub.")
    var role = "store"

    func validate() throws {
        guard NodeConfig.isValidName(nodeId) else { throw ValidationError("--node-id: lowercase letters, digits and '-', 1-63 characters") }
        guard NodeConfig.isValidName(region) else { throw ValidationError("--region: lowercase letters, digits and '-', 1-63 characters") }
        guard NodeConfig.Role(rawValue: role) != nil else { throw ValidationError("--role: store, regional or hub") }
    }
}
