/// Commits the durable writes queued during one loop turn in one transaction, then answers each.
///
/// A request that must not be acknowledged before its write is on disk queues the write here and
/// replies from the completion. At the end of the turn (after I/O callbacks) all queued writes run
/// inside one `BEGIN IMMEDIATE ... COMMIT`, each in its own savepoint so a failing write is undone
/// alone; completions run only after COMMIT returned, so with `synchronous=FULL` an acknowledged
/// write survives power loss. One fsync then covers the whole turn instead of one per request.
///
///     ┌──────────┐ submit ┌────────┐ turn end ┌────────────┐ COMMIT ok ┌───────────────┐
///     │   idle   │───────▶│ queued │─────────▶│ committing │──────────▶│ completions   │
///     └──────────┘        └────────┘          └────────────┘           └───────────────┘
///                                                   │ COMMIT fails: every write of the batch fails
public final class GroupCommit {
    /// Bound on writes in one transaction; the rest wait for the next turn.
    public static let batchWritesMax = 1_024

    private struct QueuedWrite {
        let apply: (Database) throws -> Void
        let complete: ((any Error)?) -> Void
    }

    public let database: Database
    private var queue: [QueuedWrite] = []
    private var hook: TurnEndHook?
    /// Transactions committed so far (tests and metrics).
    public private(set) var commits = 0
    /// Writes acknowledged so far.
    public private(set) var writesCommitted = 0
    /// Told when a batch's COMMIT failed (before its completions run): anything the writes
    /// changed outside the database must be undone by its owner.
    public var onCommitFailed: ((any Error) -> Void)?
    /// Told before each write of a batch runs, inside the transaction.
    public var willRunWrite: (() -> Void)?
    /// Told when a write threw and its savepoint was rolled back (the batch goes on): whoever
    /// keeps state outside the database must undo what that write changed there.
    public var writeFailed: (() -> Void)?
    /// Runs inside the transaction after its last write, before COMMIT: for what is written
    /// once per batch rather than once per write. If it throws, the batch fails.
    public var beforeCommit: (() throws -> Void)?
    /// Asked before each batch: an error refuses the whole batch without touching the database
    /// (a full or failed disk), and each write completes with it.
    public var refusal: (() -> (any Error)?)?
    /// Batches refused so far.
    public private(set) var batchesRefused = 0

    public init(database: Database, loop: EventLoop) throws(PlatformError) {
        self.database = database
        hook = nil
        hook = try TurnEndHook(loop: loop) { [unowned self] in self.commitQueued() }
    }

    /// Writes queued and not yet committed.
    public var pendingCount: Int { queue.count }

    /// Queues a write. `completion` runs on the loop after the commit, with the write's value or
    /// the error that undid it.
    public func submit<T>(_ write: @escaping (Database) throws -> T, completion: @escaping (Result<T, any Error>) -> Void) {
        var value: T?
        queue.append(QueuedWrite(
            apply: { db in value = try write(db) },
            complete: { error in
                if let error { completion(.failure(error)) } else if let value { completion(.success(value)) }
            }))
        hook?.arm()
    }

    /// Commits everything queued now, on this thread (used at shutdown and by the turn-end hook).
    public func commitQueued() {
        while !queue.isEmpty {
            let batch = Array(queue.prefix(Self.batchWritesMax))
            queue.removeFirst(batch.count)
            commit(batch)
        }
        hook?.disarm()
    }

    private func commit(_ batch: [QueuedWrite]) {
        if let refused = refusal?() {
            batchesRefused += 1
            for write in batch { write.complete(refused) }
            return
        }
        var errors = [(any Error)?](repeating: nil, count: batch.count)
        do {
            try database.transaction(.immediate) {
                for (index, write) in batch.enumerated() {
                    willRunWrite?()
                    do {
                        try database.savepoint { try write.apply(database) }
                    } catch let error as StorageError where error.code == .io {
                        // The disk failed or is full: never one write's problem. The batch is
                        // not committed; every write of it gets the error.
                        throw error
                    } catch {
                        errors[index] = error
                        writeFailed?()
                    }
                }
                try beforeCommit?()
            }
            commits += 1
            writesCommitted += errors.lazy.filter { $0 == nil }.count
        } catch {
            // The commit itself failed (disk full, I/O error): nothing of the batch is durable.
            for index in errors.indices where errors[index] == nil { errors[index] = error }
            onCommitFailed?(error)
        }
        for (index, write) in batch.enumerated() { write.complete(errors[index]) }
    }

    /// Commits what is queued and stops hooking the loop.
    public func close() {
        commitQueued()
        hook?.close()
        hook = nil
    }
}
