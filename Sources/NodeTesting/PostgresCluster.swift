import Foundation
import Glibc
import Platform

/// A private PostgreSQL server for a test: `initdb` into a temporary directory, on a port of its
/// own, stopped when the value goes away. Nothing depends on a system-wide PostgreSQL service.
///
/// PostgreSQL refuses to run as root: under root the server runs as the `postgres` user the
/// Debian package creates (`runuser`), and its directory is given to that user.
///
/// ```swift
/// let primary = try PostgresCluster.start()
/// let standby = try primary.startStandby()      // streaming, synchronous
/// try primary.kill(); try standby.promote()
/// ```
public final class PostgresCluster {
    public static let binaries = "/usr/lib/postgresql/15/bin"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binaries + "/initdb") }

    public let directory: String
    public let port: UInt16
    private let scratch: TemporaryDirectory
    private var running = false

    /// `host=127.0.0.1 port=… dbname=postgres user=postgres`
    public var conninfo: String { "host=127.0.0.1 port=\(port) dbname=postgres user=postgres connect_timeout=5" }

    private init(scratch: TemporaryDirectory, port: UInt16) {
        self.scratch = scratch
        directory = scratch.file("pgdata")
        self.port = port
    }

    deinit {
        if running { _ = try? Self.run(["pg_ctl", "-D", directory, "-m", "immediate", "-w", "stop"]) }
    }

    /// A new cluster, started, ready for connections, able to stream to standbys.
    public static func start() throws -> PostgresCluster {
        let cluster = PostgresCluster(scratch: TemporaryDirectory(prefix: "outpost-pg"), port: try freePort())
        try cluster.giveDirectoryToServer()
        try run(["initdb", "-D", cluster.directory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        try cluster.configure(extra: "")
        try cluster.start()
        return cluster
    }

    /// A streaming standby of this cluster on its own port, synchronous: a commit on this one
    /// returns only once the standby has it (`synchronous_commit = on`).
    public func startStandby() throws -> PostgresCluster {
        let standby = PostgresCluster(scratch: TemporaryDirectory(prefix: "outpost-pg"), port: try Self.freePort())
        try standby.giveDirectoryToServer()
        try Self.run(["pg_basebackup", "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-D", standby.directory, "-R", "-X", "stream",
                      "--no-sync", "-c", "fast"])
        try standby.configure(extra: "cluster_name = 'standby_\(standby.port)'\n")
        try standby.start()
        // Now synchronous: a commit waits for this standby.
        try append("synchronous_standby_names = 'standby_\(standby.port)'\n")
        try Self.run(["pg_ctl", "-D", directory, "reload"])
        return standby
    }

    /// Promotes a standby to a primary (it takes writes at once).
    public func promote() throws {
        try Self.run(["pg_ctl", "-D", directory, "-w", "promote"])
    }

    /// The server dies as with a power cut (SIGKILL to the postmaster and its children).
    public func kill() throws {
        guard let pid = try? String(contentsOfFile: directory + "/postmaster.pid", encoding: .utf8).split(separator: "\n").first.flatMap({ Int32($0) }) else { return }
        Glibc.kill(pid, SIGKILL)
        // Its backends and helpers too, as a power cut would: an orphaned backend could still
        // commit what a client sent.
        _ = try? Self.runCommandOrThrow("/usr/bin/pkill", ["-KILL", "-P", "\(pid)"])
        running = false
    }

    public func stop() throws {
        try Self.run(["pg_ctl", "-D", directory, "-m", "fast", "-w", "stop"])
        running = false
    }

    public func start() throws {
        try Self.run(["pg_ctl", "-D", directory, "-l", scratch.file("server.log"), "-w", "-t", "60", "start"])
        running = true
    }

    public var log: String { (try? String(contentsOfFile: scratch.file("server.log"), encoding: .utf8)) ?? "" }

    private func configure(extra: String) throws {
        try append("""
            port = \(port)
            listen_addresses = '127.0.0.1'
            unix_socket_directories = '\(directory)'
            wal_level = replica
            max_wal_senders = 8
            hot_standby = on
            fsync = on
            synchronous_commit = on
            shared_buffers = 16MB
            max_connections = 40
            \(extra)
            """)
    }

    private func append(_ text: String) throws {
        let path = directory + "/postgresql.conf"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(("\n" + text + "\n").utf8))
    }

    private static var asServerUser: Bool { getuid() == 0 }

    private func giveDirectoryToServer() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard Self.asServerUser else { return }
        // The scratch directory is root's; the server user must reach and own its data and log.
        _ = chmod(scratch.path, 0o755)
        try Self.runCommandOrThrow("/bin/chown", ["-R", "postgres:postgres", scratch.path])
    }

    @discardableResult
    private static func run(_ command: [String]) throws -> CommandResult {
        let tool = binaries + "/" + command[0]
        if asServerUser {
            return try runCommandOrThrow("/usr/sbin/runuser", ["-u", "postgres", "--", tool] + command.dropFirst())
        }
        return try runCommandOrThrow(tool, Array(command.dropFirst()))
    }

    /// Runs a tool with its output in a file, not a pipe (`pg_ctl start` leaves a server behind
    /// that would hold a pipe open), spawned and reaped here with posix_spawn and waitpid.
    @discardableResult
    private static func runCommandOrThrow(_ path: String, _ arguments: [String]) throws -> CommandResult {
        let output = TemporaryDirectory(prefix: "outpost-pg-tool")
        let file = output.file("output")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else { throw PostgresClusterError("cannot run \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(120)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline { Glibc.kill(pid, SIGKILL); _ = waitpid(pid, &status, 0); break }
            usleep(10_000)
        }
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exited == 0 else {
            throw PostgresClusterError("\(([path] + arguments).joined(separator: " ")) exited \(exited): \(text)")
        }
        return CommandResult(status: 0, stdout: text, stderr: "")
    }

    /// A port below the kernel's ephemeral range, free now: a server that restarts must get it
    /// back, and an outgoing connection never takes one there.
    public static func freePort() throws -> UInt16 {
        for _ in 0..<50 {
            let port = UInt16.random(in: 20_000...32_000)
            if portIsFree(port) { return port }
        }
        throw PostgresClusterError("no free port for PostgreSQL")
    }
}

/// Whether a listener could bind 127.0.0.1:`port` now.
private func portIsFree(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

public struct PostgresClusterError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
