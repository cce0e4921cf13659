/// A grow-only set: for immutable events (an order's "placed", "paid", ...). Merge is union.
public struct GSet<Element: ReplicatedValue & Hashable>: CRDT {
    public private(set) var elements: Set<Element> = []

    public init() {}

    public init(_ elements: Set<Element>) {
        self.elements = elements
    }

    @discardableResult
    public mutating func insert(_ element: Element) -> GSet {
        elements.insert(element)
        return GSet([element])
    }

    public func contains(_ element: Element) -> Bool { elements.contains(element) }

    public mutating func merge(_ other: GSet) {
        elements.formUnion(other.elements)
    }

    public func checkInvariants() {}

    public func encode(to writer: inout CanonicalWriter) {
        writer.sorted(elements)
    }
}
