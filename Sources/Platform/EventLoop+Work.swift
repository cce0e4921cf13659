import CLibUV

/// One queued piece of blocking work and its completion.
///
/// `@unchecked Sendable`: `work` runs once on a libuv pool thread and writes `result`; libuv then
/// calls `after_work` on the loop thread, which reads `result` and runs `completion`. libuv orders
/// the two (the pool thread's write happens before the loop's read), so no field is ever touched by
/// two threads at once.
private final class QueuedWork: @unchecked Sendable {
    let request = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)
    let work: () -> Void
    let completion: (_ cancelled: Bool) -> Void

    init(work: @escaping () -> Void, completion: @escaping (_ cancelled: Bool) -> Void) {
        self.work = work
        self.completion = completion
    }

    deinit { request.deallocate() }
}

extension EventLoop {
    /// Runs `work` on libuv's thread pool and `completion` with its result back on this loop.
    ///
    /// For blocking or CPU-heavy work only (hashing passwords, compressing snapshots, file I/O):
    /// the loop thread never waits for it. `completion` runs exactly once, with `.failure` only if
    /// the work was cancelled before it started.
    public func queueWork<T: Sendable>(
        _ work: @escaping @Sendable () -> T,
        completion: @escaping (Result<T, PlatformError>) -> Void
    ) {
        let box = ResultBox<T>()
        let queued = QueuedWork(
            work: { box.value = work() },
            completion: { cancelled in
                if cancelled || box.value == nil {
                    completion(.failure(PlatformError(code: UV_ECANCELED.rawValue, operation: "queued work")))
                } else if let value = box.value {
                    completion(.success(value))
                }
            })
        queued.request.pointee.data = Unmanaged.passRetained(queued).toOpaque()
        let status = uv_queue_work(raw, queued.request, { request in
            let queued = Unmanaged<QueuedWork>.fromOpaque(request!.pointee.data!).takeUnretainedValue()
            queued.work()
        }, { request, status in
            let queued = Unmanaged<QueuedWork>.fromOpaque(request!.pointee.data!).takeRetainedValue()
            queued.completion(status == UV_ECANCELED.rawValue)
        })
        if status < 0 {
            // Only an invalid argument can make uv_queue_work fail, and we pass none.
            preconditionFailure("uv_queue_work failed: \(status)")
        }
    }
}

/// Written once on the pool thread before libuv hands the request back to the loop thread.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
