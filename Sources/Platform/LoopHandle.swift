import CLibUV

/// The one Swift owner of one libuv handle.
///
/// A handle's memory belongs to its owner, and the owner keeps itself alive from a successful
/// `uv_*_init` until libuv's close callback: the handle is never freed while libuv may still touch
/// it. Subclasses call `adopt()` right after their init call succeeds.
///
/// All methods must be called on the loop's thread.
public class LoopHandle {
    /// Raw memory of the concrete handle (`uv_tcp_t`, `uv_timer_t`, ...).
    let storage: UnsafeMutableRawPointer
    /// The same memory seen as the common handle header.
    let handle: UnsafeMutablePointer<uv_handle_t>
    public let loop: EventLoop
    /// Set once `close()` was called; the close callback may still be pending.
    public private(set) var isClosing = false
    /// Set once libuv has called the close callback.
    public private(set) var isClosed = false
    private var adopted = false

    init(loop: EventLoop, type: uv_handle_type) {
        self.loop = loop
        let size = uv_handle_size(type)
        storage = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        handle = storage.bindMemory(to: uv_handle_t.self, capacity: 1)
    }

    /// Called by subclasses once the `uv_*_init` call succeeded: from here on libuv knows the
    /// handle, so it must be closed, and the owner lives until then.
    func adopt() {
        precondition(!adopted, "a handle is adopted once")
        adopted = true
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        loop.register(self)
    }

    /// Closes the handle. Safe to call more than once; `didClose()` runs once, later, from the loop.
    public func close() {
        guard adopted, !isClosing else { return }
        isClosing = true
        uv_close(handle) { raw in
            guard let raw, let data = raw.pointee.data else { return }
            let owner = Unmanaged<LoopHandle>.fromOpaque(data).takeRetainedValue()
            owner.isClosed = true
            owner.loop.unregister(owner)
            owner.didClose()
        }
    }

    /// Hook for subclasses: the handle is closed and its memory is no longer used by libuv.
    func didClose() {}

    /// Keeps the loop from exiting while this handle is active (libuv default).
    public func ref() { if adopted && !isClosing { uv_ref(handle) } }
    /// Lets the loop exit even though this handle is active (housekeeping timers).
    public func unref() { if adopted && !isClosing { uv_unref(handle) } }

    deinit {
        storage.deallocate()
    }

    /// Finds the owner of a handle from inside a C callback.
    @inline(__always)
    static func owner<T: LoopHandle>(_ raw: UnsafeMutableRawPointer?, as: T.Type) -> T {
        let handle = raw!.assumingMemoryBound(to: uv_handle_t.self)  // libuv never passes nil
        return Unmanaged<T>.fromOpaque(handle.pointee.data!).takeUnretainedValue()
    }
}
