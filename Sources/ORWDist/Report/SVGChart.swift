import Foundation

/// A line chart as inline SVG: axes with round-number ticks, one polyline per series (solid or
/// dashed), optional circle markers and an optional shaded band (e.g. mean ± std).
/// Non-finite values are left out. Every line is `<polyline class="series">` and every marker
/// `<circle class="point">`, so a page (or a test) can count what a chart drew.
public struct SVGChart {
    public struct Series {
        public var color: String
        public var points: [(x: Double, y: Double)]
        public var band: [(x: Double, low: Double, high: Double)] = []
        public var dashed = false
        public var markers = false
        public var label = ""        // the tooltip of the line

        public init(color: String, points: [(x: Double, y: Double)], band: [(x: Double, low: Double, high: Double)] = [],
                    dashed: Bool = false, markers: Bool = false, label: String = "") {
            self.color = color
            self.points = points.filter { $0.x.isFinite && $0.y.isFinite }
            self.band = band.filter { $0.x.isFinite && $0.low.isFinite && $0.high.isFinite }
            self.dashed = dashed
            self.markers = markers
            self.label = label
        }
    }

    public var title: String
    public var xLabel: String
    public var series: [Series]
    public var width = 560.0
    public var height = 300.0

    public init(title: String, xLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.series = series
    }

    static let left = 64.0, right = 16.0, top = 30.0, bottom = 42.0

    public var svg: String {
        let xs = series.flatMap { $0.points.map(\.x) + $0.band.map(\.x) }
        let ys = series.flatMap { $0.points.map(\.y) + $0.band.flatMap { [$0.low, $0.high] } }
        let xTicks = Self.ticks(xs.min() ?? 0, xs.max() ?? 1), yTicks = Self.ticks(ys.min() ?? 0, ys.max() ?? 1)
        let x0 = xTicks.first!, x1 = xTicks.last!, y0 = yTicks.first!, y1 = yTicks.last!
        let plotWidth = width - Self.left - Self.right, plotHeight = height - Self.top - Self.bottom
        func px(_ x: Double) -> Double { Self.left + (x - x0) / (x1 - x0) * plotWidth }
        func py(_ y: Double) -> Double { Self.top + (1 - (y - y0) / (y1 - y0)) * plotHeight }
        func f(_ value: Double) -> String { String(format: "%.1f", value) }

        var svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(width)) \(f(height))\" "
            + "width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">\n"
        svg += "<text class=\"title\" x=\"\(f(Self.left))\" y=\"18\">\(HTML.escape(title))</text>\n"
        for tick in yTicks {
            svg += "<line class=\"grid\" x1=\"\(f(Self.left))\" x2=\"\(f(width - Self.right))\" y1=\"\(f(py(tick)))\" y2=\"\(f(py(tick)))\"/>"
            svg += "<text class=\"tick\" x=\"\(f(Self.left - 6))\" y=\"\(f(py(tick) + 4))\" text-anchor=\"end\">\(Self.label(tick))</text>\n"
        }
        for tick in xTicks {
            svg += "<line class=\"grid\" x1=\"\(f(px(tick)))\" x2=\"\(f(px(tick)))\" y1=\"\(f(Self.top))\" y2=\"\(f(height - Self.bottom))\"/>"
            svg += "<text class=\"tick\" x=\"\(f(px(tick)))\" y=\"\(f(height - Self.bottom + 16))\" text-anchor=\"middle\">\(Self.label(tick))</text>\n"
        }
        svg += "<rect class=\"frame\" x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\"/>\n"
        svg += "<text class=\"axis\" x=\"\(f(Self.left + plotWidth / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text>\n"
        for line in series {
            if !line.band.isEmpty {
                let upper = line.band.map { "\(f(px($0.x))),\(f(py($0.high)))" }
                let lower = line.band.reversed().map { "\(f(px($0.x))),\(f(py($0.low)))" }
                svg += "<polygon class=\"band\" fill=\"\(line.color)\" points=\"\((upper + lower).joined(separator: " "))\"/>\n"
            }
            guard !line.points.isEmpty else { continue }
            let points = line.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline class=\"series\" stroke=\"\(line.color)\"\(line.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(points)\">"
            svg += "<title>\(HTML.escape(line.label))</title></polyline>\n"
            if line.markers {
                for point in line.points {
                    svg += "<circle class=\"point\" fill=\"\(line.color)\" cx=\"\(f(px(point.x)))\" cy=\"\(f(py(point.y)))\" r=\"3.5\">"
                    svg += "<title>\(HTML.escape(line.label)): \(Self.label(point.y, digits: 5)) at \(Self.label(point.x))</title></circle>\n"
                }
            }
        }
        return svg + "</svg>"
    }

    /// Round-number ticks covering [low, high]: about five, at 1, 2 or 5 × 10^k apart.
    static func ticks(_ low: Double, _ high: Double) -> [Double] {
        var low = low, high = high
        if high - low < 1e-12 * max(1, abs(low)) {
            let pad = max(abs(low) * 0.1, 1e-9)
            low -= pad
            high += pad
        }
        let rough = (high - low) / 5, magnitude = pow(10, (log10(rough)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        let first = (low / step).rounded(.down), last = (high / step).rounded(.up)
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// A tick label: 12000 → "12k", 0.00012 → "0.00012", -3.5 → "-3.5".
    static func label(_ value: Double, digits: Int = 4) -> String {
        if value == 0 { return "0" }
        if abs(value) >= 1e4 && abs(value) < 1e9 { return String(format: "%gk", value / 1e3) }
        return String(format: "%.\(digits)g", value)
    }
}

/// Text for HTML and SVG.
enum HTML {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
