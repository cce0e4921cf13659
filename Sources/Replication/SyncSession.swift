/// What a session asks its owner to do.
public enum SyncAction: Equatable, Sendable {
    case send(SyncMessage)
    /// Close the link. With a code, send `ERROR(code, reason)` first.
    case close(code: SyncErrorCode?, reason: String)
    /// The peer proved who it is (HELLO accepted).
    case peerIdentified(nodeId: ReplicaID, region: String, role: String)
    /// Deltas were applied to a collection: other links may forward them.
    case applied(collection: String, count: Int)
    case rightsRequested(collection: String, key: String, units: UInt64)
    case rightsDeclined(collection: String, key: String, available: UInt64)
    /// The hub's firmware offer, a peer's request for part of a bundle, a part the hub sent.
    case firmwareOffered([FirmwareOffer])
    case firmwareRequested(version: String, offset: UInt64, length: UInt64)
    case firmwareReceived(version: String, offset: UInt64, data: [UInt8])
    /// The hub's copy of this node's backups; a peer's backup bytes; what the hub holds now.
    case backupStateReceived([BackupFileSize])
    case backupAppended(file: String, offset: UInt64, data: [UInt8])
    case backupAcknowledged(file: String, size: UInt64)
}

/// One end of a sync link as a pure state machine (sync/PROTOCOL.md): it reads no clock and
/// opens no socket. The transport feeds it messages and wall time, and carries out its actions.
///
///     ┌─────────┐ start: HELLO ┌──────────────┐ peer's HELLO ok ┌────────┐ error, timeout ┌────────┐
///     │ created │─────────────▶│ awaitingHello│────────────────▶│ active │───────────────▶│ closed │
///     └─────────┘              └──────────────┘                 └────────┘                └────────┘
public struct SyncSession: Sendable {
    public enum Phase: Sendable, Equatable { case created, awaitingHello, active, closed }

    public struct Settings: Sendable {
        public var maxDriftMs: Int64 = 60_000
        /// Bound on deltas per DELTAS frame.
        public var deltasPerFrameMax = 512
        public var snapshotChunkBytes = 1 << 20
        public var summaryIntervalMs: Int64 = 30_000
        /// A PING goes out after this long without sending anything.
        public var keepaliveAfterMs: Int64 = 2_000
        /// A link with no frame from the peer for this long is closed: a frozen peer (a hub
        /// stopped by SIGSTOP, a cable pulled without a reset) shows as down within it.
        public var deadAfterMs: Int64 = 8_000
        public init() {}
    }

    public static let protocolVersion: UInt64 = 1

    public let nodeId: ReplicaID
    public let region: String
    public let role: String
    public let settings: Settings
    /// Who the certificate says the peer is; HELLO must agree.
    public let expectedPeer: (nodeId: ReplicaID, region: String, role: String)?
    public private(set) var phase = Phase.created
    public private(set) var peerNodeId: ReplicaID?
    public private(set) var peerRegion: String?
    /// The peer's role as its HELLO gave it (store, regional, hub).
    public private(set) var peerRole: String?
    /// Collections this link carries (scope), fixed at HELLO.
    public private(set) var shared: [String] = []
    /// What the peer holds, per collection (from its SUMMARY, ACKs and the deltas it sent).
    public private(set) var peerApplied: [String: VersionVector] = [:]
    /// The peer's last reported digest per collection, and the applied vector it was for: it is
    /// comparable with ours only while our applied vector is the same.
    public private(set) var peerDigests: [String: (applied: VersionVector, digest: [UInt8])] = [:]
    /// Sent on this link and not yet known to be held; reset by each SUMMARY.
    private var sent: [String: VersionVector] = [:]
    private var snapshotChunks: [String: (covers: VersionVector, count: UInt64, chunks: [[UInt8]])] = [:]
    public private(set) var lastReceivedMs: Int64 = 0
    private var lastSentMs: Int64 = 0
    private var lastSummaryMs: Int64 = 0
    private var nonce: UInt64 = 0
    /// Counters for status: deltas and bytes each way.
    public private(set) var deltasSent = 0
    public private(set) var deltasReceived = 0

    public init(nodeId: ReplicaID, region: String, role: String, expectedPeer: (nodeId: ReplicaID, region: String, role: String)? = nil,
                settings: Settings = Settings()) {
        self.nodeId = nodeId
        self.region = region
        self.role = role
        self.expectedPeer = expectedPeer
        self.settings = settings
    }

    /// Opens the link: our HELLO.
    public mutating func start(now: HLCTimestamp, wallMs: Int64) -> [SyncAction] {
        precondition(phase == .created, "a session starts once")
        phase = .awaitingHello
        lastReceivedMs = wallMs
        return record(wallMs, [.send(.hello(minVersion: Self.protocolVersion, maxVersion: Self.protocolVersion,
                                               nodeId: nodeId, region: region, role: role, now: now))])
    }

    public mutating func receive<Store: ReplicaStore>(_ message: SyncMessage, wallMs: Int64, store: inout Store) -> [SyncAction] {
        guard phase != .closed else { return [] }
        lastReceivedMs = wallMs
        if case .error(let code, let reason) = message {
            return close(nil, "peer closed the link: \(code): \(reason)")
        }
        switch phase {
        case .created, .closed:
            return []
        case .awaitingHello:
            guard case let .hello(minVersion, maxVersion, peerId, peerRegion, peerRole, now) = message else {
                return close(.unknownMessage, "expected HELLO first")
            }
            return receiveHello(minVersion: minVersion, maxVersion: maxVersion, peerId: peerId, peerRegion: peerRegion,
                                peerRole: peerRole, now: now, wallMs: wallMs, store: store)
        case .active:
            return record(wallMs, receiveActive(message, store: &store))
        }
    }

    private mutating func receiveHello<Store: ReplicaStore>(minVersion: UInt64, maxVersion: UInt64, peerId: String, peerRegion: String,
                                                         peerRole: String, now: HLCTimestamp, wallMs: Int64, store: Store) -> [SyncAction] {
        guard minVersion <= Self.protocolVersion && Self.protocolVersion <= maxVersion else {
            return close(.unsupportedVersion, "peer speaks versions \(minVersion)...\(maxVersion), this node \(Self.protocolVersion)")
        }
        if let expected = expectedPeer, expected.nodeId != peerId || expected.region != peerRegion || expected.role != peerRole {
            return close(.identityMismatch, "HELLO says \(peerId)/\(peerRegion)/\(peerRole), the certificate \(expected.nodeId)/\(expected.region)/\(expected.role)")
        }
        guard peerId != nodeId else { return close(.identityMismatch, "a link to this node itself") }
        let (difference, overflowed) = now.physicalMs.subtractingReportingOverflow(wallMs)
        let ahead = overflowed ? Int64.max : difference  // hostile bytes could make either sign overflow
        guard ahead <= settings.maxDriftMs else {
            return close(.clockSkew, "peer clock is \(ahead) ms ahead (more than \(settings.maxDriftMs) ms)")
        }
        phase = .active
        peerNodeId = peerId
        self.peerRegion = peerRegion
        self.peerRole = peerRole
        shared = store.collectionNames(sharedWithRegion: peerRegion)
        var actions: [SyncAction] = [.peerIdentified(nodeId: peerId, region: peerRegion, role: peerRole)]
        actions += summaries(store)
        lastSummaryMs = wallMs
        return record(wallMs, actions)
    }

    private mutating func receiveActive<Store: ReplicaStore>(_ message: SyncMessage, store: inout Store) -> [SyncAction] {
        switch message {
        case .hello:
            return close(.unknownMessage, "a second HELLO")
        case let .summary(collection, applied, _, digest):
            guard shared.contains(collection) else { return close(.unknownCollection, "\(collection) is not shared with this peer") }
            peerApplied[collection] = applied
            sent[collection] = applied  // anything sent beyond this may be lost: resend from here
            peerDigests[collection] = (applied, digest)
            // What a peer reports applied it holds durably: as good as an ACK for compaction
            // (the only word a node gets about its peer's own deltas).
            store.peer(peerNodeId ?? "", acknowledged: applied, of: collection)
            return pump(collection, store: store)
        case let .deltas(collection, deltas):
            guard shared.contains(collection) else { return close(.unknownCollection, "\(collection) is not shared with this peer") }
            if let problem = authorityProblem(deltas, of: collection, store: store) { return close(.notAuthorized, problem) }
            let result: (applied: VersionVector, count: Int)
            do { result = try store.apply(deltas, to: collection) } catch {
                return close(error.closeCode, "deltas of \(collection) not applied: \(error)")
            }
            deltasReceived += result.count
            // The peer holds what it sent: never echo it back.
            var held = peerApplied[collection] ?? VersionVector()
            for delta in deltas { held.raise(delta.dot.replica, to: delta.dot.counter) }
            peerApplied[collection] = held
            var actions: [SyncAction] = [.send(.ack(collection: collection, applied: result.applied))]
            if result.count > 0 { actions.append(.applied(collection: collection, count: result.count)) }
            return actions
        case let .ack(collection, applied):
            guard shared.contains(collection) else { return close(.unknownCollection, "\(collection) is not shared with this peer") }
            peerApplied[collection, default: VersionVector()].merge(applied)
            store.peer(peerNodeId ?? "", acknowledged: applied, of: collection)
            return pump(collection, store: store)
        case let .snapshot(collection, covers, index, count, chunk):
            guard shared.contains(collection) else { return close(.unknownCollection, "\(collection) is not shared with this peer") }
            guard Self.relays(collection, role: peerRole ?? "", store: store) else {
                return close(.notAuthorized, "a \(peerRole ?? "?") node may not send a snapshot of \(collection): it holds other nodes' changes")
            }
            var pending = snapshotChunks[collection] ?? (covers, count, [])
            guard pending.covers == covers, pending.count == count, UInt64(pending.chunks.count) == index else {
                snapshotChunks[collection] = nil
                return close(.malformedFrame, "snapshot chunk \(index) of \(count) out of sequence")
            }
            pending.chunks.append(chunk)
            guard UInt64(pending.chunks.count) == count else {
                snapshotChunks[collection] = pending
                return []
            }
            snapshotChunks[collection] = nil
            let applied: VersionVector
            do { applied = try store.mergeSnapshot(pending.chunks.flatMap { $0 }, covers: covers, into: collection) } catch {
                return close(error.closeCode, "snapshot of \(collection) not applied: \(error)")
            }
            peerApplied[collection, default: VersionVector()].merge(covers)
            return [.send(.ack(collection: collection, applied: applied)), .applied(collection: collection, count: 0)]
        case let .rightsRequest(collection, key, units):
            return [.rightsRequested(collection: collection, key: key, units: units)]
        case let .rightsDeclined(collection, key, available):
            return [.rightsDeclined(collection: collection, key: key, available: available)]
        case .firmwareOffer, .firmwareRequest, .firmwareChunk, .backupState, .backupAppend, .backupAck:
            return receiveFiles(message)
        case .ping(let nonce):
            return [.send(.pong(nonce: nonce))]
        case .pong:
            return []
        case .error:
            return []  // handled before
        }
    }

    /// Firmware and backups, which travel between the hub and the other nodes only. Firmware
    /// comes from the hub and only the hub hands it out: a store's certificate does not make it
    /// a source of root images. Backups go to the hub, and only the hub says what it holds.
    private mutating func receiveFiles(_ message: SyncMessage) -> [SyncAction] {
        let fromHub = peerRole == "hub", atHub = role == "hub"
        switch message {
        case .firmwareOffer(let offers):
            guard fromHub else { return close(.notAuthorized, "a \(peerRole ?? "?") node may not offer firmware") }
            return [.firmwareOffered(offers)]
        case let .firmwareRequest(version, offset, length):
            guard atHub else { return close(.notAuthorized, "this \(role) node hands out no firmware") }
            return [.firmwareRequested(version: version, offset: offset, length: length)]
        case let .firmwareChunk(version, offset, data):
            guard fromHub else { return close(.notAuthorized, "a \(peerRole ?? "?") node may not send firmware") }
            return [.firmwareReceived(version: version, offset: offset, data: data)]
        case .backupState(let files):
            guard fromHub else { return close(.notAuthorized, "a \(peerRole ?? "?") node keeps no backups of others") }
            return [.backupStateReceived(files)]
        case let .backupAppend(file, offset, data):
            guard atHub else { return close(.notAuthorized, "this \(role) node keeps no backups of others") }
            return [.backupAppended(file: file, offset: offset, data: data)]
        case let .backupAck(file, size):
            guard fromHub else { return close(.notAuthorized, "a \(peerRole ?? "?") node keeps no backups of others") }
            return [.backupAcknowledged(file: file, size: size)]
        default:
            return []
        }
    }

    /// Sends the peer what it lacks of every shared collection (after local commits or applies).
    public mutating func pump<Store: ReplicaStore>(store: Store, wallMs: Int64) -> [SyncAction] {
        guard phase == .active else { return [] }
        return record(wallMs, shared.flatMap { pump($0, store: store) })
    }

    /// Whether a node of `role` may pass on other nodes' changes of `collection`: the hub and
    /// regional nodes relay the fleet's; within a region any node relays the region's own
    /// (region-scoped) data, which all of its nodes hold anyway. Others send their own changes only.
    public static func relays<Store: ReplicaStore>(_ collection: String, role: String, store: Store) -> Bool {
        role == "hub" || role == "regional" || store.scope(of: collection) == .region
    }

    /// Why the peer may not have sent these deltas, or nil. Checked before any is applied: a
    /// frame is taken whole or refused whole.
    private func authorityProblem<Store: ReplicaStore>(_ deltas: [WireDelta], of collection: String, store: Store) -> String? {
        guard let peer = peerNodeId, let peerRole else { return "no HELLO yet" }
        let relays = Self.relays(collection, role: peerRole, store: store)
        for delta in deltas {
            if !relays && delta.dot.replica != peer {
                return "\(peer) (\(peerRole)) may send only its own changes of \(collection), not \(delta.dot.replica)'s"
            }
            if let problem = store.authorityProblem(in: collection, delta: delta, peer: peer, peerRole: peerRole) { return problem }
        }
        return nil
    }

    private mutating func pump<Store: ReplicaStore>(_ collection: String, store: Store) -> [SyncAction] {
        guard phase == .active, let known = peerApplied[collection] else { return [] }  // wait for its SUMMARY
        let relays = Self.relays(collection, role: role, store: store)
        var actions: [SyncAction] = []
        while true {
            var base = known
            base.merge(sent[collection] ?? VersionVector())
            if !relays {
                // Only this node's own changes: every other origin counts as already known.
                for (origin, counter) in (store.applied(of: collection) ?? VersionVector()).counters where origin != nodeId {
                    base.raise(origin, to: counter)
                }
            }
            guard let deltas = store.deltas(of: collection, after: base, limit: settings.deltasPerFrameMax) else {
                // A snapshot holds other nodes' changes: only a relaying node sends one. Others
                // leave the peer to catch up from the hub.
                guard relays, let snapshot = store.snapshot(of: collection) else { return actions }
                actions += chunks(of: snapshot, collection: collection)
                sent[collection, default: VersionVector()].merge(snapshot.covers)
                continue
            }
            guard !deltas.isEmpty else { return actions }
            actions.append(.send(.deltas(collection: collection, deltas: deltas)))
            deltasSent += deltas.count
            for delta in deltas { sent[collection, default: VersionVector()].raise(delta.dot.replica, to: delta.dot.counter) }
        }
    }

    private func chunks(of snapshot: (covers: VersionVector, state: [UInt8]), collection: String) -> [SyncAction] {
        let size = max(1, settings.snapshotChunkBytes)
        let count = max(1, (snapshot.state.count + size - 1) / size)
        return (0..<count).map { index in
            let chunk = Array(snapshot.state[min(index * size, snapshot.state.count)..<min((index + 1) * size, snapshot.state.count)])
            return .send(.snapshot(collection: collection, covers: snapshot.covers, chunkIndex: UInt64(index), chunkCount: UInt64(count), chunk: chunk))
        }
    }

    private func summaries<Store: ReplicaStore>(_ store: Store) -> [SyncAction] {
        shared.compactMap { collection in
            store.summaryForPeers(of: collection).map {
                .send(.summary(collection: collection, applied: $0.applied, compactedThrough: $0.compactedThrough, digest: $0.digest))
            }
        }
    }

    /// Time passing: keepalive, periodic anti-entropy summaries, and the dead-link check.
    public mutating func tick<Store: ReplicaStore>(wallMs: Int64, store: Store) -> [SyncAction] {
        guard phase == .active || phase == .awaitingHello else { return [] }
        if wallMs - lastReceivedMs >= settings.deadAfterMs {
            return close(nil, "no frame from the peer for \(wallMs - lastReceivedMs) ms")
        }
        guard phase == .active else { return [] }
        var actions: [SyncAction] = []
        if wallMs - lastSummaryMs >= settings.summaryIntervalMs {
            lastSummaryMs = wallMs
            actions += summaries(store)
        }
        if actions.isEmpty && wallMs - lastSentMs >= settings.keepaliveAfterMs {
            nonce &+= 1
            actions.append(.send(.ping(nonce: nonce)))
        }
        return record(wallMs, actions)
    }

    /// Ends the session from our side (shutdown, transport failure).
    public mutating func close(_ code: SyncErrorCode?, _ reason: String) -> [SyncAction] {
        guard phase != .closed else { return [] }
        phase = .closed
        return [.close(code: code, reason: reason)]
    }

    private mutating func record(_ wallMs: Int64, _ actions: [SyncAction]) -> [SyncAction] {
        if actions.contains(where: { if case .send = $0 { return true } else { return false } }) { lastSentMs = wallMs }
        return actions
    }
}

extension ApplyFailure {
    var closeCode: SyncErrorCode {
        switch self {
        case .malformed: return .malformedFrame
        case .storage: return .internalError
        case .clockSkew: return .clockSkew
        }
    }
}
