/// One line of `metrics.jsonl` per logged step (`"kind": "step"`). Field names are stable
/// (snake_case in the file) and documented in the README.
public struct StepMetrics: Codable, Equatable, Sendable {
    public var kind = "step"
    public var epoch: Int
    public var step: Int                      // steps taken so far, over all epochs
    public var rewardMean: Double             // reward of the online batch (global)
    public var rewardStd: Double
    public var rewardMin: Double
    public var rewardMax: Double
    /// Samples whose reward or sample was NaN or ±Inf, left out of the step (reward.on_invalid =
    /// "drop"); the reward statistics above leave them out, the loss terms are means over the rest.
    public var invalidRewards: Int = 0
    /// Each composite reward component's mean over the valid samples, by name; absent otherwise.
    public var rewardComponents: [String: Double]? = nil
    public var loss: Double                   // weighted FM + α · W2 term, per sample
    public var weightedFlowMatching: Double   // (1/B) Σ w ‖v_θ − u_t‖²/D
    public var flowMatching: Double           // (1/B) Σ ‖v_θ − u_t‖²/D
    public var w2Term: Double                 // (1/B) Σ ‖v_θ − v_ref‖²/D
    public var weightMax: Double
    public var effectiveSampleSize: Double    // (Σw)² / Σw² over the global batch
    public var gradientNorm: Double           // before clipping
    public var learningRate: Double
    public var samplesPerSecond: Double       // online samples per second, whole job
}

/// One line of `metrics.jsonl` per evaluation (`"kind": "epoch"`): epoch 0 is the base model,
/// epoch N the policy after N epochs. Samples come from the same evaluation noise every time.
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var kind = "epoch"
    public var epoch: Int
    public var step: Int
    public var rewardMean: Double
    public var rewardStd: Double
    /// Mean pairwise Euclidean distance between evaluation samples.
    public var diversity: Double
    /// Estimate of ∫₀¹ E_{x∼p_t} ‖v_θ − v_ref‖²/D dt, the paper's bound on W2²(policy, reference)
    /// up to the factor e^{2L}.
    public var w2Bound: Double
    /// Per-dimension sample mean (only for data of at most 16 dimensions).
    public var sampleMean: [Double]?
    /// Per-dimension sample standard deviation, averaged over dimensions.
    public var sampleStd: Double
    public var seconds: Double                // wall time since the run started
    // In the feature space of run.eval_classifier's classifier (absent without one):
    /// Mean pairwise Euclidean distance between the evaluation samples' penultimate features.
    public var featureDiversity: Double? = nil
    /// Entropy in bits of `classHistogram`: 0 for one class, log2 K when all K are equally common.
    public var classEntropy: Double? = nil
    /// How many evaluation samples the classifier assigns (argmax) to each class, in class order.
    public var classHistogram: [Int]? = nil
    /// Fréchet distance between the features of the evaluation samples and of Fashion-MNIST's test set.
    public var fid: Double? = nil
    /// The same distance for the first N training images (N = run.eval_samples): what a perfect
    /// model would score with N samples. The same in every record of a run.
    public var fidFloor: Double? = nil
}
