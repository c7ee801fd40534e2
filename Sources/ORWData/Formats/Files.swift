import Foundation

/// Whole-file reads and writes for the format codecs, which work on bytes in memory.
enum Files {
    /// The bytes of the file at `path`, or an error naming the path (and, for a relative one,
    /// the working directory it was looked up in: ranks on other nodes may have another).
    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw UnreadableFile(path: path) }
        return [UInt8](data)
    }

    /// Replaces the file at `path` by `bytes` through a temporary file and a rename, so a reader
    /// sees the old file or the new one, never a part.
    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// A file that does not exist or cannot be read.
public struct UnreadableFile: Error, CustomStringConvertible {
    public let path: String
    public var description: String {
        "cannot read \(path): missing or unreadable"
            + (path.hasPrefix("/") ? "" : " (relative to \(FileManager.default.currentDirectoryPath))")
    }
}
