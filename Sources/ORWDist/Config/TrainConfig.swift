import Crypto
import Foundation
import ORWCore

/// Everything `orwdist train` reads: the ORW-CFM-W2 fine-tuning run.
///
/// Batch arithmetic: a step draws `batch.global` online samples, split into microbatches of
/// `batch.micro`; rank k of R computes microbatches k, k+R, … So with the defaults,
/// 256 = 4 microbatches × 64, and on 2 ranks each rank computes 2 microbatches a step.
public struct TrainConfig: ConfigFile, Equatable, Sendable {

    // [run]
    public var runDirectory = "runs/train"
    public var seed = 0
    public var logEvery = 10
    public var evaluationSamples = 512
    public var evaluationClassifier = ""
    public var hashCheckEvery = 10
    // [checkpoint]
    public var checkpointEvery = 50
    public var checkpointKeep = 3
    // [base]
    public var baseModel = "builtin:8gaussians"
    // [reward]
    public var reward = RewardSettings()
    // [method]
    public var alpha = 1.0
    public var tau = 1.0
    public var weighting = RewardWeighting.softmax
    public var coupling = Coupling.independent
    // [sampler]
    public var solver = SolverName.euler
    public var solverSteps = 20
    public var relativeTolerance = 1e-4
    public var absoluteTolerance = 1e-4
    public var rolloutPrecision = Precision.fp32
    // [model]
    public var gemm = GEMMBackend.openblas
    public var trainingPrecision = Precision.fp32
    // [batch]
    public var globalBatch = 256
    public var microbatch = 64
    public var stepsPerEpoch = 50
    public var epochs = 4
    // [optimizer]
    public var optimizer = OptimizerSettings()

    public init() {}

    public var totalSteps: Int { stepsPerEpoch * epochs }

    /// The rollout solver as ORWCore's type.
    public var odeSolver: ODESolver {
        solver.solver(steps: solverSteps, rtol: relativeTolerance, atol: absoluteTolerance)
    }

    public static var fields: [ConfigField<TrainConfig>] { [
        .string("run.directory", \.runDirectory, "Run directory: effective config, metrics.jsonl, checkpoints, samples."),
        .int("run.seed", \.seed, "Seed of every random stream (sampling noise, x0, t); same seed, same run on any number of ranks."),
        .int("run.log_every", \.logEvery, "Write a metrics line every this many steps."),
        .int("run.eval_samples", \.evaluationSamples, "Samples drawn at each epoch's end for reward, diversity and the W2-bound estimate."),
        .string("run.eval_classifier", \.evaluationClassifier,
                "A Fashion-MNIST classifier .safetensors from `orwdist classifier train` (the files reward.classifier takes): each evaluation then also records "
                + "feature_diversity, class_entropy, class_histogram and fid (to the test set) in its feature space, and fid_floor. \"\": off."),
        .int("run.hash_check_every", \.hashCheckEvery, "Every this many steps the ranks compare a hash of their parameters and stop on a mismatch (a gradient-sync bug); 0 disables."),
        .int("checkpoint.every", \.checkpointEvery, "Rank 0 writes RUN/checkpoints/step_XXXXXXXX every this many steps (and always at the end and on SIGUSR1/SIGTERM); 0: only then."),
        .int("checkpoint.keep", \.checkpointKeep, "Keep the newest this many checkpoints; older ones are deleted."),
        .string("base.model", \.baseModel, "Pretrained flow model: a .safetensors file from `orwdist pretrain`, or \"builtin:8gaussians\" (pretrained on first use and cached)."),
        .double("method.alpha", \.alpha, "α, weight of the W2 regulariser ‖v_θ − v_ref‖²: 0 collapses onto the reward's maximum, ≥ 1 stays close to the base model."),
        .double("method.tau", \.tau, "τ, inverse temperature of the reward weighting: higher is faster and greedier."),
        .choice("method.weighting", \.weighting, "exp: w = exp(τr) (the authors'); softmax: w = B·softmax(τr) over the global batch (overflow-safe); linear: w ∝ r."),
        .choice("method.coupling", \.coupling, "Pairing of fresh noise x0 with the online samples x1 (exact-ot: exact optimal transport within each microbatch)."),
        .choice("sampler.solver", \.solver, "ODE solver of the online rollout."),
        .int("sampler.steps", \.solverSteps, "Fixed steps of euler/heun/rk4."),
        .double("sampler.rtol", \.relativeTolerance, "Relative tolerance of dopri5."),
        .double("sampler.atol", \.absoluteTolerance, "Absolute tolerance of dopri5."),
        .choice("sampler.precision", \.rolloutPrecision, "Precision of the rollouts' forward passes: bf16 runs them through oneDNN (bf16 weights and activations, fp32 accumulation; θ, training and the reference stay fp32). BENCHMARKS.md has the speed and the deviation."),
        .choice("model.training_precision", \.trainingPrecision, "Precision of the policy's forward and backward passes in training: bf16 runs their products through oneDNN with bf16 operands and fp32 accumulation (θ, gradients, Adam, the reference, rollouts unless sampler.precision says so, and evaluations stay fp32). ~2× faster products; BENCHMARKS.md has the speed and the effect on a run."),
        .choice("model.gemm", \.gemm, "GEMM backend of every Linear: openblas (its speed depends on the core it detects; OPENBLAS_CORETYPE overrides) or onednn (packed rollout weights, fused bias and SiLU)."),
        .int("batch.global", \.globalBatch, "B, online samples per step over all ranks."),
        .int("batch.micro", \.microbatch, "b, samples per microbatch, the unit of work; B must be a multiple of b × ranks."),
        .int("batch.steps_per_epoch", \.stepsPerEpoch, "Optimiser steps per epoch; the sampler copies the policy at each epoch's start."),
        .int("batch.epochs", \.epochs, "Epochs N; with α = 0 and exact fitting, epoch N induces q_N ∝ exp(N τ r) q_0."),
    ] + RewardSettings.fields(\.reward) + OptimizerSettings.fields(\.optimizer) }

    public func validate(worldSize: Int) throws {
        try require(logEvery > 0, "run.log_every", "must be ≥ 1, got \(logEvery)", "use e.g. 10")
        try require(seed >= 0, "run.seed", "must be ≥ 0, got \(seed)", "use any non-negative integer")
        try require(hashCheckEvery >= 0, "run.hash_check_every", "must be ≥ 0, got \(hashCheckEvery)", "use e.g. 10, or 0 to disable the check")
        try require(checkpointEvery >= 0, "checkpoint.every", "must be ≥ 0, got \(checkpointEvery)", "use e.g. 50, or 0 for checkpoints only at the end and on signals")
        try require(checkpointKeep >= 1, "checkpoint.keep", "must be ≥ 1, got \(checkpointKeep)", "use e.g. 3")
        try require((2...ConfigLimits.evaluationSamples).contains(evaluationSamples), "run.eval_samples",
                    "must lie in 2…\(ConfigLimits.evaluationSamples) (diversity needs pairs), got \(evaluationSamples)", "use e.g. 512")
        try require(evaluationClassifier.isEmpty || FileManager.default.fileExists(atPath: evaluationClassifier), "run.eval_classifier",
                    "\(evaluationClassifier) does not exist" + (evaluationClassifier.hasPrefix("/") ? "" : " (relative to \(FileManager.default.currentDirectoryPath))"),
                    "give the path of a classifier from `orwdist classifier train` (scripts/rewards/train-classifier prints one), or \"\" to leave the feature metrics off")
        try require(alpha.isFinite && alpha >= 0, "method.alpha", "must be a finite number ≥ 0, got \(alpha)", "use 0 for pure reward maximisation, 1 to stay near the base model")
        try require(tau.isFinite && tau > 0, "method.tau", "must be a finite number > 0, got \(tau)", "use e.g. tau = 1.0")
        try require(solverSteps >= 1, "sampler.steps", "must be ≥ 1, got \(solverSteps)", "use e.g. 20")
        try require(relativeTolerance > 0 && absoluteTolerance > 0, "sampler.rtol", "tolerances must be positive", "use 1e-4")
        try ConfigLimits.validateBatch(global: globalBatch, micro: microbatch, worldSize: worldSize)
        try require(stepsPerEpoch >= 1 && epochs >= 1, "batch.epochs", "steps_per_epoch and epochs must be ≥ 1", "use e.g. steps_per_epoch = 50, epochs = 4")
        try reward.validate()
        try require(weighting != .linear || reward.isNonNegative, "method.weighting",
                    "linear weighting needs rewards ≥ 0, but the \(reward.kind.rawValue) reward can be negative", "use weighting = \"softmax\"")
        try optimizer.validate()
    }
}

// MARK: Resuming

extension TrainConfig {
    /// Fields a resumed run may change: where it writes, what it logs and measures, and how it
    /// checkpoints. Every other field changes the arithmetic.
    public static let fieldsFreeOnResume: Set<String> = [
        "run.directory", "run.log_every", "run.eval_samples", "run.eval_classifier", "run.hash_check_every", "checkpoint.every", "checkpoint.keep",
    ]

    /// The fields that decide the trained parameters, as `key = value` lines.
    var resumeRelevantText: String {
        Self.fields.filter { !Self.fieldsFreeOnResume.contains($0.key) }
            .map { "\($0.key) = \($0.literal(in: self))\n" }.joined()
    }

    /// SHA-256 (hex) of the fields that decide the trained parameters: a checkpoint records it,
    /// and resuming requires the same.
    public var resumeHash: String {
        SHA256.hash(data: Data(resumeRelevantText.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// "key = mine (other: theirs)" for each field that decides the parameters and differs.
    public func resumeDifferences(from other: TrainConfig) -> [String] {
        Self.fields.filter { !Self.fieldsFreeOnResume.contains($0.key) && $0.literal(in: self) != $0.literal(in: other) }
            .map { "\($0.key) = \($0.literal(in: self)) (checkpoint: \($0.literal(in: other)))" }
    }
}
