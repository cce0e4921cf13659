/// Bounds the server enforces on every connection. Units last in names.
public struct HTTPLimits: Sendable {
    /// Request line plus headers; over it: 431 and close.
    public var headBytesMax = 16 * 1024
    /// Default body limit; routes may override. Over it: 413 without reading the body.
    public var bodyBytesMax = 1 << 20
    /// From the first byte of a request to the end of its head (slowloris bound).
    public var headerReadTimeoutMs: UInt64 = 10_000
    /// Longest pause between two reads of a body.
    public var bodyReadTimeoutMs: UInt64 = 30_000
    /// A whole body must arrive within this from the end of its head, plus one second per
    /// `bodyBytesPerSecondMin` it declares: a client trickling a byte now and then cannot hold
    /// its connection slot for longer than a slow honest upload would.
    public var bodyDeadlineMs: UInt64 = 30_000
    /// The slowest upload rate the body deadline allows for (bytes per second).
    public var bodyBytesPerSecondMin = 64 * 1024
    /// A keep-alive connection with nothing in flight is closed after this.
    public var idleTimeoutMs: UInt64 = 75_000
    /// After a closing response, how long to drain what the client still sends before closing.
    public var lingerTimeoutMs: UInt64 = 2_000
    /// When this many connections are open, a new one takes the slot of the connection that
    /// has waited longest for its client (idle, or reading a slow head or body); if none waits
    /// (every one has a request being answered), the new one is closed at once.
    public var connectionsMax = 10_000
    /// Connections from one client address beyond this are closed at once.
    public var connectionsPerAddressMax = 256
    /// Requests read ahead of their responses on one connection; beyond it reading pauses.
    public var pipelinedRequestsMax = 32
    /// Unsent response bytes on one connection above which reading pauses.
    public var writeQueueBytesHigh = 256 * 1024

    public init() {}
}
