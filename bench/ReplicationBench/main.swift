// The in-memory half of bench/sync.py: decode DELTAS messages and apply them to a collection,
// with no TLS, socket or SQLite, which is what pycrdt's apply_update does. Prints deltas/s.
//
//   replication-bench [DELTAS]
import Replication

let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 100_000 : 100_000

// The hub's orders, as bench/sync.py writes them: one event per order, 512 deltas per message.
var hub = KeyedCollection<GSet<String>>(name: "orders", scope: .global)
var clock = HybridLogicalClock(replica: "hub")
let deltas = (0..<count).map { i in
    hub.commitLocal(key: "o-\(i)", delta: GSet(["placed"]), origin: "hub", timestamp: clock.tick(wallMs: 1_763_700_000_000 + Int64(i)))
}
let messages = stride(from: 0, to: count, by: 512).map { start in
    SyncMessage.deltas(collection: "orders", deltas: Array(deltas[start..<min(start + 512, count)])).encoded()
}

var best = Double.infinity
for _ in 0..<3 {
    var store = MemoryReplica(nodeId: "store-1", region: "eu", collections: [KeyedCollection<GSet<String>>(name: "orders", scope: .global)],
                              compactionPeers: [:], digest: { $0 })
    let start = ContinuousClock.now
    for bytes in messages {
        guard case let .deltas(collection, batch) = try SyncMessage.decode(bytes) else { preconditionFailure("not DELTAS") }
        _ = try store.apply(batch, to: collection)
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    precondition(store.collections["orders"]?.applied["hub"] == UInt64(count), "every delta applied")
    best = min(best, seconds)
}
print(Int(Double(count) / best))
