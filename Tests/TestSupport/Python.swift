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

    /// The interpreter of .venv, created on first use; `extra: "diffusers"` adds PyTorch (CPU)
    /// and diffusers for the SD3 tests (`scripts/python-venv diffusers`).
    public static func environment(extra: String? = nil) throws -> String {
        let arguments = [repositoryFile("scripts/python-venv")] + (extra.map { [$0] } ?? [])
        let result = try runProcess("bash", arguments, timeout: 1800)
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
