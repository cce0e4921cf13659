import Foundation
import Glibc

/// The service manager's end of sd_notify(3) for tests: a datagram socket a node is pointed at
/// with `NOTIFY_SOCKET`, and the messages it sends, each with when it arrived.
public final class ServiceManagerSocket {
    public let path: String
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next message, as its lines, or nil when none comes within `seconds`.
    public func receive(within seconds: Double) -> (lines: [String], atNs: UInt64)? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(seconds * 1_000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let text = String(decoding: buffer.prefix(count), as: UTF8.self)
        return (text.split(separator: "\n").map(String.init), UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec))
    }

    /// Messages until one has `line`, or nil when it does not come within `seconds`.
    public func await(_ line: String, within seconds: Double) -> [(lines: [String], atNs: UInt64)]? {
        var seen: [(lines: [String], atNs: UInt64)] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, let message = receive(within: deadline.timeIntervalSinceNow) {
            seen.append(message)
            if message.lines.contains(line) { return seen }
        }
        return nil
    }
}
