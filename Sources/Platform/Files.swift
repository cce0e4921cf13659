import Glibc

/// Small file operations the node needs at start-up and for secrets. Blocking: call them at start
/// or from the work queue, not from request handlers.
public enum Files {
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates a directory and its parents (mode `mode` for new ones, 0750 unless told).
    /// An existing directory is narrowed to `mode` if others could read more than it allows.
    public static func createDirectory(_ path: String, mode: mode_t = 0o750) throws(PlatformError) {
        if isDirectory(path) {
            if let current = permissions(path), current & ~mode & 0o077 != 0, chmod(path, current & mode) != 0 {
                throw PlatformError.errno("narrow the permissions of \(path)")
            }
            return
        }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if !isDirectory(prefix) && mkdir(prefix, mode) != 0 && Glibc.errno != EEXIST {
                throw PlatformError.errno("create directory \(prefix)")
            }
            prefix += "/"
        }
        // umask may have narrowed it further, never widened; chmod makes it exactly `mode`.
        _ = chmod(path, mode)
    }

    /// Takes away every permission bit `mode` does not have (an older file made too open).
    public static func restrict(_ path: String, to mode: mode_t) throws(PlatformError) {
        guard let current = permissions(path), current & ~mode != 0 else { return }
        guard chmod(path, current & mode) == 0 else { throw PlatformError.errno("narrow the permissions of \(path)") }
    }

    /// Names in a directory, without "." and "..".
    public static func list(_ path: String) throws(PlatformError) -> [String] {
        guard let dir = opendir(path) else { throw PlatformError.errno("list \(path)") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public static func readBytes(_ path: String) throws(PlatformError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PlatformError.errno("open \(path)") }
        defer { Glibc.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw PlatformError.errno("read \(path)")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    public static func readString(_ path: String) throws(PlatformError) -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// Writes a file atomically (temp file, fsync, rename) with the given mode. Readers see the
    /// old content or the new, never a part.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(PlatformError) {
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw PlatformError.errno("create \(temp)") }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                let error = PlatformError.errno("write \(temp)")
                Glibc.close(fd)
                unlink(temp)
                throw error
            }
            offset += n
        }
        // umask may have narrowed the mode; secrets must be exactly what was asked.
        fchmod(fd, mode)
        let synced = fsync(fd) == 0
        Glibc.close(fd)
        guard synced else { unlink(temp); throw PlatformError.errno("fsync \(temp)") }
        guard rename(temp, path) == 0 else { unlink(temp); throw PlatformError.errno("rename \(temp)") }
    }

    public static func writeAtomically(_ path: String, _ text: String, mode: mode_t = 0o644) throws(PlatformError) {
        try writeAtomically(path, Array(text.utf8), mode: mode)
    }

    /// Permission bits of a file (e.g. 0o600), nil if it does not exist.
    public static func permissions(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    public static func remove(_ path: String) {
        unlink(path)
    }

    /// When the file was last modified, in ms since the epoch; 0 if missing.
    public static func modifiedMs(_ path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
    }

    /// Size in bytes, 0 if missing.
    public static func size(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    /// Absolute form of a path (relative ones are taken from the working directory).
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = cString(buffer)
        var relative = Substring(path)
        while relative.hasPrefix("./") { relative = relative.dropFirst(2) }
        return relative.isEmpty || relative == "." ? cwd : cwd + "/" + relative
    }
}
