import Glibc
import Synchronization

/// Where log lines go: a file descriptor (stderr by default), written whole, one line per
/// `write(2)` or many lines per buffered flush, so lines never interleave.
///
/// Thread-safe: the loop and work-queue threads may log at once.
public final class LogSink: Sendable {
    /// Bound on buffered bytes before a forced flush.
    public static let bufferBytesMax = 64 * 1024

    private let fd: Int32
    private let buffer = Mutex<[UInt8]>([])

    public init(fd: Int32 = 2) {
        self.fd = fd
    }

    /// Opens (appending) a log file.
    public convenience init(path: String) throws(PlatformError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw PlatformError.errno("open log \(path)") }
        self.init(fd: fd)
    }

    /// Writes one line now (after whatever is buffered, to keep order).
    public func writeLine(_ line: [UInt8]) {
        buffer.withLock { pending in
            pending.append(contentsOf: line)
            pending.append(10)
            Self.drain(&pending, fd)
        }
    }

    /// Buffers one line; `flush()` (driven by a timer) writes it. For high-volume access logs.
    public func bufferLine(_ line: [UInt8]) {
        buffer.withLock { pending in
            pending.append(contentsOf: line)
            pending.append(10)
            if pending.count >= Self.bufferBytesMax { Self.drain(&pending, fd) }
        }
    }

    public func flush() {
        buffer.withLock { Self.drain(&$0, fd) }
    }

    private static func drain(_ pending: inout [UInt8], _ fd: Int32) {
        var offset = 0
        while offset < pending.count {
            let n = pending.withUnsafeBytes { write(fd, $0.baseAddress! + offset, pending.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                break  // a log that cannot be written is dropped, never a reason to stop selling
            }
            offset += n
        }
        pending.removeAll(keepingCapacity: true)
    }
}
