import Foundation

/// A progress bar on rank 0's terminal, redrawn in place (at most ten times a second):
///
///     epoch 2/4 ▕██████████░░░░░░░░░░▏ 25/50  10.9k samples/s  reward -23.3  W2 0.357  ETA 0:02
///
/// It draws only when the log's progress style is `.bar` and the log is rank 0's; otherwise
/// every call does nothing. Fields are (name, value) pairs shown after the count.
public final class ProgressBar {
    let title: String
    let total: Int
    let enabled: Bool
    let started = Date()
    var lastDrawn: Date?

    public init(title: String, total: Int, log: Log) {
        self.title = title
        self.total = max(1, total)
        enabled = log.progress == .bar && log.rank == 0
    }

    /// `done` of `total` units finished; redraws if 0.1 s have passed or the bar is full.
    public func update(done: Int, fields: [(String, String)]) {
        guard enabled else { return }
        let now = Date()
        if let lastDrawn, now.timeIntervalSince(lastDrawn) < 0.1, done < total { return }
        lastDrawn = now
        StatusLine.shared.show(line(done: done, fields: fields, elapsed: now.timeIntervalSince(started), columns: StatusLine.columns))
    }

    /// Removes the bar from the screen (the epoch's summary line takes its place).
    public func finish() {
        guard enabled else { return }
        StatusLine.shared.clear()
    }

    /// The bar's text, cut to `columns − 1` characters so that it never wraps.
    func line(done: Int, fields: [(String, String)], elapsed: Double, columns: Int) -> String {
        let cells = 20, fraction = min(1, Double(done) / Double(total))
        let full = Int((fraction * Double(cells)).rounded(.down))
        let bar = String(repeating: "█", count: full) + String(repeating: "░", count: cells - full)
        var parts = ["\(title) ▕\(bar)▏ \(done)/\(total)"]
        parts += fields.map { "\($0.0.isEmpty ? "" : $0.0 + " ")\($0.1)" }
        if done > 0 {
            parts.append(done < total ? "ETA \(Self.clock(elapsed / Double(done) * Double(total - done)))" : "in \(Self.clock(elapsed))")
        }
        return String(parts.joined(separator: "  ").prefix(max(10, columns - 1)))
    }

    /// 75 → "1:15", 3725 → "1:02:05".
    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.isFinite ? seconds.rounded() : 0)
        let hours = total / 3600, minutes = total / 60 % 60, rest = total % 60
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }

    /// 10944 → "10.9k", 532 → "532".
    public static func compact(_ value: Double) -> String {
        abs(value) >= 1e6 ? String(format: "%.1fM", value / 1e6) : abs(value) >= 1e4 ? String(format: "%.1fk", value / 1e3) : String(format: "%.0f", value)
    }
}
