/// An observed-remove map (add-wins keys) whose values are CRDTs: a cart is
/// `ORMap<SKU, LWWRegister<Quantity>>`.
///
/// A key is present while it has live dots. Values are merged whatever the key's presence, so a
/// key removed and added again continues from its merged value: hold values whose own writes
/// decide the outcome (registers with newer timestamps), not counters that must restart at zero.
public struct ORMap<Key: ReplicatedValue & Hashable, Value: CRDT>: CRDT {
    public struct Entry: Equatable, Sendable {
        /// Dots of the live updates; empty once removed.
        public var dots: Set<Dot>
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
        delta.entries[key] = Entry(dots: [dot], value: valueDelta)
        delta.context = CausalContext(dots: (entries[key]?.dots ?? []).union([dot]))
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

    public mutating func merge(_ other: ORMap) {
        var merged: [Key: Entry] = [:]
        for key in Set(entries.keys).union(other.entries.keys) {
            let mine = entries[key], theirs = other.entries[key]
            let dots = DotKernel.join(mine?.dots ?? [], context, theirs?.dots ?? [], other.context)
            var value = mine?.value ?? Value()
            if let theirs { value.merge(theirs.value) }
            if !dots.isEmpty || !value.isBottom { merged[key] = Entry(dots: dots, value: value) }
        }
        entries = merged
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
