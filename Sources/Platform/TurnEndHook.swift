import CLibUV

/// Runs a callback once per loop iteration, right after the iteration's I/O callbacks.
///
/// This is where the writes that requests queued during one turn are committed together
/// (group commit). Active only between `arm()` and `disarm()`, so an idle loop still sleeps.
public final class TurnEndHook: LoopHandle {
    private var callback: (() -> Void)?
    public private(set) var isArmed = false

    public init(loop: EventLoop, _ callback: @escaping () -> Void) throws(PlatformError) {
        self.callback = callback
        super.init(loop: loop, type: UV_CHECK)
        try PlatformError.check(uv_check_init(loop.raw, raw), "create turn-end hook")
        adopt()
    }

    private var raw: UnsafeMutablePointer<uv_check_t> { storage.assumingMemoryBound(to: uv_check_t.self) }

    public func arm() {
        guard !isArmed, !isClosing else { return }
        isArmed = true
        uv_check_start(raw) { raw in
            LoopHandle.owner(UnsafeMutableRawPointer(raw), as: TurnEndHook.self).callback?()
        }
    }

    public func disarm() {
        guard isArmed, !isClosing else { return }
        isArmed = false
        uv_check_stop(raw)
    }

    override func didClose() {
        isArmed = false
        callback = nil
    }
}
