/// Slows down password (and PIN, and pairing code) guessing, in memory, without letting a
/// stranger lock anybody out.
///
/// Three counts of failures, each forgotten `forgetAfterMs` after its last failure:
/// - per source and account (an address guessing one account's password): `freeFailures` free,
///   then a wait that doubles (1 s, 2 s, 4 s ... up to `longestWaitMs`); at `lockoutFailures`
///   this source is locked out of this account for `lockoutMs`;
/// - per account, from every source: `freeFailuresPerAccount` free, then doubling waits capped
///   at `accountWaitMsMax`, and never a lock: guesses spread over many addresses are slowed to
///   about one per `accountWaitMsMax`, while the account's owner is delayed by at most that;
/// - per source: `freeFailuresPerAddress` free (a shop's customers may share one address), then
///   doubling waits up to `longestWaitMs`.
///
/// An attempt counts as a failure from the moment it is let through (`begin`), before its
/// password is hashed: requests that arrive together cannot all pass the check while the first
/// hashes. A right password (`succeeded`) clears the account's counts and takes back the
/// source's; a wrong one leaves the failure standing.
///
/// Kept per node and in memory: a restart forgets it, and an attacker spreading guesses over
/// the nodes of a region gets each node's allowance. Memory is bounded by `keysMax`.
public struct SignInThrottle: Sendable {
    public struct Policy: Sendable {
        public var freeFailures = 3
        public var freeFailuresPerAccount = 10
        public var freeFailuresPerAddress = 20
        public var longestWaitMs: Int64 = 15 * 60_000
        public var accountWaitMsMax: Int64 = 30_000
        public var lockoutFailures = 10
        public var lockoutMs: Int64 = 15 * 60_000
        public var forgetAfterMs: Int64 = 60 * 60_000
        public var keysMax = 100_000

        public init() {}
    }

    /// Whether an attempt may be made now.
    public enum Decision: Equatable, Sendable {
        case allowed
        /// Not before `untilMs`; `locked` when this source reached its lockout for the account.
        case wait(untilMs: Int64, locked: Bool)
    }

    private struct Record: Sendable {
        var failures: Int
        var lastFailureMs: Int64
    }

    private enum Kind { case pair, account, address }

    public let policy: Policy
    private var records: [String: Record] = [:]

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Whether an attempt on `account` from `address` may be made now, without counting it.
    public func check(account: String, address: String, nowMs: Int64) -> Decision {
        let waits = Self.keys(account: account, address: address).compactMap { earliestTry($0.key, $0.kind) }.filter { $0.untilMs > nowMs }
        guard let longest = waits.max(by: { $0.untilMs < $1.untilMs }) else { return .allowed }
        return .wait(untilMs: longest.untilMs, locked: longest.locked)
    }

    /// Checks an attempt and, if it is allowed, counts it as failed until `succeeded` says
    /// otherwise. Call it before the work that checks the secret.
    public mutating func begin(account: String, address: String, nowMs: Int64) -> Decision {
        let decision = check(account: account, address: address, nowMs: nowMs)
        if decision == .allowed { recordFailure(account: account, address: address, nowMs: nowMs) }
        return decision
    }

    /// The secret of an attempt let through by `begin` was right.
    public mutating func succeeded(account: String, address: String) {
        let keys = Self.keys(account: account, address: address)
        records[keys[0].key] = nil
        records[keys[1].key] = nil
        if var record = records[keys[2].key] {
            record.failures -= 1
            records[keys[2].key] = record.failures > 0 ? record : nil
        }
    }

    /// Forgets every failure against `account`, from every source (a manager set a new PIN).
    ///
    /// - Complexity: O(keys held).
    public mutating func forget(account: String) {
        let pairPrefix = "pair\u{0}" + account + "\u{0}"
        records = records.filter { !$0.key.hasPrefix(pairPrefix) }
        records["account\u{0}" + account] = nil
    }

    /// Counts a failure that was not announced by `begin` (a refusal found without a check).
    public mutating func recordFailure(account: String, address: String, nowMs: Int64) {
        for (key, _) in Self.keys(account: account, address: address) {
            var record = records[key].flatMap { nowMs - $0.lastFailureMs < policy.forgetAfterMs ? $0 : nil } ?? Record(failures: 0, lastFailureMs: nowMs)
            record.failures += 1
            record.lastFailureMs = nowMs
            records[key] = record
        }
        if records.count > policy.keysMax { forgetOldest(nowMs: nowMs) }
    }

    /// Keys held now (for metrics and tests).
    public var keyCount: Int { records.count }

    private func earliestTry(_ key: String, _ kind: Kind) -> (untilMs: Int64, locked: Bool)? {
        let free: Int, longest: Int64
        switch kind {
        case .pair: (free, longest) = (policy.freeFailures, policy.longestWaitMs)
        case .account: (free, longest) = (policy.freeFailuresPerAccount, policy.accountWaitMsMax)
        case .address: (free, longest) = (policy.freeFailuresPerAddress, policy.longestWaitMs)
        }
        guard let record = records[key], record.failures > free else { return nil }
        if kind == .pair && record.failures >= policy.lockoutFailures { return (record.lastFailureMs + policy.lockoutMs, true) }
        let doublings = min(record.failures - free - 1, 30)
        return (record.lastFailureMs + min(1_000 << Int64(doublings), longest), false)
    }

    /// Drops what is forgotten anyway, then the oldest quarter if that was not enough.
    private mutating func forgetOldest(nowMs: Int64) {
        records = records.filter { nowMs - $0.value.lastFailureMs < policy.forgetAfterMs }
        guard records.count > policy.keysMax else { return }
        let keep = records.sorted { $0.value.lastFailureMs > $1.value.lastFailureMs }.prefix(policy.keysMax * 3 / 4)
        records = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
    }

    /// Pair, account, address: in that order (`succeeded` relies on it).
    private static func keys(account: String, address: String) -> [(key: String, kind: Kind)] {
        [("pair\u{0}" + account + "\u{0}" + address, .pair), ("account\u{0}" + account, .account), ("address\u{0}" + address, .address)]
    }
}
