import Platform
import TOMLKit

/// A box's first-boot provisioning: `outpost-provision.toml` on a config partition or USB stick,
/// beside the enrollment the operator made for this box (`nodectl provision make`). The file is a
/// noded configuration (`[node]` with id, region and role required; any other section of
/// noded.toml) plus one `[provision]` section for the appliance itself:
///
/// ```toml
/// [node]
/// id = "store-17"
/// region = "eu"
/// role = "store"
/// [sync]
/// listen = "0.0.0.0:7443"
/// [[sync.peers]]
/// node_id = "hub"
/// region = "eu"
/// address = "10.0.0.1:7443"
/// [provision]
/// enrollment = "enrollment"         # node.key, node.crt, ca.crt, data.keys (auth.keys): from `nodectl enroll`
/// admin_token = "…"                 # 32 to 256 visible characters: the operator's bearer token
/// ssh_authorized_keys = ["ssh-ed25519 AAAA… ops"]   # none: no SSH
/// ```
///
/// Everything is read and checked before anything is written: a bad file changes nothing.
public struct Provisioning {
    public static let fileName = "outpost-provision.toml"
    /// Where the appliance keeps the node: `noded.toml`, `noded.env`, `data/`, `ssh/`.
    public static let applianceStateDirectory = "/var/lib/outpost"
    /// Where noded listens on a box when the file does not say: every interface (the box is the
    /// store's server), above 1024 (noded has no capabilities).
    public static let applianceListen = "0.0.0.0:8080"
    /// The enrollment files a node's data directory takes from the provisioning media, and
    /// whether each is required.
    static let enrollmentFiles: [(name: String, required: Bool)] = [
        (NodeIdentity.keyFile, true), (NodeIdentity.certificateFile, true), (NodeIdentity.authorityFile, true),
        (NodeIdentity.dataKeysFile, true), (NodeIdentity.pinKeysFile, false),
    ]

    /// The node's configuration, checked as noded checks it.
    public let config: NodeConfig
    /// What noded.toml becomes: the file without `[provision]`; `apply` adds the data directory.
    private let noded: TOMLTable
    public let adminToken: String?
    /// Enrollment file name → its bytes, read from the media.
    public let enrollment: [(name: String, bytes: [UInt8])]
    public let sshAuthorizedKeys: [String]

    /// Reads and checks `directory/outpost-provision.toml` and the files it names.
    public static func read(directory: String) throws(ConfigError) -> Provisioning {
        let path = directory + "/" + fileName
        let text: String
        do { text = try Files.readString(path) } catch { throw ConfigError(key: path, "cannot read the file: \(error.reason)") }
        guard text.utf8.count <= 256 * 1024 else { throw ConfigError(key: path, "is larger than 256 KiB") }
        let table = try TOMLReader.parse(text, source: path)
        let noded = TOMLTable()
        for key in table.keys where key != "provision" { noded[key] = table[key] }
        return try read(noded: noded, provision: TOMLReader(table: table, prefix: "").table("provision"), directory: directory)
    }

    private static func read(noded: TOMLTable, provision: TOMLReader?, directory: String) throws(ConfigError) -> Provisioning {
        let node = noded["node"]?.table
        for key in ["id", "region", "role"] where node?[key] == nil {
            throw ConfigError(key: "node." + key, "is required to provision a box")
        }
        if node?["data_dir"] != nil { throw ConfigError(key: "node.data_dir", "is the appliance's own (\(applianceStateDirectory)/data): leave it out") }
        if noded["http"]?.table?["listen"] == nil {
            let http = noded["http"]?.table ?? TOMLTable()
            http["listen"] = [applianceListen]
            noded["http"] = http
        }
        var config = NodeConfig()
        try config.apply(toml: noded.convert(to: .toml), source: fileName)
        guard let provision else { throw ConfigError(key: "provision", "is required: at least [provision] enrollment") }
        try provision.allowOnly(["enrollment", "admin_token", "ssh_authorized_keys"])
        var adminToken: String?
        if let token = try provision.string("admin_token") {
            guard (32...256).contains(token.utf8.count), token.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                throw ConfigError(key: "provision.admin_token", "must be 32 to 256 visible ASCII characters")
            }
            adminToken = token
        }
        let keys = try provision.stringOrStrings("ssh_authorized_keys") ?? []
        for (index, key) in keys.enumerated() where !isAuthorizedKey(key) {
            throw ConfigError(key: "provision.ssh_authorized_keys[\(index)]", "must be one public key line (ssh-ed25519, ecdsa-sha2-* or ssh-rsa, then base64)")
        }
        guard let folder = try provision.string("enrollment") else { throw ConfigError(key: "provision.enrollment", "is required: the folder `nodectl provision make` wrote") }
        guard !folder.hasPrefix("/"), !folder.split(separator: "/").contains("..") else {
            throw ConfigError(key: "provision.enrollment", "must be a folder beside \(fileName)")
        }
        let enrollment = try readEnrollment(directory + "/" + folder, config: config)
        return Provisioning(config: config, noded: noded, adminToken: adminToken, enrollment: enrollment, sshAuthorizedKeys: keys)
    }

    /// The enrollment's files, and the check that they are this node's: a certificate the CA
    /// signed, naming the configured id, region and role, for the key beside it.
    private static func readEnrollment(_ folder: String, config: NodeConfig) throws(ConfigError) -> [(name: String, bytes: [UInt8])] {
        var files: [(name: String, bytes: [UInt8])] = []
        for (name, required) in enrollmentFiles {
            let path = folder + "/" + name
            guard Files.exists(path) else {
                if required { throw ConfigError(key: "provision.enrollment", "\(path) is missing (nodectl provision make writes it)") }
                continue
            }
            do { files.append((name, Array(try Files.readString(path).utf8))) } catch { throw ConfigError(key: path, "cannot read: \(error.reason)") }
        }
        func text(_ name: String) -> String { files.first { $0.name == name }.map { String(decoding: $0.bytes, as: UTF8.self) } ?? "" }
        guard let key = Ed25519KeyPair.fromPEM(text(NodeIdentity.keyFile)) else { throw ConfigError(key: folder + "/" + NodeIdentity.keyFile, "is not an Ed25519 private key") }
        guard let der = Certificates.der(ofPEM: text(NodeIdentity.certificateFile)),
              let node = Certificates.verifiedNode(der: der, authorityPEM: text(NodeIdentity.authorityFile), nowSeconds: WallClock.nowMs() / 1000) else {
            throw ConfigError(key: folder + "/" + NodeIdentity.certificateFile, "is not a valid certificate signed by \(NodeIdentity.authorityFile) beside it")
        }
        let wanted = CertificateSubject(commonName: config.nodeId ?? "", organizationalUnit: config.region, role: config.role.rawValue)
        guard node.subject == wanted else {
            throw ConfigError(key: folder + "/" + NodeIdentity.certificateFile,
                              "names \(node.subject.commonName) (region \(node.subject.organizationalUnit ?? "-"), role \(node.subject.role ?? "-")), not the [node] of this file")
        }
        guard node.publicKey == key.publicKey else { throw ConfigError(key: folder + "/" + NodeIdentity.keyFile, "is not the key the certificate was issued for") }
        return files
    }

    private static func isAuthorizedKey(_ line: String) -> Bool {
        let parts = line.split(separator: " ")
        guard parts.count >= 2, line.utf8.count <= 16_384, !line.contains("\n"),
              ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"].contains(String(parts[0])) else { return false }
        return parts[1].utf8.allSatisfy { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "=") || (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) }
    }

    // MARK: Applying

    /// Writes the node's configuration and enrollment under `stateDirectory`: the data directory
    /// first (a node never started on a half-written one), then noded.toml, then noded.env,
    /// which is what makes the box run provisioned. Refuses a data directory that holds another
    /// node's database.
    public func apply(stateDirectory: String) throws {
        // Root's folder, open to read: the node's user reaches its data directory through it,
        // and sshd checks the owners of the folders above authorized_keys.
        let stateDirectory = Files.absolute(stateDirectory)
        let data = stateDirectory + "/data"
        try Files.createDirectory(stateDirectory, mode: 0o755)
        try Files.createDirectory(data, mode: 0o700)
        if Files.exists(data + "/" + OutpostNode.databaseFile), let existing = try? Files.readString(data + "/" + NodeIdentity.certificateFile),
           Certificates.subject(ofPEM: existing)?.commonName != config.nodeId {
            throw ConfigError(key: data, "holds another node's data: erase it (docs: firmware-image/README.md, recovery) before provisioning this box again")
        }
        for (name, bytes) in enrollment {
            try Files.writeAtomically(data + "/" + name, bytes, mode: name == NodeIdentity.certificateFile || name == NodeIdentity.authorityFile ? 0o644 : 0o600)
        }
        if let adminToken { try Files.writeAtomically(data + "/" + NodeIdentity.adminTokenFile, adminToken + "\n", mode: 0o600) }
        try Files.createDirectory(stateDirectory + "/ssh", mode: 0o700)
        try Files.writeAtomically(stateDirectory + "/ssh/authorized_keys", sshAuthorizedKeys.map { $0 + "\n" }.joined(), mode: 0o600)
        noded["node"]?.table?["data_dir"] = data
        let text = "# Written by nodectl provision apply from \(Self.fileName).\n" + noded.convert(to: .toml) + "\n"
        try Files.writeAtomically(stateDirectory + "/noded.toml", text, mode: 0o640)
        try Files.writeAtomically(stateDirectory + "/noded.env", "NODED_ARGS=--config \(stateDirectory)/noded.toml\n", mode: 0o644)
    }

    /// Without provisioning media: the node runs on its embedded defaults, listening on every
    /// interface, and says so (`nodectl status`: configuration "embedded defaults").
    public static func applyEmbeddedDefaults(stateDirectory: String) throws {
        let stateDirectory = Files.absolute(stateDirectory)
        try Files.createDirectory(stateDirectory, mode: 0o755)
        try Files.writeAtomically(stateDirectory + "/noded.env",
                                  "NODED_ARGS=--data-dir \(stateDirectory)/data --listen \(applianceListen)\n", mode: 0o644)
    }
}
