import ArgumentParser
import Foundation
import Node
import Platform

extension NodeCtl {
    /// `nodectl provision`: a box's first boot, from a folder on a USB stick or config partition.
    struct Provision: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Provision an Outpost box: make the provisioning folder for it, or apply one (the box does at first boot).",
            subcommands: [Make.self, Apply.self])
    }
}

extension NodeCtl.Provision {
    /// The operator's side: enrollment and outpost-provision.toml for one box, into a folder to
    /// copy onto its USB stick or config partition.
    struct Make: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write outpost-provision.toml and the box's enrollment (its key and fleet certificate) into a folder.",
            discussion: """
                The folder holds the box's private key: carry it to the box and erase it after. Edit the file to add any \
                noded.toml section (checkout, pos, http...) before the box boots from it.
                """)

        @Option(name: .customLong("ca-dir"), help: "The fleet CA directory (from nodectl fleet init).")
        var caDir: String

        @Option(name: .long, help: "The folder to write (created; must not hold outpost-provision.toml already).")
        var out: String

        @OptionGroup var node: NodeNaming

        @Option(name: .long, help: "A peer to dial, NODE_ID@REGION@HOST:PORT; repeat for several.")
        var peer: [String] = []

        @Option(name: .customLong("sync-listen"), help: "Where the box takes sync links, HOST:PORT (default: dial only).")
        var syncListen: String?

        @Option(name: .customLong("ssh-key"), help: "A public key line SSH accepts for the box's operator; repeat for several (none: no SSH).")
        var sshKey: [String] = []

        func validate() throws {
            for p in peer where p.split(separator: "@").count != 3 { throw ValidationError("--peer \(p): NODE_ID@REGION@HOST:PORT") }
        }

        func run() throws {
            try reportingFailures {
                guard !Files.exists(out + "/" + Provisioning.fileName) else { throw CLIFailure("\(out)/\(Provisioning.fileName) exists: choose another --out") }
                let authority = try FleetFiles.authority(in: caDir)
                try FleetFiles.enroll(nodeId: node.nodeId, region: node.region, role: node.role, dataDir: out + "/enrollment", caDir: caDir, authority: authority)
                try Files.writeAtomically(out + "/" + Provisioning.fileName, text(adminToken: Hex.encode(SecureRandom.bytes(32))), mode: 0o600)
                // What was written is what a box will read: check it the same way now.
                do { _ = try Provisioning.read(directory: out) } catch { throw CLIFailure("the folder does not check: \(error)") }
                print("wrote \(out)/\(Provisioning.fileName) and \(out)/enrollment for \(node.nodeId) (region \(node.region), role \(node.role))")
                print("the admin token is in the file ([provision] admin_token); the folder holds the box's private key")
            }
        }

        private func text(adminToken: String) -> String {
            var lines = ["# Provisioning of one Outpost box (firmware-image/README.md). Any noded.toml section may be added.",
                         "[node]", "id = \"\(node.nodeId)\"", "region = \"\(node.region)\"", "role = \"\(node.role)\"", ""]
            if let syncListen { lines += ["[sync]", "listen = \"\(syncListen)\"", ""] }
            for p in peer {
                    let parts = p.split(separator: "@").map(String.init)
                    lines += ["[[sync.peers]]", "node_id = \"\(parts[0])\"", "region = \"\(parts[1])\"", "address = \"\(parts[2])\"", ""]
            }
            lines += ["[provision]", "enrollment = \"enrollment\"", "admin_token = \"\(adminToken)\""]
            lines.append("ssh_authorized_keys = [" + sshKey.map { "\"\($0)\"" }.joined(separator: ", ") + "]")
            return lines.joined(separator: "\n") + "\n"
        }
    }

    /// The box's side, run by outpost-provision.service at boot.
    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the first provisioning folder found, or the embedded defaults when there is none.",
            discussion: """
                Looks in each --from folder for outpost-provision.toml. A box already provisioned is left as it is unless \
                --force. A folder that does not check changes nothing and exits 2; without any folder the node is set to \
                run on its embedded defaults (and says so in nodectl status).
                """)

        @Option(name: .long, help: "A folder that may hold outpost-provision.toml; repeat for several, first found wins.")
        var from: [String] = []

        @Option(name: .customLong("state-dir"), help: "Where the node's configuration and data live.")
        var stateDir = Provisioning.applianceStateDirectory

        @Flag(name: .long, help: "Apply even if this box was provisioned before (the data directory must be this node's).")
        var force = false

        func run() throws {
            try reportingFailures {
                let provisioned = stateDir + "/noded.toml"
                if Files.exists(provisioned) && !force {
                    print("already provisioned (\(provisioned)): nothing to do")
                    return
                }
                guard let folder = from.first(where: { Files.exists($0 + "/" + Provisioning.fileName) }) else {
                    try Provisioning.applyEmbeddedDefaults(stateDirectory: stateDir)
                    print("no \(Provisioning.fileName) in \(from.joined(separator: ", ")): the node runs on its embedded defaults (not provisioned)")
                    return
                }
                let provisioning: Provisioning
                do {
                    provisioning = try Provisioning.read(directory: folder)
                } catch {
                    FileHandle.standardError.write(Data("nodectl: \(folder)/\(Provisioning.fileName): \(error)\nnothing was changed\n".utf8))
                    throw ExitCode(2)
                }
                try provisioning.apply(stateDirectory: stateDir)
                print("provisioned \(provisioning.config.nodeId ?? "") (region \(provisioning.config.region), role \(provisioning.config.role.rawValue)) from \(folder)")
            }
        }
    }
}
