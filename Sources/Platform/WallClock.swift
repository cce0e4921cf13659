import Glibc

/// Wall-clock time, formatted without Foundation: these run on every request.
public enum WallClock {
    /// Milliseconds since the Unix epoch.
    public static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// UTC ISO 8601 with milliseconds: `2026-11-21T19:20:57.123Z`.
    public static func iso8601(ms: Int64) -> String {
        var out = [UInt8]()
        out.reserveCapacity(24)
        appendISO8601(ms: ms, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public static func appendISO8601(ms: Int64, to out: inout [UInt8]) {
        var seconds = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        appendDigits(Int(parts.tm_year) + 1900, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(Int(parts.tm_mon) + 1, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(Int(parts.tm_mday), width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendDigits(Int(parts.tm_hour), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_min), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_sec), width: 2, to: &out)
        out.append(UInt8(ascii: "."))
        appendDigits(Int(ms % 1000), width: 3, to: &out)
        out.append(UInt8(ascii: "Z"))
    }

    private static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The HTTP `Date` format (RFC 9110 IMF-fixdate): `Sat, 21 Nov 2026 19:20:57 GMT`.
    public static func httpDate(seconds: Int64) -> String {
        var secs = time_t(seconds)
        var parts = tm()
        gmtime_r(&secs, &parts)
        var out = [UInt8]()
        out.append(contentsOf: dayNames[Int(parts.tm_wday)].utf8)
        out.append(contentsOf: ", ".utf8)
        appendDigits(Int(parts.tm_mday), width: 2, to: &out)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: monthNames[Int(parts.tm_mon)].utf8)
        out.append(UInt8(ascii: " "))
        appendDigits(Int(parts.tm_year) + 1900, width: 4, to: &out)
        out.append(UInt8(ascii: " "))
        appendDigits(Int(parts.tm_hour), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_min), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_sec), width: 2, to: &out)
        out.append(contentsOf: " GMT".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    public static func appendDigits(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}
