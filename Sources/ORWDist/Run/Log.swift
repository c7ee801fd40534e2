import Foundation
import Logging

/// How rank 0 shows progress on its standard output.
public enum ProgressStyle: String, Sendable {
    /// A terminal: a progress bar redrawn in place, and one summary line per epoch.
    case bar
    /// A file or pipe (Slurm logs): plain timestamped lines every `run.log_every` steps.
    case lines
    /// `--quiet`: nothing but warnings, errors and the final summary.
    case quiet

    /// `.bar` when standard output is a terminal, `.lines` otherwise.
    public static func detect(quiet: Bool) -> ProgressStyle {
        quiet ? .quiet : outputIsTerminal() ? .bar : .lines
    }

    /// Whether what this process prints ends up on a terminal. Under OpenMPI's mpirun a rank's
    /// standard output is always a pseudo-terminal that mpirun copies to its own standard output,
    /// which may be a file (a batch log): there the answer is whether the launcher's output is a
    /// terminal. (On several nodes the launcher is a daemon whose output is not: plain lines.)
    static func outputIsTerminal() -> Bool {
        guard isatty(STDOUT_FILENO) == 1 else { return false }
        guard ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil else { return true }
        let launcherOutput = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(getppid())/fd/1")) ?? ""
        return launcherOutput.hasPrefix("/dev/pts/") || launcherOutput.hasPrefix("/dev/tty")
    }
}

/// Rank 0's voice: plain timestamped lines for batch logs. Other ranks stay silent except for
/// warnings and errors, which name their rank. A log line first clears a progress bar that is
/// on screen, so the two never share a line.
public struct Log: Sendable {
    public let rank: Int
    public let logger: Logger
    public let progress: ProgressStyle

    public init(rank: Int, level: Logger.Level = .info, progress: ProgressStyle = .lines) {
        self.rank = rank
        var logger = Logger(label: "orwdist")
        logger.logLevel = progress == .quiet ? max(level, .warning) : level
        self.logger = logger
        self.progress = progress
    }

    public func info(_ message: @autoclosure () -> String) {
        guard rank == 0, logger.logLevel <= .info else { return }
        StatusLine.shared.clear()
        logger.info("\(message())")
    }

    public func warning(_ message: @autoclosure () -> String) {
        StatusLine.shared.clear()
        logger.warning("\(rank == 0 ? "" : "rank \(rank): ")\(message())")
    }

    public func debug(_ message: @autoclosure () -> String) {
        guard logger.logLevel <= .debug else { return }
        StatusLine.shared.clear()
        logger.debug("rank \(rank): \(message())")
    }
}

/// The one line of standard output that a progress bar redraws with "\r". Writes go straight to
/// file descriptor 1; swift-log's StreamLogHandler flushes every line it writes there, so the
/// two stay in order.
public final class StatusLine: @unchecked Sendable {
    public static let shared = StatusLine()
    private let lock = NSLock()
    private var shown = false

    /// Replaces the status line with `text` (which must fit the terminal's width).
    public func show(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardOutput.write(Data("\r\(text)\u{1B}[K".utf8))
        shown = true
    }

    /// Erases the status line, if one is shown, leaving the cursor at the start of the line.
    public func clear() {
        lock.lock()
        defer { lock.unlock() }
        guard shown else { return }
        FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8))
        shown = false
    }

    /// The terminal's width in columns (80 when it cannot be read).
    public static var columns: Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 80
    }
}
