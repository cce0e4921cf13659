import ArgumentParser
import Foundation
import Node
import Platform

extension NodeCtl {
    struct Fleet: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create and run fleets.",
            subcommands: [Init.self, Demo.self])
    }
}

extension NodeCtl.Fleet {
    /// `nodectl fleet init --dir DIR`: the fleet's certificate authority.
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the fleet's certificate authority: DIR/ca.key (keep it safe, 0600) and DIR/ca.crt.")

        @Option(name: .long, help: "Directory for the CA's key and certificate (created if missing).")
        var dir: String

        @Option(name: .long, help: "The fleet's name, in the CA certificate.")
        var name = "outpost-fleet"

        @Option(name: .long, help: "Validity of the CA certificate in days.")
        var days = 3650

        func validate() throws {
            guard NodeConfig.isValidName(name) else { throw ValidationError("--name: lowercase letters, digits and '-', 1-63 characters") }
            guard (1...36_500).contains(days) else { throw ValidationError("--days must be between 1 and 36500") }
        }

        func run() throws {
            try reportingFailures {
                let keyPath = dir + "/" + FleetFiles.authorityKey, certificatePath = dir + "/" + FleetFiles.authorityCertificate
                guard !Files.exists(keyPath) && !Files.exists(certificatePath) else {
                    throw CLIFailure("\(dir) already holds a fleet CA; refusing to overwrite it")
                }
                do {
                    try Files.createDirectory(dir)
                    let key = Ed25519KeyPair.generate()
                    let certificate = try Certificates.authority(key: key, name: name, days: days)
                    try Files.writeAtomically(keyPath, key.privateKeyPEM, mode: 0o600)
                    try Files.writeAtomically(certificatePath, certificate, mode: 0o644)
                } catch {
                    throw CLIFailure("cannot create the fleet CA in \(dir): \(error)")
                }
                print("created fleet CA \"\(name)\": \(certificatePath) (its key \(keyPath) signs node certificates: keep it off store nodes)")
            }
        }
    }
}

/// File names of a fleet CA directory.
enum FleetFiles {
    static let authorityKey = "ca.key"
    static let authorityCertificate = "ca.crt"

    /// Gives the node in `dataDir` its fleet certificate (for its own key, made if missing), the
    /// CA's certificate and its region's data keys. Access tokens need no shared secret: each
    /// node signs its own with its key, and its certificate vouches for it (AccessToken).
    static func enroll(nodeId: String, region: String, role: String, dataDir: String, caDir: String,
                       authority: (key: Ed25519KeyPair, certificate: String), days: Int = 825) throws {
        try Files.createDirectory(dataDir)
        let key = try NodeIdentity.keyPair(in: dataDir)
        let certificate = try Certificates.issue(nodeId: nodeId, region: region, role: role, publicKeyPEM: key.publicKeyPEM,
                                                 authorityKey: authority.key, authorityCertificatePEM: authority.certificate, days: days)
        try Files.writeAtomically(dataDir + "/" + NodeIdentity.certificateFile, certificate, mode: 0o644)
        try Files.writeAtomically(dataDir + "/" + NodeIdentity.authorityFile, authority.certificate, mode: 0o644)
        // Personal data stays in its region: each region has its own data keys.
        let dataKeys = try NodeIdentity.keyRing(regionDataKeysFile(region), in: caDir)
        try Files.writeAtomically(dataDir + "/" + NodeIdentity.dataKeysFile, NodeIdentity.keyRingText(dataKeys), mode: 0o600)
    }

    /// The CA directory's data keys of one region.
    static func regionDataKeysFile(_ region: String) -> String { "data-\(region).keys" }

    /// Reads the CA, with one-line failures.
    static func authority(in dir: String) throws -> (key: Ed25519KeyPair, certificate: String) {
        let keyPath = dir + "/" + authorityKey, certificatePath = dir + "/" + authorityCertificate
        guard let keyText = try? Files.readString(keyPath), let key = Ed25519KeyPair.fromPEM(keyText) else {
            throw CLIFailure("no fleet CA key at \(keyPath) (create one with: nodectl fleet init --dir \(dir))")
        }
        guard let certificate = try? Files.readString(certificatePath), Certificates.subject(ofPEM: certificate) != nil else {
            throw CLIFailure("no fleet CA certificate at \(certificatePath)")
        }
        return (key, certificate)
    }
}
