import Foundation
import Glibc

/// One headless Chromium tab driven over the DevTools protocol (`--remote-debugging-pipe`:
/// NUL-terminated JSON on file descriptors 3 and 4), for tests that click through pages the way a
/// shopper does: forms are filled and submitted in the page, cookies live in the browser.
public final class BrowserSession {
    private let pid: pid_t
    private let toBrowser: Int32
    private let fromBrowser: Int32
    private var buffer: [UInt8] = []
    private var nextId = 0
    private var sessionId = ""
    private var events: [[String: Any]] = []
    private let profile = TemporaryDirectory(prefix: "outpost-chromium")

    public enum Failure: Error, CustomStringConvertible {
        case protocolError(String)
        case timedOut(String)
        public var description: String {
            switch self {
            case .protocolError(let text): "chromium: \(text)"
            case .timedOut(let what): "chromium did not answer: \(what)"
            }
        }
    }

    /// Nil when no Chromium is installed.
    public init?() throws {
        guard let executable = HeadlessBrowser()?.executable else { return nil }
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
        guard pipe(&input) == 0, pipe(&output) == 0 else { throw Failure.protocolError("no pipes") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 3)
        posix_spawn_file_actions_adddup2(&actions, output[1], 4)
        let devNull = Glibc.open("/dev/null", O_WRONLY)
        posix_spawn_file_actions_adddup2(&actions, devNull, 1)
        posix_spawn_file_actions_adddup2(&actions, devNull, 2)
        let arguments = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--lang=en-GB",
                         "--remote-debugging-pipe", "--window-size=1280,1000", "--user-data-dir=" + profile.path, "about:blank"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, nil, &argv, environ)
        Glibc.close(input[0]); Glibc.close(output[1]); Glibc.close(devNull)
        guard spawned == 0 else { throw Failure.protocolError("spawn failed: \(spawned)") }
        pid = child
        toBrowser = input[1]
        fromBrowser = output[0]
        let targets = try call("Target.getTargets", session: false)
        guard let infos = targets["targetInfos"] as? [[String: Any]], let page = infos.first(where: { $0["type"] as? String == "page" }),
              let targetId = page["targetId"] as? String else { throw Failure.protocolError("no page target") }
        let attached = try call("Target.attachToTarget", ["targetId": targetId, "flatten": true], session: false)
        sessionId = attached["sessionId"] as? String ?? ""
        _ = try call("Page.enable")
    }

    deinit {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        close(toBrowser)
        close(fromBrowser)
    }

    /// Loads `url` and waits for the page's load event.
    public func open(_ url: String) throws {
        events.removeAll()
        _ = try call("Page.navigate", ["url": url])
        try waitForLoad()
    }

    /// Runs `script` in the page (which may navigate: a form's submit) and waits for the next page.
    public func act(_ script: String) throws {
        events.removeAll()
        _ = try evaluate(script)
        try waitForLoad()
    }

    /// The value of a JavaScript expression in the page.
    @discardableResult
    public func evaluate(_ expression: String) throws -> Any? {
        let result = try call("Runtime.evaluate", ["expression": expression, "returnByValue": true])
        if let exception = result["exceptionDetails"] as? [String: Any] { throw Failure.protocolError("script failed: \(exception)") }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// What the shopper reads on the page.
    public var text: String { get throws { try evaluate("document.body.innerText") as? String ?? "" } }
    public var location: String { get throws { try evaluate("location.pathname + location.search") as? String ?? "" } }

    /// Lays pages out at `width` CSS pixels (a tablet's 768, a desktop's 1280), as a device of
    /// that size would; the page in the tab is laid out again.
    public func setViewport(width: Int, height: Int) throws {
        _ = try call("Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": false])
    }

    /// Saves a PNG of the page; returns its path.
    @discardableResult
    public func screenshot(name: String) throws -> String {
        let directory = HeadlessBrowser()?.screenshotDirectory ?? NSTemporaryDirectory()
        let result = try call("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true])
        guard let base64 = result["data"] as? String, let data = Data(base64Encoded: base64) else { throw Failure.protocolError("no screenshot") }
        let path = directory + "/" + name + ".png"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    private func waitForLoad() throws {
        let deadline = Date().addingTimeInterval(30)
        while !events.contains(where: { $0["method"] as? String == "Page.loadEventFired" }) {
            guard Date() < deadline else { throw Failure.timedOut("page load") }
            if let message = try read(until: deadline), message["id"] == nil { events.append(message) }
        }
    }

    private func call(_ method: String, _ params: [String: Any] = [:], session: Bool = true) throws -> [String: Any] {
        nextId += 1
        let id = nextId
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if session { message["sessionId"] = sessionId }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBufferPointer { write(toBrowser, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure.protocolError("write failed") }
            written += n
        }
        let deadline = Date().addingTimeInterval(30)
        while true {
            guard let reply = try read(until: deadline) else { throw Failure.timedOut(method) }
            if reply["id"] as? Int == id {
                if let error = reply["error"] { throw Failure.protocolError("\(method): \(error)") }
                return reply["result"] as? [String: Any] ?? [:]
            }
            if reply["id"] == nil { events.append(reply) }
        }
    }

    /// The next message, or nil once `deadline` passed.
    private func read(until deadline: Date) throws -> [String: Any]? {
        while true {
            if let end = buffer.firstIndex(of: 0) {
                let message = Array(buffer[..<end])
                buffer.removeFirst(end + 1)
                return try JSONSerialization.jsonObject(with: Data(message)) as? [String: Any] ?? [:]
            }
            let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            guard left > 0 else { return nil }
            var descriptor = pollfd(fd: fromBrowser, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, left) > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBufferPointer { Glibc.read(fromBrowser, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure.protocolError("the browser closed the pipe") }
            buffer += chunk[..<n]
        }
    }
}
