/// Human formats for operator output.
enum Format {
    /// "3d 4h 5m 6s", leading zero units left out.
    static func duration(seconds: Int64) -> String {
        let days = seconds / 86_400, hours = seconds / 3_600 % 24, minutes = seconds / 60 % 60, secs = seconds % 60
        var parts: [String] = []
        if days > 0 { parts.append("\(days)d") }
        if days > 0 || hours > 0 { parts.append("\(hours)h") }
        if days > 0 || hours > 0 || minutes > 0 { parts.append("\(minutes)m") }
        parts.append("\(secs)s")
        return parts.joined(separator: " ")
    }

    /// "512 B", "1.5 KiB", "12.0 MiB".
    static func bytes(_ count: Int64) -> String {
        if count < 1024 { return "\(count) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}

/// A two-column table: labels left-aligned and padded.
enum TextTable {
    static func render(_ rows: [(String, String)]) -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { label, value in label.padding(toLength: width + 2, withPad: " ", startingAt: 0) + value }
            .joined(separator: "\n")
    }
}
