import COpenSSL

/// A TLS or certificate failure, with OpenSSL's reason when it has one.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String

    init(_ what: String) {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(cString(buffer))
        }
        message = reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))"
    }

    public var description: String { message }
}

/// Who a certificate names: the node id (subject CN), its region (subject OU) and its role in
/// the fleet (subject title: store, regional or hub; nil in certificates issued before roles).
public struct CertificateSubject: Sendable, Equatable {
    public let commonName: String
    public let organizationalUnit: String?
    public let role: String?

    public init(commonName: String, organizationalUnit: String?, role: String? = nil) {
        self.commonName = commonName
        self.organizationalUnit = organizationalUnit
        self.role = role
    }
}

/// Issues the fleet's certificates (Ed25519, X.509 v3).
public enum Certificates {
    /// A self-signed CA certificate for `name`, valid `days`.
    public static func authority(key: Ed25519KeyPair, name: String, days: Int = 3650) throws(TLSError) -> String {
        try make(subject: CertificateSubject(commonName: name, organizationalUnit: "fleet-ca"), publicKey: key.pkey,
                 issuer: nil, signer: key.pkey, days: days, isAuthority: true)
    }

    /// A node certificate: `nodeId` as CN, `region` as OU, `role` as title, for `publicKeyPEM`,
    /// signed by the CA. The role is what peers trust a node to do (only a hub relays the fleet's
    /// changes and issues hub_admin tokens), so it is the CA's to grant, not the node's to claim.
    public static func issue(nodeId: String, region: String, role: String = "store", publicKeyPEM: String, authorityKey: Ed25519KeyPair,
                             authorityCertificatePEM: String, days: Int = 825) throws(TLSError) -> String {
        guard let publicKey = readPublicKey(publicKeyPEM) else { throw TLSError("not a public key in PEM") }
        defer { EVP_PKEY_free(publicKey) }
        guard let authority = readCertificate(authorityCertificatePEM) else { throw TLSError("not a CA certificate in PEM") }
        defer { X509_free(authority) }
        return try make(subject: CertificateSubject(commonName: nodeId, organizationalUnit: region, role: role), publicKey: publicKey,
                        issuer: X509_get_subject_name(authority), signer: authorityKey.pkey, days: days, isAuthority: false)
    }

    /// The subject of a certificate in PEM, or nil if it is not one.
    public static func subject(ofPEM pem: String) -> CertificateSubject? {
        guard let certificate = readCertificate(pem) else { return nil }
        defer { X509_free(certificate) }
        return subject(of: certificate)
    }

    /// A certificate's DER bytes (what a JWT's `x5c` carries, base64), nil if `pem` is not one.
    public static func der(ofPEM pem: String) -> [UInt8]? {
        guard let certificate = readCertificate(pem) else { return nil }
        defer { X509_free(certificate) }
        var out: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509(certificate, &out)
        guard length > 0, let out else { return nil }
        defer { outpost_openssl_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }

    /// A node certificate in DER that the CA in `authorityPEM` signed and that is valid at
    /// `nowSeconds`: who it names and its raw Ed25519 public key. Nil for anything else (bytes
    /// from a client: a forged, foreign, expired or malformed certificate).
    public static func verifiedNode(der: [UInt8], authorityPEM: String, nowSeconds: Int64) -> (subject: CertificateSubject, publicKey: [UInt8])? {
        guard !der.isEmpty, der.count <= 16 * 1024 else { return nil }
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let certificate = parsed else { ERR_clear_error(); return nil }
        defer { X509_free(certificate) }
        guard let authority = readCertificate(authorityPEM) else { return nil }
        defer { X509_free(authority) }
        guard let authorityKey = X509_get0_pubkey(authority), X509_verify(certificate, authorityKey) == 1 else { ERR_clear_error(); return nil }
        var now = time_t(nowSeconds)
        guard let notBefore = X509_get0_notBefore(certificate), let notAfter = X509_get0_notAfter(certificate),
              X509_cmp_time(notBefore, &now) < 0, X509_cmp_time(notAfter, &now) > 0 else { return nil }
        guard let subject = subject(of: certificate), let key = X509_get0_pubkey(certificate) else { return nil }
        var raw = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1, length == 32 else { ERR_clear_error(); return nil }
        return (subject, raw)
    }

    /// Whether `pem` was signed by the CA in `authorityPEM`.
    public static func isSigned(_ pem: String, by authorityPEM: String) -> Bool {
        guard let certificate = readCertificate(pem), let authority = readCertificate(authorityPEM) else { return false }
        defer { X509_free(certificate); X509_free(authority) }
        guard let key = X509_get0_pubkey(authority) else { return false }
        let ok = X509_verify(certificate, key) == 1
        ERR_clear_error()
        return ok
    }

    static func subject(of certificate: OpaquePointer) -> CertificateSubject? {
        guard let name = X509_get_subject_name(certificate) else { return nil }
        return CertificateSubject(commonName: entry(name, NID_commonName) ?? "", organizationalUnit: entry(name, NID_organizationalUnitName),
                                  role: entry(name, NID_title))
    }

    private static func entry(_ name: OpaquePointer, _ nid: Int32) -> String? {
        let index = X509_NAME_get_index_by_NID(name, nid, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { outpost_openssl_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }

    private static func make(subject: CertificateSubject, publicKey: OpaquePointer, issuer: OpaquePointer?, signer: OpaquePointer,
                             days: Int, isAuthority: Bool) throws(TLSError) -> String {
        guard let certificate = X509_new() else { throw TLSError("X509_new") }
        defer { X509_free(certificate) }
        X509_set_version(certificate, 2)  // v3
        let serial = SecureRandom.bytes(16)
        guard let number = BN_bin2bn(serial, 16, nil) else { throw TLSError("serial") }
        defer { BN_free(number) }
        BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate))
        X509_gmtime_adj(X509_getm_notBefore(certificate), -3600)  // an hour of slack for clocks behind
        X509_gmtime_adj(X509_getm_notAfter(certificate), days * 86_400)
        X509_set_pubkey(certificate, publicKey)
        let name = X509_get_subject_name(certificate)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, subject.commonName, -1, -1, 0)
        if let unit = subject.organizationalUnit { X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8, unit, -1, -1, 0) }
        if let role = subject.role { X509_NAME_add_entry_by_txt(name, "title", MBSTRING_UTF8, role, -1, -1, 0) }
        X509_set_issuer_name(certificate, issuer ?? name)
        let extensions = isAuthority
            ? [(NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign")]
            : [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
               (NID_ext_key_usage, "serverAuth,clientAuth"),
               // The node id as a DNS name, so HTTPS clients that pin the fleet's CA can check it.
               (NID_subject_alt_name, "DNS:" + subject.commonName)]
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, nil, nid, value) else { throw TLSError("extension \(value)") }
            X509_add_ext(certificate, ext, -1)
            X509_EXTENSION_free(ext)
        }
        guard X509_sign(certificate, signer, nil) > 0 else { throw TLSError("signing the certificate") }  // Ed25519: no digest
        let bio = BIO_new(BIO_s_mem())
        defer { BIO_free(bio) }
        guard PEM_write_bio_X509(bio, certificate) == 1 else { throw TLSError("PEM") }
        var data: UnsafeMutablePointer<CChar>?
        let length = outpost_bio_get_mem_data(bio, &data)
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    static func readCertificate(_ pem: String) -> OpaquePointer? {
        MemoryBIO.read(pem) { PEM_read_bio_X509($0, nil, nil, nil) }
    }

    static func readPublicKey(_ pem: String) -> OpaquePointer? {
        MemoryBIO.read(pem) { PEM_read_bio_PUBKEY($0, nil, nil, nil) }
    }
}

/// TLS settings shared by a node's links: TLS 1.3 only, our certificate and key, and the fleet
/// CA that every peer's certificate must chain to (both directions: mutual authentication).
public final class TLSContext: @unchecked Sendable {
    // Sendable: configured once in init, then only read; OpenSSL allows one SSL_CTX to be shared
    // by connections on any thread once set up.
    let raw: OpaquePointer
    /// Whether the other side must present a certificate that verifies (sync links both ways,
    /// and a client pinning the fleet's CA); an HTTPS server asks browsers for none.
    public let verifiesPeer: Bool

    public init(certificatePEM: String, key: Ed25519KeyPair, authorityPEM: String) throws(TLSError) {
        verifiesPeer = true
        guard let ctx = SSL_CTX_new(TLS_method()) else { throw TLSError("SSL_CTX_new") }
        raw = ctx
        guard outpost_ssl_ctx_tls13_only(ctx) == 1 else { throw TLSError("TLS 1.3 only") }
        outpost_ssl_ctx_set_partial_write(ctx)
        guard let certificate = Certificates.readCertificate(certificatePEM) else { throw TLSError("our certificate is not PEM") }
        defer { X509_free(certificate) }
        guard SSL_CTX_use_certificate(ctx, certificate) == 1, SSL_CTX_use_PrivateKey(ctx, key.pkey) == 1,
              SSL_CTX_check_private_key(ctx) == 1 else { throw TLSError("our certificate does not match our key") }
        guard let authority = Certificates.readCertificate(authorityPEM) else { throw TLSError("the CA certificate is not PEM") }
        defer { X509_free(authority) }
        guard X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), authority) == 1 else { throw TLSError("adding the CA") }
        // Both sides must present a certificate that chains to the fleet CA.
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
    }

    /// A server's context for HTTPS: the certificate chain and key in PEM files (any key type
    /// OpenSSL reads: an operator's ECDSA or RSA certificate for browsers, or the node's fleet
    /// certificate for tills and nodectl that pin the fleet's CA), no client certificate asked,
    /// TLS 1.3 and, if `allowTLS12`, 1.2 with forward-secret AEAD ciphers only.
    public init(serverCertificateFile: String, keyFile: String, allowTLS12: Bool) throws(TLSError) {
        verifiesPeer = false
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError("SSL_CTX_new") }
        raw = ctx
        guard outpost_ssl_ctx_min_version(ctx, allowTLS12 ? 1 : 0) == 1 else { throw TLSError("protocol versions") }
        if allowTLS12 {
            guard SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") == 1 else { throw TLSError("TLS 1.2 ciphers") }
        }
        outpost_ssl_ctx_set_partial_write(ctx)
        guard SSL_CTX_use_certificate_chain_file(ctx, serverCertificateFile) == 1 else { throw TLSError("reading the certificate \(serverCertificateFile)") }
        guard SSL_CTX_use_PrivateKey_file(ctx, keyFile, SSL_FILETYPE_PEM) == 1 else { throw TLSError("reading the key \(keyFile)") }
        guard SSL_CTX_check_private_key(ctx) == 1 else { throw TLSError("the key \(keyFile) does not match the certificate") }
    }

    /// A client's context for the retailer's own servers on the web (webhook receivers, mail
    /// relays): the system's CA store, and the CAs in `extraAuthorityFile` if given (a private
    /// PKI); TLS 1.2 or 1.3; the server's name is checked per connection (`serverName`).
    public init(clientTrustingSystemRootsAnd extraAuthorityFile: String?) throws(TLSError) {
        verifiesPeer = true
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError("SSL_CTX_new") }
        raw = ctx
        guard outpost_ssl_ctx_min_version(ctx, 1) == 1 else { throw TLSError("protocol versions") }
        guard SSL_CTX_set_default_verify_paths(ctx) == 1 else { throw TLSError("the system's CA store") }
        if let extraAuthorityFile {
            guard SSL_CTX_load_verify_locations(ctx, extraAuthorityFile, nil) == 1 else { throw TLSError("reading the CA file \(extraAuthorityFile)") }
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
    }

    /// A client's context that trusts only `authorityPEM` (nodectl pinning the fleet's CA) and
    /// presents no certificate.
    public init(clientTrusting authorityPEM: String) throws(TLSError) {
        verifiesPeer = true
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError("SSL_CTX_new") }
        raw = ctx
        guard outpost_ssl_ctx_min_version(ctx, 1) == 1 else { throw TLSError("protocol versions") }
        guard let authority = Certificates.readCertificate(authorityPEM) else { throw TLSError("the CA certificate is not PEM") }
        defer { X509_free(authority) }
        guard X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), authority) == 1 else { throw TLSError("adding the CA") }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
    }

    deinit { SSL_CTX_free(raw) }
}

/// One TLS connection over memory BIOs: the owner moves ciphertext between the socket and this
/// object, so TLS never touches the socket and never blocks the loop.
///
/// ```swift
/// tls.receiveCiphertext(bytesFromSocket)
/// let plaintext = try tls.readPlaintext()   // also advances the handshake
/// socket.write(tls.takeCiphertext())
/// ```
public final class TLSConnection {
    private let ssl: OpaquePointer
    private let incoming: OpaquePointer  // ciphertext from the peer, read by SSL
    private let outgoing: OpaquePointer  // ciphertext for the peer, written by SSL
    public let context: TLSContext
    public private(set) var isHandshakeComplete = false
    /// Who the peer's verified certificate names; set when the handshake completes.
    public private(set) var peer: CertificateSubject?

    /// The negotiated protocol ("TLSv1.3"), once the handshake is done.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// `serverName`: a client's, the host it dialed; sent as SNI, and the certificate must name it.
    public init(context: TLSContext, isServer: Bool, serverName: String? = nil) throws(TLSError) {
        self.context = context
        guard let ssl = SSL_new(context.raw) else { throw TLSError("SSL_new") }
        if let serverName, outpost_ssl_set_server_name(ssl, serverName) != 1 {
            SSL_free(ssl)
            throw TLSError("the server name \(serverName)")
        }
        self.ssl = ssl
        guard let incoming = BIO_new(BIO_s_mem()), let outgoing = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError("BIO_new")
        }
        self.incoming = incoming
        self.outgoing = outgoing
        SSL_set_bio(ssl, incoming, outgoing)  // the SSL now owns both BIOs
        if isServer { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
    }

    deinit { SSL_free(ssl) }

    /// Bytes that arrived from the socket.
    public func receiveCiphertext(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let written = BIO_write(incoming, bytes.baseAddress, Int32(bytes.count))
        precondition(written == Int32(bytes.count), "a memory BIO takes every byte")  // grows as needed
    }

    public func receiveCiphertext(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { receiveCiphertext($0) }
    }

    /// Advances the handshake (if not done) and returns the application bytes now readable.
    /// Throws on a failed handshake (wrong CA, no certificate, TLS < 1.3) or a broken record.
    public func readPlaintext() throws(TLSError) -> [UInt8] {
        if !isHandshakeComplete {
            let result = SSL_do_handshake(ssl)
            if result != 1 {
                let error = SSL_get_error(ssl, result)
                if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return [] }
                throw TLSError("TLS handshake failed")
            }
            isHandshakeComplete = true
            if let certificate = SSL_get1_peer_certificate(ssl) {
                peer = Certificates.subject(of: certificate)
                X509_free(certificate)
            }
            if context.verifiesPeer {
                guard SSL_get_verify_result(ssl) == X509_V_OK, peer != nil else {
                    throw TLSError("the peer's certificate does not verify (\(String(cString: X509_verify_cert_error_string(Int(SSL_get_verify_result(ssl))))))")
                }
            }
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = SSL_read(ssl, &chunk, Int32(chunk.count))
            if count > 0 {
                out.append(contentsOf: chunk[0..<Int(count)])
                continue
            }
            let error = SSL_get_error(ssl, count)
            if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return out }
            if error == SSL_ERROR_ZERO_RETURN { return out }  // the peer's close_notify
            throw TLSError("TLS record failed")
        }
    }

    /// Encrypts application bytes; take the ciphertext with `takeCiphertext()`.
    public func writePlaintext(_ bytes: [UInt8]) throws(TLSError) {
        precondition(isHandshakeComplete, "write after the handshake")
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            guard count > 0 else { throw TLSError("TLS write failed") }
            offset += Int(count)
        }
    }

    /// Ciphertext to send to the peer (handshake messages and records), possibly empty.
    public func takeCiphertext() -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(outgoing))
        guard pending > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: pending)
        let read = BIO_read(outgoing, &out, Int32(pending))
        return read > 0 ? Array(out[0..<Int(read)]) : []
    }

    /// Queues a close_notify for the peer.
    public func shutdown() {
        if isHandshakeComplete { SSL_shutdown(ssl) }
    }
}
