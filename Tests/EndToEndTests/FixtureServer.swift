import Foundation
import NodeTesting

/// A Python server from Fixtures/ run for one test (the webhook receiver, the mail relay): it is
/// started with its port, log and mode files, writes the port it listens on, records what it
/// receives as JSON lines, and answers as its mode file says. It exits with the test process.
final class FixtureServer {
    let port: Int
    private let process: Process
    private let scratch: TemporaryDirectory

    /// How the server answers, read by it per request ("ok", "fail", …).
    var mode: String {
        get { (try? String(contentsOfFile: scratch.file("mode"), encoding: .utf8)) ?? "ok" }
        set { try? newValue.write(toFile: scratch.file("mode"), atomically: true, encoding: .utf8) }
    }

    /// Runs `Fixtures/<script>` with `python` (a venv's, for PyPI packages) and `arguments` after
    /// the three files; waits for its port.
    init(script: String, python: String = "/usr/bin/python3", arguments: [String] = []) throws {
        let scratch = TemporaryDirectory(prefix: "outpost-fixture")
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [fixtures.appendingPathComponent(script).path, scratch.file("port"), scratch.file("log"), scratch.file("mode")] + arguments
        process.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: scratch.file("stderr"), contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.file("stderr")))
        try process.run()
        var port: Int?
        _ = eventually(timeoutSeconds: 20) {
            port = (try? String(contentsOfFile: scratch.file("port"), encoding: .utf8)).flatMap { Int($0) }
            return port != nil || !process.isRunning
        }
        guard let port else {
            if process.isRunning { process.terminate() }
            throw NodeProcessError.didNotStart(status: -1, log: "\(script) did not start: " + ((try? String(contentsOfFile: scratch.file("stderr"), encoding: .utf8)) ?? ""))
        }
        self.port = port
        self.process = process
        self.scratch = scratch
    }

    /// Every record so far, in the order it came.
    func records() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: scratch.file("log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
