/// A firmware bundle as the hub offers it over sync links (sync/PROTOCOL.md, FIRMWARE_OFFER):
/// what it is, how big, and the SHA-256 a fetched copy must have. The bundle's signature is
/// checked again on the box before anything is written to a slot; the hash only catches a copy
/// damaged or altered on its way.
public struct FirmwareOffer: Equatable, Sendable {
    public var version: String
    public var compatible: String
    public var bytes: UInt64
    public var sha256: [UInt8]

    /// Bounds a peer's words are held to: a hub offers a few bundles, none larger than 4 GiB,
    /// and hands them out in chunks of at most 1 MiB.
    public static let offersMax = 8
    public static let bundleBytesMax: UInt64 = 4 << 30
    public static let chunkBytesMax = 1 << 20
    public static let nameBytesMax = 64

    public init(version: String, compatible: String, bytes: UInt64, sha256: [UInt8]) {
        self.version = version
        self.compatible = compatible
        self.bytes = bytes
        self.sha256 = sha256
    }

    /// A version or compatible string is also a file name on the receiving box: letters, digits,
    /// `.`, `_`, `+` and `-`, starting with a letter or digit, at most 64 bytes.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= nameBytesMax, isAlphanumeric(first) else { return false }
        return name.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    func encode(to w: inout CanonicalWriter) {
        w.string(version)
        w.string(compatible)
        w.unsigned(bytes)
        w.data(sha256)
    }

    static func decodeList(from r: inout CanonicalReader) throws(WireError) -> [FirmwareOffer] {
        let count = try r.count()
        guard count <= offersMax else { throw .invalid("a firmware offer lists \(count) bundles, more than \(offersMax)") }
        var offers: [FirmwareOffer] = []
        for _ in 0..<count {
            let version = try r.string(), compatible = try r.string(), bytes = try r.unsigned(), sha256 = try r.data()
            guard isValidName(version), isValidName(compatible) else { throw .invalid("a firmware offer names a version or box that is not a plain name") }
            guard bytes > 0, bytes <= bundleBytesMax else { throw .invalid("a firmware bundle of \(bytes) bytes is out of bounds") }
            guard sha256.count == 32 else { throw .invalid("a firmware hash is \(sha256.count) bytes, not 32") }
            guard !offers.contains(where: { $0.version == version }) else { throw .invalid("a firmware offer lists \(version) twice") }
            offers.append(FirmwareOffer(version: version, compatible: compatible, bytes: bytes, sha256: sha256))
        }
        return offers
    }

    /// FIRMWARE_REQUEST's fields, checked: a plain version and a range of 1 byte to 1 MiB within
    /// the largest bundle, so that offset + length can never overflow.
    static func checkedRange(version: String, offset: UInt64, length: UInt64) throws(WireError) {
        guard isValidName(version) else { throw .invalid("a firmware request names a version that is not a plain name") }
        guard length > 0, length <= UInt64(chunkBytesMax) else { throw .invalid("a firmware request of \(length) bytes is out of bounds") }
        guard offset <= bundleBytesMax else { throw .invalid("a firmware request at \(offset) is past any bundle") }
    }
}
