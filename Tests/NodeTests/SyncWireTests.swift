import Foundation
@testable import Node
import NodeTesting
import Platform
import Replication
import XCTest

/// sync/vectors: every frame decodes to its message and re-encodes byte for byte.
/// `UPDATE_SYNC_VECTORS=1 swift test --filter SyncWireTests` rewrites the files from this table.
final class SyncWireTests: XCTestCase {
    static let clock = HLCTimestamp(physicalMs: 1_763_700_000_000, logical: 3, replica: "store-1")
    static let applied = VersionVector(["hub": 12, "store-1": 40, "store-2": 7])

    /// (file name, what it shows, the message)
    static let vectors: [(String, String, SyncMessage)] = [
        ("01-hello", "HELLO: store-1 of eu-central, role store, speaks versions 1..1, clock 1763700000000.3@store-1",
         .hello(minVersion: 1, maxVersion: 1, nodeId: "store-1", region: "eu-central", role: "store", now: clock)),
        ("02-summary", "SUMMARY of inventory: applied [hub:12, store-1:40, store-2:7], compacted through [hub:10], digest 32 bytes",
         .summary(collection: "inventory", applied: applied, compactedThrough: VersionVector(["hub": 10]),
                  digest: SHA256.hash(Array("inventory".utf8)))),
        ("03-deltas", "DELTAS of carts: one delta, dot store-1:41 at 1763700000000.3@store-1, key cart-7, a 6-byte CRDT delta",
         .deltas(collection: "carts", deltas: [WireDelta(dot: Dot(replica: "store-1", counter: 41), timestamp: clock, key: "cart-7", payload: [1, 2, 3, 4, 5, 6])])),
        ("04-ack", "ACK of orders: applied [hub:12, store-1:40, store-2:7]",
         .ack(collection: "orders", applied: applied)),
        ("05-snapshot", "SNAPSHOT of catalog covering [hub:10], chunk 0 of 2, 4 bytes",
         .snapshot(collection: "catalog", covers: VersionVector(["hub": 10]), chunkIndex: 0, chunkCount: 2, chunk: [0xCA, 0xFE, 0xBA, 0xBE])),
        ("06-rights-request", "RIGHTS_REQUEST for inventory key SKU-1@berlin, 5 units",
         .rightsRequest(collection: "inventory", key: "SKU-1@berlin", units: 5)),
        ("07-rights-declined", "RIGHTS_DECLINED for inventory key SKU-1@berlin, 2 units available",
         .rightsDeclined(collection: "inventory", key: "SKU-1@berlin", available: 2)),
        ("08-ping", "PING nonce 300", .ping(nonce: 300)),
        ("09-pong", "PONG nonce 300", .pong(nonce: 300)),
        ("10-error", "ERROR clock_skew (5): \"clock 90 s ahead\"", .error(code: .clockSkew, reason: "clock 90 s ahead")),
        ("11-deltas-compressed", "DELTAS of orders: 40 deltas from store-2, body over 512 bytes so zstd-compressed (flags = 1)",
         .deltas(collection: "orders", deltas: (1...40).map { counter in
             WireDelta(dot: Dot(replica: "store-2", counter: UInt64(counter)),
                       timestamp: HLCTimestamp(physicalMs: 1_763_700_000_000 + Int64(counter), logical: 0, replica: "store-2"),
                       key: "order-\(counter)", payload: Array("placed".utf8))
         })),
        ("12-firmware-offer", "FIRMWARE_OFFER: bundle 1.4.0 for outpost-x86_64, 268435456 bytes, SHA-256 32 bytes",
         .firmwareOffer([FirmwareOffer(version: "1.4.0", compatible: "outpost-x86_64", bytes: 268_435_456, sha256: SHA256.hash(Array("1.4.0".utf8)))])),
        ("13-firmware-request", "FIRMWARE_REQUEST: bundle 1.4.0, bytes 1048576 + 1048576",
         .firmwareRequest(version: "1.4.0", offset: 1 << 20, length: 1 << 20)),
        ("14-firmware-chunk", "FIRMWARE_CHUNK: bundle 1.4.0 from byte 1048576, 8 bytes (never compressed)",
         .firmwareChunk(version: "1.4.0", offset: 1 << 20, data: [0x68, 0x73, 0x71, 0x73, 0, 0, 0, 0])),
        ("15-backup-state", "BACKUP_STATE: the hub holds 4096 bytes of full-1796600000000-0a1b2c3d4e5f6071.obk",
         .backupState([BackupFileSize(name: "full-1796600000000-0a1b2c3d4e5f6071.obk", size: 4096)])),
        ("16-backup-append", "BACKUP_APPEND: 4 bytes of archive-1796600000000-0a1b2c3d4e5f6071-0.obk at 4096 (never compressed)",
         .backupAppend(file: "archive-1796600000000-0a1b2c3d4e5f6071-0.obk", offset: 4096, data: [1, 2, 3, 4])),
        ("17-backup-ack", "BACKUP_ACK: the hub now holds 4100 bytes of archive-1796600000000-0a1b2c3d4e5f6071-0.obk",
         .backupAck(file: "archive-1796600000000-0a1b2c3d4e5f6071-0.obk", size: 4100)),
    ]

    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("sync/vectors")
    }

    static func render(_ name: String, _ meaning: String, _ frame: [UInt8]) -> String {
        let length = Int(frame[0]) << 24 | Int(frame[1]) << 16 | Int(frame[2]) << 8 | Int(frame[3])
        func hex(_ bytes: ArraySlice<UInt8>) -> String {
            stride(from: bytes.startIndex, to: bytes.endIndex, by: 16).map { row in
                bytes[row..<min(row + 16, bytes.endIndex)].map { String(format: "%02x", $0) }.joined(separator: " ")
            }.joined(separator: "\n")
        }
        return """
            # \(name): \(meaning)
            # header: length \(length) (u32 big-endian), version \(frame[4]), flags \(frame[5])\(frame[5] & 1 == 1 ? " (zstd body)" : "")
            \(hex(frame[0..<6]))
            # body\(frame[5] & 1 == 1 ? " (zstd frame)" : ": message type \(frame[6]), then its fields (sync/PROTOCOL.md §4)")
            \(hex(frame[6...]))

            """
    }

    static func parse(_ text: String) -> [UInt8] {
        text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: " ")
            .split(separator: " ").compactMap { UInt8($0, radix: 16) }
    }

    func testVectorsDecodeAndReencodeByteForByte() throws {
        if ProcessInfo.processInfo.environment["UPDATE_SYNC_VECTORS"] == "1" {
            try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
            for (name, meaning, message) in Self.vectors {
                try Self.render(name, meaning, SyncFrame.encode(message)).write(to: Self.directory.appendingPathComponent("\(name).hex"), atomically: true, encoding: .utf8)
            }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".hex") }.sorted()
        XCTAssertEqual(files, Self.vectors.map { "\($0.0).hex" }, "every vector file has an expected message, and every message a file")
        for (name, _, expected) in Self.vectors {
            let bytes = Self.parse(try String(contentsOf: Self.directory.appendingPathComponent("\(name).hex"), encoding: .utf8))
            var decoder = SyncFrameDecoder()
            decoder.append(bytes)
            XCTAssertEqual(try decoder.next(), expected, name)
            XCTAssertEqual(decoder.bufferedBytes, 0, name)
            XCTAssertEqual(SyncFrame.encode(expected), bytes, "\(name) re-encodes byte for byte")
        }
    }

    func testFramesSplitAnywhereDecodeTheSame() throws {
        let stream = Self.vectors.flatMap { SyncFrame.encode($0.2) }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var decoder = SyncFrameDecoder()
            var messages: [SyncMessage] = []
            var offset = 0
            while offset < stream.count {
                let step = min(stream.count - offset, Int.random(in: 1...200, using: &random))
                decoder.append(stream[offset..<offset + step])
                offset += step
                while let message = try decoder.next() { messages.append(message) }
            }
            XCTAssertEqual(messages, Self.vectors.map(\.2))
        }
    }

    private func decodeFrame(_ bytes: [UInt8]) throws(SyncFrameError) -> SyncMessage? {
        var decoder = SyncFrameDecoder()
        decoder.append(bytes)
        return try decoder.next()
    }

    func testMalformedFramesAreRefused() {
        let ping = SyncFrame.encode(.ping(nonce: 1))
        XCTAssertNil(try decodeFrame(Array(ping.dropLast())), "an incomplete frame waits for more bytes")
        XCTAssertThrowsError(try decodeFrame([0x7F, 0xFF, 0xFF, 0xFF, 1, 0])) { XCTAssertEqual($0 as? SyncFrameError, .tooLarge(bytes: 0x7FFF_FFFD)) }
        XCTAssertThrowsError(try decodeFrame([0, 0, 0, 3, 2, 0, 8])) { XCTAssertEqual($0 as? SyncFrameError, .unsupportedVersion(2)) }
        XCTAssertThrowsError(try decodeFrame([0, 0, 0, 3, 1, 4, 8])) { XCTAssertEqual($0 as? SyncFrameError, .unknownFlags(4)) }
        XCTAssertThrowsError(try decodeFrame([0, 0, 0, 5, 1, 1, 1, 2, 3])) { error in
            guard case .badCompression = error as? SyncFrameError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try decodeFrame(SyncFrame.frame([99], flags: 0))) { XCTAssertEqual($0 as? SyncFrameError, .message(.unknownMessage(99))) }
        XCTAssertThrowsError(try decodeFrame(SyncFrame.frame([8, 1, 0], flags: 0))) { XCTAssertEqual($0 as? SyncFrameError, .message(.trailingBytes(1))) }
        XCTAssertThrowsError(try decodeFrame(SyncFrame.frame([8, 0x81, 0x00], flags: 0))) { XCTAssertEqual($0 as? SyncFrameError, .message(.overlongVarint)) }
        XCTAssertThrowsError(try decodeFrame(SyncFrame.frame([10, 5, 2, 0xC3, 0x28], flags: 0))) { XCTAssertEqual($0 as? SyncFrameError, .message(.invalidUTF8)) }
        // A version vector whose origins are out of order: "b" then "a".
        XCTAssertThrowsError(try decodeFrame(SyncFrame.frame([4, 1, 0x6F, 2, 1, 0x62, 1, 1, 0x61, 1], flags: 0))) {
            XCTAssertEqual($0 as? SyncFrameError, .message(.unordered("a version vector")))
        }
        // Firmware words out of bounds: a version that is a path, a request of nothing or of more
        // than 1 MiB, a request past any bundle (offset + length must never overflow), a hash of
        // the wrong size.
        let refusals: [(SyncMessage, String)] = [
            (.firmwareRequest(version: "../node", offset: 0, length: 1), "not a plain name"),
            (.firmwareRequest(version: "1.4.0", offset: 0, length: 0), "out of bounds"),
            (.firmwareRequest(version: "1.4.0", offset: 0, length: (1 << 20) + 1), "out of bounds"),
            (.firmwareRequest(version: "1.4.0", offset: UInt64.max, length: 1 << 20), "past any bundle"),
            (.firmwareChunk(version: "1.4.0", offset: UInt64.max - 1, data: [1]), "past any bundle"),
            (.firmwareOffer([FirmwareOffer(version: "1.4.0", compatible: "x", bytes: 1, sha256: [1])]), "not 32"),
            (.firmwareOffer([FirmwareOffer(version: "1.4.0", compatible: "x", bytes: 5 << 30, sha256: [UInt8](repeating: 0, count: 32))]), "out of bounds"),
            (.backupAppend(file: "../hub/node.sqlite", offset: 0, data: [1]), "not full-"),
            (.backupAppend(file: "full-1/../x.obk", offset: 0, data: [1]), "not full-"),
            (.backupAppend(file: "full-1.obk", offset: UInt64.max, data: [1]), "past the bound"),
            (.backupAck(file: "archive-1.obk", size: 65 << 30), "past the bound"),
        ]
        for (message, why) in refusals {
            XCTAssertThrowsError(try decodeFrame(SyncFrame.encode(message)), "\(message)") { error in
                guard case .message(.invalid(let reason)) = error as? SyncFrameError, reason.contains(why) else { return XCTFail("\(message): \(error)") }
            }
        }
        // A body that decompresses past 16 MiB.
        let bomb = Zstd.compress([UInt8](repeating: 0, count: 17 << 20))
        XCTAssertThrowsError(try decodeFrame(SyncFrame.frame(bomb, flags: 1))) { error in
            guard case .badCompression = error as? SyncFrameError else { return XCTFail("\(error)") }
        }
    }

    /// Random corruption of valid frames: the decoder refuses or decodes, never traps.
    func testMutatedFramesNeverTrap() {
        let seed = ProcessInfo.processInfo.environment["SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        print("SyncWireTests seed: \(seed) (SEED=\(seed) to replay)")
        var random = SeededRandom(seed: seed)
        let frames = Self.vectors.map { SyncFrame.encode($0.2) }
        for _ in 0..<5_000 {
            var bytes = frames[Int.random(in: 0..<frames.count, using: &random)]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: position)
                }
                if bytes.isEmpty { break }
            }
            var decoder = SyncFrameDecoder()
            decoder.append(bytes)
            _ = try? decoder.next()
        }
    }
}
