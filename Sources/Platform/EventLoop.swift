import CLibUV
import Glibc

/// One libuv event loop and everything that runs on its thread.
///
/// The loop thread owns sockets, timers and database access. Work that blocks goes to the work
/// queue (`queueWork`) and its completion comes back on this thread.
///
/// ```swift
/// let loop = try EventLoop()
/// let timer = try LoopTimer(loop: loop)
/// timer.start(afterMs: 10) { loop.stop() }
/// loop.run()
/// loop.close()
/// ```
public final class EventLoop {
    /// Size of the one read buffer every stream on this loop reads into. Safe to share: libuv calls
    /// alloc, read(2) and the read callback back to back, and readers copy what they keep.
    public static let readBufferBytes = 64 * 1024

    let raw: UnsafeMutablePointer<uv_loop_t>
    let readBuffer: UnsafeMutableRawPointer
    /// Open handles by identity, so `closeAll()` can close each through its owner.
    private var handles: [ObjectIdentifier: LoopHandle] = [:]
    private var closed = false

    public init() throws(PlatformError) {
        raw = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
        let status = uv_loop_init(raw)
        if status < 0 {
            raw.deallocate()
            throw PlatformError(code: status, operation: "create event loop")
        }
        readBuffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readBufferBytes, alignment: 16)
        // A peer that resets a connection must not kill the process; writes report EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        raw.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    /// Runs until `stop()` or until no active, referenced handle is left.
    public func run() {
        uv_run(raw, UV_RUN_DEFAULT)
    }

    /// Runs one iteration without blocking; used by tests that drive a loop step by step.
    @discardableResult
    public func runOnce(block: Bool = false) -> Bool {
        uv_run(raw, block ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0
    }

    /// Makes `run()` return after the current iteration.
    public func stop() {
        uv_stop(raw)
    }

    /// The loop's cached time in milliseconds (monotonic; updated once per iteration).
    public var nowMs: UInt64 { uv_now(raw) }

    /// A monotonic clock in nanoseconds, read now.
    public static func hrtimeNs() -> UInt64 { uv_hrtime() }

    /// Closes every handle still open, lets their close callbacks run, then frees the loop.
    public func close() {
        guard !closed else { return }
        for owner in Array(handles.values) { owner.close() }
        while uv_run(raw, UV_RUN_NOWAIT) != 0 {}
        let status = uv_loop_close(raw)
        precondition(status == 0, "handles left open after closing them all: \(status)")  // a bug
        closed = true
    }

    deinit {
        if !closed { close() }
        raw.deallocate()
        readBuffer.deallocate()
    }

    func register(_ handle: LoopHandle) { handles[ObjectIdentifier(handle)] = handle }
    func unregister(_ handle: LoopHandle) { handles[ObjectIdentifier(handle)] = nil }

    /// Number of handles not yet closed; tests use it to prove nothing leaks.
    public var openHandleCount: Int { handles.count }

    @inline(__always)
    static func from(_ raw: UnsafeMutablePointer<uv_loop_t>?) -> EventLoop {
        Unmanaged<EventLoop>.fromOpaque(raw!.pointee.data!).takeUnretainedValue()  // set in init
    }
}
