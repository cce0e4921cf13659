/// Request counters and latency histograms per route, kept on the loop thread and rendered in
/// the Prometheus text format.
public final class HTTPMetrics {
    /// Upper bounds (seconds) of the latency buckets.
    public static let latencyBucketsSeconds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    private static let latencyBucketsNs: [UInt64] = latencyBucketsSeconds.map { UInt64($0 * 1e9) }

    /// Route patterns by route index; one more slot, last, for requests no route matched.
    private var routeLabels: [String] = []
    /// Per route, (status, count) pairs: a route answers with a handful of statuses, so a linear
    /// scan beats hashing.
    private var statusCounts: [[(status: Int, count: UInt64)]] = []
    private var bucketCounts: [[UInt64]] = []
    private var latencySumNs: [UInt64] = []
    private var latencyCount: [UInt64] = []

    public private(set) var connectionsAccepted: UInt64 = 0
    public private(set) var connectionsRefused: UInt64 = 0
    public private(set) var connectionsTimedOut: UInt64 = 0
    public private(set) var connectionsEvicted: UInt64 = 0
    public private(set) var malformedRequests: UInt64 = 0
    public var connectionsOpen = 0

    public init() {}

    /// Sets the route labels; call once the router is complete.
    public func configure(routes: [Route]) {
        routeLabels = routes.map(\.pattern) + ["unmatched"]
        statusCounts = Array(repeating: [], count: routeLabels.count)
        bucketCounts = Array(repeating: Array(repeating: 0, count: Self.latencyBucketsNs.count), count: routeLabels.count)
        latencySumNs = Array(repeating: 0, count: routeLabels.count)
        latencyCount = Array(repeating: 0, count: routeLabels.count)
    }

    func isConfigured(for routeCount: Int) -> Bool { routeLabels.count == routeCount + 1 }

    var unmatchedIndex: Int { routeLabels.count - 1 }

    /// Records one answered request. `routeIndex` nil means no route matched.
    @inline(__always)
    func record(routeIndex: Int?, status: Int, durationNs: UInt64) {
        guard !routeLabels.isEmpty else { return }
        let index = routeIndex ?? unmatchedIndex
        if let slot = statusCounts[index].firstIndex(where: { $0.status == status }) {
            statusCounts[index][slot].count += 1
        } else {
            statusCounts[index].append((status, 1))
        }
        latencySumNs[index] &+= durationNs
        latencyCount[index] += 1
        // Count in the first bucket that holds it; rendering makes the counts cumulative.
        for (bucket, bound) in Self.latencyBucketsNs.enumerated() where durationNs <= bound {
            bucketCounts[index][bucket] += 1
            break
        }
    }

    func connectionAccepted() { connectionsAccepted += 1; connectionsOpen += 1 }
    func connectionClosed() { connectionsOpen -= 1 }
    func connectionRefused() { connectionsRefused += 1 }
    func connectionTimedOut() { connectionsTimedOut += 1 }
    func connectionEvicted() { connectionsEvicted += 1 }
    func malformedRequest() { malformedRequests += 1 }

    /// Total requests answered for a route pattern and status (tests, status page).
    public func count(route: String, status: Int) -> UInt64 {
        guard let index = routeLabels.firstIndex(of: route) else { return 0 }
        return statusCounts[index].first { $0.status == status }?.count ?? 0
    }

    public func render(into out: inout PrometheusText) {
        out.family("outpost_http_requests_total", type: "counter", help: "HTTP requests answered, by route pattern and status.")
        for (index, label) in routeLabels.enumerated() {
            for (status, count) in statusCounts[index].sorted(by: { $0.status < $1.status }) {
                out.sample("outpost_http_requests_total", labels: [("route", label), ("status", String(status))], value: Double(count))
            }
        }
        out.family("outpost_http_request_duration_seconds", type: "histogram", help: "Time from the end of the request head to the response being queued, by route pattern.")
        for (index, label) in routeLabels.enumerated() where latencyCount[index] > 0 {
            var cumulative: UInt64 = 0
            for (bucket, bound) in Self.latencyBucketsSeconds.enumerated() {
                cumulative += bucketCounts[index][bucket]
                out.sample("outpost_http_request_duration_seconds_bucket", labels: [("route", label), ("le", PrometheusText.format(bound))], value: Double(cumulative))
            }
            out.sample("outpost_http_request_duration_seconds_bucket", labels: [("route", label), ("le", "+Inf")], value: Double(latencyCount[index]))
            out.sample("outpost_http_request_duration_seconds_sum", labels: [("route", label)], value: Double(latencySumNs[index]) / 1e9)
            out.sample("outpost_http_request_duration_seconds_count", labels: [("route", label)], value: Double(latencyCount[index]))
        }
        out.gauge("outpost_http_connections_open", help: "HTTP connections open now.", value: Double(connectionsOpen))
        out.counter("outpost_http_connections_accepted_total", help: "HTTP connections accepted.", value: Double(connectionsAccepted))
        out.counter("outpost_http_connections_refused_total", help: "Connections closed at once because the connection limit was reached.", value: Double(connectionsRefused))
        out.counter("outpost_http_connections_evicted_total", help: "Connections waiting on a slow or idle client, closed to make room for a new one at the connection limit.",
                    value: Double(connectionsEvicted))
        out.counter("outpost_http_connections_timed_out_total", help: "Connections closed by the header-read or idle timeout.", value: Double(connectionsTimedOut))
        out.counter("outpost_http_malformed_requests_total", help: "Requests rejected as malformed HTTP.", value: Double(malformedRequests))
    }
}

/// Builds Prometheus text exposition format 0.0.4.
public struct PrometheusText {
    public private(set) var text = ""

    public init() {
        text.reserveCapacity(8 * 1024)
    }

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public mutating func family(_ name: String, type: String, help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    public mutating func sample(_ name: String, labels: [(String, String)] = [], value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{"
            for (index, (key, labelValue)) in labels.enumerated() {
                if index > 0 { text += "," }
                text += key + "=\"" + Self.escape(labelValue) + "\""
            }
            text += "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    public mutating func gauge(_ name: String, help: String, value: Double, labels: [(String, String)] = []) {
        family(name, type: "gauge", help: help)
        sample(name, labels: labels, value: value)
    }

    public mutating func counter(_ name: String, help: String, value: Double) {
        family(name, type: "counter", help: help)
        sample(name, value: value)
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    public static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
