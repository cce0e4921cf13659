import COpenSSL

/// scrypt (RFC 7914) through OpenSSL: a memory-hard key derivation, for passwords.
public enum Scrypt {
    /// Derives `length` bytes; nil if the parameters are out of range (N not a power of two
    /// above 1, or more memory than `maxMemoryBytes`).
    public static func derive(password: [UInt8], salt: [UInt8], n: UInt64, r: UInt64, p: UInt64, length: Int,
                              maxMemoryBytes: UInt64 = 256 << 20) -> [UInt8]? {
        guard n > 1, n & (n - 1) == 0, r > 0, p > 0, length > 0 else { return nil }
        var key = [UInt8](repeating: 0, count: length)
        let ok = password.withUnsafeBufferPointer { pass in
            salt.withUnsafeBufferPointer { salt in
                pass.withMemoryRebound(to: CChar.self) { pass in
                    EVP_PBE_scrypt(pass.baseAddress, pass.count, salt.baseAddress, salt.count, n, r, p, maxMemoryBytes, &key, length)
                }
            }
        }
        return ok == 1 ? key : nil
    }
}

/// A stored password: scrypt's parameters, a random salt and the derived hash, kept as a PHC
/// string (`$scrypt$ln=15,r=8,p=3$<salt>$<hash>`, unpadded base64) so the cost can rise later
/// while older hashes still verify.
///
/// Hashing costs tens of milliseconds and 32 MiB at the default cost: run `make` and
/// `verifies` on the work queue, never on the loop.
public struct PasswordHash: Sendable, Equatable {
    /// log2 of N, then r and p. The standard cost is one of OWASP's equivalent minimums for
    /// scrypt (N=2^15, r=8, p=3): 32 MiB per hash, 0.35-0.45 s of one core on the build
    /// machines (OpenSSL runs the p passes one after another).
    public struct Cost: Sendable, Equatable {
        public var log2N: UInt8
        public var r: UInt32
        public var p: UInt32

        public init(log2N: UInt8, r: UInt32, p: UInt32) {
            self.log2N = log2N
            self.r = r
            self.p = p
        }

        public static let standard = Cost(log2N: 15, r: 8, p: 3)
        /// For tests only: fast and weak.
        public static let testing = Cost(log2N: 10, r: 8, p: 1)
    }

    public let cost: Cost
    public let salt: [UInt8]
    public let hash: [UInt8]

    static let saltBytes = 16
    static let hashBytes = 32

    /// A new hash of `password` with a fresh salt.
    public static func make(_ password: String, cost: Cost = .standard) -> PasswordHash {
        let salt = SecureRandom.bytes(saltBytes)
        // The cost is ours, not input: a failure here is a bug.
        guard let hash = derive(password, salt: salt, cost: cost, length: hashBytes) else { preconditionFailure("scrypt refused its own cost") }
        return PasswordHash(cost: cost, salt: salt, hash: hash)
    }

    /// A hash no password matches (random bytes, never derived), that costs what a real one of
    /// `cost` costs to verify: checked when an email has no account, so timing does not tell.
    public static func decoy(cost: Cost) -> PasswordHash {
        PasswordHash(cost: cost, salt: SecureRandom.bytes(saltBytes), hash: SecureRandom.bytes(hashBytes))
    }

    /// Whether `password` is the one hashed, compared in constant time.
    public func verifies(_ password: String) -> Bool {
        guard let candidate = Self.derive(password, salt: salt, cost: cost, length: hash.count) else { return false }
        return constantTimeEquals(candidate, hash)
    }

    private static func derive(_ password: String, salt: [UInt8], cost: Cost, length: Int) -> [UInt8]? {
        Scrypt.derive(password: Array(password.utf8), salt: salt, n: 1 << UInt64(cost.log2N), r: UInt64(cost.r), p: UInt64(cost.p), length: length)
    }

    public var encoded: String {
        "$scrypt$ln=\(cost.log2N),r=\(cost.r),p=\(cost.p)$\(Base64.encode(salt, url: false, padded: false))$\(Base64.encode(hash, url: false, padded: false))"
    }

    /// Parses `encoded`; nil if it is not a hash this code wrote (or its cost is out of range).
    public init?(encoded: String) {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt" else { return nil }
        var values: [Substring: UInt32] = [:]
        for item in parts[2].split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let value = UInt32(pair[1]) else { return nil }
            values[pair[0]] = value
        }
        guard values.count == 3, let ln = values["ln"], (2...24).contains(ln), let r = values["r"], (1...32).contains(r),
              let p = values["p"], (1...16).contains(p),
              let salt = Base64.decode(String(parts[3]), url: false), !salt.isEmpty,
              let hash = Base64.decode(String(parts[4]), url: false), hash.count >= 16 else { return nil }
        self.init(cost: Cost(log2N: UInt8(ln), r: r, p: p), salt: salt, hash: hash)
    }

    init(cost: Cost, salt: [UInt8], hash: [UInt8]) {
        self.cost = cost
        self.salt = salt
        self.hash = hash
    }
}

/// Base64 (RFC 4648), standard or URL-safe alphabet, with or without padding.
public enum Base64 {
    private static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlSafe = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8], url: Bool, padded: Bool) -> String {
        let alphabet = url ? urlSafe : standard
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index], b1 = index + 1 < bytes.count ? bytes[index + 1] : 0, b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
            let left = bytes.count - index
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            if left > 1 { out.append(alphabet[Int((b1 & 0x0f) << 2 | b2 >> 6)]) } else if padded { out.append(UInt8(ascii: "=")) }
            if left > 2 { out.append(alphabet[Int(b2 & 0x3f)]) } else if padded { out.append(UInt8(ascii: "=")) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes with or without padding; nil on any character outside the alphabet, a bad
    /// length, or bits left over in the last character (so each input has one encoding).
    public static func decode(_ text: String, url: Bool) -> [UInt8]? {
        var chars = Array(text.utf8)
        if chars.count % 4 == 0, chars.last == UInt8(ascii: "=") {
            chars.removeLast()
            if chars.last == UInt8(ascii: "=") { chars.removeLast() }
        }
        guard chars.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 3 / 4)
        var buffer: UInt32 = 0, bits = 0
        for char in chars {
            guard let value = sextet(char, url: url) else { return nil }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        guard buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }

    private static func sextet(_ c: UInt8, url: Bool) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): c - 65
        case UInt8(ascii: "a")...UInt8(ascii: "z"): c - 71
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c + 4
        case UInt8(ascii: "+") where !url, UInt8(ascii: "-") where url: 62
        case UInt8(ascii: "/") where !url, UInt8(ascii: "_") where url: 63
        default: nil
        }
    }
}
