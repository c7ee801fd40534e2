import Foundation
import ORWCore
import ORWRewards

/// Draws a fixed set of evaluation samples from a model and measures reward, diversity, spread
/// and the W2-bound estimate against the reference, and with `features` (run.eval_classifier)
/// the metrics in a classifier's feature space. The noise is the same at every call, so epochs
/// compare like with like. Runs on one rank; needs no communication.
/// Shapes: N = evaluation samples, D = dimension, P = parameters.
final class Evaluation {
    let model: any VelocityField
    let sampler: ODEIntegrator
    let reward: any Reward
    let features: FeatureEvaluation?
    let count: Int
    let seed: UInt64
    /// Samples integrated as one ODE state (dopri5's error norm): fixed, so an evaluation sample
    /// does not depend on `run.eval_samples` beyond its group.
    static let group = ODEIntegrator.standaloneGroup
    var samples: [Float]     // [N, D]
    var rewards: [Float]     // [N]

    init(model: any VelocityField, sampler: ODEIntegrator, reward: any Reward, features: FeatureEvaluation?,
         count: Int, seed: UInt64) {
        self.model = model
        self.sampler = sampler
        self.reward = reward
        self.features = features
        self.count = count
        self.seed = seed
        samples = [Float](repeating: 0, count: count * model.dimension)
        rewards = [Float](repeating: 0, count: count)
    }

    func measure(parameters: [Float], reference: [Float], epoch: Int, step: Int, seconds: Double) throws -> EpochMetrics {
        let dimension = model.dimension
        fillNoise(&samples, substream: 0)
        _ = try sampler.sample(model: model, parameters: parameters, noise: &samples, batch: count, group: Self.group)
        try reward.score(samples, batch: count, dimension: dimension, into: &rewards)
        // Over the valid rewards: NaN or ±Inf ones are the trainer's to judge (reward.on_invalid).
        let valid = rewards.filter(\.isFinite)
        let rewardMean = valid.reduce(0.0) { $0 + Double($1) } / Double(max(valid.count, 1))
        let rewardVariance = valid.reduce(0.0) { $0 + pow(Double($1) - rewardMean, 2) } / Double(max(valid.count, 1))

        var means = [Double](repeating: 0, count: dimension)
        var squares = [Double](repeating: 0, count: dimension)
        for i in 0..<count {
            for d in 0..<dimension {
                let value = Double(samples[i * dimension + d])
                means[d] += value
                squares[d] += value * value
            }
        }
        var stdSum = 0.0
        for d in 0..<dimension {
            means[d] /= Double(count)
            stdSum += max(0, squares[d] / Double(count) - means[d] * means[d]).squareRoot()
        }
        let inFeatureSpace = features?.measure(samples, count: count)
        return EpochMetrics(
            epoch: epoch, step: step, rewardMean: rewardMean, rewardStd: rewardVariance.squareRoot(),
            diversity: PairwiseDistance.mean(samples, count: count, dimension: dimension),
            w2Bound: w2Bound(parameters: parameters, reference: reference),
            sampleMean: dimension <= 16 ? means : nil, sampleStd: stdSum / Double(dimension), seconds: seconds,
            featureDiversity: inFeatureSpace?.diversity, classEntropy: inFeatureSpace?.classEntropy,
            classHistogram: inFeatureSpace?.classHistogram, fid: inFeatureSpace?.fid, fidFloor: inFeatureSpace?.fidFloor)
    }

    /// (1/N) Σ ‖v_θ(t, x_t) − v_ref(t, x_t)‖²/D with x1 the evaluation samples, fresh x0 and
    /// t ~ U(0, 1): a Monte-Carlo estimate of ∫₀¹ E_{x∼p_t} ‖v_θ − v_ref‖²/D dt.
    func w2Bound(parameters: [Float], reference: [Float]) -> Double {
        let dimension = model.dimension
        var x0 = [Float](repeating: 0, count: count * dimension)      // [N, D]
        fillNoise(&x0, substream: 1)
        var t = [Float](repeating: 0, count: count)                   // [N]
        for i in 0..<count {
            var stream = RandomStream(seed: seed, purpose: .evaluation, step: 2, sample: i)
            t[i] = stream.nextUniform()
        }
        var xt = x0
        for i in 0..<count {
            for d in 0..<dimension {
                let k = i * dimension + d
                xt[k] = t[i] * samples[k] + (1 - t[i]) * x0[k]
            }
        }
        var policyVelocity = xt, referenceVelocity = xt               // [N, D]
        model.infer(parameters, t: t, x: xt, batch: count, output: &policyVelocity)
        model.infer(reference, t: t, x: xt, batch: count, output: &referenceVelocity)
        var total = 0.0
        for k in policyVelocity.indices {
            let difference = Double(policyVelocity[k] - referenceVelocity[k])
            total += difference * difference
        }
        return total / Double(count * dimension)
    }

    private func fillNoise(_ buffer: inout [Float], substream: Int) {
        let dimension = model.dimension
        for i in 0..<count {
            var stream = RandomStream(seed: seed, purpose: .evaluation, step: substream, sample: i)
            buffer.withUnsafeMutableBufferPointer { stream.fillNormal($0.baseAddress! + i * dimension, count: dimension) }
        }
    }
}
