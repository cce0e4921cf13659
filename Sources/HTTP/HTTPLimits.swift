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
    /// A keep-alive connection with nothing in flight is closed after this.
    public var idleTimeoutMs: UInt64 = 75_000
    /// After a closing response, how long to drain what the client still sends before closing.
    public var lingerTimeoutMs: UInt64 = 2_000
    /// Connections beyond this are closed at once.
    public var connectionsMax = 10_000
    /// Requests read ahead of their responses on one connection; beyond it reading pauses.
    public var pipelinedRequestsMax = 32
    /// Unsent response bytes on one connection above which reading pauses.
    public var writeQueueBytesHigh = 256 * 1024

    public init() {}
}
