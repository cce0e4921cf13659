/// The body of `GET /admin/v1/status`, shared by the node and `nodectl`.
public struct NodeStatusReport: Codable, Sendable, Equatable {
    public var nodeId: String
    public var region: String
    public var role: String
    public var version: String
    /// Whole seconds since this process started serving.
    public var uptimeSeconds: Int64
    /// UTC ISO 8601.
    public var startedAt: String
    /// Size of the node database file (main file, excluding the WAL).
    public var databaseBytes: Int64
    public var schemaVersion: Int
    /// Base URLs the node listens on, e.g. "http://127.0.0.1:8080".
    public var addresses: [String]
    public var dataDir: String
    public var connectionsOpen: Int
    public var residentMemoryBytes: Int64
    public var pid: Int32
    /// How many times this node has started on this data directory.
    public var starts: Int
    /// The configuration file the node runs on, or "embedded defaults" (a box not provisioned).
    /// Absent from nodes before 0.2.
    public var configuration: String?
    /// Set on a node started from a restored backup: what it was restored from, and whether it
    /// caught up with its peers yet (docs/backups.md, "Rebuild").
    public var restore: String?

    public init(nodeId: String, region: String, role: String, version: String, uptimeSeconds: Int64, startedAt: String,
                databaseBytes: Int64, schemaVersion: Int, addresses: [String], dataDir: String, connectionsOpen: Int,
                residentMemoryBytes: Int64, pid: Int32, starts: Int) {
        self.nodeId = nodeId
        self.region = region
        self.role = role
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.startedAt = startedAt
        self.databaseBytes = databaseBytes
        self.schemaVersion = schemaVersion
        self.addresses = addresses
        self.dataDir = dataDir
        self.connectionsOpen = connectionsOpen
        self.residentMemoryBytes = residentMemoryBytes
        self.pid = pid
        self.starts = starts
    }

    public static let embeddedDefaults = "embedded defaults"
}

/// The body of `GET /api/v1/node`: public facts about the node.
public struct NodeInfo: Codable, Sendable, Equatable {
    public var id: String
    public var region: String
    public var role: String
    public var version: String
    public var uptimeSeconds: Int64
}

public enum OutpostVersion {
    public static let current = "0.1.0"
}

/// The body of `GET /admin/v1/sync/status`, shared by the node and `nodectl sync status`.
public struct SyncStatusReport: Codable, Sendable {
    public struct Collection: Codable, Sendable {
        public var name: String
        /// Deltas this node has and the peer lacks.
        public var deltasBehindOutgoing: Int
        /// Deltas the peer reported having that this node lacks.
        public var deltasBehindIncoming: Int
        /// Age of the oldest delta the peer lacks.
        public var secondsBehindOutgoing: Int
        /// SHA-256 of this node's state of the collection, hex.
        public var digest: String
        /// The peer's last reported digest.
        public var peerDigest: String?
        /// Nil while the peer's last digest was for another applied vector than ours.
        public var digestsMatch: Bool?
    }

    public struct Peer: Codable, Sendable {
        public var nodeId: String
        public var region: String
        /// Where this node dials it; nil for a peer that dials us.
        public var address: String?
        public var connected: Bool
        /// UTC ISO 8601: connected since, or disconnected since.
        public var since: String
        /// Why the link is down.
        public var lastError: String?
        public var lastContact: String?
        public var bytesSent: Int
        public var bytesReceived: Int
        public var collections: [Collection]
    }

    public var nodeId: String
    public var region: String
    /// The sync listen address, nil when this node only dials.
    public var listen: String?
    public var peers: [Peer]
    /// The hub that settles, when the fleet's hubs share their books (nil: one hub, or not known yet).
    public var settlementLeader: SettlementLeaderReport?
}

/// `GET /admin/v1/ledger/status`: where the books are and who settles (`nodectl ledger status`).
public struct LedgerStatusReport: Codable, Sendable {
    public var nodeId: String
    public var role: String
    /// sqlite or postgresql on a hub; nil on other nodes.
    public var store: String?
    /// Whether this node settles now.
    public var leads: Bool
    /// The leader the fleet was told of (hubs sharing books on PostgreSQL).
    public var leader: SettlementLeaderReport?
    /// Shared books: the lease as this hub last saw it, and why its last renewal failed.
    public var leaseHolder: String?
    public var leaseEpoch: Int64?
    public var leaseProblem: String?
    /// UTC ISO 8601: since when this hub leads.
    public var leadingSince: String?
    /// The hub this node forwards to (other nodes).
    public var hub: String?
    public var paymentsQueued: Int?
    public var transfersCreated: Int?
    public var paymentsSettled: Int?
}
