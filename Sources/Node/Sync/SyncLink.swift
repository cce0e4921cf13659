import Logging
import Platform
import Replication

/// One sync connection: TCP, TLS 1.3 over memory BIOs, frames, and the pure `SyncSession`.
///
/// Nothing from a peer is applied before its certificate verified against the fleet CA and its
/// HELLO matched that certificate. A TLS failure, a malformed frame or a session error closes
/// the link with a logged reason.
final class SyncLink: TCPStreamDelegate {
    unowned let service: SyncService
    let stream: TCPStream
    let tls: TLSConnection
    /// The configured peer this link dialed; nil for a link a peer opened to us.
    let dialed: NodeConfig.SyncPeer?
    private var decoder = SyncFrameDecoder()
    private(set) var session: SyncSession?
    private(set) var bytesReceived = 0
    private(set) var bytesSent = 0
    private(set) var connectedAtMs: Int64
    private(set) var lastReceivedMs: Int64
    private(set) var isClosed = false
    /// Hub: the peer's firmware requests not answered yet (bounded by FirmwareShelf).
    var firmwareAnswers = FirmwareAnswers()
    /// Hub: the peer's backup appends not acknowledged yet (bounded by StoreBackupKeeper).
    var backupAppendsOpen = 0
    /// Set once we decided to close: no more frames are read.
    private var closing = false

    init(service: SyncService, stream: TCPStream, dialed: NodeConfig.SyncPeer?) throws(TLSError) {
        self.service = service
        self.stream = stream
        self.dialed = dialed
        tls = try TLSConnection(context: service.tls, isServer: dialed == nil)
        connectedAtMs = WallClock.nowMs()
        lastReceivedMs = connectedAtMs
    }

    var peerNodeId: String? { session?.peerNodeId ?? dialed?.nodeId }
    /// The other end's address (host part), as the socket says.
    var remoteHost: String { stream.peerAddress?.host ?? "" }
    var isActive: Bool { session?.phase == .active && !isClosed }

    func start() {
        stream.delegate = self
        stream.startReading()
        if dialed != nil {
            do { _ = try tls.readPlaintext() } catch { return close(nil, "TLS: \(error)") }  // ClientHello
            flush()
        }
    }

    // MARK: Reading

    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        guard !closing else { return }
        bytesReceived += bytes.count
        lastReceivedMs = WallClock.nowMs()
        tls.receiveCiphertext(bytes)
        do {
            let plaintext = try tls.readPlaintext()
            if session == nil && tls.isHandshakeComplete { startSession() }
            if !plaintext.isEmpty && session != nil {
                decoder.append(plaintext)
                try applyFrames()
            }
        } catch let error as TLSError {
            close(nil, "TLS: \(error)")
        } catch let error as SyncFrameError {
            close(.malformedFrame, "\(error)")
        } catch {
            close(.internalError, "\(error)")
        }
        flush()
    }

    /// Handles every complete frame of this read in one database transaction. The ACKs they
    /// produce sit in TLS buffers until the commit, and are dropped with the link if it fails.
    private func applyFrames() throws {
        let replica = service.replica
        let batching = !replica.isBatching && !replica.database.isInTransaction
        if batching { try replica.beginBatch() }
        do {
            while !closing, let message = try decoder.next() {
                guard var current = session else { break }
                var store = replica
                let actions = current.receive(message, wallMs: WallClock.nowMs(), store: &store)
                session = current
                perform(actions)
            }
        } catch {
            if batching { try? replica.commitBatch() }  // what was applied before the bad frame is valid
            throw error
        }
        if batching {
            do { try replica.commitBatch() } catch {
                _ = tls.takeCiphertext()  // its ACKs must not go out
                close(nil, "could not store what the peer sent: \(error)")
                return
            }
        }
        if forwardAfterCommit {
            forwardAfterCommit = false
            service.replicaChanged(except: self)
        }
    }

    /// Set when deltas were applied inside a batch: other links forward them after the commit.
    private var forwardAfterCommit = false

    /// The handshake verified the peer's certificate: its CN and OU are who the peer must be.
    private func startSession() {
        guard let subject = tls.peer, let region = subject.organizationalUnit else {
            return close(nil, "the peer's certificate names no node and region")
        }
        if let dialed, dialed.nodeId != subject.commonName || dialed.region != region {
            return close(.identityMismatch, "dialed \(dialed.nodeId)/\(dialed.region) but the certificate names \(subject.commonName)/\(region)")
        }
        var settings = SyncSession.Settings()
        settings.maxDriftMs = service.maxDriftMs
        settings.deadAfterMs = service.linkTimeoutMs
        settings.keepaliveAfterMs = max(500, service.linkTimeoutMs / 4)
        var fresh = SyncSession(nodeId: service.replica.nodeId, region: service.replica.region, role: service.role,
                                expectedPeer: (subject.commonName, region, subject.role ?? "store"), settings: settings)
        let wall = WallClock.nowMs()
        let actions = fresh.start(now: service.replica.tick(wallMs: wall), wallMs: wall)
        session = fresh
        perform(actions)
    }

    func perform(_ actions: [SyncAction]) {
        for action in actions {
            switch action {
            case .send(let message):
                send(message)
            case let .close(code, reason):
                close(code, reason)
                return
            case .peerIdentified:
                service.linkIdentified(self)
            case .applied:
                if service.replica.isBatching { forwardAfterCommit = true } else { service.replicaChanged(except: self) }
            case let .rightsRequested(collection, key, units):
                service.rightsRequested(by: self, collection: collection, key: key, units: units)
            case let .rightsDeclined(collection, key, available):
                service.logger.info("stock rights declined", metadata: ["peer": "\(peerNodeId ?? "?")", "collection": "\(collection)", "key": "\(key)", "available": "\(available)"])
            case .firmwareOffered(let offers):
                service.firmware?.offered(offers, by: self)
            case let .firmwareRequested(version, offset, length):
                guard let firmware = service.firmware else { return close(.notAuthorized, "this node hands out no firmware") }
                firmware.requested(by: self, version: version, offset: offset, length: length)
            case let .firmwareReceived(version, offset, data):
                service.firmware?.received(version: version, offset: offset, data: data, from: self)
            case .backupStateReceived(let files):
                service.backupShipper?.hubHolds(files, link: self)
            case let .backupAppended(file, offset, data):
                guard let keeper = service.storeBackups else { return close(.notAuthorized, "this node keeps no backups of others") }
                keeper.append(from: self, file: file, offset: offset, data: data)
            case let .backupAcknowledged(file, size):
                service.backupShipper?.hubAcknowledged(file, size: size)
            }
        }
    }

    private func send(_ message: SyncMessage) {
        guard tls.isHandshakeComplete, !isClosed else { return }
        if case let .snapshot(collection, covers, index, count, _) = message, index == 0 {
            service.logger.info("sync: snapshot sent", metadata: ["peer": "\(peerNodeId ?? "?")", "collection": "\(collection)",
                                                                 "covers": "\(covers)", "chunks": "\(count)"])
        }
        do { try tls.writePlaintext(SyncFrame.encode(message)) } catch { close(nil, "TLS: \(error)") }
    }

    /// Sends what TLS produced.
    func flush() {
        let ciphertext = tls.takeCiphertext()
        guard !ciphertext.isEmpty, !isClosed else { return }
        bytesSent += ciphertext.count
        stream.write(ciphertext)
    }

    // MARK: Driving

    /// Sends the peer what it lacks (after a local commit or an apply on another link).
    func pump() {
        guard var current = session, !closing else { return }
        let actions = current.pump(store: service.replica, wallMs: WallClock.nowMs())
        session = current
        perform(actions)
        flush()
    }

    func tick() {
        guard !closing else { return }
        let wall = WallClock.nowMs()
        if session == nil && wall - connectedAtMs > 10_000 {
            close(nil, "TLS handshake did not finish in 10 s")
            return
        }
        guard var current = session else { return }
        let actions = current.tick(wallMs: wall, store: service.replica)
        session = current
        perform(actions)
        flush()
    }

    // MARK: Closing

    /// Closes the link; with a code the peer is told why first.
    func close(_ code: SyncErrorCode?, _ reason: String) {
        guard !closing else { return }
        closing = true
        if let code, tls.isHandshakeComplete { send(.error(code: code, reason: reason)) }
        if var current = session { _ = current.close(code, reason); session = current }
        flush()
        service.linkClosing(self, reason: reason)
        if stream.queuedWriteBytes == 0 { stream.close() }
    }

    func streamDidDrain(_ stream: TCPStream) {
        if closing { stream.close() }
    }

    func streamDidEnd(_ stream: TCPStream, error: PlatformError?) {
        if !closing { close(nil, error.map { "connection lost: \($0.reason)" } ?? "the peer closed the connection") }
        stream.close()
    }

    func streamDidClose(_ stream: TCPStream) {
        isClosed = true
        service.linkClosed(self)
    }
}
