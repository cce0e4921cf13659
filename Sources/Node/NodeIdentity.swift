import Platform

/// Who this node is: its id, its Ed25519 key pair and the admin token operators present.
///
/// Made on first start and reused after. Secrets are files of mode 0600 in the data directory:
///   node.key     Ed25519 private key, PKCS#8 PEM (0600)
///   node.pub     its public key, PEM (0644)
///   admin.token  bearer token for /admin/v1 and nodectl (0600)
public struct NodeIdentity: Sendable {
    public let nodeId: String
    public let keyPair: Ed25519KeyPair
    /// The admin token's bytes (the file holds it as text).
    public let adminToken: String

    public static let keyFile = "node.key"
    public static let publicKeyFile = "node.pub"
    public static let adminTokenFile = "admin.token"
    /// Where a running node writes its base URL, for `nodectl --data-dir`.
    public static let addressFile = "node.address"
    /// Where a running node writes its sync address (HOST:PORT), when it listens for peers.
    public static let syncAddressFile = "sync.address"
    /// The node's certificate from `nodectl enroll` (CN = node id, OU = region), for sync.
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
        return NodeIdentity(nodeId: nodeId, keyPair: keyPair, adminToken: token)
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

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[start...end])
    }
}
