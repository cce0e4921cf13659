import Platform

/// The node's own small facts (`node_meta`, key → text), each key named here: who it is, what it
/// has counted, which one-off jobs are done. Every method runs in the caller's transaction or read.
public struct NodeMeta {
    public enum Key: String, Sendable {
        case nodeId = "node_id", createdAt = "created_at"
        /// The fleet's hub, once a link said so.
        case hubNode = "hub_node"
        /// Every hub a link said was one (a fleet whose hubs share their books on PostgreSQL has several), comma-separated.
        case hubNodes = "hub_nodes"
        /// The last order number this node gave.
        case orderSequence = "order_sequence"
        /// The hybrid logical clock's last reading (NodeReplica).
        case clock = "hlc"
        /// One-off jobs done: a view built whole, payments queued for a new hub's settlement.
        case ordersViewBuilt = "orders_view", catalogViewBuilt = "catalog_view", settlementSeeded = "settlement_seeded"
        /// The sales windows and the returns queue, filled once from the orders a node held before them.
        case backOfficeViewsBuilt = "back_office_views"
        /// When a full disk was last probed with a write.
        case storageProbe = "storage_probe"
    }

    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func value(_ key: Key) throws -> String? {
        try database.queryOne("SELECT value FROM node_meta WHERE key = ?", [key.rawValue]) { $0.string("value") }
    }

    public func set(_ key: Key, _ value: String) throws {
        try database.execute("INSERT INTO node_meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key.rawValue, value])
    }

    /// Whether a one-off job is done.
    public func isDone(_ key: Key) throws -> Bool { try value(key) != nil }

    public func markDone(_ key: Key) throws { try set(key, "1") }

    /// The next value of a counter kept here (the first is 1).
    public func next(_ key: Key) throws -> Int64 {
        let next = (try value(key).flatMap { Int64($0) } ?? 0) + 1
        try set(key, String(next))
        return next
    }

    // MARK: Starts

    /// Every start is kept: when, which version, role and region.
    public func recordStart(at: String, version: String, role: String, region: String) throws {
        try database.execute("INSERT INTO node_starts(started_at, version, role, region) VALUES (?, ?, ?, ?)", [at, version, role, region])
    }

    public func starts() throws -> Int {
        try database.queryOne("SELECT count(*) AS n FROM node_starts") { $0.int("n") } ?? 0
    }

    // MARK: Sync peers added at run time

    public func peers() throws -> [(nodeId: String, region: String, address: String)] {
        try database.query("SELECT node_id, region, address FROM sync_peers", []) { ($0.string("node_id"), $0.string("region"), $0.string("address")) }
    }

    public func addPeer(nodeId: String, region: String, address: String, at: String) throws {
        try database.execute("""
            INSERT INTO sync_peers(node_id, region, address, added_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(node_id) DO UPDATE SET region = excluded.region, address = excluded.address
            """, [nodeId, region, address, at])
    }

    /// How many were removed (0: no such peer was added).
    @discardableResult
    public func removePeer(_ nodeId: String) throws -> Int {
        try database.execute("DELETE FROM sync_peers WHERE node_id = ?", [nodeId])
    }
}
