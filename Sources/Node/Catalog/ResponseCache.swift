import Platform

/// Rendered catalog answers, least recently used out first, bounded in bytes.
///
/// Each entry carries the stamp of the data it was rendered from (a product's version, or the
/// catalog's generation for lists and searches); a lookup with a different stamp is a miss and
/// drops the entry, so local and replicated writes invalidate without a callback. Loop thread only.
final class ResponseCache {
    struct Hit {
        let body: [UInt8]
        let etag: String
    }

    private struct Entry {
        var key: String
        var body: [UInt8]
        var etag: String
        var stamp: UInt64
        var newer: Int?
        var older: Int?
        var cost: Int { body.count + key.utf8.count + 96 }
    }

    let bytesMax: Int
    private var slots: [Entry?] = []
    private var free: [Int] = []
    private var index: [String: Int] = [:]
    private var newest: Int?
    private var oldest: Int?
    private(set) var bytes = 0
    private(set) var hits: UInt64 = 0
    private(set) var misses: UInt64 = 0
    private(set) var evictions: UInt64 = 0
    private(set) var invalidations: UInt64 = 0
    var count: Int { index.count }

    /// Hashes of keys asked for once and not kept (a key per slot, the newest wins): what
    /// `putIfSeenBefore` admits on a second sight.
    private var seen = [UInt64](repeating: 0, count: 1 << 16)
    private(set) var declined: UInt64 = 0

    init(bytesMax: Int) {
        self.bytesMax = bytesMax
    }

    /// `put`, but only for a key asked for before: a query seen once is usually never seen
    /// again, and keeping it would push out documents that are asked for all the time.
    func putIfSeenBefore(_ key: String, body: [UInt8], etag: String, stamp: UInt64) {
        let hash = FNV1a.hash(key.utf8) | 1  // never 0, the empty slot
        let slot = Int(hash % UInt64(seen.count))
        guard seen[slot] == hash else {
            seen[slot] = hash
            declined += 1
            return
        }
        seen[slot] = 0
        put(key, body: body, etag: etag, stamp: stamp)
    }

    func get(_ key: String, stamp: UInt64) -> Hit? {
        guard let slot = index[key], let entry = slots[slot] else {
            misses += 1
            return nil
        }
        guard entry.stamp == stamp else {
            invalidations += 1
            misses += 1
            remove(slot)
            return nil
        }
        hits += 1
        unlink(slot)
        pushNewest(slot)
        return Hit(body: entry.body, etag: entry.etag)
    }

    func put(_ key: String, body: [UInt8], etag: String, stamp: UInt64) {
        if let slot = index[key] { remove(slot) }
        let entry = Entry(key: key, body: body, etag: etag, stamp: stamp)
        guard entry.cost <= bytesMax / 8 else { return }  // one answer never crowds out the rest
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
            slots[slot] = entry
        } else {
            slot = slots.count
            slots.append(entry)
        }
        index[key] = slot
        bytes += entry.cost
        pushNewest(slot)
        while bytes > bytesMax, let victim = oldest {
            evictions += 1
            remove(victim)
        }
    }

    private func remove(_ slot: Int) {
        guard let entry = slots[slot] else { return }
        unlink(slot)
        index[entry.key] = nil
        bytes -= entry.cost
        slots[slot] = nil
        free.append(slot)
    }

    private func unlink(_ slot: Int) {
        guard let entry = slots[slot] else { return }
        if let newer = entry.newer { slots[newer]?.older = entry.older } else { newest = entry.older }
        if let older = entry.older { slots[older]?.newer = entry.newer } else { oldest = entry.newer }
        slots[slot]?.newer = nil
        slots[slot]?.older = nil
    }

    private func pushNewest(_ slot: Int) {
        slots[slot]?.older = newest
        slots[slot]?.newer = nil
        if let newest { slots[newest]?.newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
    }
}
