import Platform

/// One JSON line per answered request, buffered and flushed by a timer (like nginx's
/// `access_log ... buffer= flush=`) so logging costs no syscall per request.
///
/// The query string is left out: search terms and tokens in it may be personal.
public final class AccessLog {
    public let sink: LogSink
    private var line: [UInt8] = []
    /// `{"ts":"2026-11-21T19:20:57.` for `cachedSecond`.
    private var prefix: [UInt8] = []
    private var cachedSecond: Int64 = -1

    public init(sink: LogSink) {
        self.sink = sink
        line.reserveCapacity(512)
    }

    private static let keyPath = Array(#","path":"#.utf8)
    private static let keyRoute = Array(#","route":"#.utf8)
    private static let keyStatus = Array(#","status":"#.utf8)
    private static let keyBytes = Array(#","bytes":"#.utf8)
    private static let keyDurationUs = Array(#","duration_us":"#.utf8)
    private static let keyRequestId = Array(#","request_id":"#.utf8)
    private static let keyRemote = Array(#","remote":"#.utf8)
    private static let afterTime = Array(#"Z","level":"info","msg":"request","method":"#.utf8)

    func record(method: String, path: String, route: String?, status: Int, bytes: Int, durationNs: UInt64, requestId: String, remote: SocketAddress?) {
        line.removeAll(keepingCapacity: true)
        let ms = WallClock.nowMs()
        if ms / 1000 != cachedSecond {
            cachedSecond = ms / 1000
            prefix = Array(#"{"ts":""#.utf8)
            WallClock.appendISO8601(ms: cachedSecond * 1000, to: &prefix)
            prefix.removeLast(4)  // "000Z": milliseconds are appended per line
        }
        line.append(contentsOf: prefix)
        WallClock.appendDigits(Int(ms % 1000), width: 3, to: &line)
        line.append(contentsOf: Self.afterTime)
        JSONText.appendString(method, to: &line)
        line.append(contentsOf: Self.keyPath)
        JSONText.appendString(path, to: &line)
        if let route {
            line.append(contentsOf: Self.keyRoute)
            JSONText.appendString(route, to: &line)
        }
        line.append(contentsOf: Self.keyStatus)
        JSONText.appendInt(status, to: &line)
        line.append(contentsOf: Self.keyBytes)
        JSONText.appendInt(bytes, to: &line)
        line.append(contentsOf: Self.keyDurationUs)
        JSONText.appendUnsigned(UInt(durationNs / 1_000), to: &line)
        line.append(contentsOf: Self.keyRequestId)
        JSONText.appendString(requestId, to: &line)
        if let remote {
            line.append(contentsOf: Self.keyRemote)
            JSONText.appendString(remote.host, to: &line)
        }
        line.append(UInt8(ascii: "}"))
        sink.bufferLine(line)
    }
}
