import Platform

/// The fleet's books on the hub: accounts, and an append-only, gapless, hash-chained journal of
/// immutable transfers (the TigerBeetle model). Every method works inside the books' current
/// transaction, so group commit puts many transfers in one durable commit; balances change in
/// the same transaction as the entries that move them. The rows are the books' (LedgerBooks):
/// SQLite by default, PostgreSQL for a hub that must outlive its machine.
public final class Ledger {
    public let books: any LedgerBooks
    /// Hashes every entry of the chain (one OpenSSL context, not one per entry).
    let digester = SHA256Digester()

    public init(books: any LedgerBooks) {
        self.books = books
    }

    /// The books in the node's SQLite database (created by its migration 10).
    public convenience init(database: Database) {
        self.init(books: SQLiteBooks(database: database))
    }

    // MARK: Accounts

    /// Opens an account, or finds it open already. An id open with another kind or currency is
    /// a programmer's error in the chart of accounts.
    @discardableResult
    public func open(_ account: LedgerAccount) throws -> LedgerAccount {
        if let existing = try self.account(account.id) {
            precondition(existing.kind == account.kind && existing.currency == account.currency, "account \(account.id) exists with another kind or currency")
            return existing
        }
        try books.insert(account)
        return account
    }

    public func account(_ id: String) throws -> LedgerAccount? { try books.account(id) }

    public func accounts() throws -> [LedgerAccount] { try books.accounts() }

    // MARK: Transfers

    /// What a batch has in hand: the journal's head and the accounts it touched, written back
    /// once at its end (a batch of a thousand settlements moves a few accounts many times).
    struct Batch {
        var seq: Int64
        var hash: [UInt8]
        /// The accounts touched, and where each is in `accounts`: found by one hash, then
        /// updated in place.
        var accounts: [LedgerAccount] = []
        var slots: [String: Int] = [:]
        /// The bytes each entry's hash covers, built in one reused buffer.
        var scratch: [UInt8] = []
    }

    /// Records the transfers in order, each with its result. A linked chain (requests with
    /// `linked`, closed by the first without) commits together or not at all: one failure fails
    /// every request of the chain, the others with `linked_event_failed`.
    ///
    /// `knownAbsent`: the caller looked these ids up in the journal moments ago, under the
    /// settlement lease (no other writer), and found none: they are not looked up again. One
    /// that is there after all fails the whole batch on the journal's unique index, writing
    /// nothing; it can never be recorded twice.
    public func create(_ requests: [TransferRequest], atMs: Int64, knownAbsent: Bool = false) throws -> [TransferResult] {
        var results: [TransferResult] = []
        results.reserveCapacity(requests.count)
        try books.prepare(ids: requests.map(\.id), knownAbsent: knownAbsent)
        let (seq, hash) = try head()
        var batch = Batch(seq: seq, hash: hash)
        var index = 0
        while index < requests.count {
            var end = index
            while end < requests.count && requests[end].linked { end += 1 }
            guard end < requests.count else {
                results += Array(repeating: .failed(.linkedChainOpen), count: requests.count - index)
                break
            }
            if end == index {
                results.append(try createOne(requests[index], atMs: atMs, batch: &batch))
            } else {
                let chain = requests[index...end]
                let before = batch
                var chainResults: [TransferResult] = []
                do {
                    try books.savepoint {
                        for request in chain {
                            let result = try createOne(request, atMs: atMs, batch: &batch)
                            chainResults.append(result)
                            if case .failed(let error) = result { throw error }
                        }
                    }
                } catch let error as TransferError {
                    batch = before
                    let failedAt = chainResults.count - 1
                    chainResults = (0..<chain.count).map { $0 == failedAt ? .failed(error) : .failed(.linkedEventFailed) }
                }
                results += chainResults
            }
            index = end + 1
        }
        try books.flush()
        try books.save(batch.accounts)
        return results
    }

    private func cachedAccount(_ id: String, _ batch: inout Batch) throws -> Int? {
        if let slot = batch.slots[id] { return slot }
        let found = try account(id)
        guard let found else { return nil }
        batch.accounts.append(found)
        batch.slots[id] = batch.accounts.count - 1
        return batch.accounts.count - 1
    }

    private func createOne(_ request: TransferRequest, atMs: Int64, batch: inout Batch) throws -> TransferResult {
        guard !request.id.isEmpty else { return .failed(.idMustNotBeEmpty) }
        var entry = JournalEntry(seq: 0, id: request.id, kind: .posted, debit: request.debit, credit: request.credit, amount: request.amount,
                                 currency: "", pendingId: nil, timeoutMs: nil, code: request.code, reference: request.reference, atMs: atMs, hash: [])
        var pending: JournalEntry?
        switch request.phase {
        case .posted: entry.kind = .posted
        case .pending(let timeoutMs):
            entry.kind = .pending
            entry.timeoutMs = timeoutMs
        case .post(let pendingId, _), .void(let pendingId):
            entry.kind = if case .post = request.phase { .post } else { .void }
            entry.pendingId = pendingId
            pending = try journalEntry(id: pendingId)
        }
        if entry.kind == .post || entry.kind == .void {
            // A replay of a post or void finds its entry before the pending's state says "closed".
            if let existing = try journalEntry(id: request.id) {
                return Self.sameTransfer(existing, request) ? .exists : .failed(.existsWithDifferentFields)
            }
            guard let pending, pending.kind == .pending else { return .failed(.pendingNotFound) }
            if let closing = try books.closingKind(of: pending.id) {
                switch JournalEntry.Kind(rawValue: closing) {
                case .post?: return .failed(.pendingAlreadyPosted)
                case .expire?: return .failed(.pendingExpired)
                default: return .failed(.pendingAlreadyVoided)
                }
            }
            if let timeout = pending.timeoutMs, atMs >= timeout { return .failed(.pendingExpired) }
            entry.debit = pending.debit
            entry.credit = pending.credit
            entry.amount = entry.kind == .void ? pending.amount : { if case .post(_, let amount?) = request.phase { amount } else { pending.amount } }()
            guard entry.amount > 0 else { return .failed(.amountMustBePositive) }
            guard entry.amount <= pending.amount else { return .failed(.amountExceedsPending) }
        } else {
            guard request.amount > 0 else { return .failed(.amountMustBePositive) }
        }
        guard entry.debit != entry.credit else { return .failed(.accountsMustDiffer) }
        guard let debitSlot = try cachedAccount(entry.debit, &batch) else { return .failed(.debitAccountNotFound) }
        guard let creditSlot = try cachedAccount(entry.credit, &batch) else { return .failed(.creditAccountNotFound) }
        var debit = batch.accounts[debitSlot], credit = batch.accounts[creditSlot]
        guard debit.currency == credit.currency else { return .failed(.currenciesMustMatch) }
        entry.currency = debit.currency
        Self.apply(entry, releasing: pending?.amount ?? 0, debit: &debit, credit: &credit)
        if debit.debitsMustNotExceedCredits && debit.debitsPending + debit.debitsPosted > debit.creditsPosted { return .failed(.exceedsCredits) }
        entry.seq = batch.seq + 1
        entry.hash = entry.chainedHash(after: batch.hash, scratch: &batch.scratch, digester: digester)
        // The id's unique index finds a replay in the insert itself: no lookup before it.
        guard try books.append(entry) else {
            guard let existing = try journalEntry(id: request.id) else { return .failed(.existsWithDifferentFields) }
            return Self.sameTransfer(existing, request) ? .exists : .failed(.existsWithDifferentFields)
        }
        batch.seq = entry.seq
        batch.hash = entry.hash
        batch.accounts[debitSlot] = debit
        batch.accounts[creditSlot] = credit
        return .created(seq: entry.seq)
    }

    /// A replay matches when it asks for what was recorded.
    private static func sameTransfer(_ existing: JournalEntry, _ request: TransferRequest) -> Bool {
        guard existing.code == request.code, existing.reference == request.reference else { return false }
        switch request.phase {
        case .posted: return existing.kind == .posted && existing.debit == request.debit && existing.credit == request.credit && existing.amount == request.amount
        case .pending(let timeout):
            return existing.kind == .pending && existing.debit == request.debit && existing.credit == request.credit && existing.amount == request.amount
                && existing.timeoutMs == timeout
        case .post(let pendingId, let amount): return existing.kind == .post && existing.pendingId == pendingId && (amount == nil || amount == existing.amount)
        case .void(let pendingId): return existing.kind == .void && existing.pendingId == pendingId
        }
    }

    /// How an entry moves its two accounts' sums (`releasing`: the pending amount it closes).
    static func apply(_ entry: JournalEntry, releasing: Int64, debit: inout LedgerAccount, credit: inout LedgerAccount) {
        switch entry.kind {
        case .posted:
            debit.debitsPosted += entry.amount
            credit.creditsPosted += entry.amount
        case .pending:
            debit.debitsPending += entry.amount
            credit.creditsPending += entry.amount
        case .post:
            debit.debitsPending -= releasing
            credit.creditsPending -= releasing
            debit.debitsPosted += entry.amount
            credit.creditsPosted += entry.amount
        case .void, .expire:
            debit.debitsPending -= releasing
            credit.creditsPending -= releasing
        case .checkpoint: break
        }
    }

    /// Anchors an outside record in the journal: an entry that moves nothing, whose `reference`
    /// carries the record's hash and `amount` its figure (a Z-report's counted cash, which may be
    /// 0). A replay with the same fields answers `exists`.
    @discardableResult
    public func checkpoint(id: String, account: String, amount: Int64, code: String, reference: String, atMs: Int64) throws -> TransferResult {
        if let existing = try journalEntry(id: id) {
            return existing.kind == .checkpoint && existing.debit == account && existing.amount == amount && existing.reference == reference
                ? .exists : .failed(.existsWithDifferentFields)
        }
        guard amount >= 0 else { return .failed(.amountMustBePositive) }
        guard let found = try self.account(account) else { return .failed(.debitAccountNotFound) }
        let (seq, previous) = try head()
        var entry = JournalEntry(seq: seq + 1, id: id, kind: .checkpoint, debit: account, credit: account, amount: amount, currency: found.currency,
                                 pendingId: nil, timeoutMs: nil, code: code, reference: reference, atMs: atMs, hash: [])
        entry.hash = entry.chainedHash(after: previous)
        guard try books.append(entry) else { return .failed(.existsWithDifferentFields) }
        try books.flush()
        return .created(seq: entry.seq)
    }

    /// Pending transfers whose time ran out by `nowMs` are released, each by an `expire` entry
    /// (`expire:<pending id>`). Returns how many.
    @discardableResult
    public func expirePending(nowMs: Int64, limit: Int = 1000) throws -> Int {
        let due = try books.duePending(nowMs: nowMs, limit: limit)
        var expired = 0
        for id in due {
            guard let pending = try journalEntry(id: id), var debit = try account(pending.debit), var credit = try account(pending.credit) else { continue }
            var entry = JournalEntry(seq: 0, id: "expire:" + id, kind: .expire, debit: pending.debit, credit: pending.credit, amount: pending.amount,
                                     currency: pending.currency, pendingId: id, timeoutMs: nil, code: "expired", reference: pending.reference,
                                     atMs: nowMs, hash: [])
            Self.apply(entry, releasing: pending.amount, debit: &debit, credit: &credit)
            let (seq, previous) = try head()
            entry.seq = seq + 1
            entry.hash = entry.chainedHash(after: previous)
            // An id taken by a client's own transfer leaves the pending open for an operator to void.
            guard try books.append(entry) else { continue }
            expired += 1
            try books.flush()
            try books.save(debit)
            try books.save(credit)
        }
        return expired
    }

    // MARK: The journal

    public func journalEntry(id: String) throws -> JournalEntry? { try books.entry(id: id) }

    /// Of `ids`, those in the journal, with their amounts. Settlement knows every id a payment's
    /// transfers can have, so it asks by id (the unique index) rather than keep a second index.
    public func recorded(_ ids: [String]) throws -> [String: Int64] { try books.amounts(of: ids) }

    /// Per payment, the sales and refunds settled in `[fromMs, toMs)` (`capture:<p>`, `refund:<r>`
    /// with amounts). A scan of the window: for reconciliation, not the hot path.
    public func settlements(fromMs: Int64, toMs: Int64) throws -> [String: [String: Int64]] {
        var found: [String: [String: Int64]] = [:]
        for (reference, id, amount) in try books.settled(fromMs: fromMs, toMs: toMs) { found[reference, default: [:]][id] = amount }
        return found
    }

    /// Entries recorded in `[fromMs, toMs)`, in order.
    public func journal(fromMs: Int64, toMs: Int64) throws -> [JournalEntry] { try books.journal(fromMs: fromMs, toMs: toMs) }

    /// Entries from `seq` on, in order.
    public func journal(from seq: Int64 = 1, limit: Int = 1000) throws -> [JournalEntry] { try books.journal(from: seq, limit: limit) }

    /// The last entry's place and hash: what a checkpoint anchors.
    public func head() throws -> (seq: Int64, hash: [UInt8]) { try books.head() }
}
