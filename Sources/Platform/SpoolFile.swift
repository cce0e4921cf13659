import Glibc

/// A request body written to disk as it arrives, so that a large upload (a catalog import) is
/// never held whole in memory.
///
/// The file is created 0600 with a random name in `directory` and removed by `discard()`; the
/// reader opens it by `path`. Writes are plain `write(2)` calls on the calling thread: they land
/// in the page cache (no fsync: a spool is scratch, lost with the request on a crash), measured
/// at well under a millisecond per 64 KiB read, so the loop can afford them.
public final class SpoolFile {
    public let path: String
    private var fd: Int32
    public private(set) var bytesWritten = 0

    /// Creates a new, empty spool in `directory`. Throws if the directory is missing or full.
    public init(directory: String) throws(PlatformError) {
        let name = directory + "/body-" + String(Hex.encode(SecureRandom.bytes(12)))
        let fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PlatformError.errno("create \(name)") }
        self.fd = fd
        path = name
    }

    deinit { discard() }

    /// Appends every byte or throws (disk full, I/O error); the spool is then useless.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(PlatformError) {
        precondition(fd >= 0, "write to a closed spool")
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)  // count > 0: not nil
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw PlatformError.errno("write \(path)")
            }
            offset += n
        }
        bytesWritten += bytes.count
    }

    /// Closes the file for writing; the file stays for its reader until `discard()`.
    public func finish() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Closes and removes the file. Safe to call more than once.
    public func discard() {
        finish()
        unlink(path)
    }
}

extension Files {
    /// Reads `path` from `offset` in chunks of at most `chunkBytes`, handing each to `body`
    /// until the end of the file, `limit` bytes, or `body` returns false. Blocking: call it from
    /// the work queue.
    public static func readChunks(_ path: String, from offset: Int = 0, limit: Int = .max, chunkBytes: Int = 4 << 20,
                                  _ body: (ArraySlice<UInt8>) throws -> Bool) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PlatformError.errno("open \(path)") }
        defer { Glibc.close(fd) }
        var chunk = [UInt8](repeating: 0, count: chunkBytes)
        var position = offset, remaining = limit
        while remaining > 0 {
            let want = min(chunkBytes, remaining)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(position)) }
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw PlatformError.errno("read \(path)")
            }
            if n == 0 { break }
            guard try body(chunk[0..<n]) else { break }
            position += n
            remaining -= n
        }
    }

    /// Up to `length` bytes of `path` from `offset`; fewer at the end of the file, none past
    /// it. Blocking: call it from the work queue.
    public static func readRange(_ path: String, offset: Int, length: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        try readChunks(path, from: offset, limit: length, chunkBytes: max(1, min(length, 4 << 20))) { chunk in
            out.append(contentsOf: chunk)
            return true
        }
        return out
    }

    /// Appends every byte to `path` (created 0644 if missing) or throws. Blocking: call it from
    /// the work queue.
    public static func append(_ path: String, _ bytes: [UInt8]) throws(PlatformError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PlatformError.errno("open \(path)") }
        defer { Glibc.close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }  // count > 0: not nil
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw PlatformError.errno("write \(path)")
            }
            offset += n
        }
    }

    /// Flushes a file's written bytes to disk.
    public static func sync(_ path: String) throws(PlatformError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PlatformError.errno("open \(path)") }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw PlatformError.errno("fsync \(path)") }
    }

    /// Flushes a file to disk, then moves it to `destination` (same file system), replacing it.
    public static func syncAndRename(_ path: String, to destination: String) throws(PlatformError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PlatformError.errno("open \(path)") }
        let synced = fsync(fd) == 0
        Glibc.close(fd)
        guard synced else { throw PlatformError.errno("fsync \(path)") }
        guard rename(path, destination) == 0 else { throw PlatformError.errno("rename \(path)") }
    }

    /// Bytes an unprivileged process may still write on the file system holding `path`.
    public static func availableBytes(_ path: String) -> Int64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return 0 }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}
