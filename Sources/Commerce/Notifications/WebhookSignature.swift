import Platform

/// How a receiver knows a delivery came from this node and was not replayed
/// (docs/notifications.md): `Outpost-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`, each v1
/// the HMAC-SHA256 of `<t>.<body>` under one of the endpoint's secrets (two while a rotation
/// overlaps). The receiver recomputes it with its secret, compares in constant time, and refuses
/// a timestamp more than five minutes away from its clock.
public enum WebhookSignature {
    public static let header = "Outpost-Signature"
    public static let toleranceSeconds: Int64 = 300

    public static func header(body: [UInt8], secrets: [String], timestampSeconds: Int64) -> String {
        "t=\(timestampSeconds)" + secrets.map { ",v1=" + Hex.encode(mac(body, secret: $0, timestamp: timestampSeconds)) }.joined()
    }

    /// Whether `header` signs `body` under `secret`, at a time within tolerance of `nowSeconds`.
    public static func isValid(_ header: String, body: [UInt8], secret: String, nowSeconds: Int64) -> Bool {
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int64(pair[1]) } else if pair[0] == "v1", let mac = Hex.decode(pair[1]) { signatures.append(mac) }
        }
        guard let timestamp, abs(nowSeconds - timestamp) <= toleranceSeconds else { return false }
        return signatures.contains { HMACSHA256.isValid($0, for: Array("\(timestamp).".utf8) + body, key: Array(secret.utf8)) }
    }

    private static func mac(_ body: [UInt8], secret: String, timestamp: Int64) -> [UInt8] {
        HMACSHA256.authenticate(Array("\(timestamp).".utf8) + body, key: Array(secret.utf8))
    }
}
