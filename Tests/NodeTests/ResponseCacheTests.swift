@testable import Node
import XCTest

final class ResponseCacheTests: XCTestCase {
    func testTheLeastRecentlyUsedGoOutFirstAndBytesStayBounded() {
        let cache = ResponseCache(bytesMax: 8 * 400)
        let body = [UInt8](repeating: 1, count: 300)
        for n in 0..<8 { cache.put("k\(n)", body: body, etag: "e", stamp: 1) }
        XCTAssertNotNil(cache.get("k0", stamp: 1), "k0 is now the most recently used")
        cache.put("k8", body: body, etag: "e", stamp: 1)
        XCTAssertLessThanOrEqual(cache.bytes, 8 * 400)
        XCTAssertNil(cache.get("k1", stamp: 1), "the least recently used went out")
        XCTAssertNotNil(cache.get("k0", stamp: 1))
        XCTAssertGreaterThan(cache.evictions, 0)
        cache.put("huge", body: [UInt8](repeating: 0, count: 3_000), etag: "e", stamp: 1)
        XCTAssertNil(cache.get("huge", stamp: 1), "an answer over an eighth of the cache is not kept")
    }

    func testAStaleStampIsAMissAndDropsTheEntry() {
        let cache = ResponseCache(bytesMax: 1 << 20)
        cache.put("p|tea|en", body: [1, 2, 3], etag: "\"a\"", stamp: 7)
        XCTAssertEqual(cache.get("p|tea|en", stamp: 7)?.etag, "\"a\"")
        XCTAssertNil(cache.get("p|tea|en", stamp: 8), "the product changed since")
        XCTAssertEqual(cache.count, 0)
        XCTAssertEqual(cache.bytes, 0)
        XCTAssertEqual(cache.invalidations, 1)
        XCTAssertEqual(cache.hits, 1)
        XCTAssertEqual(cache.misses, 1)
    }

    func testAQueryIsKeptOnlyOnceAskedForTwice() {
        let cache = ResponseCache(bytesMax: 1 << 20)
        cache.putIfSeenBefore("r|q=tent&r=1", body: [1], etag: "e", stamp: 1)
        XCTAssertNil(cache.get("r|q=tent&r=1", stamp: 1), "a one-off search does not take room")
        XCTAssertEqual(cache.declined, 1)
        cache.putIfSeenBefore("r|q=tent&r=1", body: [1], etag: "e", stamp: 1)
        XCTAssertNotNil(cache.get("r|q=tent&r=1", stamp: 1), "asked again: kept")
    }
}
