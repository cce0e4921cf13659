import Commerce
import Node
import Platform
import XCTest

final class NodeConfigTests: XCTestCase {
    private func parse(_ toml: String) throws -> NodeConfig {
        var config = NodeConfig()
        try config.apply(toml: toml)
        return config
    }

    private func error(_ toml: String) -> ConfigError? {
        do {
            _ = try parse(toml)
            return nil
        } catch {
            return error as? ConfigError
        }
    }

    func testDefaultsRunWithoutAFile() throws {
        let config = try NodeConfig.load(file: nil, flags: NodeFlags())
        XCTAssertEqual(config.dataDirectory, "./data")
        XCTAssertEqual(config.listen, [SocketAddress(host: "127.0.0.1", port: 8080)])
        XCTAssertEqual(config.role, .store)
        XCTAssertEqual(config.synchronous, .full)
        XCTAssertNil(config.nodeId)
    }

    func testReadsEveryKey() throws {
        let config = try parse("""
            [node]
            id = "store-1"
            region = "eu-central"
            locale = "de"
            role = "hub"
            data_dir = "/srv/outpost"
            [http]
            listen = ["127.0.0.1:9000", "[::1]:9001"]
            header_read_timeout_ms = 5000
            body_read_timeout_ms = 6000
            idle_timeout_ms = 7000
            body_bytes_max = 2048
            connections_max = 10
            shutdown_grace_ms = 0
            [log]
            level = "debug"
            access_log = false
            [database]
            synchronous = "normal"
            """)
        XCTAssertEqual(config.nodeId, "store-1")
        XCTAssertEqual(config.region, "eu-central")
        XCTAssertEqual(config.locale, "de")
        XCTAssertEqual(config.role, .hub)
        XCTAssertEqual(config.dataDirectory, "/srv/outpost")
        XCTAssertEqual(config.listen.map(\.description), ["127.0.0.1:9000", "[::1]:9001"])
        XCTAssertEqual(config.http.headerReadTimeoutMs, 5000)
        XCTAssertEqual(config.http.bodyReadTimeoutMs, 6000)
        XCTAssertEqual(config.http.idleTimeoutMs, 7000)
        XCTAssertEqual(config.http.bodyBytesMax, 2048)
        XCTAssertEqual(config.http.connectionsMax, 10)
        XCTAssertEqual(config.shutdownGraceMs, 0)
        XCTAssertEqual(config.logLevel, .debug)
        XCTAssertFalse(config.accessLog)
        XCTAssertEqual(config.synchronous, .normal)
    }

    func testUnknownKeysAreErrorsNamingTheKey() {
        XCTAssertEqual(error("[http]\nidel_timeout_ms = 5")?.key, "http.idel_timeout_ms")
        XCTAssertEqual(error("colour = 'blue'")?.key, "colour")
        XCTAssertEqual(error("[nodes]\nid = 'x'")?.key, "nodes")
    }

    func testBadValuesAreErrorsNamingTheKey() {
        XCTAssertEqual(error("[http]\nidle_timeout_ms = 'soon'")?.key, "http.idle_timeout_ms")
        XCTAssertEqual(error("[http]\nidle_timeout_ms = -1")?.key, "http.idle_timeout_ms")
        XCTAssertEqual(error("[http]\nlisten = 'nowhere'")?.key, "http.listen")
        XCTAssertEqual(error("[http]\nlisten = []")?.key, "http.listen")
        XCTAssertEqual(error("[node]\nrole = 'king'")?.key, "node.role")
        XCTAssertEqual(error("[node]\nid = 'Has Spaces'")?.key, "node.id")
        XCTAssertEqual(error("[node]\nlocale = 'english'")?.key, "node.locale")
        XCTAssertEqual(error("[log]\nlevel = 'loud'")?.key, "log.level")
        XCTAssertEqual(error("[log]\naccess_log = 'yes'")?.key, "log.access_log")
        XCTAssertEqual(error("[database]\nsynchronous = 'off'")?.key, "database.synchronous")
        XCTAssertEqual(error("node = 3")?.key, "node")
        XCTAssertEqual(error("[checkout]\ntax_rate_bp = 20000")?.key, "checkout.tax_rate_bp")
        XCTAssertEqual(error("[checkout]\nshipping_flat_fee = -5")?.key, "checkout.shipping_flat_fee")
        XCTAssertEqual(error("[checkout]\nprices_include_tax = 'yes'")?.key, "checkout.prices_include_tax")
        XCTAssertEqual(error("[checkout]\nreservation_seconds = 0")?.key, "checkout.reservation_seconds")
        XCTAssertEqual(error("[checkout]\ncurrency = 'EUR'")?.key, "checkout.currency")
        XCTAssertEqual(error("[returns]\nrefund_shipping = 'sometimes'")?.key, "returns.refund_shipping")
        XCTAssertEqual(error("[returns]\nwindow_days = -1")?.key, "returns.window_days")
        XCTAssertEqual(error("[inventory]\nlocation = 'Back Room'")?.key, "inventory.location")
        XCTAssertEqual(error("[ledger]\nstore = 'oracle'")?.key, "ledger.store")
        XCTAssertEqual(error("[ledger]\nstore = 'postgresql'")?.key, "ledger.postgresql", "the cluster is named")
        XCTAssertEqual(error("[ledger]\nstore = 'postgresql'\npostgresql = 'host=a port'")?.key, "ledger.postgresql", "libpq must read it")
        XCTAssertEqual(error("[ledger]\npostgresql = 'host=a'")?.key, "ledger.postgresql", "only with store = postgresql")
        XCTAssertEqual(error("[ledger]\nlease_s = 0")?.key, "ledger.lease_s")
    }

    func testReadsTheSharedLedger() throws {
        var config = NodeConfig()
        try config.apply(toml: """
            [ledger]
            store = "postgresql"
            postgresql = "host=pg-1,pg-2 port=5432,5432 dbname=outpost target_session_attrs=read-write"
            lease_s = 3
            """)
        XCTAssertEqual(config.ledgerStore, .postgresql(connection: "host=pg-1,pg-2 port=5432,5432 dbname=outpost target_session_attrs=read-write"))
        XCTAssertEqual(config.settlementLeaseMs, 3_000)
        XCTAssertEqual(NodeConfig().ledgerStore, .sqlite, "SQLite is the default")
    }

    func testReadsCheckoutAndInventory() throws {
        var config = NodeConfig()
        try config.apply(toml: "[checkout]\ntax_rate_bp = 725\nprices_include_tax = false\nshipping_flat_fee = 599\nfree_shipping_from = 5000\nreservation_seconds = 60\n[inventory]\nlocation = \"back-room\"")
        XCTAssertEqual(config.checkout.taxRateBasisPoints, 725)
        XCTAssertFalse(config.checkout.pricesIncludeTax)
        XCTAssertEqual(config.checkout.shippingFlatFee, 599)
        XCTAssertEqual(config.checkout.freeShippingFrom, 5000)
        XCTAssertEqual(config.reservationSeconds, 60)
        XCTAssertEqual(config.stockLocation, "back-room")
        XCTAssertEqual(config.returns, ReturnPolicy(), "30 days, shipping back with a full return")
        try config.apply(toml: "[returns]\nwindow_days = 14\nrefund_shipping = \"never\"")
        XCTAssertEqual(config.returns.windowDays, 14)
        XCTAssertEqual(config.returns.refundShipping, .never)
    }

    func testReadsTheSyncSection() throws {
        let config = try parse("""
            [sync]
            listen = "127.0.0.1:7443"
            max_drift_ms = 5000
            forget_peer_after_ms = 60000
            rebalance_interval_ms = 1000
            [[sync.peers]]
            node_id = "hub"
            region = "eu"
            address = "127.0.0.1:7444"
            [[sync.peers]]
            node_id = "store-2"
            region = "eu"
            address = "[::1]:7445"
            """)
        XCTAssertEqual(config.sync.listen, SocketAddress(host: "127.0.0.1", port: 7443))
        XCTAssertEqual(config.sync.maxDriftMs, 5000)
        XCTAssertEqual(config.sync.forgetPeerAfterMs, 60000)
        XCTAssertEqual(config.sync.rebalanceIntervalMs, 1000)
        XCTAssertEqual(config.sync.peers.map(\.nodeId), ["hub", "store-2"])
        XCTAssertEqual(config.sync.peers.last?.address.description, "[::1]:7445")
        XCTAssertTrue(config.sync.isEnabled)
        XCTAssertFalse(NodeConfig().sync.isEnabled)
    }

    func testSyncErrorsNameTheKey() {
        XCTAssertEqual(error("[[sync.peers]]\nnode_id = 'hub'\nregion = 'eu'\naddress = 'nowhere'")?.key, "sync.peers[0].address")
        XCTAssertEqual(error("[[sync.peers]]\nnode_id = 'hub'\nregion = 'eu'")?.key, "sync.peers[0].address")
        XCTAssertEqual(error("[[sync.peers]]\nnode_id = 'Bad Id'\nregion = 'eu'\naddress = '127.0.0.1:1'")?.key, "sync.peers[0].node_id")
        XCTAssertEqual(error("[[sync.peers]]\nnode_id = 'a'\nregion = 'eu'\naddress = '127.0.0.1:1'\n[[sync.peers]]\nnode_id = 'a'\nregion = 'eu'\naddress = '127.0.0.1:2'")?.key, "sync.peers[1].node_id")
        XCTAssertEqual(error("[sync]\nmax_drift_ms = 1")?.key, "sync.max_drift_ms")
        XCTAssertEqual(error("[sync]\npeer = 1")?.key, "sync.peer")
    }

    func testInvalidTOMLSaysWhere() {
        let failure = error("[node\nid = 1")
        XCTAssertNotNil(failure)
        XCTAssertTrue(failure?.problem.contains("line 1") ?? false, failure?.description ?? "")
    }

    func testFlagsOverrideTheFile() throws {
        let dir = TemporaryConfig("[node]\nregion = 'file-region'\nrole = 'regional'\n[http]\nlisten = '127.0.0.1:1'\n")
        var flags = NodeFlags()
        flags.region = "flag-region"
        flags.listen = ["127.0.0.1:0"]
        flags.dataDirectory = "/tmp/x"
        flags.logLevel = "error"
        let config = try NodeConfig.load(file: dir.path, flags: flags)
        XCTAssertEqual(config.region, "flag-region")
        XCTAssertEqual(config.role, .regional, "not overridden, so the file's value stays")
        XCTAssertEqual(config.listen.first?.port, 0)
        XCTAssertEqual(config.dataDirectory, "/tmp/x")
        XCTAssertEqual(config.logLevel, .error)
    }

    func testBadFlagsNameTheFlag() {
        var flags = NodeFlags()
        flags.listen = ["somewhere"]
        XCTAssertThrowsError(try NodeConfig.load(file: nil, flags: flags)) { XCTAssertEqual(($0 as? ConfigError)?.key, "--listen") }
        flags = NodeFlags()
        flags.role = "emperor"
        XCTAssertThrowsError(try NodeConfig.load(file: nil, flags: flags)) { XCTAssertEqual(($0 as? ConfigError)?.key, "--role") }
    }

    func testAMissingFileIsAnError() {
        XCTAssertThrowsError(try NodeConfig.load(file: "/nonexistent/outpost.toml", flags: NodeFlags()))
    }

    /// The commented examples in conf/ are real configurations.
    func testShippedExamplesParse() throws {
        let conf = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("conf")
        let files = try FileManager.default.contentsOfDirectory(atPath: conf.path).filter { $0.hasSuffix(".toml") }
        XCTAssertTrue(Set(files).isSuperset(of: ["store.toml", "regional.toml", "hub.toml"]))
        for file in files {
            XCTAssertNoThrow(try NodeConfig.load(file: conf.appendingPathComponent(file).path, flags: NodeFlags()), file)
        }
        XCTAssertEqual(try NodeConfig.load(file: conf.appendingPathComponent("hub.toml").path, flags: NodeFlags()).role, .hub)
    }
}

/// A TOML file in a temporary directory.
private final class TemporaryConfig {
    let path: String
    private let directory = NSTemporaryDirectory() + "/outpost-config-\(UUID().uuidString)"
    init(_ text: String) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/node.toml"
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
    }
    deinit { try? FileManager.default.removeItem(atPath: directory) }
}
