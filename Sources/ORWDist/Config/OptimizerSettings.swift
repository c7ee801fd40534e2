import ORWCore

/// The optimiser block shared by `orwdist pretrain` and `orwdist train`.
public struct OptimizerSettings: Equatable, Sendable {
    public enum Schedule: String, CaseIterable, Sendable { case constant, cosine }

    public var learningRate = 1e-3
    public var warmupSteps = 0
    public var schedule = Schedule.constant
    public var minimumLearningRate = 0.0
    public var clipNorm = 1.0
    public var weightDecay = 0.0
    public var decoupledWeightDecay = false
    public var beta1 = 0.9
    public var beta2 = 0.999
    public var epsilon = 1e-8

    public init() {}

    /// The `[optimizer]` fields of a config whose optimiser settings live at `path`.
    public static func fields<Config>(_ path: WritableKeyPath<Config, OptimizerSettings>) -> [ConfigField<Config>] {
        [
            .double("optimizer.learning_rate", path.appending(path: \.learningRate), "Adam learning rate after warm-up."),
            .int("optimizer.warmup_steps", path.appending(path: \.warmupSteps), "Steps of linear warm-up: step k (1…warmup_steps) uses k/warmup_steps · learning_rate, so the first step uses learning_rate/warmup_steps and step warmup_steps the full rate."),
            .choice("optimizer.schedule", path.appending(path: \.schedule), "Learning rate after warm-up: constant, or cosine decay toward minimum_learning_rate over the steps after warm-up, reached one step after the last (the last step is one decrement short of it, as transformers' cosine schedule)."),
            .double("optimizer.minimum_learning_rate", path.appending(path: \.minimumLearningRate), "Floor of the cosine schedule, reached one step after the last step."),
            .double("optimizer.clip_norm", path.appending(path: \.clipNorm), "Clip the global gradient norm to this (PyTorch clip_grad_norm_); 0 disables."),
            .double("optimizer.weight_decay", path.appending(path: \.weightDecay), "Weight decay (L2 added to the gradient, or decoupled as AdamW)."),
            .bool("optimizer.decoupled_weight_decay", path.appending(path: \.decoupledWeightDecay), "true: AdamW's decoupled weight decay; false: Adam's L2."),
            .double("optimizer.beta1", path.appending(path: \.beta1), "Adam β1."),
            .double("optimizer.beta2", path.appending(path: \.beta2), "Adam β2."),
            .double("optimizer.epsilon", path.appending(path: \.epsilon), "Adam ε (added outside the square root, as PyTorch)."),
        ]
    }

    public func validate() throws {
        try require(learningRate.isFinite && learningRate > 0, "optimizer.learning_rate", "must be a positive number, got \(learningRate)", "e.g. learning_rate = 1e-3")
        try require(warmupSteps >= 0, "optimizer.warmup_steps", "must be ≥ 0, got \(warmupSteps)", "use 0 for no warm-up")
        try require(minimumLearningRate.isFinite && minimumLearningRate >= 0, "optimizer.minimum_learning_rate", "must be ≥ 0", "use 0")
        try require(clipNorm.isFinite && clipNorm >= 0, "optimizer.clip_norm", "must be ≥ 0, got \(clipNorm)", "use 0 to disable clipping")
        try require(weightDecay.isFinite && weightDecay >= 0, "optimizer.weight_decay", "must be ≥ 0", "use 0")
        try require((0..<1).contains(beta1) && (0..<1).contains(beta2), "optimizer.beta1", "β1 and β2 must lie in [0, 1)", "use 0.9 and 0.999")
        try require(epsilon.isFinite && epsilon > 0, "optimizer.epsilon", "must be positive", "use 1e-8")
    }
}

/// Throws a `ConfigError` unless `condition` holds.
func require(_ condition: Bool, _ field: String, _ problem: @autoclosure () -> String, _ fix: @autoclosure () -> String) throws {
    if !condition { throw ConfigError(field: field, problem: problem(), fix: fix()) }
}
