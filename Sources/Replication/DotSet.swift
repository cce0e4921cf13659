/// The dots of one entry of an OR-map or OR-set. Almost always one (the write that set the
/// entry; more only after concurrent writes), so one dot is held inline and only two or more
/// take an array: a product's thirty fields made thirty `Set` allocations, a third of what a
/// replicated catalog held in memory.
public struct DotSet: RandomAccessCollection, Hashable, Sendable, ExpressibleByArrayLiteral {
    /// One representation per set (none, one, or two or more ascending), so the synthesized
    /// equality is set equality.
    private enum Storage: Hashable, Sendable {
        case none
        case one(Dot)
        case many([Dot])
    }

    private var storage = Storage.none

    public init() {}

    public init(_ dot: Dot) {
        storage = .one(dot)
    }

    public init(_ dots: some Sequence<Dot>) {
        for dot in dots { insert(dot) }
    }

    public init(arrayLiteral dots: Dot...) {
        self.init(dots)
    }

    public var startIndex: Int { 0 }

    public var endIndex: Int {
        switch storage {
        case .none: 0
        case .one: 1
        case .many(let dots): dots.count
        }
    }

    public subscript(position: Int) -> Dot {
        switch storage {
        case .none: preconditionFailure("index \(position) of an empty dot set")
        case .one(let dot):
            precondition(position == 0, "index \(position) of a single dot")
            return dot
        case .many(let dots): return dots[position]
        }
    }

    public func contains(_ dot: Dot) -> Bool {
        switch storage {
        case .none: false
        case .one(let only): only == dot
        case .many(let dots): dots.contains(dot)
        }
    }

    public mutating func insert(_ dot: Dot) {
        switch storage {
        case .none:
            storage = .one(dot)
        case .one(let only):
            if only != dot { storage = .many(only < dot ? [only, dot] : [dot, only]) }
        case .many(var dots):
            let index = dots.firstIndex { $0 >= dot } ?? dots.count
            guard index == dots.count || dots[index] != dot else { return }
            storage = .none  // so `dots` is the array's only reference while it grows
            dots.insert(dot, at: index)
            storage = .many(dots)
        }
    }

    public func union(_ other: DotSet) -> DotSet {
        var union = self
        for dot in other { union.insert(dot) }
        return union
    }

    public func filter(_ isIncluded: (Dot) throws -> Bool) rethrows -> DotSet {
        var kept = DotSet()
        for dot in self where try isIncluded(dot) { kept.insert(dot) }
        return kept
    }
}
