import CLibUV

/// Wakes the loop from another thread (`uv_async_send`) and runs a callback on the loop thread.
///
/// Several `wake()` calls before the loop gets to run may coalesce into one callback, as libuv
/// documents; the callback must drain whatever state the other threads left for it.
public final class LoopWaker: LoopHandle, @unchecked Sendable {
    // Sendable because the only method other threads call is `wake()`, which only calls
    // uv_async_send, documented as thread-safe. Everything else stays on the loop thread.
    private var callback: (() -> Void)?

    public init(loop: EventLoop, _ callback: @escaping () -> Void) throws(PlatformError) {
        self.callback = callback
        super.init(loop: loop, type: UV_ASYNC)
        try PlatformError.check(uv_async_init(loop.raw, raw, { raw in
            LoopHandle.owner(UnsafeMutableRawPointer(raw), as: LoopWaker.self).callback?()
        }), "create loop waker")
        adopt()
    }

    private var raw: UnsafeMutablePointer<uv_async_t> { storage.assumingMemoryBound(to: uv_async_t.self) }

    /// Callable from any thread.
    public func wake() {
        uv_async_send(raw)
    }

    override func didClose() { callback = nil }
}
