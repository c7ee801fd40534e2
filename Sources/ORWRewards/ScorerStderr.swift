import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An external reward child's stderr, forwarded line by line from a background thread; the
/// last few lines are kept for error messages (DESIGN.md, "External rewards").
///
/// The child is not trusted to write sensible lines: '\n' and '\r' both end a line (a progress
/// bar redraws itself with '\r' and may never write a newline), empty lines are dropped, and a
/// line longer than `maximumLine` bytes is cut there, the rest of it skipped up to its end. So
/// the memory held is bounded (one line and one read) and the work is linear in the bytes read,
/// whatever the child writes.
final class ScorerStderr: @unchecked Sendable {
    /// Bytes of one forwarded line at most.
    static let maximumLine = 4096
    /// Lines kept for error messages.
    static let keep = 5

    private let lock = NSLock()
    private var kept: [String] = []
    private let ended = DispatchSemaphore(value: 0)

    /// Starts forwarding `descriptor` (closed at EOF) to `handler`.
    init(_ descriptor: Int32, to handler: @escaping @Sendable (String) -> Void) {
        Thread.detachNewThread { [self] in forward(descriptor, to: handler) }
    }

    /// The last lines forwarded, oldest first.
    var lines: [String] { lock.withLock { kept } }

    /// Waits until the child's stderr has reached EOF, at most `seconds`.
    func waitForEnd(seconds: Double) {
        if ended.wait(timeout: .now() + seconds) == .success { ended.signal() }
    }

    private func forward(_ descriptor: Int32, to handler: (String) -> Void) {
        var line = [UInt8]()                 // [≤ maximumLine] the line so far
        line.reserveCapacity(Self.maximumLine)
        var skipping = false                 // the line was cut; skip up to its end
        var chunk = [UInt8](repeating: 0, count: 65536)
        func emit(_ text: String) {
            lock.withLock {
                kept.append(text)
                if kept.count > Self.keep { kept.removeFirst() }
            }
            handler(text)
        }
        func endLine() {
            if !skipping && !line.isEmpty { emit(String(decoding: line, as: UTF8.self)) }
            line.removeAll(keepingCapacity: true)
            skipping = false
        }
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            var start = 0
            while start < count {
                let end = chunk[start..<count].firstIndex { $0 == 10 || $0 == 13 } ?? count
                if !skipping {
                    let taken = min(end - start, Self.maximumLine - line.count)
                    line += chunk[start..<(start + taken)]
                    if start + taken < end {
                        emit(String(decoding: line, as: UTF8.self) + " … (line cut at \(Self.maximumLine) bytes)")
                        skipping = true
                    }
                }
                if end < count { endLine() }
                start = end + 1
            }
        }
        endLine()
        close(descriptor)
        ended.signal()
    }
}
