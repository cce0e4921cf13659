import HTTP
import XCTest

/// Allowances per address and route class, on an injected clock.
final class RateLimiterTests: XCTestCase {
    private func limiter() -> RateLimiter {
        RateLimiter(policy: RateLimiter.Policy(
            perAddress: [.standard: .init(capacity: 2_000, periodMs: 300_000), .credentials: .init(capacity: 10, periodMs: 60_000)],
            total: [.credentials: .init(capacity: 20, periodMs: 1_000)]))
    }

    func testAnAddressGetsItsBurstThenOneRequestPerRefill() {
        let limiter = limiter()
        for _ in 0..<2_000 { XCTAssertEqual(limiter.admit(.standard, address: "10.0.0.1", nowMs: 0), .allowed) }
        XCTAssertEqual(limiter.admit(.standard, address: "10.0.0.1", nowMs: 0), .limited(retryAfterSeconds: 1), "2,000 per 5 minutes: one more in 150 ms")
        XCTAssertEqual(limiter.admit(.standard, address: "10.0.0.2", nowMs: 0), .allowed, "another address has its own allowance")
        XCTAssertEqual(limiter.admit(.standard, address: "10.0.0.1", nowMs: 150), .allowed, "refilled one")
        XCTAssertEqual(limiter.admit(.standard, address: "10.0.0.1", nowMs: 150), .limited(retryAfterSeconds: 1))
        XCTAssertEqual(limiter.refused[RateClass.standard.rawValue], 2)
        XCTAssertEqual(limiter.admit(.search, address: "10.0.0.1", nowMs: 150), .allowed, "a class without an allowance is not limited")
    }

    func testCredentialRoutesAreStrictPerAddressAndForTheWholeNode() {
        let limiter = limiter()
        for _ in 0..<10 { XCTAssertEqual(limiter.admit(.credentials, address: "10.0.0.1", nowMs: 0), .allowed) }
        XCTAssertEqual(limiter.admit(.credentials, address: "10.0.0.1", nowMs: 0), .limited(retryAfterSeconds: 6), "10 a minute: the next in 6 s")
        XCTAssertEqual(limiter.admit(.credentials, address: "10.0.0.1", nowMs: 0), .limited(retryAfterSeconds: 6), "refusals take nothing")
        for index in 2...11 { XCTAssertEqual(limiter.admit(.credentials, address: "10.0.0.\(index)", nowMs: 0), .allowed) }
        XCTAssertEqual(limiter.admit(.credentials, address: "10.0.0.99", nowMs: 0), .limited(retryAfterSeconds: 1),
                       "20 a second for the whole node, whatever the addresses")
        XCTAssertEqual(limiter.admit(.credentials, address: "10.0.0.99", nowMs: 1_000), .allowed)
    }

    func testIdleAddressesAreForgottenAndAFloodOfAddressesIsBounded() {
        var policy = RateLimiter.Policy(perAddress: [.standard: .init(capacity: 5, periodMs: 1_000)], total: [:])
        policy.addressesMax = 100
        let limiter = RateLimiter(policy: policy)
        for index in 0..<1_000 { _ = limiter.admit(.standard, address: "10.1.\(index / 250).\(index % 250)", nowMs: 0) }
        XCTAssertLessThanOrEqual(limiter.addressCount(.standard), 100)
        limiter.prune(nowMs: 1_000)
        XCTAssertEqual(limiter.addressCount(.standard), 0, "refilled buckets are dropped")
    }
}
