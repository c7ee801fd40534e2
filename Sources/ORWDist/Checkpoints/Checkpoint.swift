import Foundation
import ORWCore
import ORWData

/// What `state.json` of a checkpoint records: where the run stands and what it must match to
/// continue. The counter-based RNG is keyed by (seed, epoch, step, sample), so its "counters"
/// are the seed, the epoch and the steps taken.
public struct CheckpointState: Codable, Equatable, Sendable {
    public static let formatName = "orwdist-checkpoint"
    public static let currentFormatVersion = 1

    public struct RandomCounters: Codable, Equatable, Sendable {
        public var seed: Int
        public var epoch: Int
        public var step: Int
    }

    /// B = M · b and how the M microbatches were dealt to the ranks (rank k: k, k + R, …).
    public struct MicrobatchLayout: Codable, Equatable, Sendable {
        public var globalBatch: Int
        public var microbatch: Int
        public var microbatches: Int
        public var ranks: Int
        public var microbatchesPerRank: Int

        enum CodingKeys: String, CodingKey {
            case microbatch, microbatches, ranks
            case globalBatch = "global_batch", microbatchesPerRank = "microbatches_per_rank"
        }
    }

    public var format = Self.formatName
    public var formatVersion = Self.currentFormatVersion
    public var orwdistVersion = OrwdistVersion.current
    /// The epoch in progress (1-based), or the one just finished when `stepInEpoch` equals the
    /// steps per epoch.
    public var epoch: Int
    public var stepInEpoch: Int
    /// Optimiser steps taken over all epochs.
    public var stepsTaken: Int
    public var rng: RandomCounters
    /// Adam's step count t (bias corrections); equal to `stepsTaken`.
    public var optimizerSteps: Int
    /// SHA-256 of the config fields that change the arithmetic (`TrainConfig.resumeHash`).
    public var configSHA256: String
    public var worldSize: Int
    public var microbatchLayout: MicrobatchLayout
    /// SHA-256 of RUN/reference.safetensors, byte for byte.
    public var referenceSHA256: String
    public var parameterCount: Int
    /// periodic, final, SIGUSR1 or SIGTERM.
    public var reason: String
    public var written: String

    public init(stepsTaken: Int, optimizerSteps: Int, config: TrainConfig, worldSize: Int, referenceSHA256: String,
                parameterCount: Int, reason: String) {
        let perEpoch = config.stepsPerEpoch
        let finishedEpoch = stepsTaken > 0 && stepsTaken % perEpoch == 0
        epoch = finishedEpoch ? stepsTaken / perEpoch : stepsTaken / perEpoch + 1
        stepInEpoch = finishedEpoch ? perEpoch : stepsTaken % perEpoch
        self.stepsTaken = stepsTaken
        rng = RandomCounters(seed: config.seed, epoch: epoch, step: stepsTaken)
        self.optimizerSteps = optimizerSteps
        configSHA256 = config.resumeHash
        self.worldSize = worldSize
        let microbatches = config.globalBatch / config.microbatch
        microbatchLayout = MicrobatchLayout(globalBatch: config.globalBatch, microbatch: config.microbatch,
                                            microbatches: microbatches, ranks: worldSize,
                                            microbatchesPerRank: microbatches / max(1, worldSize))
        self.referenceSHA256 = referenceSHA256
        self.parameterCount = parameterCount
        self.reason = reason
        written = ISO8601DateFormatter().string(from: Date())
    }

    enum CodingKeys: String, CodingKey {
        case format, epoch, rng, reason, written
        case formatVersion = "format_version", orwdistVersion = "orwdist_version", stepInEpoch = "step_in_epoch"
        case stepsTaken = "steps_taken", optimizerSteps = "optimizer_steps", configSHA256 = "config_sha256"
        case worldSize = "world_size", microbatchLayout = "microbatch_layout", referenceSHA256 = "reference_sha256"
        case parameterCount = "parameter_count"
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return encoder
    }()

    static let decoder = JSONDecoder()

    public func json() -> [UInt8] {
        // Ints and Strings only: encoding cannot fail.
        Array(try! Self.encoder.encode(self)) + [UInt8(ascii: "\n")]
    }
}

/// Everything a run needs to continue exactly where it stopped: the trainer's state
/// (`TrainerState`), `state.json` and the effective config. Written by `CheckpointStore`.
///
///     step_XXXXXXXX/policy.safetensors     θ, a model file (`orwdist sample --model` reads it)
///     step_XXXXXXXX/sampler.safetensors    the sampler: the policy as of the epoch's start
///     step_XXXXXXXX/optimizer.safetensors  Adam's m and v, flat [P] in θ's layout
///     step_XXXXXXXX/state.json             `CheckpointState`
///     step_XXXXXXXX/config.toml            the effective config
///     step_XXXXXXXX/manifest.sha256        SHA-256 of each file above, written last
public struct Checkpoint: Equatable {
    public var state: CheckpointState
    public var architecture: Architecture
    public var trainer: TrainerState
    public var configText: String

    public static let files = ["policy.safetensors", "sampler.safetensors", "optimizer.safetensors", "state.json", "config.toml"]

    public init(state: CheckpointState, architecture: Architecture, trainer: TrainerState, configText: String) {
        self.state = state
        self.architecture = architecture
        self.trainer = trainer
        self.configText = configText
    }

    /// The files of the checkpoint directory, manifest excluded, in writing order.
    public func encode() throws -> [(name: String, bytes: [UInt8])] {
        let step = ["orwdist.step": "\(state.stepsTaken)"]
        let policy = try ModelFile(architecture: architecture, parameters: trainer.policy,
                                   metadata: step.merging(["orwdist.role": "policy"]) { $1 }).encode()
        let sampler = try ModelFile(architecture: architecture, parameters: trainer.sampler,
                                    metadata: step.merging(["orwdist.role": "sampler"]) { $1 }).encode()
        let count = trainer.adamFirstMoment.count
        let optimizer = try Safetensors.encode(SafetensorsFile(
            tensors: [SafetensorsTensor(name: "adam.m", shape: [count], values: trainer.adamFirstMoment),
                      SafetensorsTensor(name: "adam.v", shape: [count], values: trainer.adamSecondMoment)],
            metadata: ["orwdist.role": "optimizer", "orwdist.optimizer_steps": "\(trainer.optimizerSteps)",
                       "orwdist.version": OrwdistVersion.current]))
        return [("policy.safetensors", policy), ("sampler.safetensors", sampler), ("optimizer.safetensors", optimizer),
                ("state.json", state.json()), ("config.toml", Array(configText.utf8))]
    }

    /// Reads and checks the checkpoint at `directory`: the manifest first (every byte hashed),
    /// then each file's content and their agreement with one another.
    public static func read(from directory: String) throws(CheckpointError) -> Checkpoint {
        let contents = try Manifest.verify(directory: directory, required: files)
        func invalid(_ file: String, _ problem: String) -> CheckpointError {
            CheckpointError(path: directory, reason: .invalidContent(file: file, problem: problem))
        }
        let state: CheckpointState
        do {
            state = try CheckpointState.decoder.decode(CheckpointState.self, from: Data(contents["state.json"]!))
        } catch {
            throw invalid("state.json", "unreadable: \(error)")
        }
        guard state.format == CheckpointState.formatName else { throw invalid("state.json", "format is \"\(state.format)\", not \(CheckpointState.formatName)") }
        guard state.formatVersion <= CheckpointState.currentFormatVersion else {
            throw invalid("state.json", "format version \(state.formatVersion) is newer than this orwdist (\(OrwdistVersion.current)) reads; upgrade orwdist")
        }
        guard state.stepsTaken >= 0, state.optimizerSteps == state.stepsTaken else {
            throw invalid("state.json", "steps_taken \(state.stepsTaken) and optimizer_steps \(state.optimizerSteps) disagree")
        }
        func model(_ name: String) throws(CheckpointError) -> ModelFile {
            do {
                return try ModelFile.decode(contents[name]!, path: name)
            } catch {
                throw invalid(name, "\(error)")
            }
        }
        let policy = try model("policy.safetensors"), sampler = try model("sampler.safetensors")
        guard sampler.architecture == policy.architecture else { throw invalid("sampler.safetensors", "its architecture differs from the policy's") }
        guard policy.parameters.count == state.parameterCount else {
            throw invalid("policy.safetensors", "\(policy.parameters.count) parameters, state.json says \(state.parameterCount)")
        }
        let optimizer: SafetensorsFile
        do {
            optimizer = try Safetensors.decode(contents["optimizer.safetensors"]!)
        } catch {
            throw invalid("optimizer.safetensors", "\(error)")
        }
        guard let m = optimizer["adam.m"], let v = optimizer["adam.v"], m.shape == [state.parameterCount], v.shape == m.shape else {
            throw invalid("optimizer.safetensors", "expected tensors adam.m and adam.v of shape [\(state.parameterCount)]")
        }
        guard optimizer.metadata["orwdist.optimizer_steps"] == "\(state.optimizerSteps)" else {
            throw invalid("optimizer.safetensors", "optimizer step count \(optimizer.metadata["orwdist.optimizer_steps"] ?? "missing") differs from state.json's \(state.optimizerSteps)")
        }
        let trainer = TrainerState(policy: policy.parameters, sampler: sampler.parameters, adamFirstMoment: m.values,
                                   adamSecondMoment: v.values, optimizerSteps: state.optimizerSteps, stepsTaken: state.stepsTaken)
        return Checkpoint(state: state, architecture: policy.architecture, trainer: trainer,
                          configText: String(decoding: contents["config.toml"]!, as: UTF8.self))
    }
}
