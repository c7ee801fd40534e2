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

    /// The entries orwdist appends to, prunes or trusts, which must stay inside the directory.
    public static let contained = ["metrics.jsonl", "checkpoints", "reference.safetensors"]

    /// Throws a config error when one of `names` in run directory `path` is a symbolic link
    /// leading out of it (or nowhere): orwdist would append to, delete in, or trust a file
    /// elsewhere (issue 20). A link inside the directory is allowed.
    public static func refuseLinksOut(of path: String, names: [String] = contained) throws {
        for name in names {
            let entry = "\(path)/\(name)"
            var status = stat()
            guard lstat(entry, &status) == 0, status.st_mode & mode_t(S_IFMT) == mode_t(S_IFLNK) else { continue }
            if let root = resolved(path), let target = resolved(entry), target.hasPrefix(root + "/") { continue }
            let destination = (try? FileManager.default.destinationOfSymbolicLink(atPath: entry)) ?? "?"
            throw ConfigError(field: "run.directory", problem: "\(entry) is a symbolic link to \(destination), outside the run directory",
                              fix: "remove the link and put the real \(name) there (orwdist writes it itself), or use another run.directory")
        }
    }

    /// `path` with every symbolic link resolved, or nil when it leads nowhere.
    private static func resolved(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

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
