import Platform

/// One JSON line per answered request, buffered and flushed by a timer (like nginx's
/// `access_log ... buffer= flush=`) so logging costs no syscall per request.
///
/// The query string is left out: search terms and tokens in it may be personal.
public final class AccessLog {
    public let sink: LogSink
    private var line: [UInt8] = []

    public init(sink: LogSink) {
        self.sink = sink
        line.reserveCapacity(512)
    }

    func record(method: String, path: String, route: String?, status: Int, bytes: Int, durationNs: UInt64, requestId: String, remote: SocketAddress?) {
        line.removeAll(keepingCapacity: true)
        line.append(contentsOf: #"{"ts":""#.utf8)
        WallClock.appendISO8601(ms: WallClock.nowMs(), to: &line)
        line.append(contentsOf: #"","level":"info","msg":"request","method":"#.utf8)
        JSONText.appendString(method, to: &line)
        line.append(contentsOf: #","path":"#.utf8)
        JSONText.appendString(path, to: &line)
        if let route {
            line.append(contentsOf: #","route":"#.utf8)
            JSONText.appendString(route, to: &line)
        }
        line.append(contentsOf: #","status":"#.utf8)
        JSONText.appendInt(status, to: &line)
        line.append(contentsOf: #","bytes":"#.utf8)
        JSONText.appendInt(bytes, to: &line)
        line.append(contentsOf: #","duration_us":"#.utf8)
        JSONText.appendUnsigned(UInt(durationNs / 1_000), to: &line)
        line.append(contentsOf: #","request_id":"#.utf8)
        JSONText.appendString(requestId, to: &line)
        if let remote {
            line.append(contentsOf: #","remote":"#.utf8)
            JSONText.appendString(remote.host, to: &line)
        }
        line.append(UInt8(ascii: "}"))
        sink.bufferLine(line)
    }
}
