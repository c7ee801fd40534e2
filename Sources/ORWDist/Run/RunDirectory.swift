import Foundation

/// A run's directory. Only rank 0 creates and writes it:
///
///     RUN/config.toml          the effective configuration
///     RUN/metrics.jsonl        one JSON object per logged step and per epoch
///     RUN/reference.safetensors, RUN/final.safetensors, RUN/model.safetensors
public final class RunDirectory {
    public let path: String
    private let metrics: FileHandle
    private let encoder: JSONEncoder

    public init(path: String) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw AtomicFile.WriteError(path: path, reason: "cannot create the run directory (\(error.localizedDescription))")
        }
        let metricsPath = "\(path)/metrics.jsonl"
        if !FileManager.default.fileExists(atPath: metricsPath) {
            _ = FileManager.default.createFile(atPath: metricsPath, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: metricsPath) else {
            throw AtomicFile.WriteError(path: metricsPath, reason: "cannot open for appending")
        }
        handle.seekToEndOfFile()
        metrics = handle
        encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    }

    deinit { try? metrics.close() }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func writeConfig(_ text: String) throws {
        try AtomicFile.write(text, to: file("config.toml"))
    }

    /// Appends one JSON line to metrics.jsonl.
    public func record<Metrics: Encodable>(_ value: Metrics) throws {
        var line = try encoder.encode(value)
        line.append(UInt8(ascii: "\n"))
        try metrics.write(contentsOf: line)
    }
}
