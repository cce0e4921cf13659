@testable import Commerce
import XCTest

/// Password guessing slows down and stops per source, never locks a stranger's target, and
/// counts an attempt before its secret is checked; on an injected clock.
final class SignInThrottleTests: XCTestCase {
    func testFailuresFromOneSourceDoubleTheWaitAndLockThatSourceOutOfTheAccount() {
        var throttle = SignInThrottle()
        var now: Int64 = 1_000_000
        for _ in 0..<4 {
            XCTAssertEqual(throttle.begin(account: "ann@example.com", address: "10.0.0.1", nowMs: now), .allowed, "three free failures, and a fourth try")
        }
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.1", nowMs: now + 999), .wait(untilMs: now + 1_000, locked: false))
        now += 1_000
        XCTAssertEqual(throttle.begin(account: "ann@example.com", address: "10.0.0.1", nowMs: now), .allowed)
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.1", nowMs: now), .wait(untilMs: now + 2_000, locked: false))
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.9.9.9", nowMs: now), .allowed,
                       "another source is not held up by this one's failures")
        for _ in 0..<5 {
            now += 20 * 60_000
            XCTAssertEqual(throttle.begin(account: "ann@example.com", address: "10.0.0.1", nowMs: now), .allowed)
        }
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.1", nowMs: now + 60_000), .wait(untilMs: now + 15 * 60_000, locked: true))
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.77", nowMs: now + 60_000), .allowed, "the lock is this source's alone")
        XCTAssertEqual(throttle.check(account: "ann@example.com", address: "10.0.0.1", nowMs: now + 15 * 60_000), .allowed, "the lockout ends")
    }

    func testGuessesSpreadOverManySourcesDelayTheAccountByAtMostThirtySeconds() {
        var throttle = SignInThrottle()
        var now: Int64 = 2_000_000
        // A guess from a new address every half second for five minutes.
        var allowedInLastMinute = 0
        for index in 0..<600 {
            now += 500
            if throttle.begin(account: "bob@example.com", address: "10.1.\(index / 250).\(index % 250)", nowMs: now) == .allowed, index >= 480 {
                allowedInLastMinute += 1
            }
        }
        XCTAssertLessThanOrEqual(allowedInLastMinute, 2, "slowed to about one guess per 30 s")
        guard case .wait(let untilMs, let locked) = throttle.check(account: "bob@example.com", address: "192.0.2.1", nowMs: now) else {
            return XCTFail("a distributed guesser is slowed")
        }
        XCTAssertFalse(locked, "nobody can lock another's account")
        XCTAssertLessThanOrEqual(untilMs - now, 30_000, "the owner waits at most 30 s")
        XCTAssertEqual(throttle.begin(account: "bob@example.com", address: "192.0.2.1", nowMs: untilMs), .allowed)
        throttle.succeeded(account: "bob@example.com", address: "192.0.2.1")
        XCTAssertEqual(throttle.check(account: "bob@example.com", address: "10.1.0.1", nowMs: untilMs), .allowed, "a success clears the account's count")
    }

    func testAttemptsThatArriveTogetherCannotAllPassTheCheck() {
        var throttle = SignInThrottle()
        let decisions = (0..<30).map { _ in throttle.begin(account: "cat@example.com", address: "10.0.0.5", nowMs: 3_000_000) }
        XCTAssertEqual(decisions.filter { $0 == .allowed }.count, 4, "only the free failures and one more get their secret checked")
    }

    func testOneAddressGuessingManyAccountsIsSlowedAndASuccessDoesNotClearIt() {
        // 22 failures on 22 accounts: none of them is slowed on its own account.
        var throttle = SignInThrottle()
        let now: Int64 = 5_000_000
        for index in 0..<22 { throttle.recordFailure(account: "user\(index)@example.com", address: "203.0.113.9", nowMs: now) }
        XCTAssertEqual(throttle.check(account: "fresh@example.com", address: "203.0.113.9", nowMs: now), .wait(untilMs: now + 2_000, locked: false),
                       "an address has twenty free failures (customers of a shop may share one)")
        XCTAssertEqual(throttle.check(account: "fresh@example.com", address: "198.51.100.1", nowMs: now), .allowed)
        throttle.succeeded(account: "user0@example.com", address: "203.0.113.9")
        XCTAssertNotEqual(throttle.check(account: "user0@example.com", address: "203.0.113.9", nowMs: now), .allowed, "the address still waits")
        XCTAssertEqual(throttle.check(account: "user0@example.com", address: "198.51.100.1", nowMs: now), .allowed, "the account's count is cleared")
    }

    func testForgettingAnAccountEndsItsLocksOnEverySource() {
        var throttle = SignInThrottle()
        for _ in 0..<12 { throttle.recordFailure(account: "pin:ann", address: "till-1", nowMs: 0) }
        XCTAssertNotEqual(throttle.check(account: "pin:ann", address: "till-1", nowMs: 1), .allowed)
        throttle.forget(account: "pin:ann")
        XCTAssertEqual(throttle.check(account: "pin:ann", address: "till-1", nowMs: 1), .allowed, "a new PIN ends the lockout")
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
