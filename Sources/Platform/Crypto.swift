import COpenSSL

/// SHA-256 (OpenSSL EVP).
public enum SHA256 {
    public static let digestBytes = 32

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: digestBytes)
        var length: UInt32 = 0
        let ok = EVP_Digest(bytes.baseAddress, bytes.count, &digest, &length, OpenSSLAlgorithms.shared.sha256, nil)
        // Fails only on allocation failure inside OpenSSL, which is not an input condition.
        precondition(ok == 1 && length == 32, "EVP_Digest(SHA-256) failed")
        return digest
    }

    /// Lower-case hex of the SHA-256 of `text`'s UTF-8: how tokens, codes and keys are kept
    /// (never the secret itself).
    public static func hex(_ text: String) -> String {
        Hex.encode(hash(Array(text.utf8)))
    }
}

/// The algorithms this process uses, fetched from OpenSSL's default provider once. Passed as
/// `EVP_sha256()` or `EVP_aes_256_gcm()`, OpenSSL 3 looks the implementation up again on every
/// init, which cost more than hashing or sealing a small value.
///
/// `@unchecked Sendable`: fetched EVP_MD and EVP_CIPHER objects are immutable once fetched, and
/// OpenSSL documents them as safe to use from many threads at once; they are never freed.
struct OpenSSLAlgorithms: @unchecked Sendable {
    let sha256: OpaquePointer
    let aes256GCM: OpaquePointer

    static let shared = OpenSSLAlgorithms()

    private init() {
        // Fails only when OpenSSL lacks its default provider: an installation fault, not input.
        guard let sha256 = EVP_MD_fetch(nil, "SHA256", nil), let aes256GCM = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) else {
            preconditionFailure("OpenSSL's default provider has no SHA-256 or AES-256-GCM")
        }
        self.sha256 = sha256
        self.aes256GCM = aes256GCM
    }
}

/// SHA-256 over many messages through one OpenSSL context. `SHA256.hash` (EVP_Digest) allocates
/// a context on every call: a fifth of what the hub spent per ledger transfer, where every
/// journal entry is hashed. One thread at a time (not Sendable).
public final class SHA256Digester {
    private let algorithm = OpenSSLAlgorithms.shared.sha256
    private let context: OpaquePointer

    public init() {
        // Fails only when OpenSSL cannot allocate: not an input condition.
        guard let context = EVP_MD_CTX_new() else { preconditionFailure("OpenSSL cannot allocate a digest context") }
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    public func hash(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: SHA256.digestBytes)
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { input in
            EVP_DigestInit_ex2(context, algorithm, nil) == 1 && EVP_DigestUpdate(context, input.baseAddress, input.count) == 1
                && EVP_DigestFinal_ex(context, &digest, &length) == 1
        }
        precondition(ok && length == 32, "SHA-256 failed")
        return digest
    }
}

/// SHA-256 of bytes fed in pieces: a file too large to hold (a firmware bundle). One thread at a
/// time (not Sendable).
public final class SHA256Stream {
    private let context: OpaquePointer

    public init() {
        // Fails only when OpenSSL cannot allocate: not an input condition.
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex2(context, OpenSSLAlgorithms.shared.sha256, nil) == 1 else {
            preconditionFailure("OpenSSL cannot set up a digest")
        }
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    public func update(_ bytes: ArraySlice<UInt8>) {
        let ok = bytes.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        precondition(ok == 1, "SHA-256 failed")
    }

    /// The digest of everything fed so far; the stream is spent.
    public func finish() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: SHA256.digestBytes)
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &digest, &length) == 1 && length == 32, "SHA-256 failed")
        return digest
    }

    /// The SHA-256 of a whole file, read 4 MiB at a time. Blocking: call it from the work queue.
    public static func file(_ path: String) throws -> [UInt8] {
        let stream = SHA256Stream()
        try Files.readChunks(path) { chunk in
            stream.update(chunk)
            return true
        }
        return stream.finish()
    }
}

/// HMAC-SHA-256 (OpenSSL).
public enum HMACSHA256 {
    public static func authenticate(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: SHA256.digestBytes)
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                HMAC(EVP_sha256(), k.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(k.count),
                     m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count, &mac, &length)
            }
        }
        precondition(result != nil && length == 32, "HMAC-SHA-256 failed")  // allocation failure only
        return mac
    }

    /// Compares two MACs in time independent of where they differ.
    public static func isValid(_ mac: [UInt8], for message: [UInt8], key: [UInt8]) -> Bool {
        constantTimeEquals(authenticate(message, key: key), mac)
    }
}

/// Equality whose running time depends only on the lengths: for tokens and MACs.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 } }
}

/// Cryptographically secure random bytes (OpenSSL's DRBG, seeded by the kernel).
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return bytes }
        let ok = RAND_bytes(&bytes, Int32(count))
        // RAND_bytes fails only if the kernel's entropy source is unavailable: the node must not run on.
        precondition(ok == 1, "secure random source unavailable")
        return bytes
    }

    public static func uint64() -> UInt64 {
        bytes(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}

/// An Ed25519 key pair: the node's identity and signing key.
public final class Ed25519KeyPair: @unchecked Sendable {
    // Sendable: the EVP_PKEY is never mutated after creation, and OpenSSL allows concurrent
    // signing with one const key.
    let pkey: OpaquePointer

    private init(pkey: OpaquePointer) { self.pkey = pkey }
    deinit { EVP_PKEY_free(pkey) }

    public static func generate() -> Ed25519KeyPair {
        let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil)
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer?
        // Key generation fails only on allocation failure.
        precondition(ctx != nil && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &pkey) == 1 && pkey != nil, "Ed25519 keygen failed")
        return Ed25519KeyPair(pkey: pkey!)
    }

    /// From the 32-byte private seed.
    public static func fromSeed(_ seed: [UInt8]) -> Ed25519KeyPair? {
        guard seed.count == 32 else { return nil }
        guard let pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, 32) else { return nil }
        return Ed25519KeyPair(pkey: pkey)
    }

    /// From a PKCS#8 PEM private key; nil if it is not an Ed25519 key.
    public static func fromPEM(_ pem: String) -> Ed25519KeyPair? {
        guard let pkey = MemoryBIO.read(pem, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else { return nil }
        guard EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 else {
            EVP_PKEY_free(pkey)
            return nil
        }
        return Ed25519KeyPair(pkey: pkey)
    }

    public var privateKeyPEM: String { pem(isPrivate: true) }
    public var publicKeyPEM: String { pem(isPrivate: false) }

    private func pem(isPrivate: Bool) -> String {
        let bio = BIO_new(BIO_s_mem())
        defer { BIO_free(bio) }
        let ok = isPrivate ? PEM_write_bio_PrivateKey(bio, pkey, nil, nil, 0, nil, nil) : PEM_write_bio_PUBKEY(bio, pkey)
        precondition(ok == 1, "PEM encoding failed")  // memory BIO: allocation failure only
        var data: UnsafeMutablePointer<CChar>?
        let length = outpost_bio_get_mem_data(bio, &data)
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    public var publicKey: [UInt8] {
        var key = [UInt8](repeating: 0, count: 32)
        var length = 32
        precondition(EVP_PKEY_get_raw_public_key(pkey, &key, &length) == 1 && length == 32, "raw public key")
        return key
    }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let ok = EVP_DigestSignInit(ctx, nil, nil, nil, pkey) == 1
            && message.withUnsafeBytes { EVP_DigestSign(ctx, &signature, &length, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count) } == 1
        precondition(ok && length == 64, "Ed25519 sign failed")
        return signature
    }

    /// Verifies a signature against a raw 32-byte public key.
    public static func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard publicKey.count == 32, signature.count == 64,
              let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, publicKey, 32) else { return false }
        defer { EVP_PKEY_free(key) }
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, nil, nil, key) == 1 else { return false }
        let ok = message.withUnsafeBytes { EVP_DigestVerify(ctx, signature, 64, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count) } == 1
        ERR_clear_error()
        return ok
    }
}

/// FNV-1a, 64 bits: a fast hash for validators and stable seeds. Not for secrets or for
/// anything an adversary can aim collisions at.
public enum FNV1a {
    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

/// A 64-bit fingerprint of a byte string for validators (ETags): the same bytes give the same
/// value in every process and release, and it reads eight bytes a step, where FNV-1a's one byte
/// a step took a tenth of a search's CPU on a 40 kB result page. Not for anything an attacker
/// must not be able to collide.
public enum Fingerprint {
    public static func of(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(bytes.count)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset + 8 <= raw.count {
                let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                hash = (hash ^ word) &* 0x9e37_79b9_7f4a_7c15
                hash ^= hash >> 29
                offset += 8
            }
            while offset < raw.count {
                hash = (hash ^ UInt64(raw[offset])) &* 0x100_0000_01b3
                offset += 1
            }
        }
        // A last mix, so the bytes of the final words reach every bit of the value.
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }
}

/// Lowercase hexadecimal.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = value(chars[index]), let low = value(chars[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}

/// OpenSSL reading PEM text from memory. A memory BIO does not copy the bytes it reads, so it
/// must not outlive the buffer: an optimized build releases an array as soon as it is last used,
/// and a BIO made inside `withUnsafeBytes` and read after it read freed memory (nodectl release
/// builds could not read the fleet CA's key).
enum MemoryBIO {
    static func read<T>(_ text: String, _ parse: (OpaquePointer) -> T?) -> T? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw -> T? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            guard let value = parse(bio) else {
                ERR_clear_error()
                return nil
            }
            return value
        }
    }
}
