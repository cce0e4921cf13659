import Platform

/// What `verify` found: nothing, or the first entry or account that does not add up.
public struct LedgerVerification: Sendable {
    public struct Problem: Equatable, Sendable, CustomStringConvertible {
        /// The first bad entry's seq, when the problem is in the journal.
        public var seq: Int64?
        public var account: String?
        public var reason: String

        public var description: String {
            (seq.map { "entry \($0): " } ?? "") + (account.map { "account \($0): " } ?? "") + reason
        }
    }

    public var entries: Int64
    /// The last entry's hash (hex): what a checkpoint anchors.
    public var head: String
    public var problems: [Problem]
    /// Per currency: total debits and credits, posted (they must be equal).
    public var totals: [String: (debits: Int64, credits: Int64)]

    public var isValid: Bool { problems.isEmpty }
}

extension Ledger {
    /// Recomputes everything from the journal: the sequence has no gap, each entry's hash chains
    /// to the one before, each entry is well formed, balances rebuilt entry by entry equal the
    /// accounts' stored sums, and debits equal credits per currency. Reads in pages, so a long
    /// journal does not sit in memory.
    public func verify(pageSize: Int = 5000) throws -> LedgerVerification {
        var problems: [LedgerVerification.Problem] = []
        var replay = try JournalReplay(accounts: accounts())
        var expectedSeq: Int64 = 1, previous: [UInt8] = [], scratch: [UInt8] = []
        func bad(_ seq: Int64, _ reason: String) {
            if problems.count < 100 { problems.append(.init(seq: seq, account: nil, reason: reason)) }
        }
        while true {
            let page = try journal(from: expectedSeq, limit: pageSize)
            if page.isEmpty { break }
            for entry in page {
                if entry.seq != expectedSeq { bad(expectedSeq, "missing: the next entry is \(entry.seq)") }
                if entry.hash != entry.chainedHash(after: previous, scratch: &scratch, digester: digester) { bad(entry.seq, "hash does not chain (the entry or the one before was changed)") }
                previous = entry.hash
                expectedSeq = entry.seq + 1
                for problem in replay.apply(entry) { bad(entry.seq, problem) }
            }
        }
        let rebuilt = replay.accounts
        var totals: [String: (debits: Int64, credits: Int64)] = [:]
        for stored in try accounts() {
            let computed = rebuilt[stored.id] ?? LedgerAccount(id: stored.id, kind: stored.kind, currency: stored.currency)
            if (stored.debitsPending, stored.debitsPosted, stored.creditsPending, stored.creditsPosted)
                != (computed.debitsPending, computed.debitsPosted, computed.creditsPending, computed.creditsPosted) {
                problems.append(.init(seq: nil, account: stored.id, reason: "stored balances differ from the journal's"))
            }
            totals[computed.currency, default: (0, 0)].debits += computed.debitsPosted
            totals[computed.currency, default: (0, 0)].credits += computed.creditsPosted
        }
        for (currency, sums) in totals.sorted(by: { $0.key < $1.key }) where sums.debits != sums.credits {
            problems.append(.init(seq: nil, account: nil, reason: "\(currency): debits \(sums.debits) ≠ credits \(sums.credits)"))
        }
        return LedgerVerification(entries: expectedSeq - 1, head: Hex.encode(previous), problems: problems, totals: totals)
    }

    /// Every account's sums as they stood after the last entry at or before `atMs` (hub clock).
    public func balances(atMs: Int64, pageSize: Int = 5000) throws -> [LedgerAccount] {
        var replay = try JournalReplay(accounts: accounts())
        var seq: Int64 = 1
        replaying: while true {
            let page = try journal(from: seq, limit: pageSize)
            guard let last = page.last else { break }
            for entry in page {
                if entry.atMs > atMs { break replaying }
                _ = replay.apply(entry)
            }
            seq = last.seq + 1
        }
        return replay.accounts.values.sorted { $0.id < $1.id }
    }
}

/// Balances rebuilt entry by entry from empty accounts, and what does not fit on the way.
struct JournalReplay {
    private(set) var accounts: [String: LedgerAccount] = [:]
    private var pendingAmounts: [String: Int64] = [:]

    init(accounts stored: [LedgerAccount]) {
        for account in stored {
            accounts[account.id] = LedgerAccount(id: account.id, kind: account.kind, currency: account.currency,
                                                 debitsMustNotExceedCredits: account.debitsMustNotExceedCredits)
        }
    }

    /// Applies one entry; returns why it is malformed, if it is.
    mutating func apply(_ entry: JournalEntry) -> [String] {
        guard var debit = accounts[entry.debit], var credit = accounts[entry.credit] else { return ["names an account that does not exist"] }
        if entry.kind == .checkpoint {
            return entry.debit == entry.credit && entry.amount >= 0 && debit.currency == entry.currency ? [] : ["is a malformed checkpoint"]
        }
        var problems: [String] = []
        if entry.amount <= 0 { problems.append("amount is not positive") }
        if debit.currency != entry.currency || credit.currency != entry.currency { problems.append("currency differs from its accounts'") }
        var releasing: Int64 = 0
        switch entry.kind {
        case .pending: pendingAmounts[entry.id] = entry.amount
        case .post, .void, .expire:
            guard let id = entry.pendingId, let amount = pendingAmounts.removeValue(forKey: id) else {
                return problems + ["closes no open pending transfer"]
            }
            releasing = amount
            if entry.amount > amount { problems.append("posts more than was pending") }
        case .posted, .checkpoint: break
        }
        Ledger.apply(entry, releasing: releasing, debit: &debit, credit: &credit)
        accounts[entry.debit] = debit
        accounts[entry.credit] = credit
        return problems
    }
}
