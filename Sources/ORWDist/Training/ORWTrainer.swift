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
    var globalRewards: GlobalRewards   // r [B] (and composite components), every rank's, gathered
    var weights: [Float]      // w [B], over the global batch, in global sample order
    var valid: [Bool]         // [B] false for a dropped sample (reward.on_invalid = "drop"), global order

    /// |τ·r| beyond which `exp` weighting earns a warning: above e^60 ≈ 1e26 one sample
    /// dominates and overflow is near; with every weight below e^−60 the flow-matching term is
    /// negligible next to α·W2 and underflow (to 0 below ≈ e^−103) is near.
    static let exponentWarning = 60.0
    var warnedAboutExponent = false
    var warnedAboutSmallExponent = false
    let log: Log

    /// Global samples whose rollout or reward is replaced by NaN (the `ORWDIST_DEBUG_NAN_SAMPLES`
    /// and `ORWDIST_DEBUG_NAN_REWARDS` test hooks).
    var nanForTesting: (samples: [Int], rewards: [Int]) = ([], [])

    /// Steps taken so far, over all epochs.
    public internal(set) var stepsTaken = 0

    /// The signal some rank had received by the end of the last step (SIGTERM wins over
    /// SIGUSR1), agreed by every rank in that step's closing reduction: the step boundary's
    /// decision, reached without a collective of its own.
    public internal(set) var agreedSignal: Interruption.Kind?

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
        globalRewards = GlobalRewards(world: world, globalBatch: config.globalBatch, microbatch: config.microbatch,
                                      components: (reward as? CompositeReward)?.components.count ?? 0)
        weights = [Float](repeating: 0, count: config.globalBatch)
        valid = [Bool](repeating: true, count: config.globalBatch)
    }

    /// Global indices of the first sample of each microbatch this rank computes.
    var localMicrobatchStarts: [Int] {
        let count = config.globalBatch / config.microbatch
        return stride(from: world.rank, to: count, by: world.size).map { $0 * config.microbatch }
    }

    /// The row of `samples` and `rewards` that holds global sample `sample`, if this rank computes it.
    func localRow(_ sample: Int) -> Int? {
        guard sample < config.globalBatch, globalRewards.rank(of: sample) == world.rank else { return nil }
        return globalRewards.localRow(of: sample)
    }

    /// The start of an epoch: the sampler becomes the current policy.
    public func beginEpoch() {
        samplerParameters = policy
    }

    /// One optimiser step on a fresh online batch; returns the step's global metrics.
    ///
    /// Three collectives: the rewards' allgather, the gradient's allreduce and one closing
    /// allreduce of the loss sums and the ranks' received signals (`agreedSignal`).
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
        // The rollout, microbatch by microbatch (each its own ODE state), so dopri5's step sizes
        // do not depend on which microbatches share this rank.
        _ = try sampler.sample(model: model, parameters: samplerParameters, noise: &samples, batch: rewards.count, group: b)
        for row in nanForTesting.samples.compactMap(localRow) {
            for d in 0..<dimension { samples[row * dimension + d] = .nan }
        }
        phaseClock?.lap(.rollout)

        // 2. Rewards, black box. A sample that is itself NaN or ±Inf (a diverging rollout) counts
        //    as a NaN reward, whatever the reward made of it.
        try samples.withUnsafeBufferPointer { x in
            try rewards.withUnsafeMutableBufferPointer { r in
                try reward.score(x.baseAddress!, batch: r.count, dimension: dimension, into: r.baseAddress!)
            }
        }
        for i in rewards.indices where !samples[i * dimension..<(i + 1) * dimension].allSatisfy(\.isFinite) {
            rewards[i] = .nan
        }
        for row in nanForTesting.rewards.compactMap(localRow) { rewards[row] = .nan }
        phaseClock?.lap(.reward)

        // 3. Weights over the global batch, on every rank from every rank's rewards. NaN or ±Inf
        //    stop the step on every rank with the same message (reward.on_invalid = "fail"), or
        //    the samples are dropped (reward.on_invalid = "drop"): weight 0, and left out of the
        //    normalisation, the coupling, the loss and the statistics.
        try globalRewards.gather(rewards, components: (reward as? CompositeReward)?.componentRewards ?? [])
        phaseClock?.lap(.gather)
        try RewardStatistics.check(globalRewards, reward: reward, policy: config.reward.onInvalid, step: stepsTaken)
        let validCount = globalRewards.withRow(0) { r in
            for i in r.indices { valid[i] = r[i].isFinite }
            return r.reduce(0) { $1.isFinite ? $0 + 1 : $0 }
        }
        let weightStatistics = try globalRewards.withRow(0) { r in
            try config.weighting.weights(rewards: r.baseAddress!, count: r.count, tau: Float(config.tau), into: &weights)
        }
        let rewardStatistics = RewardStatistics(globalRewards, reward: reward)

        if let exponent = weightStatistics.largestExponent, exponent > Self.exponentWarning, !warnedAboutExponent {
            warnedAboutExponent = true
            log.warning(String(format: "exp weighting: τ·r reached %.1f (weights up to e^%.0f); exp overflows Float past 88.7 "
                               + "and will stop the run. Set method.weighting = \"softmax\" (the same optimum, normalised over the batch).",
                               exponent, exponent))
        }
        if let exponent = weightStatistics.largestExponent, exponent < -Self.exponentWarning, !warnedAboutSmallExponent {
            warnedAboutSmallExponent = true
            log.warning(String(format: "exp weighting: the largest τ·r is %.1f (every weight below e^%.0f), so the flow-matching "
                               + "term is negligible next to α·W2 and exp underflows Float to 0 below −103, which will stop the run. "
                               + "Set method.weighting = \"softmax\" (the same optimum, normalised over the batch), or shift the "
                               + "reward by an offset that brings its best values near 0.", exponent, exponent))
        }
        // The gradient is accumulated times a power of two that brings the largest weight to
        // [1, 2): exp weights up to e^88 would overflow Float in w·(v_θ − u_t) (`orwLoss`).
        let gradientScale = weightStatistics.maximum > 1 ? Double(sign: .plus, exponent: -weightStatistics.maximum.exponent,
                                                                  significand: 1) : 1

        phaseClock?.lap(.weighting)

        // 4–5. Pair with fresh noise, loss, backward, microbatch by microbatch.
        for i in gradient.indices { gradient[i] = 0 }
        var terms = ORWLossTerms()
        for (slot, first) in starts.enumerated() {
            terms += samples.withUnsafeBufferPointer { x in
                weights.withUnsafeBufferPointer { w in
                    valid.withUnsafeBufferPointer { keep in
                        objective.accumulate(
                            x1: x.baseAddress! + slot * b * dimension, weights: w.baseAddress! + first, valid: keep.baseAddress! + first,
                            firstSample: first, epoch: epoch, step: stepsTaken, policy: policy, reference: reference,
                            alpha: Float(config.alpha), gradientScale: gradientScale, gradient: &gradient)
                    }
                }
            }
        }

        // 6. Allreduce, clip, Adam: the mean over the valid samples.
        let (norm, rate) = try optimizer.step(parameters: &policy, gradientSums: &gradient, globalBatch: max(validCount, 1),
                                              gradientScale: gradientScale, step: stepsTaken)
        stepsTaken += 1
        phaseClock?.lap(.optimizer)

        // The loss sums over the global batch, with each rank's received signals riding along.
        var sums = [terms.weightedFlowMatching, terms.flowMatching, terms.wassersteinBound] + Interruption.localCounts
        try world.allreduceSum(&sums)
        phaseClock?.lap(.metrics)
        agreedSignal = Interruption.decision(summed: sums[3...])
        let count = Double(max(validCount, 1))
        return StepMetrics(
            epoch: epoch, step: stepsTaken, rewardMean: rewardStatistics.mean,
            rewardStd: rewardStatistics.standardDeviation,
            rewardMin: rewardStatistics.minimum, rewardMax: rewardStatistics.maximum,
            invalidRewards: rewardStatistics.invalid, rewardComponents: rewardStatistics.components,
            loss: (sums[0] + config.alpha * sums[2]) / count,
            weightedFlowMatching: sums[0] / count, flowMatching: sums[1] / count, w2Term: sums[2] / count,
            weightMax: weightStatistics.maximum, effectiveSampleSize: weightStatistics.effectiveSampleSize,
            gradientNorm: norm, learningRate: Double(rate),
            samplesPerSecond: Double(config.globalBatch) / Date().timeIntervalSince(started))
    }
}
