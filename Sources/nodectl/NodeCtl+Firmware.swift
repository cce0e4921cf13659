import ArgumentParser
import Foundation
import HTTP
import Node
import Platform

extension NodeCtl {
    /// `nodectl firmware`: the box's root slots, through RAUC (firmware-image/README.md).
    struct Firmware: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check and install firmware bundles; see and mark the box's root slots.",
            subcommands: [Check.self, Install.self, Status.self, MarkGood.self, Rollback.self, Publish.self, Withdraw.self, Fetch.self])
    }
}

/// A RAUC bundle (verity format) checked whole before anything is written: its signature by the
/// keyring (which signs the manifest and the payload's verity root hash), the box it is for, and
/// every block of its payload against that root hash. RAUC itself would find a bad block only
/// while writing the slot; this finds it first.
struct FirmwareBundle {
    var compatible: String
    var version: String

    /// The path of a system tool (rauc, veritysetup, systemctl): the first of the usual places.
    static func tool(_ name: String) -> String {
        ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].map { $0 + "/" + name }.first(where: Files.exists) ?? "/usr/bin/" + name
    }

    static func check(_ path: String, keyring: String, compatible wanted: String) throws -> FirmwareBundle {
        guard Files.exists(path) else { throw CLIFailure("no bundle at \(path)") }
        guard Files.exists(keyring) else { throw CLIFailure("no keyring at \(keyring)") }
        let info = try run(tool("rauc"), ["info", "--keyring", keyring, path])
        guard info.status == 0 else {
            throw CLIFailure("\(path) is refused: its signature does not verify with \(keyring) (\(lastLine(info.error)))")
        }
        func field(_ name: String) -> String? {
            info.output.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name + ":") }
                .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "'")) }
        }
        guard field("Bundle Format") == "verity", let salt = field("Verity Salt"), let rootHash = field("Verity Hash"),
              let treeBytes = field("Verity Size").flatMap(Int.init) else {
            throw CLIFailure("\(path) is refused: not a verity bundle (make bundle writes them)")
        }
        let bundle = FirmwareBundle(compatible: field("Compatible") ?? "", version: field("Version") ?? "")
        guard bundle.compatible == wanted else { throw CLIFailure("\(path) is refused: it is for \"\(bundle.compatible)\", this box is \"\(wanted)\"") }
        // Layout: payload | verity tree | CMS signature | signature size (8 bytes, big endian).
        let size = try fileSize(path)
        let signatureBytes = try trailingSize(path, fileSize: size)
        let payload = size - 8 - signatureBytes - treeBytes
        guard payload > 0, payload % 4096 == 0 else { throw CLIFailure("\(path) is refused: its layout is not a bundle's") }
        let verify = try run(tool("veritysetup"), ["verify", "--no-superblock", "--hash=sha256", "--data-block-size=4096", "--hash-block-size=4096",
                                                      "--hash-offset=\(payload)", "--data-blocks=\(payload / 4096)", "--salt=\(salt)", path, path, rootHash])
        guard verify.status == 0 else { throw CLIFailure("\(path) is refused: its content was altered after signing (\(lastLine(verify.error + verify.output)))") }
        return bundle
    }

    private static func fileSize(_ path: String) throws -> Int {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > 8 else {
            throw CLIFailure("\(path) is refused: too short to be a bundle")
        }
        return size
    }

    private static func trailingSize(_ path: String, fileSize: Int) throws -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CLIFailure("cannot read \(path)") }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(fileSize - 8))
        let bytes = [UInt8](handle.readData(ofLength: 8))
        guard bytes.count == 8 else { throw CLIFailure("cannot read \(path)") }
        let value = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard value < UInt64(fileSize) else { throw CLIFailure("\(path) is refused: its layout is not a bundle's") }
        return Int(value)
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        do { try process.run() } catch { throw CLIFailure("cannot run \(tool): \(error.localizedDescription)") }
        let out = output.fileHandleForReading.readDataToEndOfFile(), err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    static func lastLine(_ text: String) -> String {
        text.split(separator: "\n").last.map(String.init) ?? "no detail"
    }
}

/// Options every bundle command shares: the keyring it must be signed by, the box it is for.
struct BundleTrust: ParsableArguments {
    @Option(name: .long, help: "The firmware signing CA (the image installs it as /etc/rauc/keyring.pem).")
    var keyring = "/etc/rauc/keyring.pem"

    @Option(name: .long, help: "What the bundle must be made for.")
    var compatible = "outpost-x86_64"
}

extension NodeCtl.Firmware {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a bundle whole (signature, box, every block of its content) without installing it.")

        @Argument(help: "The .raucb bundle.") var bundle: String
        @OptionGroup var trust: BundleTrust

        func run() throws {
            try reportingFailures {
                let checked = try FirmwareBundle.check(bundle, keyring: trust.keyring, compatible: trust.compatible)
                print("\(bundle): version \(checked.version) for \(checked.compatible), signed and intact")
            }
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a bundle, write it into the other root slot, make that slot boot next; --reboot to run it now.",
            discussion: """
                The new slot boots on probation: it is marked good once noded is ready and synced with a peer \
                (outpost-mark-good.service); a slot that does not get there falls back to the previous one by itself.
                """)

        @Argument(help: "The .raucb bundle.") var bundle: String
        @OptionGroup var trust: BundleTrust
        @Flag(name: .long, help: "Reboot into the new slot once written.") var reboot = false

        func run() throws {
            try reportingFailures { try Self.install(bundle, trust: trust, reboot: reboot) }
        }

        static func install(_ bundle: String, trust: BundleTrust, reboot: Bool) throws {
            let checked = try FirmwareBundle.check(bundle, keyring: trust.keyring, compatible: trust.compatible)
            let installed = try FirmwareBundle.run(FirmwareBundle.tool("rauc"), ["install", bundle])
            guard installed.status == 0 else { throw CLIFailure("rauc could not install \(bundle): \(FirmwareBundle.lastLine(installed.error + installed.output))") }
            print("installed \(checked.version) into the other slot; it boots next\(reboot ? ": rebooting" : " (reboot to run it)")")
            if reboot { _ = try FirmwareBundle.run(FirmwareBundle.tool("systemctl"), ["reboot"]) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The root slots: which one runs, which boots next, which are good.")

        func run() throws {
            try reportingFailures {
                let status = try FirmwareBundle.run(FirmwareBundle.tool("rauc"), ["status", "--detailed"])
                guard status.status == 0 else { throw CLIFailure("rauc status failed: \(FirmwareBundle.lastLine(status.error))") }
                print(status.output, terminator: "")
            }
        }
    }

    struct MarkGood: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "mark-good", abstract: "Mark the running slot good (outpost-mark-good.service does, once noded is ready and synced).")

        func run() throws {
            try reportingFailures {
                let marked = try FirmwareBundle.run(FirmwareBundle.tool("rauc"), ["status", "mark-good"])
                guard marked.status == 0 else { throw CLIFailure("rauc could not mark the slot good: \(FirmwareBundle.lastLine(marked.error))") }
                print("the running slot is marked good")
            }
        }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Boot the other slot next (the previous version); --reboot to do it now.")

        @Flag(name: .long, help: "Reboot into it now.") var reboot = false

        func run() throws {
            try reportingFailures {
                let switched = try FirmwareBundle.run(FirmwareBundle.tool("rauc"), ["status", "mark-active", "other"])
                guard switched.status == 0 else { throw CLIFailure("rauc could not switch slots: \(FirmwareBundle.lastLine(switched.error))") }
                print("the other slot boots next\(reboot ? ": rebooting" : "")")
                if reboot { _ = try FirmwareBundle.run(FirmwareBundle.tool("systemctl"), ["reboot"]) }
            }
        }
    }
}

// MARK: - Bundles from the hub

extension NodeCtl.Firmware {
    struct Publish: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "On the hub: check a bundle whole and put it on the hub's shelf; its stores can then fetch it over their sync links.",
            discussion: "Run it where the hub's data directory is (--data-dir). A tampered or wrongly signed bundle is refused and nothing is copied.")

        @Argument(help: "The .raucb bundle.") var bundle: String
        @OptionGroup var trust: BundleTrust
        @OptionGroup var connection: NodeConnection

        func run() throws {
            try reportingFailures {
                guard let dataDir = connection.dataDir else { throw CLIFailure("publish runs on the hub: give its --data-dir") }
                let checked = try FirmwareBundle.check(bundle, keyring: trust.keyring, compatible: trust.compatible)
                guard FirmwareBundleReport.isValidName(checked.version), FirmwareBundleReport.isValidName(checked.compatible) else {
                    throw CLIFailure("\(bundle) is refused: its version \"\(checked.version)\" is not a plain name (letters, digits, . _ + -)")
                }
                let paths = FirmwareBundleReport.shelfPaths(dataDirectory: dataDir, version: checked.version)
                let owner = try FirmwareBundle.owner(of: dataDir)
                try FirmwareBundle.makeDirectory(paths.directory, owner: owner)
                let hash: [UInt8]
                do { hash = try SHA256Stream.file(bundle) } catch { throw CLIFailure("cannot read \(bundle): \(error)") }
                let bytes = UInt64(Files.size(bundle))
                // The copy is renamed into place, then described: the node offers only a bundle
                // whose description matches its size.
                let temporary = paths.bundle + ".publishing"
                let description = FirmwareBundleReport(version: checked.version, compatible: checked.compatible, bytes: bytes, sha256: Hex.encode(hash))
                do {
                    try? FileManager.default.removeItem(atPath: temporary)
                    try FileManager.default.copyItem(atPath: bundle, toPath: temporary)
                    try FirmwareBundle.give(temporary, to: owner, mode: 0o640)
                    try Files.syncAndRename(temporary, to: paths.bundle)
                    try Files.writeAtomically(paths.description, try JSONCoding.encode(description), mode: 0o640)
                    try FirmwareBundle.give(paths.description, to: owner, mode: 0o640)
                } catch {
                    try? FileManager.default.removeItem(atPath: temporary)
                    throw CLIFailure("cannot put \(bundle) on the shelf in \(paths.directory): \(error)")
                }
                print("published \(checked.version) for \(checked.compatible): \(Format.bytes(Int64(bytes))), sha256 \(Hex.encode(hash))")
                FirmwareBundle.tellNode(connection)
            }
        }
    }

    struct Withdraw: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "On the hub: take a bundle off the shelf; stores are no longer offered it.")

        @Argument(help: "The bundle's version.") var version: String
        @OptionGroup var connection: NodeConnection

        func run() throws {
            try reportingFailures {
                guard let dataDir = connection.dataDir else { throw CLIFailure("withdraw runs on the hub: give its --data-dir") }
                guard FirmwareBundleReport.isValidName(version) else { throw CLIFailure("\"\(version)\" is not a bundle version") }
                let paths = FirmwareBundleReport.shelfPaths(dataDirectory: dataDir, version: version)
                guard Files.exists(paths.bundle) || Files.exists(paths.description) else { throw CLIFailure("no bundle \(version) on the shelf in \(paths.directory)") }
                Files.remove(paths.description)
                Files.remove(paths.bundle)
                print("withdrew \(version)")
                FirmwareBundle.tellNode(connection)
            }
        }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "On a store: fetch a bundle the hub offers, over the sync link; --install to install it once fetched.",
            discussion: """
                The node fetches the bundle and keeps it only if its SHA-256 is the one the hub offered; \
                --install then checks its signature and content again before anything is written.
                """)

        @Argument(help: "The version to fetch (default: the only one the hub offers).") var version: String?
        @OptionGroup var connection: NodeConnection
        @OptionGroup var trust: BundleTrust
        @Flag(name: .long, help: "Install the bundle into the other slot once fetched.") var install = false
        @Flag(name: .long, help: "With --install: reboot into it.") var reboot = false
        @Option(name: .customLong("wait-seconds"), help: "Give up waiting for the fetch after this long.") var waitSeconds = 3_600

        func validate() throws {
            if reboot && !install { throw ValidationError("--reboot goes with --install") }
            if waitSeconds <= 0 { throw ValidationError("--wait-seconds must be positive") }
        }

        func run() throws {
            try reportingFailures {
                let body = try JSONCoding.encode(["version": version])
                let started = try connection.admin("POST", "/admin/v1/firmware/fetch", json: body)
                guard let fetch = try? started.decode(FirmwareReport.Fetch.self) else { throw CLIFailure("the node's answer to the fetch is not understood") }
                print("fetching \(fetch.version) (\(Format.bytes(Int64(fetch.bytes)))) from the hub")
                let path = try waitForFetch(of: fetch.version)
                print("fetched \(fetch.version): \(path)")
                if install { try Install.install(path, trust: trust, reboot: reboot) }
            }
        }

        /// Follows the fetch until it is ready (its path) or failed (why), printing progress.
        private func waitForFetch(of version: String) throws -> String {
            let deadline = Date().addingTimeInterval(TimeInterval(waitSeconds))
            var reportedTenth = -1
            while Date() < deadline {
                let report = try connection.getAdmin("/admin/v1/firmware", as: FirmwareReport.self)
                guard let fetch = report.fetch, fetch.version == version else { throw CLIFailure("the node no longer follows the fetch of \(version)") }
                switch fetch.state {
                case "ready":
                    guard let path = fetch.path else { throw CLIFailure("the node fetched \(version) but names no file") }
                    return path
                case "failed":
                    throw CLIFailure("fetching \(version) failed: \(fetch.error ?? "no reason given")")
                default:
                    let tenth = fetch.bytes == 0 ? 0 : Int(fetch.bytesReceived * 10 / fetch.bytes)
                    if tenth != reportedTenth {
                        reportedTenth = tenth
                        print("  \(tenth * 10)% (\(fetch.state.replacingOccurrences(of: "_", with: " ")))")
                    }
                    Thread.sleep(forTimeInterval: 0.2)
                }
            }
            throw CLIFailure("\(version) was not fetched within \(waitSeconds) s; the node goes on (nodectl firmware fetch again to follow it)")
        }
    }
}

extension FirmwareBundle {
    /// The user and group owning `path` (the node's data directory): the shelf is theirs, so
    /// that a noded running as that user reads what root published.
    static func owner(of path: String) throws -> (user: Int, group: Int) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let user = attributes[.ownerAccountID] as? Int, let group = attributes[.groupOwnerAccountID] as? Int else {
            throw CLIFailure("no data directory at \(path)")
        }
        return (user, group)
    }

    static func makeDirectory(_ path: String, owner: (user: Int, group: Int)) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try give(path, to: owner, mode: 0o750)
        } catch let failure as CLIFailure { throw failure } catch { throw CLIFailure("cannot create \(path): \(error)") }
    }

    static func give(_ path: String, to owner: (user: Int, group: Int), mode: Int) throws {
        var attributes: [FileAttributeKey: Any] = [.posixPermissions: mode]
        if getuid() == 0 { attributes[.ownerAccountID] = owner.user; attributes[.groupOwnerAccountID] = owner.group }
        do { try FileManager.default.setAttributes(attributes, ofItemAtPath: path) } catch { throw CLIFailure("cannot set the owner of \(path): \(error)") }
    }

    /// Asks the node to read its shelf again; a stopped node reads it when it starts.
    static func tellNode(_ connection: NodeConnection) {
        do {
            let report = try connection.adminJSON("POST", "/admin/v1/firmware/reload", as: FirmwareReport.self)
            print("the node offers: \(report.held.map(\.version).joined(separator: ", "))")
        } catch {
            print("the node did not answer (\(error)); it reads its shelf when it starts")
        }
    }
}
