import Glibc

/// An exclusive advisory lock on a file, held until `release()` or process exit: one `noded` per
/// data directory.
public final class FileLock {
    private var fd: Int32

    /// Takes the lock or throws at once (EWOULDBLOCK when another process holds it).
    public init(path: String) throws(PlatformError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PlatformError.errno("open lock file \(path)") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = PlatformError.errno("lock \(path)")
            Glibc.close(fd)
            fd = -1
            throw error
        }
    }

    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        Glibc.close(fd)
        fd = -1
    }

    deinit { release() }
}
