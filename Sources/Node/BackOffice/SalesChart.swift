/// The geometry of the back office's charts, drawn on the server as SVG by the templates
/// (`BackOfficeTemplates.barChart`): numbers in, rectangles and labels out, so a page needs no
/// script and every label passes through the templates' escaping.
struct SalesChart {
    /// One bar: its value and what the axis and the tooltip say of it.
    struct Bar {
        var label: String
        var value: Int64
        var valueText: String
    }

    static let width = 640, height = 220
    private static let left = 64, right = 8, top = 12, bottom = 28

    /// Vertical bars over time (revenue by hour or day, orders by channel): the view a template
    /// draws. Negative values (a day of refunds) draw as empty bars; their text still says them.
    static func columns(_ bars: [Bar], axis: (Int64) -> String, labelEvery: Int = 1) -> [String: Any] {
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let highest = max(1, bars.map(\.value).max() ?? 1)
        let scale = niceCeiling(highest)
        let slot = bars.isEmpty ? plotWidth : plotWidth / bars.count
        let barWidth = max(2, slot * 7 / 10)
        var drawn: [[String: Any]] = []
        for (index, bar) in bars.enumerated() {
            let barHeight = Int(Int64(plotHeight) * max(0, bar.value) / scale)
            let x = left + index * slot + (slot - barWidth) / 2
            var view: [String: Any] = ["x": x, "y": top + plotHeight - barHeight, "width": barWidth, "height": barHeight,
                                       "title": "\(bar.label): \(bar.valueText)"]
            if index % max(1, labelEvery) == 0 { view["label"] = bar.label; view["labelX"] = x + barWidth / 2 }
            drawn.append(view)
        }
        // Each gridline where its own value is, so a scale of 5 orders is labelled 0, 1, 2, 3, 5 truly.
        let grid = Array(Set((0...4).map { scale * Int64($0) / 4 })).sorted().map { value -> [String: Any] in
            let y = top + plotHeight - Int(Int64(plotHeight) * value / scale)
            return ["y": y, "textY": y + 4, "text": axis(value)]
        }
        return ["width": width, "height": height, "bars": drawn, "grid": grid, "left": left, "right": width - right, "labelY": height - 8,
                "empty": bars.allSatisfy { $0.value == 0 }]
    }

    /// Horizontal bars, largest first (top products).
    static func rows(_ bars: [Bar]) -> [String: Any] {
        let rowHeight = 28, labelWidth = 220, barSpace = width - labelWidth - 100
        let highest = max(1, bars.map(\.value).max() ?? 1)
        let drawn: [[String: Any]] = bars.enumerated().map { index, bar in
            let y = index * rowHeight
            let barWidth = max(1, Int(Int64(barSpace) * max(0, bar.value) / highest))
            return ["y": y + 4, "textY": y + 19, "labelWidth": labelWidth, "barWidth": barWidth, "valueX": labelWidth + barWidth + 6,
                    "label": bar.label.count > 30 ? String(bar.label.prefix(29)) + "…" : bar.label, "valueText": bar.valueText,
                    "title": "\(bar.label): \(bar.valueText)"]
        }
        return ["width": width, "height": max(rowHeight, bars.count * rowHeight + 4), "bars": drawn, "empty": bars.isEmpty]
    }

    /// The smallest 1, 2 or 5 × 10^n at or above `value`: round gridlines.
    static func niceCeiling(_ value: Int64) -> Int64 {
        var magnitude: Int64 = 1
        while magnitude <= value / 10 { magnitude *= 10 }
        for step: Int64 in [1, 2, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }
}
