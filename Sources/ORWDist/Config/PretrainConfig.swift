import ORWCore

/// Everything `orwdist pretrain` reads: conditional flow matching on a dataset.
///
/// A step draws `batch.global` examples (global sample i of step s reads a data index drawn from
/// the stream keyed by (seed, s, i), so any number of ranks sees the same batch), split into
/// microbatches of `batch.micro` dealt round-robin to the ranks.
public struct PretrainConfig: ConfigFile, Equatable, Sendable {
    public enum DataKind: String, CaseIterable, Sendable {
        case eightGaussians = "8gaussians", moons, checkerboard, gaussian
        case fashionMNIST = "fashion-mnist", npy
    }

    // [run]
    public var runDirectory = "runs/pretrain"
    public var seed = 0
    public var logEvery = 100
    // [data]
    public var data = DataKind.eightGaussians
    public var dataPath = ""
    public var gaussianMean: [Float] = [0]
    public var gaussianStd = 1.0
    // [model]
    public var hidden = 256
    public var depth = 3
    public var timeEmbedding = 64
    // [path]
    public var sigma = 0.0
    public var coupling = Coupling.independent
    // [batch]
    public var globalBatch = 256
    public var microbatch = 64
    public var steps = 3000
    // [optimizer]
    public var optimizer = OptimizerSettings()
    // [ema]
    public var emaDecay = 0.0

    public init() {}

    public static var fields: [ConfigField<PretrainConfig>] { [
        .string("run.directory", \.runDirectory, "Run directory: effective config, metrics.jsonl, model.safetensors."),
        .int("run.seed", \.seed, "Seed of every random stream (initialisation, data indices, x0, t)."),
        .int("run.log_every", \.logEvery, "Write a metrics line every this many steps."),
        .choice("data.kind", \.data, "Training data: 2-D toys, a Gaussian of any dimension, Fashion-MNIST (Debian's dataset-fashion-mnist), or a float32 .npy array [N, …]."),
        .string("data.path", \.dataPath, "fashion-mnist: directory of the gzipped IDX files (empty: /usr/share/datasets/fashion-mnist); npy: the .npy file."),
        .floats("data.mean", \.gaussianMean, "gaussian: the mean vector; its length is the dimension."),
        .double("data.std", \.gaussianStd, "gaussian: the standard deviation of every coordinate."),
        .int("model.hidden", \.hidden, "Width of the MLP's hidden layers."),
        .int("model.depth", \.depth, "Number of Linear + SiLU blocks."),
        .int("model.time_embedding", \.timeEmbedding, "Width of the sinusoidal time embedding (even)."),
        .double("path.sigma", \.sigma, "σ of the probability path x_t = t·x1 + (1 − t)·x0 + σ·ε."),
        .choice("path.coupling", \.coupling, "Pairing of noise x0 with data x1 within each microbatch."),
        .int("batch.global", \.globalBatch, "B, examples per step over all ranks."),
        .int("batch.micro", \.microbatch, "b, examples per microbatch; B must be a multiple of b × ranks."),
        .int("batch.steps", \.steps, "Optimiser steps."),
    ] + OptimizerSettings.fields(\.optimizer) + [
        .double("ema.decay", \.emaDecay, "Exponential moving average of the weights saved as the model (e.g. 0.999); 0 saves the raw weights."),
    ] }

    public var architecture: MLPArchitecture {
        MLPArchitecture(dimension: 0, hidden: hidden, depth: depth, timeEmbedding: timeEmbedding)
    }

    public func validate(worldSize: Int) throws {
        try require(logEvery > 0, "run.log_every", "must be ≥ 1", "use e.g. 100")
        try require(seed >= 0, "run.seed", "must be ≥ 0, got \(seed)", "use any non-negative integer")
        try require(data != .npy || !dataPath.isEmpty, "data.path", "the npy dataset needs a file", "set data.path = \"samples.npy\"")
        try require(data != .gaussian || (!gaussianMean.isEmpty && gaussianStd > 0), "data.mean", "the gaussian dataset needs a mean vector and std > 0", "e.g. mean = [0.0], std = 1.0")
        try require((1...ConfigLimits.hiddenWidth).contains(hidden) && (1...ConfigLimits.depth).contains(depth), "model.hidden",
                    "hidden must lie in 1…\(ConfigLimits.hiddenWidth) and depth in 1…\(ConfigLimits.depth), got \(hidden) and \(depth)", "e.g. hidden = 256, depth = 3")
        try require((2...ConfigLimits.hiddenWidth).contains(timeEmbedding) && timeEmbedding % 2 == 0, "model.time_embedding",
                    "must be even and in 2…\(ConfigLimits.hiddenWidth), got \(timeEmbedding)", "e.g. time_embedding = 64")
        try require(sigma.isFinite && sigma >= 0, "path.sigma", "must be ≥ 0", "use 0")
        try ConfigLimits.validateBatch(global: globalBatch, micro: microbatch, worldSize: worldSize)
        try require(steps >= 1, "batch.steps", "must be ≥ 1", "e.g. steps = 3000")
        try require(emaDecay >= 0 && emaDecay < 1, "ema.decay", "must lie in [0, 1)", "use 0 (off) or e.g. 0.999")
        try optimizer.validate()
    }
}
