import ArgumentParser
import Logging
import Node
import Platform
import HTTP

/// The node daemon. Everything but argument handling lives in the Node module.
@main
struct Noded: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "noded",
        abstract: "Run an Outpost node: storefront, POS API, sync and (on the hub) the ledger, in one process.",
        discussion: """
            With no --config the node runs on embedded defaults: data in ./data, listening on 127.0.0.1:8080.
            Flags override the file. SIGTERM or SIGINT stops it gracefully; a second signal stops it at once.
            """,
        version: OutpostVersion.current)

    @Option(name: .long, help: "TOML configuration file (see conf/).")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Data directory (database, keys, admin token).")
    var dataDir: String?

    @Option(name: .long, help: "Address to listen on, HOST:PORT; repeat for several. Port 0 picks a free port.")
    var listen: [String] = []

    @Option(name: .customLong("node-id"), help: "This node's id (only on first start; later it must match).")
    var nodeId: String?

    @Option(name: .long, help: "Region name.")
    var region: String?

    @Option(name: .long, help: "store, regional or hub.")
    var role: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    func run() throws {
        // Started by a test: die with it (NodeTesting sets this to its own pid).
        if let parent = ProcessStats.environment("OUTPOST_EXIT_WITH_PARENT").flatMap({ Int32($0) }) { ProcessStats.dieWithParent(parent) }
        // Before any thread allocates: every thread's own arena kept its own peak. An operator's
        // MALLOC_ARENA_MAX (glibc's own setting) wins.
        if ProcessStats.environment("MALLOC_ARENA_MAX") == nil { ProcessStats.capMallocArenas(1) }
        var flags = NodeFlags()
        flags.dataDirectory = dataDir
        flags.listen = listen
        flags.nodeId = nodeId
        flags.region = region
        flags.role = role
        flags.logLevel = logLevel
        let sink = LogSink(fd: 2)
        let nodeConfig: NodeConfig
        do {
            nodeConfig = try NodeConfig.load(file: config, flags: flags)
        } catch {
            Self.startupFailure(sink, "invalid configuration: \(error)")
            throw ExitCode(2)
        }
        // Before the loop's work queue starts: its threads run password hashing, imports and
        // backups; webhook deliveries and mail wait on receivers and relays there, so they get threads of their own
        // on top of libuv's four. An operator's UV_THREADPOOL_SIZE wins.
        if ProcessStats.environment("UV_THREADPOOL_SIZE") == nil {
            ProcessStats.setEnvironment("UV_THREADPOOL_SIZE", "\(4 + nodeConfig.webhooks.concurrentMax + (nodeConfig.mail?.concurrentMax ?? 0))")
        }
        let level = nodeConfig.logLevel
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, sink: sink, level: level.loggerLevel) }
        let logger = Logger(label: "noded")
        do {
            let node = try OutpostNode(config: nodeConfig, logSink: sink, logger: logger)
            let code = try node.run()
            sink.flush()
            if code != 0 { throw ExitCode(code) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            logger.critical("cannot start: \(error)")
            sink.flush()
            throw ExitCode(1)
        }
    }

    /// Before logging is set up, failures are still one JSON line on stderr.
    private static func startupFailure(_ sink: LogSink, _ message: String) {
        var line: [UInt8] = Array(#"{"ts":""#.utf8)
        WallClock.appendISO8601(ms: WallClock.nowMs(), to: &line)
        line += Array(#"","level":"critical","msg":"#.utf8)
        var escaped: [UInt8] = []
        JSONText.appendString(message, to: &escaped)
        line += escaped + Array(#","logger":"noded"}"#.utf8)
        sink.writeLine(line)
    }
}
