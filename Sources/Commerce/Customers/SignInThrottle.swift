/// Slows down password guessing, per account and per client address, in memory.
///
/// Each key (an account's normalised email, a client's IP) counts failed sign-ins. The first
/// `freeFailures` of an account (`freeFailuresPerAddress` of an address: a shop's customers may
/// share one address) cost nothing; each one after doubles a wait before the next try (1 s, 2 s,
/// 4 s ... up to `longestWaitMs`); an account at `lockoutFailures` is locked for `lockoutMs`. A
/// success clears the account's count (not the address's: one right password must not let an
/// address go on guessing others). Counts older than `forgetAfterMs` are forgotten.
///
/// Kept per node and in memory: a restart forgets it, and an attacker spreading guesses over
/// the nodes of a region gets each node's allowance. Memory is bounded by `keysMax`.
public struct SignInThrottle: Sendable {
    public struct Policy: Sendable {
        public var freeFailures = 3
        public var freeFailuresPerAddress = 20
        public var longestWaitMs: Int64 = 15 * 60_000
        public var lockoutFailures = 10
        public var lockoutMs: Int64 = 15 * 60_000
        public var forgetAfterMs: Int64 = 60 * 60_000
        public var keysMax = 100_000

        public init() {}
    }

    /// Whether a sign-in may be tried now.
    public enum Decision: Equatable, Sendable {
        case allowed
        /// Not before `untilMs`; `locked` when the account reached its lockout.
        case wait(untilMs: Int64, locked: Bool)
    }

    private struct Record: Sendable {
        var failures: Int
        var lastFailureMs: Int64
    }

    public let policy: Policy
    private var records: [String: Record] = [:]

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    public func check(account: String, address: String, nowMs: Int64) -> Decision {
        let waits = [earliestTry(Self.accountKey(account), isAccount: true), earliestTry(Self.addressKey(address), isAccount: false)]
            .compactMap { $0 }.filter { $0.untilMs > nowMs }
        guard let longest = waits.max(by: { $0.untilMs < $1.untilMs }) else { return .allowed }
        return .wait(untilMs: longest.untilMs, locked: longest.locked)
    }

    public mutating func recordFailure(account: String, address: String, nowMs: Int64) {
        for key in [Self.accountKey(account), Self.addressKey(address)] {
            var record = records[key].flatMap { nowMs - $0.lastFailureMs < policy.forgetAfterMs ? $0 : nil } ?? Record(failures: 0, lastFailureMs: nowMs)
            record.failures += 1
            record.lastFailureMs = nowMs
            records[key] = record
        }
        if records.count > policy.keysMax { forgetOldest(nowMs: nowMs) }
    }

    public mutating func recordSuccess(account: String) {
        records[Self.accountKey(account)] = nil
    }

    /// Keys held now (for metrics and tests).
    public var keyCount: Int { records.count }

    private func earliestTry(_ key: String, isAccount: Bool) -> (untilMs: Int64, locked: Bool)? {
        let free = isAccount ? policy.freeFailures : policy.freeFailuresPerAddress
        guard let record = records[key], record.failures > free else { return nil }
        if isAccount && record.failures >= policy.lockoutFailures { return (record.lastFailureMs + policy.lockoutMs, true) }
        let doublings = min(record.failures - free - 1, 30)
        return (record.lastFailureMs + min(1_000 << Int64(doublings), policy.longestWaitMs), false)
    }

    /// Drops what is forgotten anyway, then the oldest quarter if that was not enough.
    private mutating func forgetOldest(nowMs: Int64) {
        records = records.filter { nowMs - $0.value.lastFailureMs < policy.forgetAfterMs }
        guard records.count > policy.keysMax else { return }
        let keep = records.sorted { $0.value.lastFailureMs > $1.value.lastFailureMs }.prefix(policy.keysMax * 3 / 4)
        records = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
    }

    private static func accountKey(_ account: String) -> String { "account\u{0}" + account }
    private static func addressKey(_ address: String) -> String { "address\u{0}" + address }
}
