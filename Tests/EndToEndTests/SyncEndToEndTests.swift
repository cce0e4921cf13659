import Foundation
import HTTP
import NodeTesting
import Platform
import XCTest

/// Replication between real noded processes over mutual TLS on loopback.
final class SyncEndToEndTests: XCTestCase {
    /// The five collections agree on every node (same region).
    private func converged(_ nodes: [NodeProcess], collections: [String] = ["carts", "catalog", "inventory", "orders", "payments"]) -> Bool {
        eventually {
            let summaries = try nodes.map { try $0.replicatedSummary() }
            return collections.allSatisfy { name in
                let first = summaries[0][name]
                return summaries.allSatisfy { $0[name]?.digest == first?.digest && $0[name]?.applied == first?.applied }
            }
        }
    }

    private func peer(_ node: NodeProcess, _ id: String, _ region: String = "eu") -> (id: String, region: String, address: String) {
        (id, region, node.syncAddress ?? "")
    }

    func testThreeNodesConvergeAfterConcurrentWrites() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub")
        let s1 = try fleet.start("store-1", region: "eu", peers: [peer(hub, "hub")])
        let s2 = try fleet.start("store-2", region: "eu", peers: [peer(hub, "hub"), peer(s1, "store-1")])
        let nodes = [hub, s1, s2]
        for round in 0..<10 {
            for (index, node) in nodes.enumerated() {
                XCTAssertEqual(try node.adminPost("/admin/v1/replicated/orders/day-\(round % 3)", #"{"op":"add","event":"order-\#(index)-\#(round)"}"#).status, 200)
                XCTAssertEqual(try node.adminPost("/admin/v1/replicated/catalog/p-\(round % 2)", #"{"op":"set","field":"f\#(index)","value":\#(round)}"#).status, 200)
                XCTAssertEqual(try node.adminPost("/admin/v1/replicated/carts/cart-\(round % 2)", #"{"op":"set","sku":"sku-\#(index)","quantity":\#(round + 1)}"#).status, 200)
                XCTAssertEqual(try node.adminPost("/admin/v1/replicated/inventory/SKU-\(index)", #"{"op":"increment","units":2}"#).status, 200)
            }
        }
        XCTAssertTrue(converged(nodes), "three nodes agree on every collection")
        let events = try (0..<3).flatMap { day in (try hub.replicatedState("orders", "day-\(day)")["events"] as? [String]) ?? [] }
        XCTAssertEqual(events.count, 30, "every order from every node is everywhere")
        XCTAssertEqual(try s2.replicatedState("inventory", "SKU-0")["value"] as? Int, 20)
        let status = try s2.adminJSON("/admin/v1/sync/status")
        let peers = status["peers"] as? [[String: Any]] ?? []
        XCTAssertEqual(Set(peers.compactMap { $0["node_id"] as? String }), ["hub", "store-1"])
        XCTAssertTrue(peers.allSatisfy { $0["connected"] as? Bool == true })
        let metrics = try s2.adminGet("/metrics").text
        XCTAssertTrue(metrics.contains("outpost_sync_peer_connected{peer=\"hub\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("outpost_sync_deltas_behind{peer=\"hub\",direction=\"outgoing\"}"))
    }

    func testANodeKilledMidStreamConvergesAfterRestartAndAppliesNothingTwice() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub")
        var s1: NodeProcess? = try fleet.start("store-1", region: "eu", peers: [peer(hub, "hub")])
        let s2 = try fleet.start("store-2", region: "eu", peers: [peer(hub, "hub")])
        for n in 0..<60 {
            XCTAssertEqual(try hub.adminPost("/admin/v1/replicated/inventory/SKU-A", #"{"op":"increment","units":1}"#).status, 200)
            XCTAssertEqual(try s2.adminPost("/admin/v1/replicated/orders/o-\(n % 5)", #"{"op":"add","event":"s2-\#(n)"}"#).status, 200)
            if n == 20, let victim = s1 {
                _ = try victim.stop(signal: SIGKILL)  // mid-stream, no goodbye
                s1 = nil
            }
        }
        let restarted = try fleet.start("store-1", region: "eu", peers: [peer(hub, "hub")])
        for n in 0..<10 {
            XCTAssertEqual(try restarted.adminPost("/admin/v1/replicated/orders/o-\(n % 5)", #"{"op":"add","event":"s1-\#(n)"}"#).status, 200)
        }
        XCTAssertTrue(converged([hub, restarted, s2]))
        XCTAssertEqual(try restarted.replicatedState("inventory", "SKU-A")["value"] as? Int, 60, "60 increments, each applied once")
        let applied = try restarted.replicatedSummary()["orders"]?.applied ?? [:]
        XCTAssertEqual(applied["store-2"], 60)
        XCTAssertEqual(applied["store-1"], 10)
    }

    func testANodeOfflinePastCompactionCatchesUpBySnapshot() throws {
        let fleet = try TestFleet()
        let forget = "forget_peer_after_ms = 1000\n"
        let hub = try fleet.start("hub", region: "eu", role: "hub", extra: forget)
        let s1 = try fleet.start("store-1", region: "eu", peers: [peer(hub, "hub")], extra: forget)
        var s2: NodeProcess? = try fleet.start("store-2", region: "eu", peers: [peer(hub, "hub")], extra: forget)
        XCTAssertEqual(try hub.adminPost("/admin/v1/replicated/orders/o-0", #"{"op":"add","event":"before"}"#).status, 200)
        XCTAssertTrue(converged([hub, s1, s2!]))
        XCTAssertEqual(try s2?.stop(), 0)
        s2 = nil
        // Once store-2 is forgotten, what store-1 acknowledged is compacted out of the hub's log.
        var n = 0
        XCTAssertTrue(eventually {
            n += 1
            _ = try hub.adminPost("/admin/v1/replicated/orders/o-\(n % 3)", #"{"op":"add","event":"while-away-\#(n)"}"#)
            let orders = try hub.adminJSON("/admin/v1/replicated")["orders"] as? [String: Any]
            return ((orders?["compacted_through"] as? [String: Int])?["hub"] ?? 0) > 1
        }, "the hub compacts past what store-2 has")
        let back = try fleet.start("store-2", region: "eu", peers: [peer(hub, "hub")], extra: forget)
        XCTAssertTrue(converged([hub, s1, back], collections: ["orders"]), "store-2 caught up")
        XCTAssertTrue(hub.log.contains("sync: snapshot sent"), "it came as a snapshot")
    }

    func testRegionScopedDataNeverReachesAnotherRegion() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub")
        let eu = try fleet.start("store-eu", region: "eu", peers: [peer(hub, "hub")])
        let us = try fleet.start("store-us", region: "us", peers: [peer(hub, "hub")])
        XCTAssertEqual(try eu.adminPost("/admin/v1/replicated/carts/cart-eu", #"{"op":"set","sku":"A","quantity":1}"#).status, 200)
        XCTAssertEqual(try us.adminPost("/admin/v1/replicated/carts/cart-us", #"{"op":"set","sku":"B","quantity":2}"#).status, 200)
        XCTAssertEqual(try us.adminPost("/admin/v1/replicated/orders/o-us", #"{"op":"add","event":"placed"}"#).status, 200)
        XCTAssertTrue(converged([hub, eu, us], collections: ["orders", "catalog", "inventory", "payments"]), "global data reaches every region")
        XCTAssertTrue(converged([hub, eu], collections: ["carts"]), "carts reach the same region")
        XCTAssertEqual(try hub.replicatedState("carts", "cart-eu")["lines"] as? [String: Int], ["A": 1])
        XCTAssertEqual((try hub.replicatedState("carts", "cart-us")["lines"] as? [String: Int]) ?? [:], [:], "a us cart never reaches the eu hub")
        XCTAssertEqual((try us.replicatedState("carts", "cart-eu")["lines"] as? [String: Int]) ?? [:], [:], "an eu cart never reaches the us store")
        XCTAssertEqual(try us.replicatedSummary()["carts"]?.applied, ["store-us": 1])
    }

    func testAClientWithoutAFleetCertificateCannotCompleteAHandshake() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub")
        let address = try SocketAddress(parsing: hub.syncAddress ?? "")
        let authority = try String(contentsOfFile: fleet.caDirectory + "/ca.crt", encoding: .utf8)
        // An intruder that trusts the fleet CA but holds a certificate from another CA.
        let strangerKey = Ed25519KeyPair.generate()
        let strangerCA = try Certificates.authority(key: strangerKey, name: "stranger")
        let intruderKey = Ed25519KeyPair.generate()
        let intruderCertificate = try Certificates.issue(nodeId: "store-1", region: "eu", publicKeyPEM: intruderKey.publicKeyPEM,
                                                         authorityKey: strangerKey, authorityCertificatePEM: strangerCA)
        let tls = try TLSConnection(context: try TLSContext(certificatePEM: intruderCertificate, key: intruderKey, authorityPEM: authority), isServer: false)
        let socket = try BlockingSocket(host: address.host, port: address.port)
        var plaintext: [UInt8] = []
        _ = try tls.readPlaintext()
        try socket.send(tls.takeCiphertext())
        while let chunk = try? socket.receive(timeoutMs: 5_000), !chunk.isEmpty {
            tls.receiveCiphertext(chunk)
            guard let bytes = try? tls.readPlaintext() else { break }
            plaintext += bytes
            let out = tls.takeCiphertext()
            if !out.isEmpty { try? socket.send(out) }
        }
        XCTAssertEqual(plaintext, [], "not one frame reaches a node without a fleet certificate")
        XCTAssertTrue(eventually { hub.log.contains("TLS handshake failed") })
        // No certificate at all: openssl's client.
        let sClient = try runCommand("/bin/sh", ["-c", "openssl s_client -connect \(address) -tls1_3 -quiet < /dev/null"], timeoutSeconds: 10)
        XCTAssertFalse(sClient.stdout.contains("outpost"), "no HELLO for a client without a certificate")
        XCTAssertTrue(eventually { hub.log.contains("peer did not return a certificate") })
        let status = try hub.adminJSON("/admin/v1/sync/status")
        XCTAssertEqual((status["peers"] as? [Any])?.count ?? 0, 0, "the intruders never became peers")
    }

    func testPartitionedStoresNeverOversellAndAgreeAfterHealing() throws {
        let fleet = try TestFleet()
        var hub: NodeProcess? = try fleet.start("hub", region: "eu", role: "hub")
        let hubAddress = peer(hub!, "hub")
        let s1 = try fleet.start("store-1", region: "eu", peers: [hubAddress])
        let s2 = try fleet.start("store-2", region: "eu", peers: [hubAddress])
        XCTAssertEqual(try hub?.adminPost("/admin/v1/replicated/inventory/SKU-X@berlin", #"{"op":"increment","units":10}"#).status, 200)
        XCTAssertEqual(try hub?.adminPost("/admin/v1/replicated/inventory/SKU-X@berlin", #"{"op":"transfer","units":5,"to":"store-1"}"#).status, 200)
        XCTAssertEqual(try hub?.adminPost("/admin/v1/replicated/inventory/SKU-X@berlin", #"{"op":"transfer","units":5,"to":"store-2"}"#).status, 200)
        for store in [s1, s2] {
            XCTAssertTrue(eventually { ((try store.replicatedState("inventory", "SKU-X@berlin")["rights"] as? [String: Int])?.values.reduce(0, +) ?? 0) == 10 })
        }
        // Partition: the stores only meet through the hub, which goes away.
        XCTAssertEqual(try hub?.stop(), 0)
        hub = nil
        var sold = 0, refused = 0
        for _ in 0..<7 {
            for store in [s1, s2] {
                let response = try store.adminPost("/admin/v1/replicated/inventory/SKU-X@berlin", #"{"op":"decrement","units":1}"#)
                if response.status == 200 { sold += 1 } else if response.status == 409 { refused += 1 } else { XCTFail(response.text) }
            }
        }
        XCTAssertEqual(sold, 10, "each store sold exactly its own rights")
        XCTAssertEqual(refused, 4)
        let healed = try fleet.start("hub", region: "eu", role: "hub")
        _ = healed
        // The hub listens on a new port: the stores' configured address is stale, so they are
        // restarted with the new one (a real hub keeps its address).
        let stores = try [s1, s2].enumerated().map { index, store -> NodeProcess in
            XCTAssertEqual(try store.stop(), 0)
            return try fleet.start("store-\(index + 1)", region: "eu", peers: [peer(healed, "hub")])
        }
        XCTAssertTrue(converged([healed] + stores, collections: ["inventory"]))
        for node in [healed] + stores {
            XCTAssertEqual(try node.replicatedState("inventory", "SKU-X@berlin")["value"] as? Int, 0, "never below zero, the same everywhere")
        }
    }

    func testAStoreShortOfRightsGetsThemFromTheHubAndTheHubReplenishesWhatSells() throws {
        let fleet = try TestFleet()
        let fast = "rebalance_interval_ms = 200\n"
        let hub = try fleet.start("hub", region: "eu", role: "hub", extra: fast)
        let store = try fleet.start("store-1", region: "eu", peers: [peer(hub, "hub")], extra: fast)
        XCTAssertEqual(try hub.adminPost("/admin/v1/replicated/inventory/SKU-R", #"{"op":"increment","units":20}"#).status, 200)
        XCTAssertTrue(eventually { (try store.replicatedState("inventory", "SKU-R")["value"] as? Int) == 20 })

        // The store holds no rights: refused, and the refusal asks the hub.
        let first = try store.adminPost("/admin/v1/replicated/inventory/SKU-R", #"{"op":"decrement","units":3}"#)
        XCTAssertEqual(first.status, 409)
        XCTAssertTrue(eventually {
            ((try store.replicatedState("inventory", "SKU-R")["rights"] as? [String: Int])?["store-1"] ?? 0) >= 3
        }, "the hub granted the rights asked for")
        XCTAssertEqual(try store.adminPost("/admin/v1/replicated/inventory/SKU-R", #"{"op":"decrement","units":3}"#).status, 200, "the retried sale goes through")

        // What sold at the store flows back as rights from the hub.
        XCTAssertTrue(eventually {
            ((try store.replicatedState("inventory", "SKU-R")["rights"] as? [String: Int])?["store-1"] ?? 0) >= 3
        }, "the hub replenished the store by what it sold")
        XCTAssertEqual(try hub.replicatedState("inventory", "SKU-R")["value"] as? Int, 17)
    }

    /// A peer with a valid fleet certificate that sends a bad frame loses its link, and nothing
    /// from it is applied.
    func testAMalformedOrOversizedFrameClosesTheLinkAndAppliesNothing() throws {
        let fleet = try TestFleet()
        let hub = try fleet.start("hub", region: "eu", role: "hub")
        let before = try hub.replicatedSummary()

        for (name, frame) in [("bad version", [0, 0, 0, 3, 9, 0, 8] as [UInt8]), ("oversized", [0x7F, 0xFF, 0xFF, 0xFF, 1, 0] as [UInt8])] {
            let rogue = try RoguePeer(fleet: fleet, nodeId: "store-9", region: "eu", to: hub)  // a fleet member completes the handshake
            try rogue.sendFrame(frame)
            XCTAssertTrue(rogue.waitForClose(timeoutMs: 5_000), "\(name): the hub closed the link")
        }
        XCTAssertTrue(eventually { hub.log.contains("frame version 9 is not spoken here") }, "the reason is logged")
        XCTAssertTrue(eventually { hub.log.contains("exceeds the 4194304-byte limit") }, "the reason is logged")
        let after = try hub.replicatedSummary()
        for (name, summary) in before { XCTAssertEqual(after[name]?.digest, summary.digest, "\(name) unchanged") }
    }
}
