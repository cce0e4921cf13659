import Platform
import Replication

/// Why a frame from a peer was refused. The link is closed and nothing from it applied.
public enum SyncFrameError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(bytes: Int)
    case unsupportedVersion(UInt8)
    case unknownFlags(UInt8)
    case badCompression(String)
    case message(WireError)

    public var description: String {
        switch self {
        case .tooLarge(let bytes): return "frame of \(bytes) bytes exceeds the \(SyncFrame.bodyBytesMax)-byte limit"
        case .unsupportedVersion(let version): return "frame version \(version) is not spoken here"
        case .unknownFlags(let flags): return "frame flags \(flags) are not defined"
        case .badCompression(let why): return "frame body does not decompress: \(why)"
        case .message(let error): return "frame body is not a valid message: \(error)"
        }
    }
}

/// The frame layer of sync/PROTOCOL.md §3: u32 length, version, flags, body.
public enum SyncFrame {
    public static let version: UInt8 = 1
    /// Bound on a frame's body as sent (compressed or not).
    public static let bodyBytesMax = 4 << 20
    /// Bound on a body after decompression.
    public static let decompressedBytesMax = 16 << 20
    /// Bodies up to this size are sent uncompressed: zstd would not pay for itself.
    public static let compressAboveBytes = 512
    static let compressedFlag: UInt8 = 1

    /// Frames a message, compressing its body when that makes it smaller.
    public static func encode(_ message: SyncMessage) -> [UInt8] {
        let body = message.encoded()
        if body.count > compressAboveBytes && compresses(message) {
            let compressed = Zstd.compress(body)
            if compressed.count < body.count { return frame(compressed, flags: compressedFlag) }
        }
        return frame(body, flags: 0)
    }

    /// Firmware is a squashfs image, backups are compressed and encrypted: zstd would spend a
    /// millisecond per chunk for nothing.
    private static func compresses(_ message: SyncMessage) -> Bool {
        switch message {
        case .firmwareChunk, .backupAppend: return false  // compressed and encrypted already
        default: return true
        }
    }

    static func frame(_ body: [UInt8], flags: UInt8) -> [UInt8] {
        precondition(body.count <= bodyBytesMax, "a message larger than a frame must be split by its sender")
        let length = UInt32(body.count + 2)
        var out: [UInt8] = [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), version, flags]
        out.append(contentsOf: body)
        return out
    }
}

/// Cuts a byte stream into messages. Feed it what arrives; take messages while there are some.
///
/// ```swift
/// var decoder = SyncFrameDecoder()
/// decoder.append(bytes)
/// while let message = try decoder.next() { handle(message) }
/// ```
public struct SyncFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    /// Bytes received and not yet part of a returned message.
    public var bufferedBytes: Int { buffer.count - start }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message, nil if more bytes are needed. After a throw the stream is
    /// unusable: close the link.
    public mutating func next() throws(SyncFrameError) -> SyncMessage? {
        guard bufferedBytes >= 4 else { return nil }
        let length = Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
        guard length >= 2 else { throw .message(.truncated) }
        guard length - 2 <= SyncFrame.bodyBytesMax else { throw .tooLarge(bytes: length - 2) }
        guard bufferedBytes >= 4 + length else { return nil }
        let version = buffer[start + 4], flags = buffer[start + 5]
        guard version == SyncFrame.version else { throw .unsupportedVersion(version) }
        guard flags & ~SyncFrame.compressedFlag == 0 else { throw .unknownFlags(flags) }
        var body = Array(buffer[(start + 6)..<(start + 4 + length)])
        start += 4 + length
        if start > 1 << 20 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        if flags & SyncFrame.compressedFlag != 0 {
            do { body = try Zstd.decompress(body, maxOutputBytes: SyncFrame.decompressedBytesMax) } catch {
                throw .badCompression("\(error)")
            }
        }
        do { return try SyncMessage.decode(body) } catch { throw .message(error) }
    }
}
