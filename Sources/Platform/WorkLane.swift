/// Jobs that share something only one thread may touch at a time (a PostgreSQL connection):
/// each runs on the loop's work queue, one after another in the order queued, and its
/// completion runs back on the loop. The loop never waits for one.
///
/// `@unchecked Sendable`: `resource` is touched only inside a job, and jobs never overlap: the
/// next is queued from the loop only after the previous one's completion ran there, and libuv
/// orders a job's pool-thread work after its queueing and before its completion. `waiting` and
/// `busy` are touched on the loop thread only.
public final class WorkLane<Resource>: @unchecked Sendable {
    public struct Full: Error, CustomStringConvertible {
        public let capacity: Int
        public var description: String { "\(capacity) jobs are already waiting" }
    }

    private let loop: EventLoop
    private let resource: Resource
    private var waiting: [() -> Void] = []
    private var head = 0
    private var busy = false
    /// Jobs that may wait behind the running one: a stalled server makes callers back off, not
    /// grow memory.
    public let capacity: Int

    public init(loop: EventLoop, resource: Resource, capacity: Int = 256) {
        self.loop = loop
        self.resource = resource
        self.capacity = capacity
    }

    /// Jobs waiting, the running one not counted.
    public var backlog: Int { waiting.count - head }

    /// Queues `job`; `completion` gets its result on the loop, or `Full` at once (nothing run)
    /// when `capacity` jobs are waiting already.
    public func run<T: Sendable>(_ job: @escaping @Sendable (Resource) throws -> T, completion: @escaping (Result<T, any Error>) -> Void) {
        guard backlog < capacity else { return completion(.failure(Full(capacity: capacity))) }
        waiting.append { [self] in
            loop.queueWork({ [self] () -> Result<T, any Error> in
                Result { try job(resource) }
            }, completion: { [self] outcome in
                busy = false
                switch outcome {
                case .success(let result): completion(result)
                case .failure(let error): completion(.failure(error))
                }
                startNext()
            })
        }
        startNext()
    }

    private func startNext() {
        guard !busy, head < waiting.count else { return }
        busy = true
        let next = waiting[head]
        head += 1
        if head > 64 && head * 2 > waiting.count {
            waiting.removeFirst(head)
            head = 0
        }
        next()
    }
}
