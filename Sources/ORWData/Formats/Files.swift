import Foundation

/// Whole-file reads and writes for the format codecs, which work on bytes in memory.
enum Files {
    /// The bytes of the file at `path`; Foundation's error (naming the path) if unreadable.
    static func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Replaces the file at `path` by `bytes` through a temporary file and a rename, so a reader
    /// sees the old file or the new one, never a part.
    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
