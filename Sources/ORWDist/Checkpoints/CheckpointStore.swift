import Foundation

/// RUN/checkpoints: numbered checkpoint directories, the `latest` pointer and the keep-K rule.
/// Only rank 0 writes it.
///
///     RUN/checkpoints/step_00000040/   one checkpoint (see `Checkpoint`)
///     RUN/checkpoints/latest           "step_00000040\n": the last checkpoint completed
///
/// A checkpoint is written into `.tmp-step_XXXXXXXX-RANDOM/` (created exclusively), every file
/// fsynced, the manifest last; then the directory is fsynced, renamed to `step_XXXXXXXX` (or
/// exchanged with an existing one of that step, in one step), the parent fsynced, and only then
/// `latest` is replaced (temporary file, fsync, rename, fsync). A crash at any point leaves the
/// previous checkpoint and `latest` as they were; a leftover `.tmp-*` directory is removed by
/// the next run.
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

    /// Whether the run has never checkpointed: no step directory and no `latest`. A store that
    /// exists but cannot be listed is not empty, so a file-system error never looks like a new run.
    public var isEmpty: Bool {
        do {
            return !(try FileManager.default.contentsOfDirectory(atPath: directory))
                .contains { Self.step(ofName: $0) != nil || $0 == Self.latestName }
        } catch {
            var status = stat()
            return lstat(directory, &status) != 0 && errno == ENOENT
        }
    }

    /// What `latest` names (a path inside the store), if it exists and is well formed.
    public func latest() -> String? {
        guard let data = FileManager.default.contents(atPath: "\(directory)/\(Self.latestName)") else { return nil }
        let name = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.step(ofName: name) != nil else { return nil }
        return "\(directory)/\(name)"
    }

    /// What `--resume auto` takes: the checkpoint `latest` names when it verifies (it may be an
    /// earlier step than the newest on purpose: a rollback), else the newest that verifies (nil
    /// when none does); and why each one tried before was skipped.
    public func resumable() -> (found: (checkpoint: Checkpoint, path: String)?, skipped: [CheckpointError]) {
        let latest = latest()
        var skipped: [CheckpointError] = []
        for path in (latest.map { [$0] } ?? []) + checkpoints().map(\.path).filter({ $0 != latest }) {
            do {
                return ((try Checkpoint.read(from: path), path), skipped)
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
        let temporary = "\(directory)/\(Self.temporaryPrefix)\(name)-\(AtomicFile.randomSuffix())"
        try createDirectory(directory)
        // mkdir, not createDirectory: it fails on anything already there, a symbolic link too.
        guard mkdir(temporary, 0o755) == 0 else {
            throw AtomicFile.WriteError(path: temporary, reason: "cannot create the directory (\(String(cString: strerror(errno))))")
        }
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

        // Publish. An existing checkpoint of this step trades places with the new one, so the
        // name always holds a complete checkpoint; the old one, now under the temporary name,
        // is removed after `latest` moved.
        var replaced = false
        var status = stat()
        if lstat(final, &status) == 0 {
            try AtomicFile.exchange(temporary, final)
            replaced = true
        } else {
            try AtomicFile.move(temporary, to: final)
        }
        AtomicFile.syncDirectory(directory)
        try AtomicFile.write("\(name)\n", to: "\(directory)/\(Self.latestName)")
        if replaced { try? FileManager.default.removeItem(atPath: temporary) }
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
}
