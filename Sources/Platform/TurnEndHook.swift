import CLibUV

/// Runs a callback once per loop iteration: right after the iteration's I/O callbacks, or just
/// before the loop waits for I/O.
///
/// After I/O is where the writes that requests queued during one turn are committed together
/// (group commit). Before the wait is where a read transaction held for the turn ends, so no
/// snapshot is held while the loop sleeps. Active only between `arm()` and `disarm()`, so an
/// idle loop still sleeps.
public final class TurnEndHook: LoopHandle {
    public enum Moment: Sendable {
        /// libuv's check phase: after the iteration's I/O callbacks.
        case afterIO
        /// libuv's prepare phase: before the loop polls (and may block) for I/O.
        case beforeWait
    }

    private var callback: (() -> Void)?
    public let moment: Moment
    public private(set) var isArmed = false

    public init(loop: EventLoop, moment: Moment = .afterIO, _ callback: @escaping () -> Void) throws(PlatformError) {
        self.callback = callback
        self.moment = moment
        super.init(loop: loop, type: moment == .afterIO ? UV_CHECK : UV_PREPARE)
        switch moment {
        case .afterIO: try PlatformError.check(uv_check_init(loop.raw, storage.assumingMemoryBound(to: uv_check_t.self)), "create turn-end hook")
        case .beforeWait: try PlatformError.check(uv_prepare_init(loop.raw, storage.assumingMemoryBound(to: uv_prepare_t.self)), "create turn-end hook")
        }
        adopt()
    }

    public func arm() {
        guard !isArmed, !isClosing else { return }
        isArmed = true
        switch moment {
        case .afterIO:
            uv_check_start(storage.assumingMemoryBound(to: uv_check_t.self)) { raw in
                LoopHandle.owner(UnsafeMutableRawPointer(raw), as: TurnEndHook.self).callback?()
            }
        case .beforeWait:
            uv_prepare_start(storage.assumingMemoryBound(to: uv_prepare_t.self)) { raw in
                LoopHandle.owner(UnsafeMutableRawPointer(raw), as: TurnEndHook.self).callback?()
            }
        }
    }

    public func disarm() {
        guard isArmed, !isClosing else { return }
        isArmed = false
        switch moment {
        case .afterIO: uv_check_stop(storage.assumingMemoryBound(to: uv_check_t.self))
        case .beforeWait: uv_prepare_stop(storage.assumingMemoryBound(to: uv_prepare_t.self))
        }
    }

    override func didClose() {
        isArmed = false
        callback = nil
    }
}
