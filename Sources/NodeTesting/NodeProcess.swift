import Foundation
import HTTP
import Platform

/// A real `noded` process on a loopback ephemeral port with its own temporary data directory.
///
/// ```swift
/// let node = try NodeProcess.start()
/// let response = try node.client().get("/healthz")
/// let status = try node.stop()   // SIGTERM, waits for exit
/// ```
public final class NodeProcess {
    public let dataDirectory: String
    public let baseURL: String
    public let port: UInt16
    public let logPath: String
    private let process: Process
    private let scratch: TemporaryDirectory?

    /// Starts noded and waits until it has written its address file (it is then listening).
    /// `dataDirectory` nil makes a fresh temporary one, removed with this object.
    public static func start(dataDirectory: String? = nil, arguments: [String] = [], config: String? = nil,
                             environment: [String: String] = [:], timeoutSeconds: Double = 30) throws -> NodeProcess {
        let scratch = TemporaryDirectory(prefix: "outpost-node")
        let dir = dataDirectory ?? scratch.file("data")
        var args = ["--data-dir", dir]
        if !arguments.contains("--listen") { args += ["--listen", "127.0.0.1:0"] }
        if let config {
            let path = scratch.file("node.toml")
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            args += ["--config", path]
        }
        args += arguments
        return try NodeProcess(arguments: args, dataDirectory: dir, scratch: scratch, environment: environment, timeoutSeconds: timeoutSeconds)
    }

    private init(arguments: [String], dataDirectory: String, scratch: TemporaryDirectory, environment: [String: String], timeoutSeconds: Double) throws {
        self.dataDirectory = dataDirectory
        self.scratch = scratch
        logPath = scratch.file("noded.log")
        let addressPath = dataDirectory + "/" + "node.address"
        try? FileManager.default.removeItem(atPath: addressPath)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("noded"))
        process.arguments = arguments
        // A test process that crashes takes its nodes with it: they would hold its output open.
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            .merging(["OUTPOST_EXIT_WITH_PARENT": "\(ProcessInfo.processInfo.processIdentifier)"]) { $1 }
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var address: String?
        while Date() < deadline {
            if let text = try? String(contentsOfFile: addressPath, encoding: .utf8), text.hasSuffix("\n") {
                address = text.trimmingCharacters(in: .whitespacesAndNewlines)
                break
            }
            guard process.isRunning else { break }
            usleep(10_000)
        }
        guard let address, let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw NodeProcessError.didNotStart(status: process.terminationStatus, log: log)
        }
        baseURL = address
        self.port = port
    }

    public var adminToken: String {
        ((try? String(contentsOfFile: dataDirectory + "/admin.token", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// What the node logged so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// A client; `from` picks its address in 127.0.0.0/8, so a test can play many clients.
    public func client(timeoutMs: Int32 = 10_000, from sourceHost: String? = nil) throws -> HTTPClient {
        try HTTPClient(baseURL: baseURL, timeoutMs: timeoutMs, sourceHost: sourceHost)
    }

    /// A raw socket to the node, from `sourceHost` if given.
    public func socket(from sourceHost: String? = nil) throws -> BlockingSocket {
        try BlockingSocket(host: "127.0.0.1", port: port, sourceHost: sourceHost)
    }

    /// Resident memory of the process in bytes (VmRSS), 0 if it cannot be read.
    public var residentBytes: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
        return kib * 1024
    }

    /// Sends a signal and waits for the process to exit; returns its exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeoutSeconds: Double = 30) throws -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        return try waitForExit(timeoutSeconds: timeoutSeconds)
    }

    public func waitForExit(timeoutSeconds: Double = 30) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw NodeProcessError.didNotExit(log: log)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

public enum NodeProcessError: Error, CustomStringConvertible {
    case didNotStart(status: Int32, log: String)
    case didNotExit(log: String)

    public var description: String {
        switch self {
        case .didNotStart(let status, let log): return "noded did not start (exit \(status)):\n\(log)"
        case .didNotExit(let log): return "noded did not exit in time:\n\(log)"
        }
    }
}
