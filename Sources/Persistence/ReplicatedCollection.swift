import Replication

/// One replicated collection, by name and CRDT: a call site names it once and the compiler
/// checks what its keys hold.
public struct ReplicatedCollection<State: CRDT>: Sendable {
    public let name: String
    public let scope: Scope
    /// History: it grows with every order, so a node keeps it on disk and reads a key on first
    /// use (NodeReplica.makeResident); the others are read whole at start.
    public let pagedIn: Bool

    public init(name: String, scope: Scope, pagedIn: Bool = false) {
        self.name = name
        self.scope = scope
        self.pagedIn = pagedIn
    }

    /// What a replica needs to hold it, whatever its CRDT.
    public var descriptor: CollectionDescriptor {
        CollectionDescriptor(name: name, pagedIn: pagedIn) { [name, scope] in KeyedCollection<State>(name: name, scope: scope) }
    }
}

/// A collection a replica holds: its name, whether it stays on disk, and how to make it empty.
public struct CollectionDescriptor: Sendable {
    public let name: String
    public let pagedIn: Bool
    let make: @Sendable () -> any AnyReplicatedCollection
}
