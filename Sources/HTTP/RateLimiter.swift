/// What a route costs, for rate limiting: most routes are cheap; searches cost milliseconds;
/// credential routes cost a memory-hard password hash each (hundreds of milliseconds of a pool
/// thread), so they get far smaller allowances.
public enum RateClass: Int, Sendable, CaseIterable {
    case standard, search, credentials

    public var name: String {
        switch self {
        case .standard: "standard"
        case .search: "search"
        case .credentials: "credentials"
        }
    }
}

/// Token buckets per client address and route class, and one per class for the whole node.
///
/// A bucket holds up to `capacity` requests and refills at `capacity` per `periodMs`; a request
/// takes one. Pure and single-threaded: the server calls it on the loop with its own clock.
/// Memory: at most `addressesMax` buckets per class; full (idle) buckets are dropped by `prune`,
/// and if a flood of addresses still fills the table, the oldest half goes.
///
/// - Complexity: `admit` is one dictionary lookup per bucket; `prune` O(buckets).
public final class RateLimiter {
    public struct Allowance: Sendable, Equatable {
        /// Requests a bucket holds (the burst), refilled over `periodMs`.
        public var capacity: Int64
        public var periodMs: Int64

        public init(capacity: Int64, periodMs: Int64) {
            precondition(capacity > 0 && periodMs > 0, "an allowance lets something through")
            self.capacity = capacity
            self.periodMs = periodMs
        }
    }

    public struct Policy: Sendable, Equatable {
        /// Per client address, by class.
        public var perAddress: [RateClass: Allowance]
        /// For the whole node, by class; nil for none.
        public var total: [RateClass: Allowance]
        public var addressesMax = 100_000

        public init(perAddress: [RateClass: Allowance], total: [RateClass: Allowance]) {
            self.perAddress = perAddress
            self.total = total
        }
    }

    public enum Decision: Equatable, Sendable {
        case allowed
        /// Refused: the next request would be admitted after this many seconds (at least 1).
        case limited(retryAfterSeconds: Int64)
    }

    /// Tokens in thousandths, and when they were last counted.
    private struct Bucket {
        var milliTokens: Int64
        var atMs: Int64
    }

    public let policy: Policy
    private var perAddress: [[String: Bucket]]
    private var totals: [Bucket?]
    /// Requests refused, by class (metrics).
    public private(set) var refused: [UInt64]

    public init(policy: Policy) {
        self.policy = policy
        perAddress = Array(repeating: [:], count: RateClass.allCases.count)
        totals = Array(repeating: nil, count: RateClass.allCases.count)
        refused = Array(repeating: 0, count: RateClass.allCases.count)
    }

    /// Takes one request of `rateClass` from `address` at `nowMs`, or says when to come back.
    public func admit(_ rateClass: RateClass, address: String, nowMs: Int64) -> Decision {
        let index = rateClass.rawValue
        if let allowance = policy.total[rateClass] {
            var bucket = totals[index] ?? Bucket(milliTokens: allowance.capacity * 1000, atMs: nowMs)
            let wait = take(&bucket, allowance, nowMs: nowMs, commit: false)
            if wait > 0 { return refuse(index, wait) }
            totals[index] = bucket
        }
        if let allowance = policy.perAddress[rateClass] {
            var bucket = perAddress[index][address] ?? Bucket(milliTokens: allowance.capacity * 1000, atMs: nowMs)
            let wait = take(&bucket, allowance, nowMs: nowMs, commit: true)
            if perAddress[index].count >= policy.addressesMax && perAddress[index][address] == nil { shed(index) }
            perAddress[index][address] = bucket
            if wait > 0 { return refuse(index, wait) }
        }
        if let allowance = policy.total[rateClass], var bucket = totals[index] {
            _ = take(&bucket, allowance, nowMs: nowMs, commit: true)
            totals[index] = bucket
        }
        return .allowed
    }

    /// Refills `bucket` to `nowMs`; takes a token if there is one (and `commit`). Returns 0, or
    /// the milliseconds until a token will be there.
    private func take(_ bucket: inout Bucket, _ allowance: Allowance, nowMs: Int64, commit: Bool) -> Int64 {
        let elapsed = max(0, nowMs - bucket.atMs)
        // milli-tokens per ms = capacity * 1000 / periodMs; computed as one product over the
        // elapsed time so small rates do not round to nothing. Bounded: elapsed is capped at a
        // period (a full bucket refills no further).
        let refill = min(elapsed, allowance.periodMs) * allowance.capacity * 1000 / allowance.periodMs
        bucket.milliTokens = min(allowance.capacity * 1000, bucket.milliTokens + refill)
        bucket.atMs = nowMs
        guard bucket.milliTokens >= 1000 else {
            let missing = 1000 - bucket.milliTokens
            return max(1, (missing * allowance.periodMs + allowance.capacity * 1000 - 1) / (allowance.capacity * 1000))
        }
        if commit { bucket.milliTokens -= 1000 }
        return 0
    }

    private func refuse(_ index: Int, _ waitMs: Int64) -> Decision {
        refused[index] += 1
        return .limited(retryAfterSeconds: max(1, (waitMs + 999) / 1000))
    }

    /// Forgets buckets that have refilled (their addresses are idle): they would start full
    /// anyway. Call it now and then (the server does, from its sweep).
    public func prune(nowMs: Int64) {
        for index in perAddress.indices {
            guard let allowance = RateClass(rawValue: index).flatMap({ policy.perAddress[$0] }) else { continue }
            perAddress[index] = perAddress[index].filter { _, bucket in
                bucket.milliTokens + min(max(0, nowMs - bucket.atMs), allowance.periodMs) * allowance.capacity * 1000 / allowance.periodMs
                    < allowance.capacity * 1000
            }
        }
    }

    /// Addresses tracked now, per class (tests, metrics).
    public func addressCount(_ rateClass: RateClass) -> Int { perAddress[rateClass.rawValue].count }

    /// A flood of new addresses filled the table: drop the half counted longest ago.
    private func shed(_ index: Int) {
        let sorted = perAddress[index].sorted { $0.value.atMs > $1.value.atMs }
        perAddress[index] = Dictionary(uniqueKeysWithValues: sorted.prefix(policy.addressesMax / 2).map { ($0.key, $0.value) })
    }
}
