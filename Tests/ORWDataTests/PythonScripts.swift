import Foundation

/// Runs short Python scripts for the tests that check files against NumPy and `safetensors`.
enum PythonScripts {
    struct Failure: Error, CustomStringConvertible {
        let command: [String]
        let status: Int32
        let errors: String
        var description: String { "\(command.joined(separator: " ")) exited with \(status):\n\(errors)" }
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The interpreter of the repository's .venv (made by scripts/python-venv on first use),
    /// which has numpy and safetensors.
    static func environment() throws -> String {
        let script = repositoryRoot.appendingPathComponent("scripts/python-venv").path
        return try run(script, []).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `python -c script arguments…` and returns its standard output; throws `Failure` with
    /// its standard error on a non-zero exit.
    @discardableResult
    static func run(python: String, _ script: String, _ arguments: [String] = []) throws -> String {
        try run(python, ["-c", script] + arguments)
    }

    private static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Drain standard error concurrently so neither pipe can fill up and block the child.
        nonisolated(unsafe) var errorBytes = Data()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errorBytes = errors.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let outputBytes = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(command: [executable] + arguments, status: process.terminationStatus,
                          errors: String(decoding: errorBytes, as: UTF8.self))
        }
        return String(decoding: outputBytes, as: UTF8.self)
    }
}
