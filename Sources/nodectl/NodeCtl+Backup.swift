import ArgumentParser
import Foundation
import HTTP
import Node
import Platform

extension NodeCtl {
    /// `nodectl backup`: a node's backups (docs/backups.md).
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back a node up, list, verify, restore and prune its backups.",
            subcommands: [Key.self, Create.self, Status.self, List.self, Restore.self, Verify.self, Prune.self])
    }
}

/// Where a node's backups are and how to open them: `--dir` (the node's `backup.directory`),
/// `--node` (whose), `--key-file`.
struct BackupPlace: ParsableArguments {
    @Option(name: .long, help: "The backup directory (the node's backup.directory).") var dir: String
    @Option(name: .customLong("node"), help: "Whose backups: the node id (a subdirectory of --dir).") var nodeId: String
    @Option(name: .customLong("key-file"), help: "The backup key the node was given (backup.key_file).") var keyFile: String

    var directory: String { dir + "/" + nodeId }

    func catalog() throws -> BackupCatalog {
        do { return try BackupCatalog.read(directory) } catch { throw CLIFailure("\(error)") }
    }

    func key() throws -> [UInt8] {
        do { return try BackupKey.load(keyFile) } catch { throw CLIFailure("\(error)") }
    }
}

/// `--at 2026-12-07T10:15:00Z`: a UTC second (or millisecond) to restore to.
struct RestoreTime: ParsableArguments {
    @Option(name: .long, help: "Restore as the node was at this UTC time (ISO 8601, e.g. 2026-12-07T10:15:00Z); default: as far as the archive reaches.")
    var at: String?

    func milliseconds() throws -> Int64? {
        guard let at else { return nil }
        guard at.contains("T"), let ms = WallClock.parseISO8601(at) else { throw ValidationError("--at must be a UTC time such as 2026-12-07T10:15:00Z, not \"\(at)\"") }
        // A time to the second means through the end of that second.
        return at.contains(".") ? ms : ms + 999
    }

    func validate() throws { _ = try milliseconds() }
}

extension NodeCtl.Backup {
    struct Key: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new backup key (64 hex digits, mode 0600). Keep a copy apart from the backups: without it they cannot be read.")
        @Option(name: .long, help: "Where to write it; never overwritten.") var out: String

        func run() throws {
            try reportingFailures {
                do { try BackupKey.create(out) } catch { throw CLIFailure("\(error)") }
                print("wrote a new backup key to \(out): copy it somewhere safe, away from the backups")
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a full backup of a running node now, and wait for it.")
        @OptionGroup var connection: NodeConnection
        @Option(name: .customLong("wait-seconds"), help: "Give up waiting after this long (the backup goes on).") var waitSeconds = 3_600

        func run() throws {
            try reportingFailures {
                let before = try connection.getAdmin("/admin/v1/backups", as: BackupStatusReport.self)
                _ = try connection.admin("POST", "/admin/v1/backups")
                let deadline = Date().addingTimeInterval(TimeInterval(waitSeconds))
                while Date() < deadline {
                    let now = try connection.getAdmin("/admin/v1/backups", as: BackupStatusReport.self)
                    if !now.fullRunning {
                        guard let full = now.lastFull, full != before.lastFull else {
                            throw CLIFailure("the full backup failed: \(now.lastError ?? "no reason given")")
                        }
                        print("full backup \(full): \(Format.bytes(now.lastFullBytes ?? 0)), complete at \(now.lastFullAt ?? "?")")
                        return
                    }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                throw CLIFailure("the full backup did not finish within \(waitSeconds) s; it goes on (nodectl backup status)")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How far a running node's archive and last full backup reach.")
        @OptionGroup var connection: NodeConnection

        func run() throws {
            try reportingFailures {
                let status = try connection.getAdmin("/admin/v1/backups", as: BackupStatusReport.self)
                guard status.enabled else { return print("Backups are off: give the node [backup] directory and key_file (docs/backups.md).") }
                print("""
                    Backups to \(status.directory ?? "?"), chain \(status.chain ?? "?")
                    Archive: \(status.archivedSeq) of \(status.committedSeq) changes on the backup disk\(status.archivedAt.map { ", the newest committed at \($0)" } ?? ""); \(Format.bytes(Int64(status.pendingBytes))) waiting
                    Last full: \(status.lastFull.map { "\($0), \(Format.bytes(status.lastFullBytes ?? 0)), complete at \(status.lastFullAt ?? "?")" } ?? "none yet")\(status.fullRunning ? " (one is running)" : "")
                    """)
                if let error = status.lastError { print("Last error: \(error)") }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A node's full backups and archive files, from their headers (no key needed).")
        @Option(name: .long, help: "The backup directory.") var dir: String
        @Option(name: .customLong("node"), help: "Whose backups.") var nodeId: String

        func run() throws {
            try reportingFailures {
                let catalog: BackupCatalog
                do { catalog = try BackupCatalog.read(dir + "/" + nodeId) } catch { throw CLIFailure("\(error)") }
                print("Full backups of \(nodeId):")
                print(Columns.render(header: ["STARTED", "CHAIN", "AFTER CHANGE", "SIZE", "FILE"], rows: catalog.fulls.map {
                    [$0.header.createdAt, $0.header.chain, "\($0.header.afterSeq)", Format.bytes($0.bytes), $0.name]
                }))
                print("\nArchive files:")
                print(Columns.render(header: ["CHAIN", "FROM CHANGE", "OPENED", "LAST WRITTEN", "SIZE", "FILE"], rows: catalog.archives.map {
                    [$0.header.chain, "\($0.header.afterSeq + 1)", $0.header.createdAt, WallClock.iso8601(ms: $0.modifiedMs), Format.bytes($0.bytes), $0.name]
                }))
                if !catalog.ignored.isEmpty { print("\nNot backups (or unfinished): \(catalog.ignored.joined(separator: ", "))") }
            }
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a node's data directory from its backups: the last full by then, and the archive up to the time.",
            discussion: "Run it with the node stopped, into an empty directory; then start noded on that directory. Every file is verified: one that does not is refused, and nothing is left behind.")
        @OptionGroup var place: BackupPlace
        @OptionGroup var time: RestoreTime
        @Option(name: .long, help: "The data directory to restore into (empty or missing).") var to: String
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() throws {
            try reportingFailures {
                let outcome: RestoreOutcome
                do { outcome = try BackupRestore.restore(try place.catalog(), key: try place.key(), to: to, atMs: try time.milliseconds()) } catch let failure as CLIFailure {
                    throw failure
                } catch { throw CLIFailure("\(error)") }
                if json { return print(String(decoding: try JSONCoding.encode(outcome), as: UTF8.self)) }
                print(Self.describe(outcome, into: to))
            }
        }

        static func describe(_ outcome: RestoreOutcome, into directory: String) -> String {
            var text = "restored \(outcome.node) into \(directory) as of \(outcome.reachedAt): full \(outcome.full) (complete at \(outcome.fullAt)), then \(outcome.changesReplayed) archived changes"
            if let early = outcome.stoppedEarly { text += "\nthe archive stops there: \(early)" }
            return text
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore into a temporary directory, check the database, start a node on it, and check its books.",
            discussion: "Checks: every file decrypts and verifies; integrity_check and the search index; noded opens it (migrations, projections) and is ready; on a hub's backup, the ledger's hash chain and balances.")
        @OptionGroup var place: BackupPlace
        @OptionGroup var time: RestoreTime

        func run() throws {
            try reportingFailures {
                let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-verify-\(getpid())").path
                defer { try? FileManager.default.removeItem(atPath: scratch) }
                let catalog = try place.catalog()
                let outcome: RestoreOutcome
                do { outcome = try BackupRestore.restore(catalog, key: try place.key(), to: scratch, atMs: try time.milliseconds()) } catch let failure as CLIFailure {
                    throw failure
                } catch { throw CLIFailure("\(error)") }
                print(Restore.describe(outcome, into: "a scratch directory"))
                print("the database passes integrity_check, and its search index matches its rows")
                guard let header = catalog.fulls.first(where: { $0.name == outcome.full })?.header else { throw CLIFailure("the restored full is not in the catalog") }
                // The trial node has no peers: nothing to catch up with, so no marker.
                Files.remove(scratch + "/" + RestoreCatchUp.markerFile)
                try BackupTrial.run(dataDirectory: scratch, header: header)
            }
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove backups older than the retention, keeping the newest full and the archive files a kept full needs.")
        @Option(name: .long, help: "The backup directory.") var dir: String
        @Option(name: .customLong("node"), help: "Whose backups.") var nodeId: String
        @Option(name: .customLong("retention-days"), help: "Keep this many days.") var retentionDays = 30
        @Flag(name: .customLong("dry-run"), help: "Say what would go; remove nothing.") var dryRun = false

        func validate() throws { if retentionDays < 1 { throw ValidationError("--retention-days must be at least 1") } }

        func run() throws {
            try reportingFailures {
                let catalog: BackupCatalog
                do { catalog = try BackupCatalog.read(dir + "/" + nodeId) } catch { throw CLIFailure("\(error)") }
                let expired = catalog.expired(nowMs: WallClock.nowMs(), retentionMs: Int64(retentionDays) * 86_400_000)
                for entry in expired {
                    if !dryRun { Files.remove(entry.path) }
                    print("\(dryRun ? "would remove" : "removed") \(entry.name)")
                }
                print("\(expired.count) file(s) past \(retentionDays) days\(dryRun ? " (dry run)" : "")")
            }
        }
    }
}

/// Starts a noded on a restored data directory, as a rebuilt node would start, and asks it what
/// an operator would: is it ready, which schema, and on a hub, do the books verify.
enum BackupTrial {
    static func run(dataDirectory: String, header: BackupHeader) throws {
        let role = header.role
        let noded = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("noded").path
        let executable = FileManager.default.isExecutableFile(atPath: noded) ? noded : FirmwareBundle.tool("noded")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--data-dir", dataDirectory, "--listen", "127.0.0.1:0", "--node-id", header.node, "--region", header.region,
                             "--role", role, "--log-level", "warning"]
        let log = Pipe()
        process.standardOutput = log
        process.standardError = log
        do { try process.run() } catch { throw CLIFailure("cannot start \(executable): \(error)") }
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        let connection = try NodeConnection.parse(["--data-dir", dataDirectory])
        let deadline = Date().addingTimeInterval(120)
        var ready = false
        while Date() < deadline && process.isRunning && !ready {
            ready = (try? connection.send("GET", "/readyz", body: nil, contentType: nil))?.status == 200
            if !ready { Thread.sleep(forTimeInterval: 0.1) }
        }
        guard ready else {
            if process.isRunning { process.terminate() }
            let output = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw CLIFailure("noded did not start on the restored data: \(output.split(separator: "\n").suffix(3).joined(separator: " | "))")
        }
        let status = try connection.getAdmin("/admin/v1/status", as: NodeStatusReport.self)
        print("noded starts on it and is ready: \(status.nodeId) (\(status.role)), schema \(status.schemaVersion)")
        if role == "hub" {
            let report = try connection.admin("GET", "/admin/v1/ledger/verify")
            let body = (try? JSONSerialization.jsonObject(with: Data(report.body)) as? [String: Any]) ?? [:]
            guard body["valid"] as? Bool == true else { throw CLIFailure("the restored ledger does not verify: \(String(decoding: report.body, as: UTF8.self))") }
            print("the ledger verifies: \(body["entries"] as? Int ?? 0) entries, hash chain and balances")
        }
    }
}
