import Commerce
import Glibc
import HTTP
import Logging
import Persistence
import Platform

/// One running node: data directory, database, identity, HTTP server and lifecycle.
///
/// Start-up order matters and is the same every time: data directory and its lock, database and
/// migrations, identity, routes, listeners, the address file, then signals. A failure at any step
/// leaves nothing half-started behind and is reported as one clear error.
///
///     ┌──────────┐ init ok ┌─────────┐ SIGTERM/SIGINT ┌──────────┐ all answered  ┌─────────┐
///     │ starting │────────▶│ serving │───────────────▶│ draining │──────────────▶│ stopped │
///     └──────────┘         └─────────┘                └──────────┘ or grace over └─────────┘
///                                                        │ second signal: close connections now
public final class OutpostNode {
    public static let databaseFile = "node.sqlite"
    public static let lockFile = "noded.lock"

    public let config: NodeConfig
    public let identity: NodeIdentity
    /// Absolute data directory.
    public let dataDirectory: String
    let logger: Logger
    let loop: EventLoop
    let database: Database
    let writer: GroupCommit
    let router: Router
    let server: HTTPServer
    /// Replicated collections and their op log.
    let replica: NodeReplica
    /// The catalog's tables and search index, kept by `setUpCatalogView`.
    let catalog: CatalogIndex
    /// Starting, serving, draining, stopped: and what the node holds meanwhile.
    let life: NodeLifecycle
    /// Sync with peers, the hub it knows, and on the hub its settlement.
    let fleet = FleetPlace()
    public var baseURLs: [String] { life.baseURLs }
    /// The node's own small facts (node_meta).
    var meta: NodeMeta { NodeMeta(database: database) }

    /// What is read or made once and kept until it changes.
    let caches: NodeCaches
    /// Seals personal data, signs this node's access tokens and verifies the fleet's.
    let keys: NodeKeys
    /// The desks the routes hand their work to, with what each has under way.
    let desks: NodeDesks
    var accounts: AccountDesk { desks.accounts }
    var shop: ShopDesk { desks.shop }
    var saleDesk: SaleDesk { desks.sale }
    var gateway: any PaymentGateway { desks.gateway }
    var tills: TillDesk { desks.tills }

    public init(config: NodeConfig, logSink: LogSink, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let startedAtMs = WallClock.nowMs(), startedNs = EventLoop.hrtimeNs()
        let (dataDirectory, lock) = try Self.claimDataDirectory(config.dataDirectory)
        self.dataDirectory = dataDirectory
        let database = try Database(path: dataDirectory + "/" + Self.databaseFile, options: .init(synchronous: config.synchronous, pageCacheBytes: 64 << 20))
        self.database = database
        let now = WallClock.iso8601(ms: startedAtMs)
        try Self.backUpBeforeMigrating(database, config: config, dataDirectory: dataDirectory, logger: logger)
        let applied = try Migrator.apply(NodeSchema.migrations, to: database, now: now)
        let meta = NodeMeta(database: database)
        let storedId = try meta.value(.nodeId)
        let identity = try NodeIdentity.loadOrCreate(directory: dataDirectory, configuredId: config.nodeId, storedId: storedId)
        self.identity = identity
        let (signer, verifier) = Self.tokenAuthority(directory: dataDirectory, identity: identity, config: config)
        keys = NodeKeys(customerVault: CustomerVault(dataKeys: identity.dataKeys), tokenSigner: signer, tokenVerifier: verifier)
        if storedId == nil {
            try database.transaction {
                try meta.set(.nodeId, identity.nodeId)
                try meta.set(.createdAt, now)
            }
        }
        life = NodeLifecycle(startedAtMs: startedAtMs, startedNs: startedNs, lock: lock, schemaVersion: try Migrator.currentVersion(of: database),
                             starts: try meta.starts(), dataDirectory: dataDirectory)
        replica = try NodeReplica(database: database, nodeId: identity.nodeId, region: config.region, peers: [:], collections: Collections.all,
                                  maxDriftMs: config.sync.maxDriftMs)
        replica.hubOnly = HubOnlyRecords.problem
        replica.evictable[Collections.catalog.name] = { !Collections.catalogStaysResident($0) }
        catalog = CatalogIndex(database: database, region: config.region, defaultLocale: config.locale)
        caches = NodeCaches(responses: ResponseCache(bytesMax: config.cacheBytesMax))

        loop = try EventLoop()
        writer = try GroupCommit(database: database, loop: loop)
        try database.holdReadsUntilTurnEnd(on: loop)
        let gateway = SandboxAcquirer(writer: writer)
        desks = NodeDesks(sale: SaleDesk(writer: writer, gateway: gateway, clock: WallClock.nowMs), gateway: gateway)
        let replica = self.replica
        replica.attach(to: writer)
        writer.refusal = { [storage = life.storage, restore = life.restore] in storage.refusal ?? restore.refusal }
        router = Router()
        server = try Self.httpServer(loop: loop, router: router, config: config, dataDirectory: dataDirectory)
        try setUpCatalogView()
        try setUpWebhooks()
        try setUpMail()
        try setUpSettlement()
        fleet.knownHub = try meta.value(.hubNode)
        replica.hubNodeId = config.role == .hub ? identity.nodeId : fleet.knownHub
        replica.otherHubs = Set((try meta.value(.hubNodes) ?? "").split(separator: ",").map(String.init))
        replica.relaysGlobal = config.role != .store
        // Search's words in memory, read now rather than on a shopper's first search (~2 s per
        // 100k products).
        let searchStartedNs = EventLoop.hrtimeNs()
        let searchable = try catalog.prepareSearch(nowMs: WallClock.nowMs())
        logger.info("search index loaded", metadata: ["products": "\(searchable)", "ms": "\((EventLoop.hrtimeNs() - searchStartedNs) / 1_000_000)"])
        registerRoutes()
        caches.openAPIBody = openAPIDocument().encoded()
        if config.accessLog { server.accessLog = AccessLog(sink: logSink) }
        installAuthorization()
        installBrowserGuards()
        installStorageWatch()
        watchSales()
        fleet.sync = try makeSync()
        if !applied.isEmpty {
            logger.info("database migrated", metadata: ["versions": "\(applied.map(String.init).joined(separator: ","))"])
        }
    }

    /// The data directory, created (0700) if new, and its lock: a second noded on it refuses to start.
    private static func claimDataDirectory(_ configured: String) throws -> (path: String, lock: FileLock) {
        let dataDirectory = Files.absolute(configured)
        // Everything the node creates is its own: the database holds password hashes and sealed
        // personal data. Files meant for others (node.pub, node.address) set their mode.
        umask(0o077)
        do {
            try Files.createDirectory(dataDirectory, mode: 0o700)
            for file in [Self.databaseFile, Self.databaseFile + "-wal", Self.databaseFile + "-shm"] where Files.exists(dataDirectory + "/" + file) {
                try Files.restrict(dataDirectory + "/" + file, to: 0o600)
            }
        } catch {
            throw ConfigError(key: "node.data_dir", "cannot create \(dataDirectory): \(error.reason)")
        }
        do { return (dataDirectory, try FileLock(path: dataDirectory + "/" + Self.lockFile)) } catch {
            throw ConfigError(key: "node.data_dir", "another noded is running on \(dataDirectory) (\(error.reason))")
        }
    }

    /// The HTTP server with the configured limits, its upload spool, HTTPS and rate limits.
    private static func httpServer(loop: EventLoop, router: Router, config: NodeConfig, dataDirectory: String) throws -> HTTPServer {
        var limits = HTTPLimits()
        limits.headerReadTimeoutMs = config.http.headerReadTimeoutMs
        limits.bodyReadTimeoutMs = config.http.bodyReadTimeoutMs
        limits.bodyDeadlineMs = config.http.bodyDeadlineMs
        limits.connectionsPerAddressMax = config.http.connectionsPerAddressMax
        limits.idleTimeoutMs = config.http.idleTimeoutMs
        limits.bodyBytesMax = config.http.bodyBytesMax
        limits.connectionsMax = config.http.connectionsMax
        let server = try HTTPServer(loop: loop, router: router, limits: limits)
        server.spoolDirectory = try Self.emptySpoolDirectory(in: dataDirectory)
        server.tlsContext = try Self.httpsContext(config: config, directory: dataDirectory)
        server.rateLimiter = config.rateLimits.limiter
        return server
    }

    /// Who may call a route: the admin token, a role in a fleet-signed access token, or a till's
    /// credential.
    private func installAuthorization() {
        server.authorize = { [unowned self] request, access in
            switch access {
            case .anyone: return .allowed(subject: nil)
            case .adminToken:
                if identity.acceptsAdminToken(request.bearerToken) { return .allowed(subject: nil) }
                return .refused(Problem(.unauthorized, detail: request.bearerToken == nil
                    ? "send the admin token as 'Authorization: Bearer <token>' (see <data-dir>/admin.token)"
                    : "the admin token is not valid for this node"))
            case .roles(let roles):
                guard let presented = request.bearerToken else {
                    return .refused(Problem(.unauthorized, detail: "send the admin token or an access token with the role \(roles.joined(separator: " or ")) as 'Authorization: Bearer <token>'"))
                }
                if identity.acceptsAdminToken(presented) { return .allowed(subject: nil) }
                switch self.verifiedClaims(presented) {
                case .failure(let refusal):
                    return .refused(Problem(.unauthorized, detail: "the token is refused: \(refusal.rawValue)"))
                case .success(let claims):
                    if roles.contains(where: claims.roles.contains) { return .allowed(subject: claims.subject) }
                    return .refused(Problem(.forbidden, detail: "this route takes the role \(roles.joined(separator: " or ")); the token holds \(claims.roles.isEmpty ? "none" : claims.roles.joined(separator: ", "))"))
                }
            case .credential(let scheme):
                return self.authorizeTill(request, scheme: scheme)
            }
        }
    }

    /// A failed commit or a full disk: the replica reloads what it lost, the node stops taking
    /// writes or stops (docs/operations.md).
    private func installStorageWatch() {
        writer.onCommitFailed = { [unowned self] error in
            replica.reloadAfterFailedCommit()
            storageWriteFailed(error, what: "a group commit")
        }
        database.onIOError = { [unowned self] error in storageWriteFailed(error, what: "a statement (\(error.sql ?? "?"))") }
        replica.storageRefusal = { [storage = life.storage] in storage.acceptsWrites ? nil : "this node's disk takes no writes (\(storage.state.rawValue))" }
        replica.storageFailed = { [unowned self] error in storageWriteFailed(error, what: "writing a peer's changes") }
        server.onInternalError = { [logger] request, error in
            logger.error("request failed", metadata: ["request_id": "\(request.requestId)", "path": "\(request.path)", "error": "\(error)"])
        }
    }

    /// A sale's commits reach peers and views; the crash tests' faults hit their window.
    private func watchSales() {
        saleDesk.changed = { [unowned self] in replicatedChanged() }
        saleDesk.reservationCommitted = { [unowned self] in
            if life.faults.exitsAfterReservation { ProcessStats.exitNow(137) }
            if life.faults.fillsDiskAfterReservation, let path = ProcessStats.environment("OUTPOST_FAULT_SWITCH") {
                life.faults.fillsDiskAfterReservation = false
                try? Files.writeAtomically(path, "enospc\n", mode: 0o644)
            }
        }
    }

    /// Replication with peers, when this node may replicate.
    private func makeSync() throws -> SyncService? {
        // A node with a fleet certificate can replicate, even with no [sync] in its file: peers
        // may be added at run time (nodectl peers add).
        if config.sync.isEnabled || Files.exists(dataDirectory + "/" + NodeIdentity.certificateFile) {
            let tls = try Self.fleetTLS(directory: dataDirectory, identity: identity, region: config.region, role: config.role)
            let service = SyncService(loop: loop, replica: replica, tls: tls, logger: logger, role: config.role.rawValue, settings: config.sync)
            let firmware = FirmwareShelf(dataDirectory: dataDirectory, role: config.role.rawValue, loop: loop, logger: logger)
            firmware.service = service
            service.firmware = firmware
            if config.role == .hub {
                service.storeBackups = StoreBackupKeeper(directory: config.backup.storesDirectory ?? dataDirectory + "/store-backups",
                                                         retentionMs: config.backup.retentionMs, loop: loop, logger: logger)
            }
            for peer in try meta.peers() {
                guard let address = try? SocketAddress(parsing: peer.address), !service.configuredPeerIds.contains(peer.nodeId) else { continue }
                service.addPeer(NodeConfig.SyncPeer(nodeId: peer.nodeId, region: peer.region, address: address))
            }
            return service
        }
        replica.stopReplicating()
        return nil
    }

    /// Binds every configured address, writes the address file, installs signal handlers and
    /// serves until stopped. Returns the process exit code.
    public func run() throws -> Int32 {
        for address in config.listen {
            let bound = try server.listen(on: address)
            life.baseURLs.append((server.tlsContext == nil ? "http://" : "https://") + bound.description)
        }
        fleet.sync?.onHubLinked = { [unowned self] id in rememberHub(id) }
        try fleet.sync?.start(listen: config.sync.listen)
        if let address = fleet.sync?.listenAddress {
            try Files.writeAtomically(dataDirectory + "/" + NodeIdentity.syncAddressFile, address.description + "\n", mode: 0o644)
        }
        try Files.writeAtomically(dataDirectory + "/" + NodeIdentity.addressFile, (life.baseURLs.first ?? "") + "\n", mode: 0o644)
        for number in [SIGTERM, SIGINT] {
            life.signals.append(try SignalWatcher(loop: loop, signal: number) { [unowned self] signal in self.stop(signal: signal) })
        }
        if server.tlsContext != nil {
            life.signals.append(try SignalWatcher(loop: loop, signal: SIGHUP) { [unowned self] _ in self.reloadCertificate() })
        }
        try startBackups()
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMs: 100, repeatMs: 100) { [unowned self] in tick(nowMs: WallClock.nowMs()) }
        life.ticker = timer
        life.isReady = true
        try startServiceManagerWatch()
        recordStart()
        // What a crash cut short is released by the first tick (settleUnansweredSales).
        shop.unansweredSales.pending = true
        if config.source == nil {
            logger.warning("running on embedded defaults: no configuration file (a box: not provisioned, see firmware-image/README.md)")
        }
        logger.info("listening", metadata: [
            "node_id": "\(identity.nodeId)", "region": "\(config.region)", "role": "\(config.role.rawValue)",
            "addresses": .array(life.baseURLs.map { .string($0) }), "data_dir": "\(dataDirectory)", "version": "\(OutpostVersion.current)",
            "sync": "\(fleet.sync?.listenAddress?.description ?? (fleet.sync == nil ? "off" : "dial-only"))",
        ])
        loop.run()
        loop.close()
        life.lock.release()
        // A stop that could not write what it meant to is not a clean stop: the supervisor (and
        // whoever reads the exit status) should know. Nothing acknowledged is lost either way.
        logger.info("stopped", metadata: ["node_id": "\(identity.nodeId)", "clean": "\(!life.stopFailed)"])
        if life.storage.state == .failed { return Self.storageFailedExitCode }
        return life.stopFailed ? 1 : 0
    }

    /// Under systemd: ready once the node serves, and the watchdog petted from the loop itself, so
    /// a loop stuck past `WatchdogSec=` is restarted by the service manager.
    private func startServiceManagerWatch() throws {
        guard let manager = life.serviceManager else { return }
        manager.ready(status: "serving \(config.role.rawValue) \(identity.nodeId) on \(life.baseURLs.joined(separator: " "))")
        guard let intervalMs = manager.watchdogIntervalMs else { return }
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMs: UInt64(intervalMs), repeatMs: UInt64(intervalMs)) { [unowned self] in life.serviceManager?.petWatchdog() }
        life.watchdog = timer
        if life.faults.stallsLoopAfterReady {
            let stall = try LoopTimer(loop: loop)
            stall.start(afterMs: 500) {
                stall.close()
                usleep(2_000_000)
            }
        }
    }

    /// Every 100 ms. Each job is checked against the disk first: one that finds it failed stops
    /// the node (and closes the database) before the next would run.
    private func tick(nowMs: Int64) {
        let always: [() -> Void] = [
            { if self.life.storage.acceptsWrites, let error = self.replica.writeBehind(nowMs: nowMs) {
                self.storageWriteFailed(error, what: "writing replicated states behind the log") } },
            { if self.life.storage.isProbeDue(nowMs: nowMs) { self.probeStorage(nowMs: nowMs) } },
            { if self.replica.wasQuiet { self.replica.refreshDigests(on: self.loop) } },
            saleDesk.retryWaitingForRights,
            { self.warnOfOverduePayments(nowMs: nowMs) },
            { self.checkRestoreCaughtUp(nowMs: nowMs) },
            { self.deliverDueWebhooks(nowMs: nowMs) },
            { self.sendDueMail(nowMs: nowMs) },
        ]
        for job in always {
            guard !database.isClosed else { return }
            job()
        }
        // Background writes wait for a disk that takes them; requests are refused at once.
        let writing: [() -> Void] = [{ self.expireReservations(nowMs: nowMs) }, settleStockFollowUps, settleUnansweredSales,
                                     { self.settleDuePayments(nowMs: nowMs) }, { self.signLedgerHead(nowMs: nowMs) }]
        for job in writing {
            guard life.storage.acceptsWrites, !database.isClosed else { return }
            job()
        }
    }

    /// What the HTTP server asks the node about browsers' forms and the operator's requests.
    private func installBrowserGuards() {
        let identity = self.identity
        server.formCheck = { request, protection in Self.formRefusal(request, protection) }
        server.isExemptFromRateLimits = { request in identity.acceptsAdminToken(request.bearerToken) }
        server.formErrorPage = { [unowned self] problem, request in
            request.path.hasPrefix("/admin/") ? officeMessagePage(request, status: problem.status, heading: "That did not work",
                                                                 text: problem.detail ?? problem.type.title) : formErrorPage(problem, request)
        }
    }

    /// The HTTPS context of the configured certificate and key (or the node's fleet certificate),
    /// nil for plain HTTP. Files are read now: a bad one stops the start with its reason.
    static func httpsContext(config: NodeConfig, directory: String) throws -> TLSContext? {
        guard let certificate = config.http.tlsCertificate else { return nil }
        let files = certificate == "fleet"
            ? (directory + "/" + NodeIdentity.certificateFile, directory + "/" + NodeIdentity.keyFile)
            : (certificate, config.http.tlsKey ?? "")
        do {
            return try TLSContext(serverCertificateFile: files.0, keyFile: files.1, allowTLS12: config.http.tlsMinimumVersion == "1.2")
        } catch {
            throw ConfigError(key: "http.tls_certificate", "\(error)")
        }
    }

    /// SIGHUP: the certificate and key are read again (a renewed certificate); new connections
    /// get them, open ones keep theirs. A file that does not read keeps the old ones, logged.
    private func reloadCertificate() {
        do {
            server.tlsContext = try Self.httpsContext(config: config, directory: dataDirectory)
            logger.notice("HTTPS certificate reloaded", metadata: ["certificate": "\(config.http.tlsCertificate ?? "")"])
        } catch {
            logger.error("HTTPS certificate not reloaded; the old one stays", metadata: ["error": "\(error)"])
        }
    }

    /// Uploads are spooled under the data directory (0700: they may hold a catalog not yet
    /// public); what an earlier run left there belonged to requests that died with it.
    private static func emptySpoolDirectory(in dataDirectory: String) throws -> String {
        let path = dataDirectory + "/spool"
        do {
            try Files.createDirectory(path, mode: 0o700)
            for name in try Files.list(path) { Files.remove(path + "/" + name) }
        } catch {
            throw ConfigError(key: "node.data_dir", "cannot prepare \(path): \(error.reason)")
        }
        return path
    }

    /// Every start is a durable write through group commit, like any acknowledged write.
    private func recordStart() {
        let (at, role, region) = (WallClock.iso8601(ms: life.startedAtMs), config.role.rawValue, config.region)
        writer.submit({ db in
            try NodeMeta(database: db).recordStart(at: at, version: OutpostVersion.current, role: role, region: region)
        }, completion: { [unowned self] result in
            switch result {
            case .success: self.life.starts += 1
            case .failure(let error): self.logger.error("could not record the start", metadata: ["error": "\(error)"])
            }
        })
    }

    /// Graceful stop: readiness goes false, listeners close, requests in flight finish (up to the
    /// grace period), then queued writes commit and the database closes. A second signal
    /// closes connections at once.
    public func stop(signal: Int32 = SIGTERM) {
        if life.isStopping {
            logger.warning("second stop signal: closing connections now")
            server.close()
            return
        }
        life.isStopping = true
        life.isReady = false
        life.serviceManager?.stopping(status: "draining (signal \(signal))")
        logger.info("stopping", metadata: ["signal": "\(signal)", "grace_ms": "\(config.shutdownGraceMs)"])
        fleet.sync?.stop()
        // Finished on a later turn of the loop, never inside the call that asked for the stop (a
        // statement that found the disk failed): the code above it on the stack still runs.
        server.shutdown(graceMs: config.shutdownGraceMs) { [unowned self] in
            guard let timer = try? LoopTimer(loop: loop) else { return self.finishStop() }
            timer.start(afterMs: 0) { [unowned self] in
                timer.close()
                handSettlementOver { self.finishStop() }
            }
        }
    }

    private func finishStop() {
        writer.close()
        life.ticker?.close()
        life.watchdog?.close()
        guard life.storage.state != .failed else {
            // Nothing more is written after a failed write or fsync, not even the checkpoint
            // SQLite makes at close: the next start trusts only what the WAL on disk holds.
            database.close(checkpointing: false)
            return finishStopWithoutDatabase()
        }
        // Not needed for durability (the op log has it all), but the next start replays less.
        do { try replica.writeAllBehind() } catch {
            life.stopFailed = true
            logger.error("writing replicated states at stop failed", metadata: ["error": "\(error)"])
        }
        do {
            if life.faults.failsCheckpointAtStop { throw StorageError(.io, message: "disk I/O error (injected by OUTPOST_TEST_FAULT)") }
            try database.checkpoint()
        } catch {
            life.stopFailed = true
            logger.error("checkpoint failed at stop", metadata: ["error": "\(error)"])
        }
        life.backup?.stop(database: database)
        database.close()
        finishStopWithoutDatabase()
    }

    /// A release whose migrations an older release cannot run on takes a full backup before it
    /// migrates, when backups are on: a box rolled back to the older release restores it and
    /// catches up from its peers (firmware-image/README.md, "Data across updates").
    static func backUpBeforeMigrating(_ database: Database, config: NodeConfig, dataDirectory: String, logger: Logger) throws {
        // A new database has nothing to keep (and no migrations table yet).
        guard config.backup.isEnabled, let current = try? Migrator.currentVersion(of: database) else { return }
        guard current > 0, NodeSchema.migrations.contains(where: { $0.version > current && !$0.olderReleasesCanRun }),
              let nodeId = try NodeMeta(database: database).value(.nodeId) else { return }
        let name = try BackupService.takeFullNow(settings: config.backup, dataDirectory: dataDirectory, node: nodeId, region: config.region,
                                                 role: config.role.rawValue, schemaVersion: current)
        logger.notice("backup: a full before migrations older releases cannot run on", metadata: ["file": "\(name)", "schema_version": "\(current)"])
    }

    /// A restored node writes again once a peer shows it holds all of its own changes that peer
    /// holds (RestoreCatchUp); a node with no peers has nobody to catch up with.
    private func checkRestoreCaughtUp(nowMs: Int64) {
        guard life.restore.isCatchingUp else { return }
        if life.restore.knownPeers == nil {
            let acknowledged = (try? database.query("SELECT DISTINCT peer FROM peer_acks") { $0.string(0) }) ?? []
            life.restore.knownPeers = Set(acknowledged).union(fleet.sync?.peers.keys.map { $0 } ?? [])
        }
        guard let sync = fleet.sync, life.restore.knownPeers?.isEmpty == false || !sync.peers.isEmpty else {
            logger.warning("restored from a backup, with no sync peers to catch up with: writing again")
            return life.restore.caughtUp(nowMs: nowMs)
        }
        guard let link = sync.links.first(where: { $0.session.map { RestoreCatchUp.hasCaughtUp(with: $0, replica: replica) } ?? false }) else { return }
        life.restore.caughtUp(nowMs: nowMs)
        logger.info("restored from a backup and caught up: taking writes", metadata: ["peer": "\(link.peerNodeId ?? "?")"])
    }

    /// From here on every commit goes to the backup archive; the chain's first full starts now.
    private func startBackups() throws {
        guard config.backup.isEnabled else { return }
        Files.remove(dataDirectory + "/spool/backup-snapshot.sqlite")  // left by a stop mid-full
        let backup = try BackupService(settings: config.backup, dataDirectory: dataDirectory, node: identity.nodeId, region: config.region,
                                       role: config.role.rawValue, schemaVersion: life.schemaVersion, loop: loop, logger: logger)
        try backup.start(capturing: database)
        life.backup = backup
        if config.role != .hub { fleet.sync?.backupShipper = backup }
        logger.info("backups on", metadata: ["directory": "\(backup.directory)", "chain": "\(backup.chain)"])
    }

    private func finishStopWithoutDatabase() {
        Files.remove(dataDirectory + "/" + NodeIdentity.addressFile)
        Files.remove(dataDirectory + "/" + NodeIdentity.syncAddressFile)
        for watcher in life.signals { watcher.close() }
        life.signals.removeAll()
        loop.stop()
    }

    /// The TLS context of this node's sync links, from its enrolled certificate.
    static func fleetTLS(directory: String, identity: NodeIdentity, region: String, role: NodeConfig.Role) throws -> TLSContext {
        let certificatePath = directory + "/" + NodeIdentity.certificateFile
        let authorityPath = directory + "/" + NodeIdentity.authorityFile
        guard let certificate = try? Files.readString(certificatePath), let authority = try? Files.readString(authorityPath) else {
            throw ConfigError(key: "sync", "replication needs a fleet certificate: run nodectl enroll --ca-dir CA --data-dir \(directory) --node-id \(identity.nodeId) --region \(region) --role \(role.rawValue)")
        }
        guard let subject = Certificates.subject(ofPEM: certificate), subject.commonName == identity.nodeId, subject.organizationalUnit == region else {
            let named = Certificates.subject(ofPEM: certificate).map { "\($0.commonName)/\($0.organizationalUnit ?? "?")" } ?? "nothing"
            throw ConfigError(key: certificatePath, "was issued to \(named), not to \(identity.nodeId)/\(region)")
        }
        // Peers trust a node only as far as its certificate's role: a node may not claim more.
        guard (subject.role ?? "store") == role.rawValue else {
            throw ConfigError(key: certificatePath, "grants the role \(subject.role ?? "store (it names none)"), not \(role.rawValue): enroll the node again with --role \(role.rawValue)")
        }
        guard Certificates.isSigned(certificate, by: authority) else {
            throw ConfigError(key: certificatePath, "is not signed by the fleet CA in \(authorityPath)")
        }
        do { return try TLSContext(certificatePEM: certificate, key: identity.keyPair, authorityPEM: authority) } catch {
            throw ConfigError(key: certificatePath, "cannot be used: \(error)")
        }
    }

}
