import Foundation

/// How rewards become per-sample loss weights (DESIGN.md, step 3).
public enum RewardWeighting: String, Codable, CaseIterable, Sendable {
    /// w = exp(τ r), as the authors' code. Overflows for τ r beyond ≈ 88; underflows to 0 for
    /// τ r below ≈ −103.
    case exp
    /// w = B · softmax(τ r) over the global batch: mean 1, never overflows.
    case softmax
    /// w = B · r / Σ r over the global batch (mean 1); every r must be ≥ 0.
    case linear
}

/// Why rewards could not be weighted.
public enum WeightingError: Error, CustomStringConvertible, Equatable {
    case overflow(largestExponent: Double)
    /// Every valid weight of `exp` is 0 in Float: the largest τ·r is below ≈ −103.
    case underflow(largestExponent: Double)
    case negativeReward(Float)
    case zeroRewardSum
    /// Every reward of the global batch is NaN or ±Inf.
    case noValidReward

    public var description: String {
        switch self {
        case .overflow(let exponent):
            return "exp weighting overflowed: τ·r reached \(exponent), beyond Float's range (≈ 88). "
                + "Set weighting = \"softmax\" (same optimum, normalised over the batch) or lower tau."
        case .underflow(let exponent):
            return "exp weighting underflowed: the largest τ·r of the global batch is \(exponent), below Float's range (≈ −103), "
                + "so every weight is 0, the flow-matching term vanishes and the run would not move. "
                + "Set weighting = \"softmax\" (same optimum, normalised over the batch), shift the reward by an offset that brings "
                + "its best values near 0 (exp(τ(r + c)) only rescales the weights), or lower tau."
        case .negativeReward(let r):
            return "linear weighting needs rewards ≥ 0, got \(r). Use weighting = \"softmax\" or shift the reward."
        case .zeroRewardSum:
            return "linear weighting: every reward in the global batch is 0, so the weights are undefined. "
                + "Use weighting = \"softmax\"."
        case .noValidReward:
            return "every reward in the global batch is NaN or ±Inf, so no sample can be weighted"
        }
    }
}

/// What the weighting did, for the metrics.
public struct WeightStatistics: Equatable, Sendable {
    /// max τ·r over the global batch, for `exp`: past ≈ 88 the weights overflow Float, below
    /// ≈ −103 they all underflow to 0.
    public var largestExponent: Double?
    /// Largest weight in the global batch.
    public var maximum: Double
    /// Kish's effective sample size (Σw)² / Σw², over the global batch.
    public var effectiveSampleSize: Double
}

extension RewardWeighting {
    /// log(Float.greatestFiniteMagnitude) ≈ 88.72: exp of anything larger is +∞ in Float.
    static let largestFiniteExponent = Foundation.log(Double(Float.greatestFiniteMagnitude))

    /// Writes w [B] for the rewards r [B] of the whole global batch. The trainer gathers every
    /// rank's rewards first, so each rank computes all B weights and their statistics itself, in
    /// global sample order: the result does not depend on the number of ranks, and weighting
    /// needs no collective of its own.
    ///
    /// A NaN or ±Inf reward (a sample the trainer drops) gets weight 0 and is left out of the
    /// normalisation and the statistics, so the other samples' weights are those of the valid
    /// batch: `softmax` and `linear` sum to V, the number of valid samples (mean 1 over them).
    public func weights(
        rewards: UnsafePointer<Float>, count: Int, tau: Float, into weights: UnsafeMutablePointer<Float>
    ) throws -> WeightStatistics {
        let r = UnsafeBufferPointer(start: rewards, count: count)
        let largestReward = r.reduce(-Float.infinity) { $1.isFinite ? Swift.max($0, $1) : $0 }
        let batch = Double(r.reduce(0) { $1.isFinite ? $0 + 1 : $0 })   // V, the valid samples
        var exponent: Double?
        switch self {
        case .exp:
            let largest = Double(largestReward) * Double(tau)
            guard largest > -.infinity else { throw WeightingError.noValidReward }
            guard largest < Self.largestFiniteExponent else {
                throw WeightingError.overflow(largestExponent: largest)
            }
            for i in 0..<count { weights[i] = r[i].isFinite ? Float(Foundation.exp(Double(tau) * Double(r[i]))) : 0 }
            guard (0..<count).contains(where: { weights[$0] > 0 }) else {
                throw WeightingError.underflow(largestExponent: largest)
            }
            exponent = largest
        case .softmax:
            let largest = Double(largestReward) * Double(tau)
            guard largest > -.infinity else { throw WeightingError.noValidReward }
            var total = 0.0
            for value in r where value.isFinite { total += Foundation.exp(Double(tau) * Double(value) - largest) }
            for i in 0..<count {
                weights[i] = r[i].isFinite ? Float(batch * Foundation.exp(Double(tau) * Double(r[i]) - largest) / total) : 0
            }
        case .linear:
            if let negative = r.first(where: { $0.isFinite && $0 < 0 }) { throw WeightingError.negativeReward(negative) }
            let total = r.reduce(0.0) { $1.isFinite ? $0 + Double($1) : $0 }
            guard total > 0 else { throw WeightingError.zeroRewardSum }
            for i in 0..<count { weights[i] = r[i].isFinite ? Float(batch * Double(r[i]) / total) : 0 }
        }
        var sum = 0.0, squares = 0.0
        var largestWeight = -Double.infinity
        for i in 0..<count {
            let w = Double(weights[i])
            sum += w
            squares += w * w
            largestWeight = Swift.max(largestWeight, w)
        }
        return WeightStatistics(largestExponent: exponent, maximum: largestWeight,
                                effectiveSampleSize: squares > 0 ? sum * sum / squares : 0)
    }
}
