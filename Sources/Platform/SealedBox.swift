import COpenSSL

/// AES-256-GCM through OpenSSL: secrecy and integrity for small values kept where others can
/// read them (personal data in replicated state and its op log, backups). A box is
/// `version (1) | nonce (12) | ciphertext | tag (16)`; the nonce is random per box, so one key
/// may seal about 2^32 boxes before nonces risk repeating.
public enum SealedBox {
    public static let keyBytes = 32
    static let version: UInt8 = 1
    static let nonceBytes = 12
    static let tagBytes = 16
    public static let overheadBytes = 1 + nonceBytes + tagBytes

    /// Seals `plaintext` under `key` (32 bytes), bound to `context` (not stored: opening needs
    /// the same bytes, so a box moved to another record does not open there).
    public static func seal(_ plaintext: [UInt8], key: [UInt8], context: [UInt8] = []) -> [UInt8] {
        seal(plaintext, key: key, context: context, nonce: SecureRandom.bytes(nonceBytes))
    }

    /// With a given nonce: for known-answer tests only (a nonce must never repeat under a key).
    static func seal(_ plaintext: [UInt8], key: [UInt8], context: [UInt8], nonce: [UInt8]) -> [UInt8] {
        precondition(key.count == keyBytes && nonce.count == nonceBytes, "an AES-256 key is 32 bytes, a nonce 12")  // ours, never input
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count)
        var tag = [UInt8](repeating: 0, count: tagBytes)
        let ok = run(encrypting: true, key: key, nonce: nonce, context: context, input: plaintext, output: &ciphertext, tag: &tag)
        precondition(ok, "AES-256-GCM sealing failed")  // allocation failure inside OpenSSL only
        return [version] + nonce + ciphertext + tag
    }

    /// The plaintext, or nil if the box was not sealed under `key` and `context` or was altered.
    public static func open(_ box: [UInt8], key: [UInt8], context: [UInt8] = []) -> [UInt8]? {
        guard key.count == keyBytes, box.count >= overheadBytes, box[0] == version else { return nil }
        let nonce = Array(box[1..<1 + nonceBytes])
        let ciphertext = Array(box[1 + nonceBytes..<box.count - tagBytes])
        var tag = Array(box[(box.count - tagBytes)...])
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        guard run(encrypting: false, key: key, nonce: nonce, context: context, input: ciphertext, output: &plaintext, tag: &tag) else { return nil }
        return plaintext
    }

    private static func run(encrypting: Bool, key: [UInt8], nonce: [UInt8], context: [UInt8], input: [UInt8],
                            output: inout [UInt8], tag: inout [UInt8]) -> Bool {
        guard let cipher = EVP_CIPHER_CTX_new() else { return false }
        defer { EVP_CIPHER_CTX_free(cipher) }
        let mode: Int32 = encrypting ? 1 : 0
        guard EVP_CipherInit_ex(cipher, OpenSSLAlgorithms.shared.aes256GCM, nil, nil, nil, mode) == 1,
              EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceBytes), nil) == 1,
              EVP_CipherInit_ex(cipher, nil, nil, key, nonce, mode) == 1 else { return false }
        var length: Int32 = 0
        if !context.isEmpty {
            guard EVP_CipherUpdate(cipher, nil, &length, context, Int32(context.count)) == 1 else { return false }
        }
        if !input.isEmpty {
            let ok = output.withUnsafeMutableBufferPointer { out in
                EVP_CipherUpdate(cipher, out.baseAddress, &length, input, Int32(input.count)) == 1
            }
            guard ok else { return false }
        }
        if !encrypting {
            guard tag.withUnsafeMutableBytes({ EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_GCM_SET_TAG, Int32(tagBytes), $0.baseAddress) }) == 1 else { return false }
        }
        var finalBytes = [UInt8](repeating: 0, count: 16)
        guard EVP_CipherFinal_ex(cipher, &finalBytes, &length) == 1 else { return false }  // a wrong tag fails here
        if encrypting {
            guard tag.withUnsafeMutableBytes({ EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_GCM_GET_TAG, Int32(tagBytes), $0.baseAddress) }) == 1 else { return false }
        }
        return true
    }
}
