/// An observed-remove map (add-wins keys) whose values are CRDTs: a cart is
/// `ORMap<SKU, LWWRegister<Quantity>>`.
///
/// A key is present while it has live dots. Values are merged whatever the key's presence, so a
/// key removed and added again continues from its merged value: hold values whose own writes
/// decide the outcome (registers with newer timestamps), not counters that must restart at zero.
public struct ORMap<Key: ReplicatedValue & Hashable, Value: CRDT>: CRDT {
    public struct Entry: Equatable, Sendable {
        /// Dots of the live updates; empty once removed.
        public var dots: DotSet
        /// The value, merged from every update ever seen.
        public var value: Value
    }

    /// Never holds an entry with no dots and a bottom value.
    public private(set) var entries: [Key: Entry] = [:]
    public private(set) var context = CausalContext()

    public init() {}

    init(entries: [Key: Entry], context: CausalContext) {
        self.entries = entries
        self.context = context
    }

    public var keys: Set<Key> { Set(entries.filter { !$0.value.dots.isEmpty }.keys) }

    /// The value of a present key.
    public subscript(key: Key) -> Value? {
        guard let entry = entries[key], !entry.dots.isEmpty else { return nil }
        return entry.value
    }

    /// Updates the value at `key` as `replica` (adding the key if absent). `mutate` changes the
    /// value and returns its delta.
    @discardableResult
    public mutating func update(_ key: Key, replica: ReplicaID, _ mutate: (inout Value) -> Value) -> ORMap {
        var value = entries[key]?.value ?? Value()
        let valueDelta = mutate(&value)
        let dot = context.nextDot(for: replica)
        var delta = ORMap()
        delta.entries[key] = Entry(dots: DotSet(dot), value: valueDelta)
        delta.context = CausalContext(dots: (entries[key]?.dots ?? []).union(DotSet(dot)))
        merge(delta)
        return delta
    }

    /// Updates many keys and removes others as `replica`, in one delta: the same delta as the
    /// single updates and removes merged, for one merge instead of one per key.
    @discardableResult
    public mutating func update(_ changes: [(key: Key, mutate: (inout Value) -> Value)], removing removed: [Key] = [], replica: ReplicaID) -> ORMap {
        var delta = ORMap()
        delta.entries.reserveCapacity(changes.count)
        var seen: [Dot] = []
        seen.reserveCapacity(changes.count + removed.count)
        var counter = context.nextDot(for: replica).counter
        for (key, mutate) in changes {
            var value = entries[key]?.value ?? Value()
            let dot = Dot(replica: replica, counter: counter)
            counter += 1
            delta.entries[key] = Entry(dots: DotSet(dot), value: mutate(&value))
            seen += entries[key]?.dots ?? []
            seen.append(dot)
        }
        for key in removed { seen += entries[key]?.dots ?? [] }
        delta.context = CausalContext(dots: seen)
        merge(delta)
        return delta
    }

    /// Removes `key` as far as this replica has seen it.
    @discardableResult
    public mutating func remove(_ key: Key) -> ORMap {
        var delta = ORMap()
        delta.context = CausalContext(dots: entries[key]?.dots ?? [])
        merge(delta)
        return delta
    }

    /// In place: keys only here change only if the other side saw (and so removed) their dots;
    /// the other side's keys are joined one by one. A small delta costs a scan, not a rebuild.
    public mutating func merge(_ other: ORMap) {
        // Joined with bottom, a well-formed map (every one is: decoding checks) is itself.
        if entries.isEmpty && context.isEmpty {
            self = other
            return
        }
        if !other.context.isEmpty {
            var removed: [(Key, DotSet)] = []
            for (key, entry) in entries where other.entries[key] == nil && entry.dots.contains(where: other.context.contains) {
                removed.append((key, entry.dots.filter { !other.context.contains($0) }))
            }
            for (key, dots) in removed {
                if dots.isEmpty, entries[key]?.value.isBottom == true { entries[key] = nil } else { entries[key]?.dots = dots }
            }
        }
        for (key, theirs) in other.entries {
            let mine = entries[key]
            let dots = DotKernel.join(mine?.dots ?? [], context, theirs.dots, other.context)
            var value = mine?.value ?? Value()
            value.merge(theirs.value)
            entries[key] = !dots.isEmpty || !value.isBottom ? Entry(dots: dots, value: value) : nil
        }
        context.merge(other.context)
    }

    public func checkInvariants() {
        context.checkInvariants()
        for (_, entry) in entries {
            precondition(!entry.dots.isEmpty || !entry.value.isBottom, "empty entries are dropped")
            precondition(entry.dots.allSatisfy(context.contains), "every live dot is in the context")
            entry.value.checkInvariants()
        }
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.sortedMap(entries) { writer, entry in
            writer.sorted(entry.dots)
            entry.value.encode(to: &writer)
        }
        context.encode(to: &writer)
    }
}
