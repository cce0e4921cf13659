@testable import Commerce
import XCTest

/// Password guessing slows down and stops, per account and per address, on an injected clock.
final class SignInThrottleTests: XCTestCase {
    func testFailuresPastTheFreeOnesDoubleTheWaitAndTheAccountLocks() {
        var throttle = SignInThrottle()
        var now: Int64 = 1_000_000
        for _ in 0..<3 {
            XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.1", nowMs: now), .allowed)
            throttle.recordFailure(account: "ann@example.com", address: "10.0.0.1", nowMs: now)
        }
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.1", nowMs: now), .allowed, "three free failures")
        throttle.recordFailure(account: "ann@example.com", address: "10.0.0.1", nowMs: now)
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.1", nowMs: now + 999), .wait(untilMs: now + 1_000, locked: false))
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.1", nowMs: now + 1_000), .allowed)
        now += 1_000
        throttle.recordFailure(account: "ann@example.com", address: "10.0.0.1", nowMs: now)
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.1", nowMs: now), .wait(untilMs: now + 2_000, locked: false))
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.9.9.9", nowMs: now), .wait(untilMs: now + 2_000, locked: false),
                       "another address guessing the same account waits too")
        for _ in 0..<5 {
            now += 20 * 60_000
            throttle.recordFailure(account: "ann@example.com", address: "10.0.0.\(now % 200)", nowMs: now)
        }
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.77", nowMs: now + 60_000), .wait(untilMs: now + 15 * 60_000, locked: true))
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.77", nowMs: now + 15 * 60_000), .allowed, "the lockout ends")
    }

    func testOneAddressGuessingManyAccountsIsSlowedAndASuccessDoesNotClearIt() {
        // 22 failures on 22 accounts: none of them is slowed on its own account.
        var throttle = SignInThrottle()
        let now: Int64 = 5_000_000
        for index in 0..<22 { throttle.recordFailure(account: "user\(index)@example.com", address: "203.0.113.9", nowMs: now) }
        XCTAssertEqual(throttle.check(account: "fresh@example.com", address: "203.0.113.9", nowMs: now), .wait(untilMs: now + 2_000, locked: false),
                       "an address has twenty free failures (customers of a shop may share one)")
        XCTAssertEqual(throttle.check(account: "fresh@example.com", address: "198.51.100.1", nowMs: now), .allowed)
        throttle.recordSuccess(account: "user0@example.com")
        XCTAssertNotEqual(throttle.check(account: "user0@example.com", address: "203.0.113.9", nowMs: now), .allowed, "the address still waits")
        XCTAssertEqual(throttle.check(account: "user0@example.com", address: "198.51.100.1", nowMs: now), .allowed, "the account's count is cleared")
    }

    func testOldFailuresAreForgottenAndMemoryIsBounded() {
        var policy = SignInThrottle.Policy()
        policy.keysMax = 100
        var throttle = SignInThrottle(policy: policy)
        for _ in 0..<5 { throttle.recordFailure(account: "old@example.com", address: "10.1.1.1", nowMs: 0) }
        throttle.recordFailure(account: "old@example.com", address: "10.1.1.1", nowMs: 61 * 60_000)
        XCTAssertEqual(throttle.check(account: "old@example.com", address: "10.1.1.1", nowMs: 61 * 60_000), .allowed, "counting starts again after an hour")
        for index in 0..<500 { throttle.recordFailure(account: "a\(index)", address: "10.2.\(index / 250).\(index % 250)", nowMs: 70 * 60_000 + Int64(index)) }
        XCTAssertLessThanOrEqual(throttle.keyCount, 100)
    }
}
