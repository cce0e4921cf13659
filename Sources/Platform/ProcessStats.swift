import Glibc

/// Facts about this process, read from the kernel.
public enum ProcessStats {
    /// Resident set size in bytes (from /proc/self/statm), 0 if unavailable.
    public static func residentBytes() -> Int64 {
        guard let text = try? Files.readString("/proc/self/statm") else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int64(fields[1]) else { return 0 }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Open file descriptors of this process.
    public static func openFileDescriptors() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while readdir(dir) != nil { count += 1 }
        return max(0, count - 3)  // ".", ".." and the directory's own descriptor
    }

    public static var processID: Int32 { getpid() }

    /// Gives the heap's free pages back to the kernel. glibc keeps freed memory for reuse, so
    /// after a one-off burst (an import's parsed lines) the process would stay that large.
    public static func returnFreeMemory() {
        // malloc_trim is glibc's, declared in malloc.h, which the Glibc module leaves out.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        typealias Trim = @convention(c) (Int) -> Int32
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
    }

    /// Caps glibc's malloc arenas at `count`. glibc gives each thread that allocates its own
    /// arena (up to 8 per core), and memory freed in one is reused only there: the loop thread
    /// and the work queue's threads each kept their own peak. Measured on a 100k-product import:
    /// 1,276–1,313 MiB resident with glibc's default, 1,123 with 2 arenas, 1,011–1,014 with 1
    /// (docs/memory.md).
    public static func capMallocArenas(_ count: Int32) {
        // mallopt and M_ARENA_MAX (-8) are glibc's, in malloc.h, which the Glibc module leaves out.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        typealias Option = @convention(c) (Int32, Int32) -> Int32
        _ = unsafeBitCast(symbol, to: Option.self)(-8, count)
    }

    /// Asks the kernel to kill this process when its parent dies (PR_SET_PDEATHSIG), if the parent
    /// is still `parent`; when it already died, exits now. For processes a test starts: a test
    /// process that crashes must not leave them running.
    public static func dieWithParent(_ parent: Int32) {
        // prctl (PR_SET_PDEATHSIG is 1) is in sys/prctl.h, which the Glibc module leaves out.
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl") {
            typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
            _ = unsafeBitCast(symbol, to: Prctl.self)(1, UInt(SIGKILL), 0, 0, 0)
        }
        if getppid() != parent { _exit(1) }
    }

    /// Ends the process at once, with no cleanup: what kill -9 does, for fault-injection tests.
    public static func exitNow(_ code: Int32) -> Never { _exit(code) }

    /// Sets an environment variable for this process (and what it starts).
    public static func setEnvironment(_ name: String, _ value: String) { setenv(name, value, 1) }

    /// An environment variable, if set.
    public static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
}
