import Foundation
import Logging

/// Rank 0's voice: plain timestamped lines for batch logs. Other ranks stay silent except for
/// warnings and errors, which name their rank.
public struct Log: Sendable {
    public let rank: Int
    public let logger: Logger

    public init(rank: Int, level: Logger.Level = .info) {
        self.rank = rank
        var logger = Logger(label: "orwdist")
        logger.logLevel = level
        self.logger = logger
    }

    public func info(_ message: @autoclosure () -> String) {
        guard rank == 0 else { return }
        logger.info("\(message())")
    }

    public func warning(_ message: @autoclosure () -> String) {
        logger.warning("\(rank == 0 ? "" : "rank \(rank): ")\(message())")
    }

    public func debug(_ message: @autoclosure () -> String) {
        logger.debug("rank \(rank): \(message())")
    }
}
