import Foundation
import ORWCore
import ORWRewards

/// ORW-CFM-W2 fine-tuning (DESIGN.md, "The method in one page"), distributed by the
/// microbatch invariant: rank k of R computes microbatches k, k+R, … of every global batch.
///
/// Shapes: B = global batch, b = microbatch, n = B / R samples on this rank, D = dimension,
/// P = parameters.
public final class ORWTrainer {
    public let config: TrainConfig
    let world: any Communicator
    let model: any VelocityField
    let reward: any Reward
    let seed: UInt64
    let sampler: ODEIntegrator

    public internal(set) var policy: [Float]     // θ [P], trained
    var samplerParameters: [Float]               // [P], the policy as of this epoch's start
    public let reference: [Float]                // θ_ref [P], frozen
    var gradient: [Float]                        // [P]
    var optimizer: DistributedOptimizer
    let objective: MicrobatchObjective

    var samples: [Float]      // x1 [n, D], this rank's online samples
    var rewards: [Float]      // r [n]
    var weights: [Float]      // w [n]

    /// τ·r beyond which `exp` weighting earns a warning (e^60 ≈ 1e26: one sample dominates).
    static let exponentWarning = 60.0
    var warnedAboutExponent = false
    let log: Log

    /// Steps taken so far, over all epochs.
    public internal(set) var stepsTaken = 0

    /// When set (by `orwdist bench step`), every phase of `step` is timed into it.
    public var phaseClock: PhaseClock? {
        didSet { objective.clock = phaseClock; optimizer.clock = phaseClock }
    }

    public init(config: TrainConfig, world: any Communicator, model: any VelocityField,
                reference: [Float], reward: any Reward, log: Log) {
        self.log = log
        self.config = config
        self.world = world
        self.model = model
        self.reward = reward
        seed = UInt64(config.seed)
        sampler = ODEIntegrator(config.odeSolver)
        policy = reference
        samplerParameters = reference
        self.reference = reference
        gradient = [Float](repeating: 0, count: reference.count)
        optimizer = DistributedOptimizer(world: world, settings: config.optimizer,
                                         parameterCount: reference.count, totalSteps: config.totalSteps)
        objective = MicrobatchObjective(model: model, coupling: config.coupling, path: ProbabilityPath(sigma: 0),
                                        seed: seed, microbatch: config.microbatch)
        let local = config.globalBatch / world.size
        samples = [Float](repeating: 0, count: local * model.dimension)
        rewards = [Float](repeating: 0, count: local)
        weights = rewards
    }

    /// Global indices of the first sample of each microbatch this rank computes.
    var localMicrobatchStarts: [Int] {
        let count = config.globalBatch / config.microbatch
        return stride(from: world.rank, to: count, by: world.size).map { $0 * config.microbatch }
    }

    /// The start of an epoch: the sampler becomes the current policy.
    public func beginEpoch() {
        samplerParameters = policy
    }

    /// One optimiser step on a fresh online batch; returns the step's global metrics.
    public func step(epoch: Int) throws -> StepMetrics {
        let started = Date()
        let dimension = model.dimension, b = config.microbatch
        let starts = localMicrobatchStarts

        // 1. Online samples: the sampler's rollout from fresh noise.
        for (slot, first) in starts.enumerated() {
            for j in 0..<b {
                var noise = RandomStream(seed: seed, purpose: .samplingNoise, epoch: epoch, step: stepsTaken, sample: first + j)
                samples.withUnsafeMutableBufferPointer {
                    noise.fillNormal($0.baseAddress! + (slot * b + j) * dimension, count: dimension)
                }
            }
        }
        _ = try sampler.sample(model: model, parameters: samplerParameters, noise: &samples, batch: rewards.count)
        phaseClock?.lap(.rollout)

        // 2. Rewards, black box. NaN or ±Inf stop the step (reward.on_invalid = "fail"), or get
        //    weight 0 in step 3 and are counted (reward.on_invalid = "drop").
        try samples.withUnsafeBufferPointer { x in
            try rewards.withUnsafeMutableBufferPointer { r in
                try reward.score(x.baseAddress!, batch: r.count, dimension: dimension, into: r.baseAddress!)
            }
        }
        phaseClock?.lap(.reward)
        try RewardStatistics.check(rewards, reward: reward, policy: config.reward.onInvalid, rank: world.rank, step: stepsTaken)

        // 3. Weights over the global batch.
        let weightStatistics = try config.weighting.weights(
            rewards: rewards, count: rewards.count, tau: Float(config.tau), globalBatch: config.globalBatch,
            reduce: CommunicatorReduction(world: world), into: &weights)

        if let exponent = weightStatistics.largestExponent, exponent > Self.exponentWarning, !warnedAboutExponent {
            warnedAboutExponent = true
            log.warning(String(format: "exp weighting: τ·r reached %.1f (weights up to e^%.0f); exp overflows Float past 88.7 "
                               + "and will stop the run. Set method.weighting = \"softmax\" (the same optimum, normalised over the batch).",
                               exponent, exponent))
        }

        phaseClock?.lap(.weighting)

        // 4–5. Pair with fresh noise, loss, backward, microbatch by microbatch.
        for i in gradient.indices { gradient[i] = 0 }
        var terms = ORWLossTerms()
        for (slot, first) in starts.enumerated() {
            terms += samples.withUnsafeBufferPointer { x in
                weights.withUnsafeBufferPointer { w in
                    objective.accumulate(
                        x1: x.baseAddress! + slot * b * dimension, weights: w.baseAddress! + slot * b,
                        firstSample: first, epoch: epoch, step: stepsTaken, policy: policy, reference: reference,
                        alpha: Float(config.alpha), gradient: &gradient)
                }
            }
        }

        // 6. Allreduce, clip, Adam.
        let (norm, rate) = try optimizer.step(parameters: &policy, gradientSums: &gradient,
                                              globalBatch: config.globalBatch, step: stepsTaken)
        stepsTaken += 1
        phaseClock?.lap(.optimizer)

        // Global statistics of the batch, in two reductions.
        var sums = [terms.weightedFlowMatching, terms.flowMatching, terms.wassersteinBound]
            + RewardStatistics.localSums(rewards, reward: reward)
        var extremes = RewardStatistics.localExtremes(rewards)
        try world.allreduceSum(&sums)
        try world.allreduceMax(&extremes)
        let count = Double(config.globalBatch)
        phaseClock?.lap(.metrics)
        let rewardStatistics = RewardStatistics(sums: Array(sums[3...]), extremes: extremes, reward: reward)
        return StepMetrics(
            epoch: epoch, step: stepsTaken, rewardMean: rewardStatistics.mean,
            rewardStd: rewardStatistics.standardDeviation,
            rewardMin: rewardStatistics.minimum, rewardMax: rewardStatistics.maximum,
            invalidRewards: rewardStatistics.invalid, rewardComponents: rewardStatistics.components,
            loss: (sums[0] + config.alpha * sums[2]) / count,
            weightedFlowMatching: sums[0] / count, flowMatching: sums[1] / count, w2Term: sums[2] / count,
            weightMax: weightStatistics.maximum, effectiveSampleSize: weightStatistics.effectiveSampleSize,
            gradientNorm: Double(norm), learningRate: Double(rate),
            samplesPerSecond: count / Date().timeIntervalSince(started))
    }
}
