import Logging
import Persistence
import Platform
import Replication

/// A node's replication: the sync listener, a dialer per configured peer (capped exponential
/// backoff with jitter), the links, and what `nodectl sync status` shows.
final class SyncService {
    static let tickMs: UInt64 = 1_000
    static let backoffFirstMs: Int64 = 500
    static let backoffMaxMs: Int64 = 30_000

    /// What is known about one peer, connected or not.
    struct Peer {
        var nodeId: String
        var region: String
        /// Where we dial it; nil for a peer that only dials us.
        var address: SocketAddress?
        var link: SyncLink?
        var sinceMs: Int64
        var lastError: String?
        var attempts = 0
        var retryAtMs: Int64 = 0
        var dialing = false
        var bytesSent = 0
        var bytesReceived = 0
        var lastContactMs: Int64?
    }

    let loop: EventLoop
    let replica: NodeReplica
    let tls: TLSContext
    let logger: Logger
    let role: String
    let maxDriftMs: Int64
    /// A link silent this long is closed (`sync.link_timeout_ms`).
    let linkTimeoutMs: Int64
    let forgetPeerAfterMs: Int64
    private(set) var listenAddress: SocketAddress?
    /// Incoming connections closed before their handshake for want of room (metrics).
    private(set) var connectionsRefused = 0
    /// Closes of links that never identified, logged this minute and held back past the bound.
    static let unidentifiedClosesLoggedPerMinute = 20
    private var unidentifiedLogMinuteMs: Int64 = 0
    private var unidentifiedClosesLogged = 0
    private var unidentifiedClosesSuppressed = 0
    private var listener: TCPListener?
    private var timer: LoopTimer?
    private(set) var links: [SyncLink] = []
    private(set) var peers: [String: Peer] = [:]
    private var stopping = false
    /// Hub: per inventory key, each store's decrements at the last rebalance.
    var soldSeen: [String: [String: UInt64]] = [:]
    let rebalanceIntervalMs: Int64
    private var lastRebalanceMs: Int64 = 0
    private var random = SystemRandomNumberGenerator()

    init(loop: EventLoop, replica: NodeReplica, tls: TLSContext, logger: Logger, role: String, settings: NodeConfig.SyncSettings) {
        self.loop = loop
        self.replica = replica
        self.tls = tls
        self.logger = logger
        self.role = role
        maxDriftMs = settings.maxDriftMs
        linkTimeoutMs = settings.linkTimeoutMs
        forgetPeerAfterMs = settings.forgetPeerAfterMs
        rebalanceIntervalMs = settings.rebalanceIntervalMs
        let now = WallClock.nowMs()
        for peer in settings.peers {
            peers[peer.nodeId] = Peer(nodeId: peer.nodeId, region: peer.region, address: peer.address, sinceMs: now)
            configuredPeerIds.insert(peer.nodeId)
        }
    }

    /// Firmware bundles: the hub's to hand out, a store's fetched (FirmwareShelf).
    var firmware: FirmwareShelf?

    /// Hub: its copy of the peers' backups. A peer: what sends its backups to the hub.
    var storeBackups: StoreBackupKeeper?
    weak var backupShipper: BackupService?

    /// The link up to a peer, if there is one.
    func activeLink(to id: String) -> SyncLink? {
        links.first { $0.isActive && $0.peerNodeId == id }
    }

    /// Hub: reads its firmware shelf again and offers every peer what is on it now.
    func firmwarePublished() {
        guard let firmware, role == "hub" else { return }
        firmware.reload()
        for link in links where link.isActive {
            link.perform([.send(firmware.offer)])
            link.flush()
        }
    }

    /// Told the id of a hub each time a link to one comes up.
    var onHubLinked: ((String) -> Void)?

    /// Whether a link to the hub, or to a regional node (which relays to it), is up: the way to
    /// the acquirer is open (docs/ledger.md, offline payments).
    var reachesHub: Bool {
        links.contains { $0.isActive && ["hub", "regional"].contains($0.session?.peerRole ?? "") }
    }

    /// Whether a peer came from the configuration file (and so cannot be removed at run time).
    private(set) var configuredPeerIds: Set<String> = []

    /// Adds (or updates) a peer to dial, now.
    func addPeer(_ peer: NodeConfig.SyncPeer) {
        if var existing = peers[peer.nodeId] {
            existing.region = peer.region
            existing.address = peer.address
            existing.retryAtMs = 0
            existing.attempts = 0
            peers[peer.nodeId] = existing
        } else {
            peers[peer.nodeId] = Peer(nodeId: peer.nodeId, region: peer.region, address: peer.address, sinceMs: WallClock.nowMs())
        }
        dialDuePeers()
    }

    /// Forgets a peer: its link closes and it is no longer dialed.
    func removePeer(_ id: String) {
        let link = peers[id]?.link
        peers[id] = nil
        link?.close(.shuttingDown, "this node removed the peer")
        for other in links where other.peerNodeId == id { other.close(.shuttingDown, "this node removed the peer") }
    }

    func start(listen: SocketAddress?) throws {
        if let listen {
            let listener = try TCPListener(loop: loop, address: listen) { [unowned self] stream in self.accepted(stream) }
            self.listener = listener
            listenAddress = listener.localAddress
        }
        updateCompactionPeers()
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMs: Self.tickMs, repeatMs: Self.tickMs) { [unowned self] in self.tick() }
        self.timer = timer
        dialDuePeers()
    }

    /// Closes every link, telling peers we are stopping.
    func stop() {
        stopping = true
        listener?.close()
        timer?.close()
        for link in links { link.close(.shuttingDown, "this node is stopping") }
    }

    /// Incoming connections still in their TLS handshake, in all and per address: beyond these a
    /// new one is closed at once, unlogged (20,000 connects once made 19,980 log lines). A fleet
    /// has tens of nodes; honest handshakes finish in milliseconds.
    static let handshakesPendingMax = 64
    static let handshakesPendingPerAddressMax = 4

    private func accepted(_ stream: TCPStream) {
        guard !stopping else { return stream.close() }
        let address = stream.peerAddress?.host ?? ""
        let pending = links.filter { $0.dialed == nil && $0.session == nil && !$0.isClosed }
        guard pending.count < Self.handshakesPendingMax,
              pending.lazy.filter({ $0.remoteHost == address }).count < Self.handshakesPendingPerAddressMax else {
            connectionsRefused += 1
            return stream.close()
        }
        do {
            let link = try SyncLink(service: self, stream: stream, dialed: nil)
            links.append(link)
            link.start()
        } catch {
            logger.error("sync: cannot set up TLS for an incoming link", metadata: ["error": "\(error)"])
            stream.close()
        }
    }

    private func dialDuePeers() {
        let now = WallClock.nowMs()
        for (id, peer) in peers where !stopping && peer.link == nil && !peer.dialing && peer.address != nil && now >= peer.retryAtMs {
            guard let address = peer.address else { continue }
            peers[id]?.dialing = true
            TCPStream.connect(loop: loop, to: address) { [unowned self] result in
                self.peers[id]?.dialing = false
                switch result {
                case .failure(let error):
                    self.failed(id, "cannot connect to \(address): \(error.reason)")
                case .success(let stream):
                    guard !self.stopping, let configured = self.peers[id], let address = configured.address else { return stream.close() }
                    do {
                        let link = try SyncLink(service: self, stream: stream,
                                                dialed: NodeConfig.SyncPeer(nodeId: id, region: configured.region, address: address))
                        self.links.append(link)
                        self.peers[id]?.link = link
                        link.start()
                    } catch {
                        stream.close()
                        self.failed(id, "TLS: \(error)")
                    }
                }
            }
        }
    }

    /// Schedules the next attempt: 0.5 s, 1 s, 2 s ... at most 30 s, times a random 0.5-1.5.
    private func failed(_ id: String, _ reason: String) {
        guard var peer = peers[id] else { return }
        if peer.lastError != reason { logger.warning("sync: link to \(id) down", metadata: ["reason": "\(reason)"]) }
        peer.lastError = reason
        peer.attempts += 1
        let base = min(Self.backoffMaxMs, Self.backoffFirstMs << min(peer.attempts - 1, 16))
        peer.retryAtMs = WallClock.nowMs() + Int64(Double(base) * Double.random(in: 0.5...1.5, using: &random))
        peers[id] = peer
    }

    // MARK: Link events

    func linkIdentified(_ link: SyncLink) {
        guard let session = link.session, let id = session.peerNodeId, let region = session.peerRegion else { return }
        // Two links to one peer: keep the one dialed by the node whose id sorts lower.
        if let other = links.first(where: { $0 !== link && $0.isActive && $0.peerNodeId == id }) {
            let dialer = link.dialed != nil ? replica.nodeId : id
            let keepNew = dialer == min(replica.nodeId, id)
            (keepNew ? other : link).close(.duplicateLink, "another link to \(id) is kept")
            if !keepNew { return }
        }
        var peer = peers[id] ?? Peer(nodeId: id, region: region, address: nil, sinceMs: WallClock.nowMs())
        peer.link = link
        peer.sinceMs = WallClock.nowMs()
        peer.attempts = 0
        peer.lastError = nil
        peers[id] = peer
        if session.peerRole == "hub" { onHubLinked?(id) }
        if role == "hub", let firmware {
            link.perform([.send(firmware.offer)])
            link.flush()
        }
        storeBackups?.linkUp(link)
        logger.info("sync: link to \(id) up", metadata: ["peer": "\(id)", "region": "\(region)", "dialed": "\(link.dialed != nil)"])
    }

    /// A link is closing. Only the peer's own link going down marks the peer down: a duplicate
    /// closed in favour of another link, or a link from an unidentified client, is just logged.
    func linkClosing(_ link: SyncLink, reason: String) {
        guard let id = link.peerNodeId, peers[id]?.link === link else {
            // A client that never said who it is: anyone can cause these, so at most
            // `unidentifiedClosesLoggedPerMinute` are logged a minute, and the rest counted.
            let now = WallClock.nowMs()
            if now - unidentifiedLogMinuteMs >= 60_000 {
                if unidentifiedClosesSuppressed > 0 {
                    logger.warning("sync: more links from unidentified clients closed", metadata: ["count": "\(unidentifiedClosesSuppressed)"])
                }
                unidentifiedLogMinuteMs = now
                unidentifiedClosesLogged = 0
                unidentifiedClosesSuppressed = 0
            }
            guard unidentifiedClosesLogged < Self.unidentifiedClosesLoggedPerMinute else {
                unidentifiedClosesSuppressed += 1
                return
            }
            unidentifiedClosesLogged += 1
            logger.info("sync: link closed", metadata: ["reason": "\(reason)", "remote": "\(link.remoteHost)"])
            return
        }
        firmware?.linkLost(link)
        backupShipper?.hubLinkLost(link)
        peers[id]?.bytesSent += link.bytesSent
        peers[id]?.bytesReceived += link.bytesReceived
        peers[id]?.lastContactMs = link.lastReceivedMs
        if peers[id]?.link === link { peers[id]?.link = nil }
        peers[id]?.sinceMs = WallClock.nowMs()
        failed(id, reason)
    }

    func linkClosed(_ link: SyncLink) {
        links.removeAll { $0 === link }
    }

    /// Something changed locally or arrived on `except`: every other link sends what its peer lacks.
    func replicaChanged(except origin: SyncLink? = nil) {
        for link in links where link !== origin && link.isActive { link.pump() }
    }

    private func tick() {
        for link in links { link.tick() }
        dialDuePeers()
        updateCompactionPeers()
        let now = WallClock.nowMs()
        if now - lastRebalanceMs >= rebalanceIntervalMs {
            lastRebalanceMs = now
            rebalance()
        }
    }

    /// Peers connected now or heard from within the forget window hold compaction back.
    private func updateCompactionPeers() {
        let now = WallClock.nowMs()
        var holding: [String: String] = [:]
        for peer in peers.values {
            let heard = peer.link?.lastReceivedMs ?? peer.lastContactMs ?? peer.sinceMs
            if peer.link?.isActive == true || now - heard < forgetPeerAfterMs { holding[peer.nodeId] = peer.region }
        }
        replica.setCompactionPeers(holding)
    }

    // MARK: Status

    /// Per-peer status. Digests cost a pass over a changed collection's state; metrics leave
    /// them out.
    func status(digests withDigests: Bool = true) -> [SyncStatusReport.Peer] {
        peers.values.sorted { $0.nodeId < $1.nodeId }.map { peer in
            let link = peer.link
            let session = link?.isActive == true ? link?.session : nil
            let collections: [SyncStatusReport.Collection] = (session?.shared ?? replica.collectionNames(sharedWithRegion: peer.region)).compactMap { name in
                guard let collection = replica.memory.collections[name] else { return nil }
                let mine = withDigests ? replica.summary(of: name) ?? (collection.applied, collection.compactedThrough, [])
                                       : (applied: collection.applied, compactedThrough: collection.compactedThrough, digest: [UInt8]())
                let theirs = session?.peerApplied[name]
                let outgoing = theirs.map { Self.count(mine.applied, beyond: $0) } ?? 0
                let incoming = theirs.map { Self.count($0, beyond: mine.applied) } ?? 0
                let oldest = theirs.flatMap { replica.deltas(of: name, after: $0, limit: 1)?.first?.timestamp.physicalMs }
                let reported = withDigests ? session?.peerDigests[name] : nil
                // A peer that keeps this collection on disk may not have hashed it (zeros): unknown.
                let comparable = reported.map { $0.applied == mine.applied && $0.digest != NodeReplica.unknownDigest } ?? false
                return SyncStatusReport.Collection(
                    name: name, deltasBehindOutgoing: outgoing, deltasBehindIncoming: incoming,
                    secondsBehindOutgoing: oldest.map { Int(max(0, WallClock.nowMs() - $0) / 1000) } ?? 0,
                    digest: Hex.encode(mine.digest), peerDigest: reported.map { Hex.encode($0.digest) },
                    digestsMatch: comparable ? reported?.digest == mine.digest : nil)
            }
            return SyncStatusReport.Peer(
                nodeId: peer.nodeId, region: peer.region, address: peer.address?.description, connected: session != nil,
                since: WallClock.iso8601(ms: peer.sinceMs), lastError: session == nil ? peer.lastError : nil,
                lastContact: (link?.lastReceivedMs ?? peer.lastContactMs).map(WallClock.iso8601(ms:)),
                bytesSent: peer.bytesSent + (link?.bytesSent ?? 0), bytesReceived: peer.bytesReceived + (link?.bytesReceived ?? 0),
                collections: collections)
        }
    }

    static func count(_ vector: VersionVector, beyond other: VersionVector) -> Int {
        vector.counters.reduce(0) { $0 + Int($1.value > other[$1.key] ? $1.value - other[$1.key] : 0) }
    }
}
