import Foundation
import Glibc
import NodeTesting
import Platform
import XCTest

final class EventLoopTests: XCTestCase {
    func testTimersFireInDeadlineOrderAndLoopEndsWhenNothingIsLeft() throws {
        let loop = try EventLoop()
        var fired: [Int] = []
        let late = try LoopTimer(loop: loop)
        let early = try LoopTimer(loop: loop)
        late.start(afterMs: 20) { fired.append(2); late.close() }
        early.start(afterMs: 5) { fired.append(1); early.close() }
        loop.run()
        XCTAssertEqual(fired, [1, 2])
        XCTAssertEqual(loop.openHandleCount, 0)
        loop.close()
    }

    func testRepeatingTimerStopsWhenAsked() throws {
        let loop = try EventLoop()
        var count = 0
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMs: 1, repeatMs: 1) {
            count += 1
            if count == 3 { timer.close() }
        }
        loop.run()
        XCTAssertEqual(count, 3)
        loop.close()
    }

    func testWorkRunsOffTheLoopThreadAndCompletesOnIt() throws {
        let loop = try EventLoop()
        let loopThread = pthread_self()
        var completions = 0
        var result: Result<Bool, PlatformError>?
        loop.queueWork({ pthread_equal(pthread_self(), loopThread) == 0 }) { outcome in
            completions += 1
            XCTAssertNotEqual(pthread_equal(pthread_self(), loopThread), 0, "completion runs on the loop thread")
            result = outcome
        }
        loop.run()
        XCTAssertEqual(completions, 1)
        XCTAssertEqual(try result?.get(), true, "work ran on another thread")
        loop.close()
    }

    /// A lane's jobs run one at a time, in order, off the loop; a full lane refuses at once.
    func testALaneRunsItsJobsOneAtATimeInOrderAndRefusesWhenFull() throws {
        final class Counter { var running = 0, most = 0, order: [Int] = [] }
        let loop = try EventLoop()
        let lane = WorkLane(loop: loop, resource: Counter(), capacity: 3)
        var finished: [Int] = []
        var refused = 0
        for index in 0..<5 {
            lane.run({ counter -> Int in
                counter.running += 1
                counter.most = max(counter.most, counter.running)
                usleep(2_000)
                counter.order.append(index)
                counter.running -= 1
                return index
            }) { result in
                switch result {
                case .success(let index): finished.append(index)
                case .failure(let error): refused += error is WorkLane<Counter>.Full ? 1 : 0
                }
            }
        }
        loop.run()
        XCTAssertEqual(finished, [0, 1, 2, 3], "one running and three waiting; in the order queued")
        XCTAssertEqual(refused, 1, "the fifth found the lane full")
        lane.run({ $0.most }) { XCTAssertEqual(try? $0.get(), 1, "never two at once") }
        loop.run()
        loop.close()
    }

    func testWakerRunsCallbackOnLoopWhenWokenFromAnotherThread() throws {
        let loop = try EventLoop()
        var woken = 0
        var waker: LoopWaker?
        waker = try LoopWaker(loop: loop) {
            woken += 1
            waker?.close()
        }
        let sendable = waker!
        Thread.detachNewThread { sendable.wake() }
        loop.run()
        XCTAssertEqual(woken, 1)
        loop.close()
    }

    func testSignalIsDeliveredOnTheLoop() throws {
        let loop = try EventLoop()
        var received: [Int32] = []
        var watcher: SignalWatcher?
        watcher = try SignalWatcher(loop: loop, signal: SIGUSR1) { number in
            received.append(number)
            watcher?.close()
        }
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMs: 1) { kill(getpid(), SIGUSR1); timer.close() }
        loop.run()
        XCTAssertEqual(received, [SIGUSR1])
        loop.close()
    }

    func testTurnEndHookRunsOnlyWhileArmed() throws {
        let loop = try EventLoop()
        var runs = 0
        var hook: TurnEndHook?
        hook = try TurnEndHook(loop: loop) {
            runs += 1
            hook?.disarm()
        }
        hook?.arm()
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMs: 5) { timer.close(); hook?.close() }
        loop.run()
        XCTAssertEqual(runs, 1, "disarmed after its first run, the hook does not run again")
        loop.close()
    }

    func testABeforeWaitHookRunsBeforeThePollAndAnAfterIOHookAfterIt() throws {
        let loop = try EventLoop()
        var order: [String] = []
        let afterIO = try TurnEndHook(loop: loop) { order.append("after I/O") }
        let beforeWait = try TurnEndHook(loop: loop, moment: .beforeWait) { order.append("before wait") }
        afterIO.arm()
        beforeWait.arm()
        loop.runOnce()
        XCTAssertEqual(order, ["before wait", "after I/O"])
        beforeWait.disarm()
        loop.runOnce()
        XCTAssertEqual(order, ["before wait", "after I/O", "after I/O"], "a disarmed hook does not run")
        afterIO.close(); beforeWait.close()
        loop.run()
        loop.close()
    }

    func testCloseClosesEveryOpenHandle() throws {
        let loop = try EventLoop()
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMs: 60_000) {}
        _ = try TurnEndHook(loop: loop) {}
        XCTAssertEqual(loop.openHandleCount, 2)
        loop.close()
        XCTAssertEqual(loop.openHandleCount, 0)
        XCTAssertTrue(timer.isClosed)
    }
}
