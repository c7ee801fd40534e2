import ORWCore

/// Everything `orwdist classifier train` reads: a Fashion-MNIST classifier for the `classifier`
/// reward, trained data-parallel like pretraining.
///
/// Batch arithmetic: a step draws `batch.global` training images (global sample i of step s
/// reads the index drawn from the stream keyed by (seed, s, i), so any number of ranks sees the
/// same batch), in microbatches of `batch.micro` dealt round-robin to the ranks. An epoch is
/// 60,000 / B steps, rounded up: with the defaults 60,000 / 128 → 469 steps, × 8 epochs = 3,752.
public struct ClassifierConfig: ConfigFile, Equatable, Sendable {
    // [run]
    public var runDirectory = "runs/classifier"
    public var seed = 0
    public var logEvery = 200
    // [data]
    public var dataPath = ""
    // [model]
    public var hidden = [512, 256]
    // [batch]
    public var globalBatch = 128
    public var microbatch = 64
    public var epochs = 8
    // [optimizer]
    public var optimizer: OptimizerSettings = {
        var settings = OptimizerSettings()
        settings.learningRate = 1e-3
        settings.schedule = .cosine
        settings.minimumLearningRate = 1e-5
        settings.clipNorm = 0
        return settings
    }()

    public init() {}

    public static var fields: [ConfigField<ClassifierConfig>] { [
        .string("run.directory", \.runDirectory, "Run directory: config.toml, metrics.jsonl and classifier.safetensors."),
        .int("run.seed", \.seed, "Seed of the initialisation and of the data order."),
        .int("run.log_every", \.logEvery, "Write a metrics line every this many steps."),
        .string("data.path", \.dataPath, "Directory of Fashion-MNIST's gzipped IDX files (empty: /usr/share/datasets/fashion-mnist)."),
        .ints("model.hidden", \.hidden, "Widths of the hidden Linear + SiLU layers of the MLP, e.g. [512, 256]."),
        .int("batch.global", \.globalBatch, "B, images per step over all ranks."),
        .int("batch.micro", \.microbatch, "b, images per microbatch; B must be a multiple of b × ranks."),
        .int("batch.epochs", \.epochs, "Passes over the 60,000 training images (drawn with replacement)."),
    ] + OptimizerSettings.fields(\.optimizer) }

    /// Steps for `epochs` passes over `trainingCount` images.
    public func steps(trainingCount: Int) -> Int { (epochs * trainingCount + globalBatch - 1) / globalBatch }

    public func validate(worldSize: Int) throws {
        try require(logEvery > 0, "run.log_every", "must be ≥ 1", "use e.g. 200")
        try require(seed >= 0, "run.seed", "must be ≥ 0, got \(seed)", "use any non-negative integer")
        try require(hidden.count <= 64 && hidden.allSatisfy({ (1...ConfigLimits.hiddenWidth).contains($0) }), "model.hidden",
                    "at most 64 widths, each in 1…\(ConfigLimits.hiddenWidth), got \(hidden)", "e.g. hidden = [512, 256]")
        try ConfigLimits.validateBatch(global: globalBatch, micro: microbatch, worldSize: worldSize)
        try require(epochs >= 1, "batch.epochs", "must be ≥ 1", "e.g. epochs = 8")
        try optimizer.validate()
    }
}
