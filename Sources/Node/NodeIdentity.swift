import Commerce
import Platform

/// Who this node is: its id, its Ed25519 key pair and the admin token operators present.
///
/// Made on first start and reused after. Secrets are files of mode 0600 in the data directory:
///   node.key     Ed25519 private key, PKCS#8 PEM (0600)
///   node.pub     its public key, PEM (0644)
///   admin.token  bearer token for /admin/v1 and nodectl (0600)
///   auth.keys    this node's own keys for staff PINs' MACs, never shared (0600; see `pinKeysFile`)
///   data.keys    the keys that seal personal data, shared by the region (0600; see `dataKeysFile`)
public struct NodeIdentity: Sendable {
    public let nodeId: String
    public let keyPair: Ed25519KeyPair
    /// The admin token's bytes (the file holds it as text).
    public let adminToken: String
    public let pinKeys: KeyRing
    public let dataKeys: KeyRing

    public static let keyFile = "node.key"
    public static let publicKeyFile = "node.pub"
    public static let adminTokenFile = "admin.token"
    /// One key per line, `KEY-ID HEX-SECRET` (32 bytes or more), oldest first: the last MACs new
    /// PINs, all check. A node makes its own at first start. (Access tokens are signed with
    /// `node.key`, each node its own; this file once held a fleet-wide token key, and a node
    /// enrolled before that keeps its copy only for its PINs.)
    public static let pinKeysFile = "auth.keys"
    /// The region's keys for personal data (customers' emails, names, phones are sealed with
    /// them before they reach the op log), same format. `nodectl enroll` puts the region's there.
    public static let dataKeysFile = "data.keys"
    /// Where a running node writes its base URL, for `nodectl --data-dir`.
    public static let addressFile = "node.address"
    /// Where a running node writes its sync address (HOST:PORT), when it listens for peers.
    public static let syncAddressFile = "sync.address"
    /// The node's certificate from `nodectl enroll` (CN = node id, OU = region, title = role),
    /// for sync and in the access tokens it signs.
    public static let certificateFile = "node.crt"
    /// The fleet CA's certificate, that every peer's certificate must chain to.
    public static let authorityFile = "ca.crt"

    /// Loads the identity in `directory`, creating what is missing. The node id comes from the
    /// database (`storedId`) once there is one; a different configured id is refused.
    public static func loadOrCreate(directory: String, configuredId: String?, storedId: String?) throws -> NodeIdentity {
        let nodeId: String
        switch (configuredId, storedId) {
        case let (configured?, stored?) where configured != stored:
            throw ConfigError(key: "node.id", "this data directory belongs to node \"\(stored)\"; refusing to start it as \"\(configured)\"")
        case (_, let stored?): nodeId = stored
        case (let configured?, nil): nodeId = configured
        case (nil, nil): nodeId = "node-" + Hex.encode(SecureRandom.bytes(4))
        }

        let keyPair = try keyPair(in: directory)

        let tokenPath = directory + "/" + adminTokenFile
        let token: String
        if Files.exists(tokenPath) {
            try requireOwnerOnly(tokenPath)
            token = try Files.readString(tokenPath).trimmingWhitespace()
            guard token.utf8.count >= 32 else { throw ConfigError(key: tokenPath, "holds a token shorter than 32 characters") }
        } else {
            token = Hex.encode(SecureRandom.bytes(32))
            try Files.writeAtomically(tokenPath, token + "\n", mode: 0o600)
        }
        return NodeIdentity(nodeId: nodeId, keyPair: keyPair, adminToken: token, pinKeys: try keyRing(pinKeysFile, in: directory),
                            dataKeys: try keyRing(dataKeysFile, in: directory))
    }

    /// The key ring in `directory/file` (`pinKeysFile`, `dataKeysFile`), made (one new key) if
    /// there is none.
    public static func keyRing(_ file: String, in directory: String) throws -> KeyRing {
        let path = directory + "/" + file
        guard Files.exists(path) else {
            let keys = newKeyRing(adding: nil)
            try Files.writeAtomically(path, keyRingText(keys), mode: 0o600)
            return keys
        }
        try requireOwnerOnly(path)
        return try parseKeyRing(try Files.readString(path), path: path)
    }

    /// `existing` with a new key after it (it signs from then on); a fresh set if nil.
    public static func newKeyRing(adding existing: KeyRing?) -> KeyRing {
        let key = KeyRing.Key(id: "k-" + Hex.encode(SecureRandom.bytes(4)), secret: SecureRandom.bytes(32))
        // Four random bytes of id: a repeat is as likely as a collision of random ids, and would
        // only need another try.
        guard let keys = KeyRing((existing?.keys ?? []) + [key]) else { return newKeyRing(adding: existing) }
        return keys
    }

    public static func keyRingText(_ keys: KeyRing) -> String {
        "# KEY-ID HEX-SECRET, oldest first; the last one signs or seals, all verify or open.\n"
            + keys.keys.map { "\($0.id) \(Hex.encode($0.secret))\n" }.joined()
    }

    public static func parseKeyRing(_ text: String, path: String) throws(ConfigError) -> KeyRing {
        var keys: [KeyRing.Key] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.isEmpty || fields[0].hasPrefix("#") { continue }
            guard fields.count == 2, let secret = Hex.decode(String(fields[1])), secret.count >= 32 else {
                throw ConfigError(key: path, "line \(number + 1): expected KEY-ID and a secret of at least 64 hex digits")
            }
            keys.append(KeyRing.Key(id: String(fields[0]), secret: secret))
        }
        guard let ring = KeyRing(keys) else { throw ConfigError(key: path, "holds no key, or a key id twice") }
        return ring
    }

    /// The node's key pair in `directory`, made (with node.pub beside it) if there is none.
    public static func keyPair(in directory: String) throws -> Ed25519KeyPair {
        let keyPath = directory + "/" + keyFile
        let keyPair: Ed25519KeyPair
        if Files.exists(keyPath) {
            try requireOwnerOnly(keyPath)
            guard let loaded = Ed25519KeyPair.fromPEM(try Files.readString(keyPath)) else {
                throw ConfigError(key: keyPath, "is not an Ed25519 private key in PEM")
            }
            keyPair = loaded
        } else {
            keyPair = Ed25519KeyPair.generate()
            try Files.writeAtomically(keyPath, keyPair.privateKeyPEM, mode: 0o600)
        }
        if !Files.exists(directory + "/" + publicKeyFile) {
            try Files.writeAtomically(directory + "/" + publicKeyFile, keyPair.publicKeyPEM, mode: 0o644)
        }
        return keyPair
    }

    /// A secret readable by others has leaked already: refuse to run with it.
    static func requireOwnerOnly(_ path: String) throws(ConfigError) {
        if let mode = Files.permissions(path), mode & 0o077 != 0 {
            throw ConfigError(key: path, "is readable by other users (mode \(String(mode, radix: 8))); run chmod 600 on it")
        }
    }

    /// Constant-time check of a presented admin token.
    public func acceptsAdminToken(_ presented: String?) -> Bool {
        guard let presented else { return false }
        return constantTimeEquals(Array(presented.utf8), Array(adminToken.utf8))
    }
}
