import Foundation
import Node
import Platform
import Replication

/// A fleet member gone bad, for security tests: it holds a certificate the fleet's CA really
/// issued, completes the mutual-TLS handshake with a node's sync port, and then sends whatever
/// messages the test hands it, framed as sync/PROTOCOL.md says.
///
/// ```swift
/// let rogue = try RoguePeer(fleet: fleet, nodeId: "store-9", region: "eu", to: hub)
/// try rogue.send(.hello(...)); try rogue.send(.deltas(...))
/// XCTAssertTrue(rogue.waitForClose())
/// ```
public final class RoguePeer {
    private let tls: TLSConnection
    private let socket: BlockingSocket
    private var decoder = SyncFrameDecoder()
    /// Messages the node sent, in order.
    public private(set) var received: [SyncMessage] = []

    public init(fleet: TestFleet, nodeId: String, region: String, role: String = "store", to node: NodeProcess) throws {
        let address = try SocketAddress(parsing: node.syncAddress ?? "")
        guard let caKey = Ed25519KeyPair.fromPEM(try String(contentsOfFile: fleet.caDirectory + "/ca.key", encoding: .utf8)) else {
            throw RoguePeerError("the fleet's CA key does not read")
        }
        let authority = try String(contentsOfFile: fleet.caDirectory + "/ca.crt", encoding: .utf8)
        let key = Ed25519KeyPair.generate()
        let certificate = try Certificates.issue(nodeId: nodeId, region: region, role: role, publicKeyPEM: key.publicKeyPEM,
                                                 authorityKey: caKey, authorityCertificatePEM: authority)
        tls = try TLSConnection(context: try TLSContext(certificatePEM: certificate, key: key, authorityPEM: authority), isServer: false)
        socket = try BlockingSocket(host: address.host, port: address.port)
        guard let early = try tls.completeHandshake(over: socket) else { throw RoguePeerError("the node closed the link during the handshake") }
        take(early)
    }

    /// The HELLO a node of this id and region would send, with the clock at `nowMs`.
    public static func hello(_ nodeId: String, region: String, role: String = "store", nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> SyncMessage {
        .hello(minVersion: 1, maxVersion: 1, nodeId: nodeId, region: region, role: role,
               now: HLCTimestamp(physicalMs: nowMs, logical: 0, replica: nodeId))
    }

    public func send(_ message: SyncMessage) throws {
        try sendFrame(SyncFrame.encode(message))
    }

    /// Any bytes, framed or not (a malformed frame, an oversized one).
    public func sendFrame(_ bytes: [UInt8]) throws {
        try tls.writePlaintext(bytes)
        try socket.send(tls.takeCiphertext())
    }

    /// Reads until the node closes the link (true) or `timeoutMs` passes without a byte (false).
    public func waitForClose(timeoutMs: Int32 = 10_000) -> Bool {
        while true {
            guard let chunk = try? socket.receive(timeoutMs: timeoutMs) else { return false }
            if chunk.isEmpty { return true }
            tls.receiveCiphertext(chunk)
            guard let plain = try? tls.readPlaintext() else { return true }
            take(plain)
        }
    }

    /// The ERROR the node closed with, if it sent one.
    public var closingError: (code: SyncErrorCode, reason: String)? {
        for message in received.reversed() { if case let .error(code, reason) = message { return (code, reason) } }
        return nil
    }

    private func take(_ plain: [UInt8]) {
        guard !plain.isEmpty else { return }
        decoder.append(plain)
        while let message = try? decoder.next() { received.append(message) }
    }
}

public struct RoguePeerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
