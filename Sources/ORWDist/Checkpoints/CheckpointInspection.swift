import Foundation
import ORWCore

/// `orwdist inspect CKPT_OR_RUN`: what a checkpoint holds and whether it verifies, or for a run
/// directory every checkpoint's status and the one `--resume auto` would take.
public struct CheckpointInspection {
    public let text: String
    /// The checkpoint verifies (for a run: `--resume auto` would find one).
    public let usable: Bool

    public init(path: String) {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        if FileManager.default.fileExists(atPath: "\(trimmed)/checkpoints")
            || FileManager.default.fileExists(atPath: "\(trimmed)/reference.safetensors") {
            (text, usable) = Self.run(trimmed)
        } else {
            (text, usable) = Self.checkpoint(trimmed)
        }
    }

    static func run(_ path: String) -> (String, Bool) {
        let store = CheckpointStore(run: path)
        let all = store.verifyAll()
        let latest = store.latest().map { ($0 as NSString).lastPathComponent }
        var lines = ["run \(path): \(all.count) checkpoint(s) in \(store.directory), latest → \(latest ?? "(none)")"]
        for entry in all {
            let name = (entry.path as NSString).lastPathComponent
            switch entry.outcome {
            case .success(let checkpoint):
                lines.append("  \(name)  verified  step \(checkpoint.state.stepsTaken), \(checkpoint.state.reason)")
            case .failure(let error):
                lines.append("  \(name)  FAILED    \(error.reason)")
            }
        }
        let temporaries = ((try? FileManager.default.contentsOfDirectory(atPath: store.directory)) ?? [])
            .filter { $0.hasPrefix(CheckpointStore.temporaryPrefix) }.sorted()
        for name in temporaries { lines.append("  \(name)  unfinished write (removed by the next run)") }
        guard let chosen = store.resumable().found else {
            lines.append(store.isEmpty ? "no checkpoint: `orwdist train --resume auto` would start fresh"
                                       : "no checkpoint verifies: `orwdist train --resume auto` would refuse (exit 2)")
            return (lines.joined(separator: "\n"), false)
        }
        lines.append("`orwdist train --resume auto` would continue from \((chosen.path as NSString).lastPathComponent)")
        lines.append("")
        let (details, usable) = checkpoint(chosen.path)
        lines.append(details)
        return (lines.joined(separator: "\n"), usable)
    }

    static func checkpoint(_ path: String) -> (String, Bool) {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.read(from: path)
        } catch {
            return ("checkpoint \(path): FAILED — \(error.reason)", false)
        }
        let state = checkpoint.state, layout = state.microbatchLayout
        var lines = ["checkpoint \(path): verified (\(Checkpoint.files.count) files match \(Manifest.fileName))"]
        lines.append("  step        \(state.stepsTaken) (epoch \(state.epoch), step \(state.stepInEpoch) of the epoch), reason \(state.reason), written \(state.written)")
        lines.append("  written by  \(state.worldSize) rank(s): batch \(layout.globalBatch) = \(layout.microbatches) microbatches of \(layout.microbatch), \(layout.microbatchesPerRank) per rank")
        lines.append("  rng         seed \(state.rng.seed), epoch \(state.rng.epoch), step \(state.rng.step)")
        lines.append("  optimizer   Adam, \(state.optimizerSteps) steps (m and v in optimizer.safetensors)")
        let architecture = (try? ModelFile.json(checkpoint.architecture)) ?? "?"
        lines.append("  model       \(architecture), \(state.parameterCount) parameters (policy and sampler)")
        lines.append("  orwdist     \(state.orwdistVersion), format \(state.format) v\(state.formatVersion)")
        lines.append("  config      SHA-256 \(state.configSHA256)")
        lines.append("  files")
        for name in (Checkpoint.files + [Manifest.fileName]).sorted() {
            let size = (try? FileManager.default.attributesOfItem(atPath: "\(path)/\(name)")[.size] as? Int) ?? 0
            lines.append("    " + name.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%10d bytes", size))
        }
        let run = ((path as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        let referencePath = "\(run)/reference.safetensors"
        var referenceOK = true
        if let data = FileManager.default.contents(atPath: referencePath) {
            let actual = Manifest.sha256([UInt8](data))
            referenceOK = actual == state.referenceSHA256
            lines.append("  reference   SHA-256 \(state.referenceSHA256): \(referencePath) "
                         + (referenceOK ? "matches" : "DIFFERS (\(actual)); resuming will refuse"))
        } else {
            referenceOK = false
            lines.append("  reference   SHA-256 \(state.referenceSHA256): \(referencePath) is MISSING; resuming will refuse")
        }
        return (lines.joined(separator: "\n"), referenceOK)
    }
}
