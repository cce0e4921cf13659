import Platform

/// The hub's signature on its journal's head: entry `seq` has hash `hash`. The hub signs one
/// every so often and replicates it to every store, which keeps it; `verify` then checks the
/// journal against every checkpoint it is given. The hash chain makes the head stand for every
/// entry before it, so a rewrite of any of them, however consistent, no longer matches a
/// checkpoint signed before it (docs/ledger.md, "What the anchors prove").
public struct LedgerCheckpoint: Equatable, Hashable, Sendable {
    public var hub: String
    public var seq: Int64
    /// The entry's hash, hex.
    public var hash: String
    public var atMs: Int64
    /// The hub's Ed25519 public key (hex): the one in its fleet certificate.
    public var key: String
    /// Ed25519 over `signedBytes`, hex.
    public var signature: String

    /// What the signature covers: a domain tag, then every field but the signature.
    public var signedBytes: [UInt8] { Array("outpost-ledger-checkpoint/1\n\(hub)\n\(seq)\n\(hash)\n\(atMs)\n\(key)".utf8) }

    public static func signed(hub: String, seq: Int64, hash: [UInt8], atMs: Int64, keyPair: Ed25519KeyPair) -> LedgerCheckpoint {
        var checkpoint = LedgerCheckpoint(hub: hub, seq: seq, hash: Hex.encode(hash), atMs: atMs, key: Hex.encode(keyPair.publicKey), signature: "")
        checkpoint.signature = Hex.encode(keyPair.sign(checkpoint.signedBytes))
        return checkpoint
    }

    public var signatureIsValid: Bool {
        guard let signature = Hex.decode(signature), let key = Hex.decode(key), key.count == 32 else { return false }
        return Ed25519KeyPair.verify(signature, of: signedBytes, publicKey: key)
    }

    /// One line: how the `ledger` collection holds it and how `nodectl ledger checkpoints` exports it.
    public var text: String { "ledger-checkpoint/1 \(hub) \(seq) \(hash) \(atMs) \(key) \(signature)" }

    /// A checkpoint from its line; nil for anything else (garbage, a newer version, a field out of range).
    public init?(text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 7, parts[0] == "ledger-checkpoint/1", let seq = Int64(parts[2]), seq >= 0, let atMs = Int64(parts[4]), atMs >= 0,
              (1...128).contains(parts[1].count), parts[3].count == 64, parts[5].count == 64, parts[6].count == 128,
              [parts[3], parts[5], parts[6]].allSatisfy({ Hex.decode(String($0)) != nil }) else { return nil }
        self.init(hub: String(parts[1]), seq: seq, hash: String(parts[3]), atMs: atMs, key: String(parts[5]), signature: String(parts[6]))
    }

    public init(hub: String, seq: Int64, hash: String, atMs: Int64, key: String, signature: String) {
        self.hub = hub
        self.seq = seq
        self.hash = hash
        self.atMs = atMs
        self.key = key
        self.signature = signature
    }
}

extension Ledger {
    /// The journal against signed checkpoints: each must carry a valid signature by a key in
    /// `trustedKeys` (the hub's, from its fleet certificate), and name an entry that exists and
    /// has that hash. Two valid checkpoints for one entry with different hashes mean the hub
    /// signed two histories. Returns the problems (none: every checkpoint anchors the journal)
    /// and how far the journal is anchored.
    public func check(against checkpoints: some Sequence<LedgerCheckpoint>, trustedKeys: Set<String>) throws
        -> (problems: [LedgerVerification.Problem], anchoredThrough: Int64, checked: Int) {
        var problems: [LedgerVerification.Problem] = []
        var bySeq: [Int64: [LedgerCheckpoint]] = [:]
        var checked = 0
        for checkpoint in Set(checkpoints) {
            checked += 1
            guard checkpoint.signatureIsValid else {
                problems.append(.init(seq: checkpoint.seq, account: nil, reason: "a checkpoint's signature does not verify (forged or damaged)"))
                continue
            }
            guard trustedKeys.contains(checkpoint.key) else {
                problems.append(.init(seq: checkpoint.seq, account: nil, reason: "a checkpoint is signed by \(checkpoint.key.prefix(16))…, not by the hub's certificate's key"))
                continue
            }
            bySeq[checkpoint.seq, default: []].append(checkpoint)
        }
        let (headSeq, _) = try head()
        var anchored: Int64 = 0
        for (seq, signed) in bySeq.sorted(by: { $0.key < $1.key }) {
            if Set(signed.map(\.hash)).count > 1 {
                problems.append(.init(seq: seq, account: nil, reason: "the hub signed two different hashes for this entry: two histories"))
            }
            guard seq <= headSeq, let entry = try journal(from: seq, limit: 1).first, entry.seq == seq else {
                let at = signed.map(\.atMs).min() ?? 0
                problems.append(.init(seq: seq, account: nil, reason: "a checkpoint signed at \(WallClock.iso8601(ms: at)) names this entry, and the journal ends at \(headSeq): entries were removed"))
                continue
            }
            let hash = Hex.encode(entry.hash)
            if signed.contains(where: { $0.hash != hash }) {
                let at = signed.first { $0.hash != hash }?.atMs ?? 0
                problems.append(.init(seq: seq, account: nil, reason: "the hash differs from the checkpoint signed at \(WallClock.iso8601(ms: at)): this entry or one before it was rewritten since"))
            } else {
                anchored = max(anchored, seq)
            }
        }
        return (problems, anchored, checked)
    }
}
