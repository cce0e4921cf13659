import Commerce
import Node
import Persistence
import Platform
import Replication

/// The shop's services in process: the node's schema on a real SQLite file in a temporary
/// directory, its replica with the stock view projected, and its group commit. Time is the
/// test's (`nowMs`, also the replica's wall clock); any statement or COMMIT can be made to fail
/// as a failed disk, a full one or a lock held past the timeout would (`failStatement`). For
/// testing what a service writes, and that a failure halfway writes nothing, without a process.
public final class ShopHarness {
    /// How the Nth statement fails (`StatementFaults` in Platform).
    public enum StatementFault: String, CaseIterable, Sendable {
        case ioError = "sqlite-ioerr-nth"
        case diskFull = "sqlite-full-nth"
        case busy = "sqlite-busy-nth"
    }

    public let node: String
    public let region: String
    /// The time the services are handed and the replica's clock reads.
    public var nowMs: Int64
    public private(set) var database: Database
    public private(set) var replica: NodeReplica
    public private(set) var catalog: CatalogIndex
    private var loop: EventLoop
    private var writer: GroupCommit
    private let directory: TemporaryDirectory
    private let faultSwitch: String

    public init(node: String = "store-a", region: String = "eu", nowMs: Int64 = 1_767_225_600_000) throws {
        (self.node, self.region, self.nowMs) = (node, region, nowMs)
        directory = TemporaryDirectory(prefix: "outpost-shop-\(node)")
        faultSwitch = directory.file("faults")
        (database, replica, catalog, loop, writer) = try Self.open(directory.file("node.sqlite"), node: node, region: region, faultSwitch: faultSwitch)
        replica.wallClock = { [unowned self] in self.nowMs }
    }

    deinit { close() }

    private static func open(_ path: String, node: String, region: String, faultSwitch: String) throws
        -> (Database, NodeReplica, CatalogIndex, EventLoop, GroupCommit) {
        // No fsync: a restart reopens the file in this process, and the WAL holds what committed.
        let database = try Database(path: path, options: .init(synchronous: .off, statementFaultSwitch: faultSwitch))
        try Migrator.apply(NodeSchema.migrations, to: database, now: "2026-01-01T00:00:00Z")
        let replica = try NodeReplica(database: database, nodeId: node, region: region, peers: [:], collections: Collections.all)
        let catalog = CatalogIndex(database: database, region: region, defaultLocale: "en")
        replica.project(Collections.inventory) { [unowned replica] keys in try catalog.projectStock(keys, from: replica, node: node) }
        let loop = try EventLoop()
        let writer = try GroupCommit(database: database, loop: loop)
        replica.attach(to: writer)
        writer.onCommitFailed = { [unowned replica] _ in replica.reloadAfterFailedCommit() }
        return (database, replica, catalog, loop, writer)
    }

    /// The node's stock and redemptions, at this node's own location, with no peers to ask.
    public var reservations: SaleReservations {
        SaleReservations(replica: replica, database: database, catalog: catalog, node: node, location: node, region: region, peers: nil)
    }

    public var stockDesk: StockDesk { StockDesk(reservations: reservations, journal: StockJournal(database: database)) }

    /// Runs `body` as one write of a group commit, committed before this returns: its value, or
    /// the error that undid it (its own, or the COMMIT's).
    public func write<T>(_ body: @escaping () throws -> T) -> Result<T, any Error> {
        var outcome: Result<T, any Error>?
        writer.submit({ _ in try body() }, completion: { outcome = $0 })
        writer.commitQueued()
        guard let outcome else { preconditionFailure("a group commit completes every write it commits") }
        return outcome
    }

    /// Units booked in at this node's location, as staff receive them.
    public func receive(_ sku: String, units: Int64) throws {
        let desk = stockDesk, at = nowMs
        try write { try desk.receive(sku: sku, units: units, at: self.node, note: nil, actor: "test", nowMs: at) }.get()
    }

    /// Units of `sku` at this node's location, by the replicated counter and by the stock view.
    public func stock(_ sku: String) throws -> (counter: Int64, view: Int64) {
        let counter = replica.state(at: StockKey.make(sku: sku, location: node), in: Collections.inventory)?.value ?? 0
        return (counter, try catalog.stock(sku: sku).available)
    }

    /// Lines of the stock journal for `sku`, summed: what the counters must agree with.
    public func journalUnits(_ sku: String) throws -> Int64 {
        try database.queryOne("SELECT coalesce(sum(units), 0) FROM stock_movements WHERE sku = ?", [sku]) { $0.int64(0) } ?? 0
    }

    /// The next `nth` statement from now (a COMMIT included) fails once with `fault`.
    public func failStatement(_ fault: StatementFault, nth: Int) throws {
        clearFaults()
        try Files.writeAtomically(faultSwitch, "\(fault.rawValue) \(nth)\n")
    }

    /// Whether the armed fault has fired.
    public var faultFired: Bool { Files.exists(faultSwitch + ".fired") }

    public func clearFaults() {
        Files.remove(faultSwitch)
        Files.remove(faultSwitch + ".fired")
    }

    /// Closes the database and opens it again, as a node restarting reads what was committed.
    public func restart() throws {
        close()
        (database, replica, catalog, loop, writer) = try Self.open(directory.file("node.sqlite"), node: node, region: region, faultSwitch: faultSwitch)
        replica.wallClock = { [unowned self] in self.nowMs }
    }

    private func close() {
        guard !database.isClosed else { return }
        writer.close()
        // The turn-end hook's handle is released by a turn of the loop.
        _ = loop.runOnce()
        database.close()
        loop.close()
    }
}
