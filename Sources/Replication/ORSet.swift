/// An observed-remove set where a concurrent add beats a remove (add-wins), built on dots: each
/// add tags the element with a fresh dot; a remove removes only the dots it has seen.
public struct ORSet<Element: ReplicatedValue & Hashable>: CRDT {
    /// Element -> the dots of its live adds. Never holds an empty set.
    public private(set) var entries: [Element: DotSet] = [:]
    /// Every dot this state has seen, live or removed.
    public private(set) var context = CausalContext()

    public init() {}

    init(entries: [Element: DotSet], context: CausalContext) {
        self.entries = entries
        self.context = context
    }

    public var elements: Set<Element> { Set(entries.keys) }
    public func contains(_ element: Element) -> Bool { entries[element] != nil }

    /// Adds `element` as `replica`; the delta also retires the element's older dots.
    @discardableResult
    public mutating func insert(_ element: Element, replica: ReplicaID) -> ORSet {
        let dot = context.nextDot(for: replica)
        var delta = ORSet()
        delta.entries[element] = DotSet(dot)
        delta.context = CausalContext(dots: (entries[element] ?? []).union(DotSet(dot)))
        merge(delta)
        return delta
    }

    /// Removes `element` as far as this replica has seen it.
    @discardableResult
    public mutating func remove(_ element: Element) -> ORSet {
        var delta = ORSet()
        delta.context = CausalContext(dots: entries[element] ?? [])
        merge(delta)
        return delta
    }

    public mutating func merge(_ other: ORSet) {
        var merged: [Element: DotSet] = [:]
        for element in Set(entries.keys).union(other.entries.keys) {
            let dots = DotKernel.join(entries[element] ?? [], context, other.entries[element] ?? [], other.context)
            if !dots.isEmpty { merged[element] = dots }
        }
        entries = merged
        context.merge(other.context)
    }

    public func checkInvariants() {
        context.checkInvariants()
        for (_, dots) in entries {
            precondition(!dots.isEmpty, "an entry without dots is removed")
            precondition(dots.allSatisfy(context.contains), "every live dot is in the context")
        }
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.sortedMap(entries) { $0.sorted($1) }
        context.encode(to: &writer)
    }
}

/// The join of two dot sets under their causal contexts: a dot survives if both sides have it,
/// or one side has it and the other has never seen it.
enum DotKernel {
    static func join(_ a: DotSet, _ contextA: CausalContext, _ b: DotSet, _ contextB: CausalContext) -> DotSet {
        var result = DotSet()
        for dot in a where b.contains(dot) || !contextB.contains(dot) { result.insert(dot) }
        for dot in b where !a.contains(dot) && !contextA.contains(dot) { result.insert(dot) }
        return result
    }
}
