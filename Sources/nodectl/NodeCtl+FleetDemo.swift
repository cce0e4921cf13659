import ArgumentParser
import Commerce
import Foundation
import Node
import Platform

extension NodeCtl.Fleet {
    /// `nodectl fleet demo`: a hub and N stores in two regions on this machine, as child processes.
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a demo fleet: a CA, a hub and N stores in two regions, each enrolled, configured and started.",
            discussion: """
                Writes DIR/ca/ (the fleet CA) and DIR/<node-id>/ (data directory and noded.toml) for every node,
                starts each node, prints one JSON line per node, and runs until SIGINT or SIGTERM, when it
                stops them all. A node can also be started alone: noded --config DIR/<node-id>/noded.toml.
                Ports: node k (0 = hub) serves HTTP on BASE+2k and sync on BASE+2k+1. Running it again on the
                same DIR reuses the data.
                """)

        @Option(name: .long, help: "Directory for the fleet (created if missing).")
        var dir: String

        @Option(name: .long, help: "Number of store nodes.")
        var stores = 2

        @Option(name: .customLong("base-port"), help: "First port; each node uses two.")
        var basePort = 7100

        @Option(name: .long, help: "Products of the demo catalog loaded into the hub (0: none).")
        var products = 500

        func validate() throws {
            guard (1...20).contains(stores) else { throw ValidationError("--stores must be between 1 and 20") }
            guard (0...1_000_000).contains(products) else { throw ValidationError("--products must be from 0 to 1000000") }
            guard (1024...65_000 - 2 * (stores + 1)).contains(basePort) else { throw ValidationError("--base-port must leave room for \(2 * (stores + 1)) ports below 65536") }
        }

        struct Member {
            let id: String
            let role: String
            let region: String
            let http: Int
            let sync: Int
        }

        func members() -> [Member] {
            [Member(id: "hub", role: "hub", region: "eu", http: basePort, sync: basePort + 1)]
                + (1...stores).map { n in
                    Member(id: "store-\(n)", role: "store", region: n % 2 == 1 ? "eu" : "us", http: basePort + 2 * n, sync: basePort + 2 * n + 1)
                }
        }

        func run() throws {
            try reportingFailures {
                let root = Files.absolute(dir)
                let members = members()
                let caDir = root + "/ca"
                if !Files.exists(caDir + "/" + FleetFiles.authorityKey) {
                    try Files.createDirectory(caDir)
                    let key = Ed25519KeyPair.generate()
                    try Files.writeAtomically(caDir + "/" + FleetFiles.authorityKey, key.privateKeyPEM, mode: 0o600)
                    try Files.writeAtomically(caDir + "/" + FleetFiles.authorityCertificate, try Certificates.authority(key: key, name: "demo-fleet"), mode: 0o644)
                }
                let authority = try FleetFiles.authority(in: caDir)
                for member in members {
                    let data = root + "/" + member.id
                    try FleetFiles.enroll(nodeId: member.id, region: member.region, role: member.role, dataDir: data, caDir: caDir, authority: authority)
                    try Files.writeAtomically(data + "/noded.toml", config(for: member, dataDir: data, all: members), mode: 0o644)
                }
                try runFleet(root: root, members: members)
            }
        }

        /// Stores dial the hub and the earlier stores of their own region (carts stay in a region).
        func config(for member: Member, dataDir: String, all: [Member]) -> String {
            var text = """
                # Demo fleet node \(member.id), written by nodectl fleet demo. Start alone with: noded --config \(dataDir)/noded.toml
                [node]
                id = "\(member.id)"
                region = "\(member.region)"
                role = "\(member.role)"
                data_dir = "\(dataDir)"

                [http]
                listen = "127.0.0.1:\(member.http)"

                [storefront]
                name = "Outpost demo (\(member.id))"

                \(member.region == "eu" ? "[checkout]\ntax_rate_bp = 1900\nprices_include_tax = true\nshipping_flat_fee = 495\nfree_shipping_from = 10000"
                                         : "[checkout]\ntax_rate_bp = 725\nprices_include_tax = false\nshipping_flat_fee = 599")

                [sync]
                listen = "127.0.0.1:\(member.sync)"

                """
            let dialed = all.filter { other in
                other.id != member.id && member.role != "hub"
                    && (other.role == "hub" || (other.region == member.region && other.http < member.http))
            }
            for peer in dialed {
                text += "\n[[sync.peers]]\nnode_id = \"\(peer.id)\"\nregion = \"\(peer.region)\"\naddress = \"127.0.0.1:\(peer.sync)\"\n"
            }
            return text
        }

        func runFleet(root: String, members: [Member]) throws {
            // Taken synchronously at the end, whenever it arrives. Blocked before any thread starts
            // (starting a child starts one), so no thread takes it with the default action; the
            // children inherit the mask and noded unblocks the signals it watches.
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGINT)
            sigaddset(&signals, SIGTERM)
            pthread_sigmask(SIG_BLOCK, &signals, nil)
            let noded = Self.nodedPath()
            var children: [(Member, Process)] = []
            func stopAll() {
                for (_, process) in children where process.isRunning { process.terminate() }
                for (_, process) in children { process.waitUntilExit() }
            }
            for member in members {
                let data = root + "/" + member.id
                Files.remove(data + "/" + NodeIdentity.addressFile)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: noded)
                process.arguments = ["--config", data + "/noded.toml"]
                // The log names customers' ids and tokens' subjects: the node's own, like its data.
                _ = FileManager.default.createFile(atPath: data + "/noded.log", contents: nil, attributes: [.posixPermissions: 0o600])
                process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: data + "/noded.log"))
                process.standardOutput = FileHandle.nullDevice
                do { try process.run() } catch {
                    stopAll()
                    throw CLIFailure("cannot start \(noded): \(error)")
                }
                children.append((member, process))
            }
            for (member, process) in children {
                let data = root + "/" + member.id
                let deadline = Date().addingTimeInterval(30)
                while !Files.exists(data + "/" + NodeIdentity.addressFile) && process.isRunning && Date() < deadline { usleep(20_000) }
                guard process.isRunning, Files.exists(data + "/" + NodeIdentity.addressFile) else {
                    stopAll()
                    throw CLIFailure("\(member.id) did not start; see \(data)/noded.log")
                }
                let line: [String: String] = [
                    "id": member.id, "role": member.role, "region": member.region, "http": "http://127.0.0.1:\(member.http)",
                    "sync": "127.0.0.1:\(member.sync)", "data_dir": data, "config": data + "/noded.toml",
                ]
                // Written at once, unbuffered: a script reading the pipe sees each node as it is up.
                let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys, .withoutEscapingSlashes])
                FileHandle.standardOutput.write(json + Data("\n".utf8))
            }
            if products > 0, let hub = members.first(where: { $0.role == "hub" }) {
                let demo = DemoCatalog(products: products, regions: Array(Set(members.map(\.region))).sorted())
                try loadCatalog(demo, into: root + "/" + hub.id, stopAll: stopAll)
                try loadShippingMethods(members.filter { $0.role == "store" }.map { (id: $0.id, region: $0.region) }, into: root + "/" + hub.id, stopAll: stopAll)
                for store in members where store.role == "store" {
                    try receiveStock(demo, into: root + "/" + store.id, store: store.id, stopAll: stopAll)
                }
            }
            try addDemoStaff(members, root: root, stopAll: stopAll)
            var received: Int32 = 0
            sigwait(&signals, &received)
            FileHandle.standardError.write(Data("nodectl: stopping the demo fleet (signal \(received))\n".utf8))
            stopAll()
        }

        /// A back-office account on every node, so the demo's /admin/ pages open: a store manager
        /// at each store, a hub admin at the hub. A demo password, on loopback only; a real node's
        /// staff are added with `nodectl staff add`.
        func addDemoStaff(_ members: [Member], root: String, stopAll: () -> Void) throws {
            let password = "outpost demo"
            for member in members {
                let connection = try NodeConnection.parse(["--data-dir", root + "/" + member.id, "--timeout-ms", "60000"])
                let (id, role) = member.role == "hub" ? ("admin", "hub_admin") : ("manager", "store_manager")
                let body = try JSONSerialization.data(withJSONObject: ["name": member.role == "hub" ? "Demo hub admin" : "Demo manager", "role": role, "password": password])
                do { _ = try connection.admin("PUT", "/admin/v1/staff-accounts/\(id)", json: Array(body)) } catch {
                    stopAll()
                    throw error
                }
                FileHandle.standardError.write(Data("nodectl: \(member.id): back office at http://127.0.0.1:\(member.http)/admin/ (account \(id), password \"\(password)\")\n".utf8))
            }
        }

        /// The hub authors the catalog; replication takes it to the stores. The same catalog on
        /// every run, so a restarted demo changes nothing.
        func loadCatalog(_ demo: DemoCatalog, into hubData: String, stopAll: () -> Void) throws {
            let connection = try NodeConnection.parse(["--data-dir", hubData, "--timeout-ms", "60000"])
            do {
                for category in demo.categories {
                    try connection.admin("PUT", "/admin/v1/catalog/categories/\(category.id)", json: CatalogInput.category(category))
                }
                try send(demo.products.enumerated().map { ImportItem(json: CatalogInput.product($1), line: $0 + 1) },
                         connection: connection, source: "the demo catalog") { line in
                    // stdout carries only the nodes' JSON lines.
                    FileHandle.standardError.write(Data("nodectl: hub: \(line)\n".utf8))
                }
            } catch {
                stopAll()
                throw error
            }
        }

        /// Post and express delivery per region, and collection at each store; a method that
        /// exists already (a restarted demo) is left as it is.
        func loadShippingMethods(_ stores: [(id: String, region: String)], into hubData: String, stopAll: () -> Void) throws {
            let connection = try NodeConnection.parse(["--data-dir", hubData, "--timeout-ms", "60000"])
            var bodies: [String] = []
            for region in Set(stores.map(\.region)).sorted() {
                let currency = DemoCatalog.currency(region: region)
                let countries = region == "eu" ? #"["DE", "AT", "FR", "NL"]"# : region == "uk" ? #"["GB"]"# : #"["US"]"#
                bodies.append(#"{"id": "\#(region)-post", "name": "Standard post", "region": "\#(region)", "currency": "\#(currency)", "countries": \#(countries), "rate": {"weight": [{"up_to_g": 2000, "fee": 495}, {"up_to_g": 20000, "fee": 995}]}, "free_from": 5000, "min_days": 2, "max_days": 4}"#)
                bodies.append(#"{"id": "\#(region)-express", "name": "Express", "region": "\#(region)", "currency": "\#(currency)", "countries": \#(countries), "rate": {"value": [{"from": 0, "fee": 1490}, {"from": 10000, "fee": 990}]}, "min_days": 1, "max_days": 1}"#)
            }
            for store in stores {
                let currency = DemoCatalog.currency(region: store.region)
                bodies.append(#"{"id": "collect-\#(store.id)", "name": "Collect at \#(store.id)", "region": "\#(store.region)", "currency": "\#(currency)", "collect_at": "\#(store.id)", "min_days": 0, "max_days": 1}"#)
            }
            do {
                for body in bodies {
                    let answer = try connection.send("POST", "/admin/v1/shipping-methods", body: Array(body.utf8), contentType: "application/json")
                    guard answer.status == 201 || answer.status == 409 else { throw CLIFailure("the demo's shipping methods: HTTP \(answer.status)") }
                }
            } catch {
                stopAll()
                throw error
            }
        }

        /// Each store receives some demo stock at its own location (`SKU@store`) where it has none,
        /// so a restarted demo adds nothing to what is there.
        func receiveStock(_ demo: DemoCatalog, into storeData: String, store: String, stopAll: () -> Void) throws {
            let connection = try NodeConnection.parse(["--data-dir", storeData, "--timeout-ms", "60000"])
            do {
                for (sku, units) in demo.stock(store: store) {
                    let path = "/admin/v1/replicated/inventory/\(sku)@\(store)"
                    let current = try connection.admin("GET", path)
                    let state = (try? JSONSerialization.jsonObject(with: Data(current.body)) as? [String: Any])?["state"] as? [String: Any]
                    guard (state?["value"] as? Int ?? 0) == 0 else { continue }
                    try connection.admin("POST", path, json: Array(#"{"op":"increment","units":\#(units)}"#.utf8))
                }
            } catch {
                stopAll()
                throw error
            }
        }

        /// noded beside this nodectl, else on PATH.
        static func nodedPath() -> String {
            let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            let beside = me.deletingLastPathComponent().appendingPathComponent("noded").path
            if FileManager.default.isExecutableFile(atPath: beside) { return beside }
            return (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
                .map { "\($0)/noded" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "noded"
        }
    }
}
