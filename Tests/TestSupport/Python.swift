import Foundation

/// The repository's Python environment (`scripts/python-venv`: numpy, scipy, safetensors), for
/// tests that check orwdist's files and numbers against Python's reference libraries.
public enum Python {
    /// The repository root (this file is Tests/TestSupport/Python.swift).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A file of the repository by its relative path.
    public static func repositoryFile(_ path: String) -> String {
        repositoryRoot.appendingPathComponent(path).path
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The interpreter of .venv, created on first use.
    public static func environment() throws -> String {
        let result = try runProcess("bash", [repositoryFile("scripts/python-venv")], timeout: 900)
        guard result.succeeded else { throw Failure(description: result.summary) }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `python -c script arguments…` (or a script file with `file:`) and returns its
    /// standard output; throws with its standard error on failure.
    @discardableResult
    public static func run(python: String, _ script: String, _ arguments: [String] = []) throws -> String {
        try check(runProcess(python, ["-c", script] + arguments, timeout: 600))
    }

    @discardableResult
    public static func run(python: String, file: String, _ arguments: [String] = []) throws -> String {
        try check(runProcess(python, [repositoryFile(file)] + arguments, timeout: 600))
    }

    private static func check(_ result: ProcessResult) throws -> String {
        guard result.succeeded else { throw Failure(description: result.summary) }
        return result.stdout
    }
}
