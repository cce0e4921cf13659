import Glibc

/// systemd's readiness and watchdog protocol (sd_notify(3)) without libsystemd: one datagram of
/// `KEY=value` lines to the socket named by `NOTIFY_SOCKET`. Under `Type=notify` the unit is
/// "started" only when the node says `READY=1`; with `WatchdogSec=` the service manager restarts
/// it when `WATCHDOG=1` stops arriving, so the node pets it from its loop (`watchdogIntervalMs`):
/// a loop stuck for longer than the unit allows is a loop that does not pet.
///
/// Outside systemd (no `NOTIFY_SOCKET`) there is no notifier. Sending never blocks the loop and
/// never fails the node: a service manager that stopped listening is not the node's problem.
public final class ServiceNotifier {
    private let socket: Int32
    private var address = sockaddr_un()
    private let addressLength: socklen_t
    /// How often to pet the watchdog: half the interval the unit set (`WATCHDOG_USEC`), as
    /// sd_watchdog_enabled(3) advises; nil when the unit has no watchdog or it is another
    /// process's (`WATCHDOG_PID`).
    public let watchdogIntervalMs: Int64?

    /// The notifier of this process's service, from its environment; nil outside systemd.
    public convenience init?() {
        self.init(socketPath: ProcessStats.environment("NOTIFY_SOCKET"), watchdogUsec: ProcessStats.environment("WATCHDOG_USEC"),
                  watchdogPid: ProcessStats.environment("WATCHDOG_PID"))
    }

    /// `socketPath` as systemd passes it: a path, or `@name` for the abstract namespace.
    public init?(socketPath: String?, watchdogUsec: String?, watchdogPid: String?) {
        guard let socketPath, !socketPath.isEmpty, socketPath.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        socket = fd
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(socketPath.utf8)
        // An abstract socket's name starts with a NUL byte where systemd writes '@'.
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in bytes.enumerated() { path[index] = byte }
        }
        addressLength = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let forThisProcess = watchdogPid.map { Int32($0) == getpid() } ?? true
        if forThisProcess, let usec = watchdogUsec.flatMap(Int64.init), usec > 0 {
            watchdogIntervalMs = max(1, usec / 2_000)
        } else {
            watchdogIntervalMs = nil
        }
    }

    deinit { close(socket) }

    /// Sends `fields` (`READY=1`, `STATUS=...`) as one datagram. Returns whether it was sent.
    @discardableResult
    public func notify(_ fields: [String]) -> Bool {
        let message = Array(fields.joined(separator: "\n").utf8)
        let sent = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(socket, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, addressLength) }
            }
        }
        return sent == message.count
    }

    /// The node serves: the unit is started.
    public func ready(status: String) { notify(["READY=1", "STATUS=" + status]) }

    /// The node is still turning its loop.
    public func petWatchdog() { notify(["WATCHDOG=1"]) }

    /// The node began its graceful stop; the manager waits for the exit.
    public func stopping(status: String) { notify(["STOPPING=1", "STATUS=" + status]) }

    /// What `systemctl status` shows on its Status: line.
    public func status(_ text: String) { notify(["STATUS=" + text]) }
}
