/// Secret keys by key id, newest last: the newest signs or seals, every one verifies or opens,
/// so a key can be rotated in (add one) and out (drop the oldest once nothing needs it). The
/// fleet shares the access-token keys; each region shares its data keys.
public struct KeyRing: Sendable {
    public struct Key: Sendable, Equatable {
        public let id: String
        public let secret: [UInt8]

        public init(id: String, secret: [UInt8]) {
            self.id = id
            self.secret = secret
        }
    }

    /// Oldest first; the last one signs.
    public let keys: [Key]

    /// Nil if there is no key, an id repeats, or a secret is shorter than 32 bytes (HMAC-SHA-256
    /// and AES-256 need 32).
    public init?(_ keys: [Key]) {
        guard !keys.isEmpty, Set(keys.map(\.id)).count == keys.count, keys.allSatisfy({ $0.secret.count >= 32 && !$0.id.isEmpty }) else { return nil }
        self.keys = keys
    }

    /// The newest key: the one that signs or seals.
    public var newest: Key { keys[keys.count - 1] }

    public func key(id: String) -> Key? { keys.first { $0.id == id } }
}
