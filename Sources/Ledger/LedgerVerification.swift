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
        var rebuilt: [String: LedgerAccount] = [:]
        for account in try accounts() {
            var empty = LedgerAccount(id: account.id, kind: account.kind, currency: account.currency)
            empty.debitsMustNotExceedCredits = account.debitsMustNotExceedCredits
            rebuilt[account.id] = empty
        }
        var pendingAmounts: [String: Int64] = [:]
        var expectedSeq: Int64 = 1, previous: [UInt8] = []
        func bad(_ seq: Int64, _ reason: String) {
            if problems.count < 100 { problems.append(.init(seq: seq, account: nil, reason: reason)) }
        }
        while true {
            let page = try journal(from: expectedSeq, limit: pageSize)
            if page.isEmpty { break }
            for entry in page {
                if entry.seq != expectedSeq { bad(expectedSeq, "missing: the next entry is \(entry.seq)") }
                if entry.hash != entry.chainedHash(after: previous) { bad(entry.seq, "hash does not chain (the entry or the one before was changed)") }
                previous = entry.hash
                expectedSeq = entry.seq + 1
                guard var debit = rebuilt[entry.debit], var credit = rebuilt[entry.credit] else {
                    bad(entry.seq, "names an account that does not exist"); continue
                }
                if entry.amount <= 0 { bad(entry.seq, "amount is not positive") }
                if debit.currency != entry.currency || credit.currency != entry.currency { bad(entry.seq, "currency differs from its accounts'") }
                var releasing: Int64 = 0
                switch entry.kind {
                case .pending: pendingAmounts[entry.id] = entry.amount
                case .post, .void, .expire:
                    guard let id = entry.pendingId, let amount = pendingAmounts.removeValue(forKey: id) else {
                        bad(entry.seq, "closes no open pending transfer"); continue
                    }
                    releasing = amount
                    if entry.amount > amount { bad(entry.seq, "posts more than was pending") }
                case .posted: break
                }
                Ledger.apply(entry, releasing: releasing, debit: &debit, credit: &credit)
                rebuilt[entry.debit] = debit
                rebuilt[entry.credit] = credit
            }
        }
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
}
