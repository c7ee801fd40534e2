import Foundation

/// RUN/checkpoints: numbered checkpoint directories, the `latest` pointer and the keep-K rule.
/// Only rank 0 writes it.
///
///     RUN/checkpoints/step_00000040/   one checkpoint (see `Checkpoint`)
///     RUN/checkpoints/latest           "step_00000040\n": the last checkpoint completed
///
/// A checkpoint is written into `.tmp-step_XXXXXXXX-PID/`, every file fsynced, the manifest
/// last; then the directory is fsynced, renamed to `step_XXXXXXXX`, the parent fsynced, and
/// only then `latest` is replaced (temporary file, fsync, rename, fsync). A crash at any point
/// leaves the previous checkpoint and `latest` as they were; a leftover `.tmp-*` directory is
/// removed by the next run.
public struct CheckpointStore {
    public let directory: String

    public static let latestName = "latest"
    static let temporaryPrefix = ".tmp-"

    public init(directory: String) { self.directory = directory }

    /// The store of run directory `run`.
    public init(run: String) { directory = "\(run)/checkpoints" }

    public static func name(step: Int) -> String { String(format: "step_%08d", step) }

    /// The step of a directory named `step_XXXXXXXX`, or nil.
    public static func step(ofName name: String) -> Int? {
        guard name.hasPrefix("step_"), name.count > 5 else { return nil }
        let digits = name.dropFirst(5)
        guard digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    public func path(step: Int) -> String { "\(directory)/\(Self.name(step: step))" }

    // MARK: Listing

    /// The checkpoint directories present, newest step first.
    public func checkpoints() -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in Self.step(ofName: name).map { ($0, "\(directory)/\(name)") } }
            .sorted { $0.step > $1.step }
    }

    /// What `latest` names (a path inside the store), if it exists and is well formed.
    public func latest() -> String? {
        guard let data = FileManager.default.contents(atPath: "\(directory)/\(Self.latestName)") else { return nil }
        let name = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.step(ofName: name) != nil else { return nil }
        return "\(directory)/\(name)"
    }

    /// The newest checkpoint that reads and verifies (nil when none does), and why each newer
    /// one was skipped: what `--resume auto` takes.
    public func newestValid() -> (found: (checkpoint: Checkpoint, path: String)?, skipped: [CheckpointError]) {
        var skipped: [CheckpointError] = []
        for candidate in checkpoints() {
            do {
                return ((try Checkpoint.read(from: candidate.path), candidate.path), skipped)
            } catch {
                skipped.append(error)
            }
        }
        return (nil, skipped)
    }

    /// Every checkpoint's verification outcome, newest first (`orwdist inspect RUN`).
    public func verifyAll() -> [(step: Int, path: String, outcome: Result<Checkpoint, CheckpointError>)] {
        checkpoints().map { candidate in
            (candidate.step, candidate.path, Result { () throws(CheckpointError) in try Checkpoint.read(from: candidate.path) })
        }
    }

    // MARK: Writing

    /// Called between writing a checkpoint's files and the rename that publishes it (a test hook:
    /// a crash there, or an error thrown, must leave the previous checkpoint and `latest` valid).
    public typealias BeforePublish = (_ step: Int) throws -> Void

    /// Writes `checkpoint` as step_XXXXXXXX (replacing one of the same step), moves `latest`
    /// to it and deletes all but the newest `keep`. Returns its path.
    @discardableResult
    public func write(_ checkpoint: Checkpoint, keep: Int, beforePublish: BeforePublish? = nil) throws -> String {
        let step = checkpoint.state.stepsTaken
        let name = Self.name(step: step)
        let final = "\(directory)/\(name)"
        let temporary = "\(directory)/\(Self.temporaryPrefix)\(name)-\(getpid())"
        try createDirectory(directory)
        try? FileManager.default.removeItem(atPath: temporary)
        try createDirectory(temporary)
        do {
            let files = try checkpoint.encode()
            for file in files { try AtomicFile.writeSynced(file.bytes, to: "\(temporary)/\(file.name)") }
            try AtomicFile.writeSynced(Array(Manifest(files: files).text.utf8), to: "\(temporary)/\(Manifest.fileName)")
            AtomicFile.syncDirectory(temporary)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        try beforePublish?(step)

        // Publish: an existing checkpoint of this step is moved aside first and removed after.
        var aside: String?
        if FileManager.default.fileExists(atPath: final) {
            aside = "\(directory)/\(Self.temporaryPrefix)replaced-\(name)-\(getpid())"
            try? FileManager.default.removeItem(atPath: aside!)
            try rename(final, aside!)
        }
        try rename(temporary, final)
        AtomicFile.syncDirectory(directory)
        try AtomicFile.write("\(name)\n", to: "\(directory)/\(Self.latestName)")
        if let aside { try? FileManager.default.removeItem(atPath: aside) }
        prune(keep: keep, protecting: name)
        return final
    }

    /// Deletes all checkpoints but the newest `keep` and `protecting`.
    public func prune(keep: Int, protecting: String) {
        for (index, candidate) in checkpoints().enumerated() where index >= keep {
            guard (candidate.path as NSString).lastPathComponent != protecting else { continue }
            try? FileManager.default.removeItem(atPath: candidate.path)
        }
    }

    /// Removes what interrupted writes left behind (`.tmp-*`); returns their names.
    @discardableResult
    public func removeTemporaries() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let stale = names.filter { $0.hasPrefix(Self.temporaryPrefix) }.sorted()
        for name in stale { try? FileManager.default.removeItem(atPath: "\(directory)/\(name)") }
        return stale
    }

    private func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw AtomicFile.WriteError(path: path, reason: "cannot create the directory (\(error.localizedDescription))")
        }
    }

    private func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw AtomicFile.WriteError(path: to, reason: "rename from \(from) failed: \(String(cString: strerror(errno)))")
        }
    }
}
