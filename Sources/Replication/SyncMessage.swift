/// One change as it travels: who made it (dot), when (hybrid clock), to which key, and the
/// canonical encoding of the CRDT delta for that key.
public struct WireDelta: Equatable, Sendable {
    /// The origin's event id; applying a delta whose dot was applied before is a no-op.
    public let dot: Dot
    /// The origin's clock when it made the change.
    public let timestamp: HLCTimestamp
    /// The key within the collection (product id, cart id, "sku@location"...).
    public let key: String
    /// The CRDT delta, canonically encoded.
    public let payload: [UInt8]

    public init(dot: Dot, timestamp: HLCTimestamp, key: String, payload: [UInt8]) {
        self.dot = dot
        self.timestamp = timestamp
        self.key = key
        self.payload = payload
    }

    /// A list of deltas as a DELTAS message carries them: the count, then each delta's dot,
    /// clock reading, key and payload. A node's op log stores the same bytes.
    public static func encode(_ deltas: [WireDelta], to w: inout CanonicalWriter) {
        w.unsigned(UInt64(deltas.count))
        for delta in deltas {
            w.value(delta.dot)
            w.value(delta.timestamp)
            w.string(delta.key)
            w.data(delta.payload)
        }
    }

    public static func decodeList(from r: inout CanonicalReader) throws(WireError) -> [WireDelta] {
        let count = try r.count()
        var deltas: [WireDelta] = []
        deltas.reserveCapacity(count)
        for _ in 0..<count {
            deltas.append(WireDelta(dot: try r.dot(), timestamp: try r.timestamp(), key: try r.string(), payload: try r.data()))
        }
        return deltas
    }
}

/// Why a link is being closed (sync/PROTOCOL.md §4, ERROR).
public struct SyncErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let malformedFrame = SyncErrorCode(rawValue: 1)
    public static let unsupportedVersion = SyncErrorCode(rawValue: 2)
    public static let unknownMessage = SyncErrorCode(rawValue: 3)
    public static let identityMismatch = SyncErrorCode(rawValue: 4)
    public static let clockSkew = SyncErrorCode(rawValue: 5)
    public static let unknownCollection = SyncErrorCode(rawValue: 6)
    public static let duplicateLink = SyncErrorCode(rawValue: 7)
    public static let shuttingDown = SyncErrorCode(rawValue: 8)
    public static let internalError = SyncErrorCode(rawValue: 9)
    /// The peer sent what its certificate's role does not allow (another node's changes, a
    /// snapshot of a global collection, a hub-only record).
    public static let notAuthorized = SyncErrorCode(rawValue: 10)
    /// The peer asked for more at once than a link holds open (FIRMWARE_REQUEST).
    public static let tooManyRequests = SyncErrorCode(rawValue: 11)

    private static let names: [UInt64: String] = [
        1: "malformed_frame", 2: "unsupported_version", 3: "unknown_message", 4: "identity_mismatch",
        5: "clock_skew", 6: "unknown_collection", 7: "duplicate_link", 8: "shutting_down", 9: "internal",
        10: "not_authorized", 11: "too_many_requests",
    ]

    public var description: String { Self.names[rawValue] ?? "error_\(rawValue)" }
}

/// The messages of sync protocol version 1 (sync/PROTOCOL.md §4). Encoding and decoding are
/// exact inverses: one message, one encoding.
public enum SyncMessage: Equatable, Sendable {
    case hello(minVersion: UInt64, maxVersion: UInt64, nodeId: String, region: String, role: String, now: HLCTimestamp)
    case summary(collection: String, applied: VersionVector, compactedThrough: VersionVector, digest: [UInt8])
    case deltas(collection: String, deltas: [WireDelta])
    case ack(collection: String, applied: VersionVector)
    case snapshot(collection: String, covers: VersionVector, chunkIndex: UInt64, chunkCount: UInt64, chunk: [UInt8])
    case rightsRequest(collection: String, key: String, units: UInt64)
    case rightsDeclined(collection: String, key: String, available: UInt64)
    case ping(nonce: UInt64)
    case pong(nonce: UInt64)
    case error(code: SyncErrorCode, reason: String)
    /// Hub to peer: the firmware bundles it holds (replacing any earlier offer).
    case firmwareOffer([FirmwareOffer])
    /// Peer to hub: bytes `offset ..< offset + length` of one offered bundle.
    case firmwareRequest(version: String, offset: UInt64, length: UInt64)
    /// Hub to peer: bytes of a bundle from `offset`; none when the hub no longer holds it.
    case firmwareChunk(version: String, offset: UInt64, data: [UInt8])
    /// Hub to a peer: the sizes of the peer's backup files the hub holds (docs/backups.md).
    case backupState([BackupFileSize])
    /// Peer to hub: bytes of one of its backup files, to append at `offset`.
    case backupAppend(file: String, offset: UInt64, data: [UInt8])
    /// Hub to peer: the size of that file on the hub now.
    case backupAck(file: String, size: UInt64)

    public static let digestBytes = 32

    public var typeCode: UInt64 {
        switch self {
        case .hello: 1
        case .summary: 2
        case .deltas: 3
        case .ack: 4
        case .snapshot: 5
        case .rightsRequest: 6
        case .rightsDeclined: 7
        case .ping: 8
        case .pong: 9
        case .error: 10
        case .firmwareOffer: 11
        case .firmwareRequest: 12
        case .firmwareChunk: 13
        case .backupState: 14
        case .backupAppend: 15
        case .backupAck: 16
        }
    }

    public func encoded() -> [UInt8] {
        var w = CanonicalWriter()
        w.unsigned(typeCode)
        switch self {
        case let .hello(minVersion, maxVersion, nodeId, region, role, now):
            w.unsigned(minVersion)
            w.unsigned(maxVersion)
            w.string(nodeId)
            w.string(region)
            w.string(role)
            w.value(now)
        case let .summary(collection, applied, compactedThrough, digest):
            w.string(collection)
            w.value(applied)
            w.value(compactedThrough)
            w.data(digest)
        case let .deltas(collection, deltas):
            w.string(collection)
            WireDelta.encode(deltas, to: &w)
        case let .ack(collection, applied):
            w.string(collection)
            w.value(applied)
        case let .snapshot(collection, covers, chunkIndex, chunkCount, chunk):
            w.string(collection)
            w.value(covers)
            w.unsigned(chunkIndex)
            w.unsigned(chunkCount)
            w.data(chunk)
        case let .rightsRequest(collection, key, units):
            w.string(collection)
            w.string(key)
            w.unsigned(units)
        case let .rightsDeclined(collection, key, available):
            w.string(collection)
            w.string(key)
            w.unsigned(available)
        case let .ping(nonce), let .pong(nonce):
            w.unsigned(nonce)
        case let .error(code, reason):
            w.unsigned(code.rawValue)
            w.string(reason)
        case .firmwareOffer(let offers):
            w.unsigned(UInt64(offers.count))
            for offer in offers { offer.encode(to: &w) }
        case let .firmwareRequest(version, offset, length):
            w.string(version)
            w.unsigned(offset)
            w.unsigned(length)
        case let .firmwareChunk(version, offset, data):
            w.string(version)
            w.unsigned(offset)
            w.data(data)
        case .backupState(let files):
            w.unsigned(UInt64(files.count))
            for file in files {
                w.string(file.name)
                w.unsigned(file.size)
            }
        case let .backupAppend(file, offset, data):
            w.string(file)
            w.unsigned(offset)
            w.data(data)
        case let .backupAck(file, size):
            w.string(file)
            w.unsigned(size)
        }
        return w.bytes
    }

    /// Decodes one message; every byte must belong to it.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> SyncMessage {
        var r = CanonicalReader(bytes)
        let type = try r.unsigned()
        let message: SyncMessage
        switch type {
        case 1:
            let minVersion = try r.unsigned(), maxVersion = try r.unsigned()
            guard minVersion <= maxVersion else { throw .invalid("HELLO's version range is empty") }
            message = .hello(minVersion: minVersion, maxVersion: maxVersion, nodeId: try r.string(), region: try r.string(),
                             role: try r.string(), now: try r.timestamp())
        case 2:
            let collection = try r.string(), applied = try r.versionVector(), compacted = try r.versionVector()
            let digest = try r.data()
            guard digest.count == digestBytes else { throw .invalid("a digest is \(digest.count) bytes, not \(digestBytes)") }
            message = .summary(collection: collection, applied: applied, compactedThrough: compacted, digest: digest)
        case 3:
            let collection = try r.string()
            message = .deltas(collection: collection, deltas: try WireDelta.decodeList(from: &r))
        case 4:
            message = .ack(collection: try r.string(), applied: try r.versionVector())
        case 5:
            let collection = try r.string(), covers = try r.versionVector()
            let index = try r.unsigned(), count = try r.unsigned()
            guard index < count else { throw .invalid("snapshot chunk \(index) of \(count)") }
            message = .snapshot(collection: collection, covers: covers, chunkIndex: index, chunkCount: count, chunk: try r.data())
        case 6:
            message = .rightsRequest(collection: try r.string(), key: try r.string(), units: try r.unsigned())
        case 7:
            message = .rightsDeclined(collection: try r.string(), key: try r.string(), available: try r.unsigned())
        case 8:
            message = .ping(nonce: try r.unsigned())
        case 9:
            message = .pong(nonce: try r.unsigned())
        case 10:
            message = .error(code: SyncErrorCode(rawValue: try r.unsigned()), reason: try r.string())
        case 11:
            message = .firmwareOffer(try FirmwareOffer.decodeList(from: &r))
        case 12:
            let version = try r.string(), offset = try r.unsigned(), length = try r.unsigned()
            try FirmwareOffer.checkedRange(version: version, offset: offset, length: length)
            message = .firmwareRequest(version: version, offset: offset, length: length)
        case 13:
            let version = try r.string(), offset = try r.unsigned(), data = try r.data()
            guard data.count <= FirmwareOffer.chunkBytesMax else { throw .invalid("a firmware chunk of \(data.count) bytes is larger than 1 MiB") }
            // An empty chunk ("no longer held") is checked as a one-byte range.
            try FirmwareOffer.checkedRange(version: version, offset: offset, length: max(1, UInt64(data.count)))
            message = .firmwareChunk(version: version, offset: offset, data: data)
        case 14:
            message = .backupState(try BackupFileSize.decodeList(from: &r))
        case 15:
            let file = try r.string(), offset = try r.unsigned(), data = try r.data()
            try BackupFileSize.check(file, size: offset)
            guard data.count <= BackupFileSize.appendBytesMax else { throw .invalid("a backup append of \(data.count) bytes is larger than 1 MiB") }
            message = .backupAppend(file: file, offset: offset, data: data)
        case 16:
            let file = try r.string(), size = try r.unsigned()
            try BackupFileSize.check(file, size: size)
            message = .backupAck(file: file, size: size)
        default:
            throw .unknownMessage(type)
        }
        try r.finish()
        return message
    }
}
