import HTTP
import Logging
import Platform
import Replication

/// A firmware bundle on this node's shelf (`<data>/firmware/`), as `nodectl firmware` shows it.
public struct FirmwareBundleReport: Codable, Sendable, Equatable {
    public var version: String
    public var compatible: String
    public var bytes: UInt64
    /// Lower-case hex.
    public var sha256: String
    /// Where the bundle is on this node; nil for one only offered.
    public var path: String?

    public init(version: String, compatible: String, bytes: UInt64, sha256: String, path: String? = nil) {
        self.version = version
        self.compatible = compatible
        self.bytes = bytes
        self.sha256 = sha256
        self.path = path
    }

    /// Whether `name` may be a bundle's version (or box) on the shelf: it becomes a file name.
    public static func isValidName(_ name: String) -> Bool { FirmwareOffer.isValidName(name) }

    /// Where a node keeps a bundle and its description: `<data>/firmware/<version>.raucb(.json)`.
    public static func shelfPaths(dataDirectory: String, version: String) -> (directory: String, bundle: String, description: String) {
        let directory = dataDirectory + "/" + FirmwareShelf.directoryName
        let bundle = directory + "/" + version + FirmwareShelf.bundleExtension
        return (directory, bundle, FirmwareShelf.descriptionPath(bundle))
    }

    init(_ offer: FirmwareOffer, path: String?) {
        version = offer.version
        compatible = offer.compatible
        bytes = offer.bytes
        sha256 = Hex.encode(offer.sha256)
        self.path = path
    }

    var offer: FirmwareOffer? {
        guard let hash = Hex.decode(sha256), hash.count == 32, FirmwareOffer.isValidName(version), FirmwareOffer.isValidName(compatible),
              bytes > 0, bytes <= FirmwareOffer.bundleBytesMax else { return nil }
        return FirmwareOffer(version: version, compatible: compatible, bytes: bytes, sha256: hash)
    }
}

/// What `GET /admin/v1/firmware` answers.
public struct FirmwareReport: Codable, Sendable {
    public struct Fetch: Codable, Sendable {
        public var version: String
        /// fetching, waiting_for_hub, verifying, ready or failed.
        public var state: String
        public var bytesReceived: UInt64
        public var bytes: UInt64
        public var error: String?
        /// The verified bundle, once ready.
        public var path: String?
    }

    public var role: String
    /// Bundles on this node: the hub's to hand out; a store's fetched and verified.
    public var held: [FirmwareBundleReport]
    /// The hub this node last heard an offer from, and what it offers.
    public var offeredBy: String?
    public var offered: [FirmwareBundleReport]
    public var fetch: Fetch?
}

/// Why a fetch was not started (problem type `firmware-fetch-refused`, `reason`).
struct FirmwareFetchRefusal: Error {
    enum Reason: String { case notOffered = "not_offered", hubUnreachable = "hub_unreachable", busy, noRoom = "no_room" }
    var reason: Reason
    var detail: String
}

/// Firmware bundles handed from the hub to its stores over sync links (sync/PROTOCOL.md §4,
/// FIRMWARE_*; firmware-image/README.md, "Updates from the hub").
///
/// The hub holds the bundles `nodectl firmware publish` put on its shelf and offers them to each
/// peer when its link comes up. A store fetches one on request, a chunk at a time with at most
/// `fetchWindowBytes` asked for and not yet on disk, appends it to a `.part` file, and keeps it
/// only if its SHA-256 is the one offered. Nothing here installs anything: `nodectl firmware
/// install` checks the bundle's signature again before RAUC writes a slot.
///
/// Blocking file work (reads, appends, hashing) runs on the loop's work queue; the loop only
/// moves chunks between links and those jobs. Every queue is bounded: a peer has at most
/// `requestsOpenMax` requests open, a fetch at most `fetchWindowBytes` in flight.
final class FirmwareShelf {
    static let directoryName = "firmware"
    static let bundleExtension = ".raucb"
    static let requestsOpenMax = 8
    static let fetchWindowBytes = 4 * FirmwareOffer.chunkBytesMax
    /// A fetch leaves this much of the disk free: the node's database needs it more than an update.
    static let diskReserveBytes: Int64 = 256 << 20

    enum FetchState: String { case fetching, waitingForHub = "waiting_for_hub", verifying, ready, failed }

    struct Fetch {
        var offer: FirmwareOffer
        var state: FetchState
        var error: String?
        /// The hub it comes from.
        var hub: String
        /// Next offset to ask for; bytes received in order; bytes appended to the part file.
        var requested: UInt64
        var received: UInt64
        var written: UInt64
        var unwritten: [[UInt8]] = []
        var writing = false
        /// Chunks still arrive or wait to be written.
        var isMoving: Bool { state == .fetching || state == .waitingForHub }
    }

    let directory: String
    let role: String
    let loop: EventLoop
    let logger: Logger
    /// Finds the link to the hub a fetch comes from.
    weak var service: SyncService?
    private(set) var held: [FirmwareOffer] = []
    private(set) var offered: [FirmwareOffer] = []
    private(set) var offeredBy: String?
    private(set) var fetch: Fetch?

    init(dataDirectory: String, role: String, loop: EventLoop, logger: Logger) {
        directory = dataDirectory + "/" + Self.directoryName
        self.role = role
        self.loop = loop
        self.logger = logger
        reload()
    }

    func bundlePath(_ version: String) -> String { directory + "/" + version + Self.bundleExtension }
    static func descriptionPath(_ bundlePath: String) -> String { bundlePath + ".json" }
    private func partPath(_ offer: FirmwareOffer) -> String { directory + "/" + offer.version + "-" + Hex.encode(Array(offer.sha256.prefix(8))) + ".part" }

    /// Reads the shelf again: every `<version>.raucb` with its description beside it and the size
    /// it gives. `nodectl firmware publish` writes both, then asks for this.
    func reload() {
        let names = (try? Files.list(directory)) ?? []
        held = names.filter { $0.hasSuffix(Self.bundleExtension) }.compactMap { name in
            let path = directory + "/" + name
            guard let bytes = try? Files.readBytes(Self.descriptionPath(path)),
                  let report = try? JSONCoding.decode(FirmwareBundleReport.self, from: bytes), let offer = report.offer,
                  bundlePath(offer.version) == path, UInt64(Files.size(path)) == offer.bytes else {
                logger.warning("firmware: \(path) has no valid description beside it; not offered")
                return nil
            }
            return offer
        }.sorted { $0.version < $1.version }.suffix(FirmwareOffer.offersMax)
    }

    /// What the hub tells a peer whose link came up, and every peer after a reload.
    var offer: SyncMessage { .firmwareOffer(held) }

    func report() -> FirmwareReport {
        FirmwareReport(
            role: role, held: held.map { FirmwareBundleReport($0, path: bundlePath($0.version)) }, offeredBy: offeredBy,
            offered: offered.map { FirmwareBundleReport($0, path: nil) },
            fetch: fetch.map { fetch in
                FirmwareReport.Fetch(version: fetch.offer.version, state: fetch.state.rawValue, bytesReceived: fetch.received, bytes: fetch.offer.bytes,
                                     error: fetch.error, path: fetch.state == .ready ? bundlePath(fetch.offer.version) : nil)
            })
    }

    // MARK: The hub hands out

    /// A peer asked for part of a bundle. Read off the loop; answered in the order asked (reads
    /// finish in any order). An unknown version, or a range past the end, gets an empty chunk.
    func requested(by link: SyncLink, version: String, offset: UInt64, length: UInt64) {
        guard link.firmwareAnswers.open < Self.requestsOpenMax else {
            return link.close(.tooManyRequests, "more than \(Self.requestsOpenMax) firmware requests open")
        }
        let slot = link.firmwareAnswers.reserve()
        guard let bundle = held.first(where: { $0.version == version }), offset < bundle.bytes else {
            return answer(link, slot, .firmwareChunk(version: version, offset: offset, data: []))
        }
        let path = bundlePath(version), want = Int(min(length, bundle.bytes - offset))
        loop.queueWork({ (try? Files.readRange(path, offset: Int(offset), length: want)) ?? [] }, completion: { [weak self] result in
            self?.answer(link, slot, .firmwareChunk(version: version, offset: offset, data: (try? result.get()) ?? []))
        })
    }

    private func answer(_ link: SyncLink, _ slot: UInt64, _ message: SyncMessage) {
        link.firmwareAnswers.fill(slot, with: message)
        let ready = link.firmwareAnswers.takeReady()
        guard !link.isClosed, !ready.isEmpty else { return }
        link.perform(ready.map { .send($0) })
        link.flush()
    }

    // MARK: A store fetches

    /// The hub's offer, on every link up and after each publish. A fetch waiting for the hub
    /// goes on if the hub still offers the same bundle.
    func offered(_ offers: [FirmwareOffer], by link: SyncLink) {
        offered = offers
        offeredBy = link.peerNodeId
        guard var current = fetch, current.state == .waitingForHub || current.state == .fetching, current.hub == link.peerNodeId else { return }
        guard offers.contains(current.offer) else {
            return fail("the hub no longer offers \(current.offer.version)")
        }
        if current.state == .waitingForHub {
            current.state = .fetching
            current.requested = current.received
            fetch = current
            askForMore(on: link)
        }
    }

    /// Starts fetching `version` from the hub whose link is up (nil: the only one offered).
    func startFetch(_ version: String?) throws(FirmwareFetchRefusal) -> FirmwareReport.Fetch {
        if let current = fetch, current.isMoving || current.state == .verifying || current.writing {
            throw FirmwareFetchRefusal(reason: .busy, detail: "\(current.offer.version) is being fetched (\(current.received) of \(current.offer.bytes) bytes)")
        }
        guard let hub = offeredBy, let hubLink = service?.activeLink(to: hub) else {
            throw FirmwareFetchRefusal(reason: .hubUnreachable, detail: "no link to the hub is up")
        }
        let candidates = version.map { wanted in offered.filter { $0.version == wanted } } ?? offered
        guard candidates.count == 1, let offer = candidates.first else {
            let list = offered.map(\.version).joined(separator: ", ")
            throw FirmwareFetchRefusal(reason: .notOffered, detail: version.map { "the hub does not offer \($0) (it offers: \(list.isEmpty ? "nothing" : list))" }
                ?? "say which version: the hub offers \(list.isEmpty ? "nothing" : list)")
        }
        if held.contains(offer) {
            fetch = Fetch(offer: offer, state: .ready, hub: hub, requested: offer.bytes, received: offer.bytes, written: offer.bytes)
            return report().fetch ?? FirmwareReport.Fetch(version: offer.version, state: "ready", bytesReceived: offer.bytes, bytes: offer.bytes)
        }
        do { try Files.createDirectory(directory, mode: 0o750) } catch {
            throw FirmwareFetchRefusal(reason: .noRoom, detail: "cannot create \(directory): \(error)")
        }
        // A part left by an earlier fetch of the same bundle is where this one goes on.
        let part = partPath(offer)
        var resumeAt = UInt64(max(0, Files.size(part)))
        if resumeAt > offer.bytes {
            Files.remove(part)
            resumeAt = 0
        }
        let needed = Int64(offer.bytes - resumeAt) + Self.diskReserveBytes
        guard Files.availableBytes(directory) >= needed else {
            throw FirmwareFetchRefusal(reason: .noRoom, detail: "\(offer.version) needs \(offer.bytes - resumeAt) more bytes and \(Self.diskReserveBytes >> 20) MiB to spare; the disk has \(Files.availableBytes(directory))")
        }
        fetch = Fetch(offer: offer, state: .fetching, hub: hub, requested: resumeAt, received: resumeAt, written: resumeAt)
        logger.info("firmware: fetching \(offer.version) from \(hub)", metadata: ["bytes": "\(offer.bytes)", "from": "\(resumeAt)"])
        if resumeAt == offer.bytes { verify() } else { askForMore(on: hubLink) }
        return report().fetch ?? FirmwareReport.Fetch(version: offer.version, state: "fetching", bytesReceived: resumeAt, bytes: offer.bytes)
    }

    /// Asks for chunks while less than the window is in flight.
    private func askForMore(on link: SyncLink) {
        guard var current = fetch, current.state == .fetching else { return }
        var asks: [SyncAction] = []
        while current.requested < current.offer.bytes && current.requested - current.written < UInt64(Self.fetchWindowBytes) {
            let length = min(UInt64(FirmwareOffer.chunkBytesMax), current.offer.bytes - current.requested)
            asks.append(.send(.firmwareRequest(version: current.offer.version, offset: current.requested, length: length)))
            current.requested += length
        }
        fetch = current
        guard !asks.isEmpty else { return }
        link.perform(asks)
        link.flush()
    }

    /// A chunk from the hub: it must be the next one, of the size asked for.
    func received(version: String, offset: UInt64, data: [UInt8], from link: SyncLink) {
        guard var current = fetch, current.state == .fetching, current.offer.version == version, current.hub == link.peerNodeId else { return }
        let expected = min(UInt64(FirmwareOffer.chunkBytesMax), current.offer.bytes - current.received)
        guard !data.isEmpty else { return fail("the hub no longer holds \(version)") }
        guard offset == current.received, UInt64(data.count) == expected else {
            return fail("the hub sent bytes \(offset)+\(data.count), not \(current.received)+\(expected)")
        }
        current.received += expected
        current.unwritten.append(data)
        fetch = current
        writeNext()
    }

    /// Appends chunks in order, one job at a time, so the part file is always a prefix of the
    /// bundle (and a fetch cut short goes on from its size).
    private func writeNext() {
        guard var current = fetch, current.isMoving, !current.writing, !current.unwritten.isEmpty else { return }
        let data = current.unwritten.removeFirst(), path = partPath(current.offer), offer = current.offer
        current.writing = true
        fetch = current
        loop.queueWork({ () -> String? in
            do { try Files.append(path, data); return nil } catch { return "\(error)" }
        }, completion: { [weak self] result in
            guard let self, var current = self.fetch, current.offer == offer else { return }
            current.writing = false
            self.fetch = current
            guard current.isMoving else { return Files.remove(path) }  // failed meanwhile: leave no part behind
            if let error = Self.failure(result, "the write was cancelled") { return self.fail("cannot write \(path): \(error)") }
            current.written += UInt64(data.count)
            self.fetch = current
            if current.written == offer.bytes { return self.verify() }
            if let link = self.service?.activeLink(to: current.hub) { self.askForMore(on: link) }
            self.writeNext()
        })
    }

    /// The whole part is on disk: keep it only if its SHA-256 is the one offered.
    private func verify() {
        guard var current = fetch else { return }
        current.state = .verifying
        fetch = current
        let offer = current.offer, part = partPath(offer), destination = bundlePath(offer.version)
        let description = (try? JSONCoding.encode(FirmwareBundleReport(offer, path: nil))) ?? []
        loop.queueWork({ () -> String? in
            guard let hash = try? SHA256Stream.file(part), hash == offer.sha256 else {
                Files.remove(part)
                return "its SHA-256 is not the one the hub offered: it was damaged or altered on the way, and was discarded"
            }
            do {
                try Files.syncAndRename(part, to: destination)
                try Files.writeAtomically(Self.descriptionPath(destination), description)
                return nil
            } catch { return "cannot keep it: \(error)" }
        }, completion: { [weak self] result in
            guard let self, self.fetch?.offer == offer else { return }
            if let error = Self.failure(result, "the check was cancelled") { return self.fail(error) }
            self.fetch?.state = .ready
            self.discardAllBut(offer.version)
            self.reload()
            self.logger.info("firmware: \(offer.version) fetched and verified", metadata: ["path": "\(destination)"])
        })
    }

    /// What went wrong in a file job: its own answer, or that it never ran.
    private static func failure(_ result: Result<String?, PlatformError>, _ cancelled: String) -> String? {
        switch result {
        case .success(let error): error
        case .failure: cancelled
        }
    }

    /// A store keeps one fetched bundle: the newest fetch.
    private func discardAllBut(_ version: String) {
        for other in held where other.version != version {
            Files.remove(bundlePath(other.version))
            Files.remove(Self.descriptionPath(bundlePath(other.version)))
        }
    }

    private func fail(_ reason: String) {
        guard var current = fetch else { return }
        logger.warning("firmware: fetching \(current.offer.version) failed", metadata: ["reason": "\(reason)"])
        current.state = .failed
        current.error = reason
        current.unwritten = []
        fetch = current
        Files.remove(partPath(current.offer))
    }

    /// The link a fetch came on closed: chunks asked for on it are lost; the fetch goes on from
    /// what arrived when the hub offers the bundle again on its next link.
    func linkLost(_ link: SyncLink) {
        guard var current = fetch, current.state == .fetching, current.hub == link.peerNodeId else { return }
        current.state = .waitingForHub
        fetch = current
    }
}

/// A link's firmware answers, sent in the order the peer asked even when the reads behind them
/// finish out of order (sync/PROTOCOL.md: chunks come in request order).
struct FirmwareAnswers {
    private var slots: [(slot: UInt64, message: SyncMessage?)] = []
    private var next: UInt64 = 0

    /// Requests taken and not yet answered.
    var open: Int { slots.count }

    mutating func reserve() -> UInt64 {
        defer { next += 1 }
        slots.append((next, nil))
        return next
    }

    mutating func fill(_ slot: UInt64, with message: SyncMessage) {
        if let index = slots.firstIndex(where: { $0.slot == slot }) { slots[index].message = message }
    }

    /// The answers ready at the front, in order.
    mutating func takeReady() -> [SyncMessage] {
        var ready: [SyncMessage] = []
        while let first = slots.first, let message = first.message {
            ready.append(message)
            slots.removeFirst()
        }
        return ready
    }
}
