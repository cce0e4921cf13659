import CLibUV

/// A libuv timer: calls back on the loop after a delay, once or repeatedly.
public final class LoopTimer: LoopHandle {
    private var callback: (() -> Void)?

    public init(loop: EventLoop) throws(PlatformError) {
        super.init(loop: loop, type: UV_TIMER)
        try PlatformError.check(uv_timer_init(loop.raw, raw), "create timer")
        adopt()
    }

    private var raw: UnsafeMutablePointer<uv_timer_t> { storage.assumingMemoryBound(to: uv_timer_t.self) }

    /// Starts (or restarts) the timer. `repeatMs` 0 fires once.
    public func start(afterMs: UInt64, repeatMs: UInt64 = 0, _ callback: @escaping () -> Void) {
        precondition(!isClosing, "start on a closed timer is a bug")
        self.callback = callback
        uv_timer_start(raw, { raw in
            LoopHandle.owner(UnsafeMutableRawPointer(raw), as: LoopTimer.self).onFire()
        }, afterMs, repeatMs)
    }

    public func stop() {
        guard !isClosing else { return }
        uv_timer_stop(raw)
    }

    private func onFire() { callback?() }

    override func didClose() { callback = nil }
}
