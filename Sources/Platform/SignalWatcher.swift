import CLibUV
import Glibc

/// Delivers a POSIX signal (SIGTERM, SIGINT...) as a callback on the loop thread.
public final class SignalWatcher: LoopHandle {
    private var callback: ((Int32) -> Void)?
    public let signalNumber: Int32

    public init(loop: EventLoop, signal: Int32, _ callback: @escaping (Int32) -> Void) throws(PlatformError) {
        signalNumber = signal
        self.callback = callback
        super.init(loop: loop, type: UV_SIGNAL)
        try PlatformError.check(uv_signal_init(loop.raw, raw), "create signal watcher")
        adopt()
        // A parent may hand us the signal blocked (nodectl fleet demo blocks SIGTERM to sigwait
        // for it, and children inherit the mask): watching it means receiving it.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        let status = uv_signal_start(raw, { raw, signum in
            LoopHandle.owner(UnsafeMutableRawPointer(raw), as: SignalWatcher.self).callback?(signum)
        }, signal)
        if status < 0 {
            close()
            throw PlatformError(code: status, operation: "watch signal \(signal)")
        }
    }

    private var raw: UnsafeMutablePointer<uv_signal_t> { storage.assumingMemoryBound(to: uv_signal_t.self) }

    override func didClose() { callback = nil }
}
