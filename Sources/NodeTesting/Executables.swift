import Foundation

/// Finds the built executables (`noded`, `nodectl`) next to the test bundle, or in
/// `OUTPOST_BIN_DIR` when set.
public enum Executables {
    public static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["OUTPOST_BIN_DIR"], !dir.isEmpty { return dir }
        // swift test runs .build/<config>/<Package>PackageTests.xctest; products sit beside it.
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = runner.deletingLastPathComponent()
        if dir.lastPathComponent == "MacOS" { dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        return dir.path
    }

    public static func path(_ name: String) -> String { directory + "/" + name }
}

/// The result of running a command to completion.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs one of our built executables (`noded`, `nodectl`), waiting up to `timeoutSeconds`.
public func runExecutable(_ name: String, _ arguments: [String], timeoutSeconds: Double = 30) throws -> CommandResult {
    try runCommand(Executables.path(name), arguments, timeoutSeconds: timeoutSeconds)
}

/// Runs any program by path, capturing its output, waiting up to `timeoutSeconds`.
public func runCommand(_ path: String, _ arguments: [String], timeoutSeconds: Double = 30) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Drain both pipes while waiting so a chatty child cannot block on a full pipe.
    let outData = Locked(Data()), errData = Locked(Data())
    let group = DispatchGroup()
    for (pipe, sink) in [(out, outData), (err, errData)] {
        group.enter()
        DispatchQueue.global().async {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            sink.withLock { $0 = data }
            group.leave()
        }
    }
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while process.isRunning && Date() < deadline { usleep(5_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
    }
    group.wait()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus,
                         stdout: String(decoding: outData.withLock { $0 }, as: UTF8.self),
                         stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}

/// A value guarded by a lock, for handing results between test threads.
public final class Locked<Value>: @unchecked Sendable {
    // Safe: every access goes through `lock`.
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
