import Foundation
import HTTP
import Platform

/// A fleet of real noded processes on loopback: a CA made by `nodectl fleet init`, nodes
/// enrolled by `nodectl enroll`, each with its own data directory and TOML configuration.
public final class TestFleet {
    public let scratch = TemporaryDirectory(prefix: "outpost-fleet")
    public var caDirectory: String { scratch.file("ca") }

    public init() throws {
        let result = try runExecutable("nodectl", ["fleet", "init", "--dir", caDirectory, "--name", "test-fleet"])
        guard result.status == 0 else { throw NodeProcessError.didNotStart(status: result.status, log: result.stderr) }
    }

    public func dataDirectory(_ id: String) -> String { scratch.file(id) }

    /// Enrolls (once) and starts a node. `peers` are dialed: (node id, region, sync address).
    public func start(_ id: String, region: String, role: String = "store", listen: Bool = true,
                      peers: [(id: String, region: String, address: String)] = [], extra: String = "", httpTLS: String = "",
                      environment: [String: String] = [:]) throws -> NodeProcess {
        let dir = dataDirectory(id)
        if !FileManager.default.fileExists(atPath: dir + "/node.crt") {
            let enrolled = try runExecutable("nodectl", ["enroll", "--ca-dir", caDirectory, "--data-dir", dir, "--node-id", id, "--region", region,
                                                         "--role", role])
            guard enrolled.status == 0 else { throw NodeProcessError.didNotStart(status: enrolled.status, log: enrolled.stderr) }
        }
        var config = "[node]\nid = \"\(id)\"\nregion = \"\(region)\"\nrole = \"\(role)\"\n"
        if !httpTLS.isEmpty { config += "[http]\n" + httpTLS }
        config += "[sync]\n"
        if listen { config += "listen = \"127.0.0.1:0\"\n" }
        config += extra
        for peer in peers {
            config += "[[sync.peers]]\nnode_id = \"\(peer.id)\"\nregion = \"\(peer.region)\"\naddress = \"\(peer.address)\"\n"
        }
        return try NodeProcess.start(dataDirectory: dir, config: config, environment: environment)
    }
}

extension NodeProcess {
    /// Where the node takes sync links, if it listens.
    public var syncAddress: String? {
        (try? String(contentsOfFile: dataDirectory + "/sync.address", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// POSTs JSON to an admin route.
    public func adminPost(_ path: String, _ json: String) throws -> ClientResponse {
        try adminSend("POST", path, json)
    }

    /// Sends JSON to an admin route with any method (PUT, PATCH...).
    public func adminSend(_ method: String, _ path: String, _ json: String) throws -> ClientResponse {
        try client().send(method, path, headers: [("Authorization", "Bearer \(adminToken)"), ("Content-Type", "application/json")], body: Array(json.utf8))
    }

    public func adminGet(_ path: String) throws -> ClientResponse {
        try client().get(path, headers: [("Authorization", "Bearer \(adminToken)")])
    }

    public func adminJSON(_ path: String) throws -> [String: Any] {
        let response = try adminGet(path)
        return (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    /// Collection -> (digest, applied vector) as the node reports them.
    public func replicatedSummary() throws -> [String: (digest: String, applied: [String: Int])] {
        var out: [String: (String, [String: Int])] = [:]
        for (name, value) in try adminJSON("/admin/v1/replicated") {
            guard let entry = value as? [String: Any] else { continue }
            out[name] = (entry["digest"] as? String ?? "", entry["applied"] as? [String: Int] ?? [:])
        }
        return out
    }

    /// The state of one replicated key.
    public func replicatedState(_ collection: String, _ key: String) throws -> [String: Any] {
        (try adminJSON("/admin/v1/replicated/\(collection)/\(key)")["state"] as? [String: Any]) ?? [:]
    }
}

/// Polls `condition` until it holds or `timeoutSeconds` pass; returns whether it held. For
/// waiting on other processes, not for timing assertions.
public func eventually(timeoutSeconds: Double = 30, _ condition: () throws -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        if (try? condition()) == true { return true }
        usleep(20_000)
    }
    return (try? condition()) == true
}
