import Foundation
import ORWCore

/// `orwdist train --resume`.
public enum ResumeMode: Equatable, Sendable {
    /// No --resume: start fresh.
    case never
    /// `--resume auto`: the checkpoint RUN/checkpoints/latest names if it verifies, else the
    /// newest one that does (skipping, with a warning, each one that does not); a fresh start
    /// only when the run has no checkpoint at all, an error when it has some but none verifies.
    case auto
    /// `--resume PATH`: that checkpoint directory (or RUN/checkpoints/latest, the one it names),
    /// or that run directory's checkpoint chosen as for `auto`; an error if none verifies.
    case path(String)

    public init(argument: String) {
        self = argument == "auto" ? .auto : .path(argument)
    }
}

/// Where a run starts, as every rank agreed: fresh, or from a verified checkpoint.
struct ResumePoint: Codable {
    var checkpointPath: String
    /// The run's reference.safetensors, verified against the checkpoint's hash.
    var referencePath: String
    var state: CheckpointState
}

/// Rank 0 chooses and verifies the checkpoint; every rank learns the outcome by broadcast.
enum ResumeDecision {
    /// What crosses the broadcast: a point, or nothing (fresh).
    private struct Choice: Codable {
        var point: ResumePoint?
    }

    /// Collective. Returns nil for a fresh start and, on rank 0, the checkpoint itself.
    static func agree(_ mode: ResumeMode, config: TrainConfig, world: any Communicator, log: Log)
        throws -> (point: ResumePoint, checkpoint: Checkpoint?)? {
        var checkpoint: Checkpoint?
        let choice = try RootDecision.agree(world: world) { () throws -> Choice in
            guard let (point, found) = try choose(mode, config: config, log: log) else { return Choice() }
            checkpoint = found
            return Choice(point: point)
        }
        return choice.point.map { ($0, checkpoint) }
    }

    /// Rank 0: the checkpoint to continue from, verified and checked against the config.
    private static func choose(_ mode: ResumeMode, config: TrainConfig, log: Log) throws -> (ResumePoint, Checkpoint)? {
        let found: (checkpoint: Checkpoint, path: String)
        switch mode {
        case .never:
            return nil
        case .auto:
            // Fresh only for a run that never checkpointed: checkpoints that fail to verify (an
            // NFS hiccup, a bad disk) must stop a requeued job, not make it throw the run away.
            let store = CheckpointStore(run: config.runDirectory)
            if store.isEmpty {
                log.info("--resume auto: no checkpoint in \(store.directory); starting fresh")
                return nil
            }
            found = try resumable(store, log: log)
        case .path(let given):
            // RUN/checkpoints/latest stands for the checkpoint it names.
            var path = given
            if (given as NSString).lastPathComponent == CheckpointStore.latestName,
               let named = CheckpointStore(directory: (given as NSString).deletingLastPathComponent).latest() {
                path = named
            }
            let isCheckpoint = CheckpointStore.step(ofName: (path as NSString).lastPathComponent) != nil
                || FileManager.default.fileExists(atPath: "\(path)/\(Manifest.fileName)")
                || FileManager.default.fileExists(atPath: "\(path)/state.json")
            if isCheckpoint {
                do {
                    found = (try Checkpoint.read(from: path), path)
                } catch {
                    throw ConfigError(field: "--resume", problem: "\(error)",
                                      fix: "pass another checkpoint, or --resume auto to take the newest one that verifies")
                }
            } else if FileManager.default.fileExists(atPath: "\(path)/checkpoints") {
                found = try resumable(CheckpointStore(run: path), log: log)
            } else {
                throw ConfigError(field: "--resume", problem: "\(path) is neither a checkpoint directory nor a run directory with checkpoints",
                                  fix: "pass RUN/checkpoints/step_XXXXXXXX, a run directory, or auto")
            }
        }
        let state = found.checkpoint.state
        let name = (found.path as NSString).lastPathComponent
        // The config must be the one the checkpoint was trained with, up to the free fields.
        if state.configSHA256 != config.resumeHash {
            let saved = try? TrainConfig.load(path: "\(found.path)/config.toml")
            let differences = saved.map { config.resumeDifferences(from: $0) } ?? []
            throw ConfigError(
                field: differences.isEmpty ? "--resume" : String(differences[0].prefix { $0 != " " }),
                problem: "the config differs from the one checkpoint \(found.path) was trained with"
                    + (differences.isEmpty ? " (config hash \(state.configSHA256.prefix(12))…, now \(config.resumeHash.prefix(12))…)"
                                           : ": " + differences.joined(separator: "; ")),
                fix: "resume with that checkpoint's config (\(found.path)/config.toml), or use a new run.directory for a new run "
                    + "(only \(TrainConfig.fieldsFreeOnResume.sorted().joined(separator: ", ")) may change)")
        }
        // The reference the checkpoint was trained against: RUN/reference.safetensors beside it.
        let run = ((found.path as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        let referencePath = "\(run)/reference.safetensors"
        try RunDirectory.refuseLinksOut(of: run, names: ["reference.safetensors"])
        guard let referenceData = FileManager.default.contents(atPath: referencePath) else {
            throw ConfigError(field: "--resume", problem: "\(referencePath), the reference of checkpoint \(name), is missing",
                              fix: "restore the run's reference.safetensors (its SHA-256 is \(state.referenceSHA256) in state.json)")
        }
        let referenceHash = Manifest.sha256([UInt8](referenceData))
        guard referenceHash == state.referenceSHA256 else {
            throw ConfigError(field: "--resume", problem: "\(referencePath) has SHA-256 \(referenceHash.prefix(16))…, but checkpoint \(name) "
                              + "was trained against \(state.referenceSHA256.prefix(16))…: the reference model was replaced or corrupted",
                              fix: "restore the original reference.safetensors, or start a new run")
        }
        let reference = try ModelFile.decode([UInt8](referenceData), path: referencePath)
        guard reference.architecture == found.checkpoint.architecture else {
            throw ConfigError(field: "--resume", problem: "the reference and checkpoint \(name) have different architectures",
                              fix: "restore the run's reference.safetensors")
        }
        log.info("resuming from \(found.path): step \(state.stepsTaken) (epoch \(state.epoch), step \(state.stepInEpoch) of "
                 + "\(config.stepsPerEpoch)), written by \(state.worldSize) rank(s), orwdist \(state.orwdistVersion)")
        return (ResumePoint(checkpointPath: found.path, referencePath: referencePath, state: state), found.checkpoint)
    }

    /// The checkpoint to continue `store`'s run from (`CheckpointStore.resumable`: `latest`
    /// first), warning about each one skipped; a config error listing them all when none verifies.
    private static func resumable(_ store: CheckpointStore, log: Log) throws -> (checkpoint: Checkpoint, path: String) {
        for stale in store.removeTemporaries() {
            log.warning("removed \(store.directory)/\(stale), left by a checkpoint write that did not finish")
        }
        let (found, skipped) = store.resumable()
        guard let found else {
            let failures = skipped.isEmpty ? ["the directory cannot be listed"] : skipped.map(\.description)
            throw ConfigError(field: "--resume", problem: "\(store.directory) has checkpoints but none verifies:\n"
                              + failures.map { "  - \($0)" }.joined(separator: "\n"),
                              fix: "check the file system and `orwdist inspect` the run, then resume from a good copy "
                                  + "(--resume PATH); to start over, remove \(store.directory) or use another run.directory")
        }
        for error in skipped { log.warning("skipping \(error)") }
        return found
    }

    /// Rank 0: rewrites metrics.jsonl keeping the records of steps ≤ `step` (nil: none), so a
    /// resumed run does not log the lost steps twice. Lines that do not parse (cut by a crash)
    /// go too.
    static func trimMetrics(runDirectory: String, keepingThrough step: Int?) throws {
        let path = "\(runDirectory)/metrics.jsonl"
        guard let data = FileManager.default.contents(atPath: path) else { return }
        var kept = ""
        if let step {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let recorded = object["step"] as? Int, recorded <= step else { continue }
                kept += line + "\n"
            }
        }
        try AtomicFile.write(kept, to: path)
    }
}
