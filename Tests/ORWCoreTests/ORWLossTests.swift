import Foundation
import XCTest
@testable import ORWCore

final class ORWLossTests: XCTestCase {
    // b = 3 samples, D = 2.
    let velocity: [Float] = [0.5, -1.0, 2.0, 0.25, -0.75, 1.5]
    let target: [Float] = [1.0, 0.0, 1.5, -0.5, 0.0, 1.0]
    let reference: [Float] = [0.0, -0.5, 2.5, 0.0, -1.0, 1.0]
    let weights: [Float] = [0.5, 2.0, 1.25]

    /// The loss sum written out by hand for one sample at a time, in Double.
    func handLoss(_ v: [Float], alpha: Double) -> Double {
        var total = 0.0
        for i in 0..<3 {
            var fit = 0.0, drift = 0.0
            for d in 0..<2 {
                fit += pow(Double(v[i * 2 + d] - target[i * 2 + d]), 2)
                drift += pow(Double(v[i * 2 + d] - reference[i * 2 + d]), 2)
            }
            total += Double(weights[i]) * fit / 2 + alpha * drift / 2
        }
        return total
    }

    func testTermsMatchTheFormula() {
        var gradient = [Float](repeating: 0, count: 6)
        let terms = orwLoss(velocity: velocity, target: target, reference: reference, weights: weights,
                            alpha: 0.7, batch: 3, dimension: 2, outputGradient: &gradient)
        // Sample 0: fit (0.25 + 1)/2 = 0.625, drift (0.25 + 0.25)/2 = 0.25.
        // Sample 1: fit (0.25 + 0.5625)/2 = 0.40625, drift (0.25 + 0.0625)/2 = 0.15625.
        // Sample 2: fit (0.5625 + 0.25)/2 = 0.40625, drift (0.0625 + 0.25)/2 = 0.15625.
        XCTAssertEqual(terms.flowMatching, 0.625 + 0.40625 + 0.40625, accuracy: 1e-6)
        XCTAssertEqual(terms.weightedFlowMatching, 0.5 * 0.625 + 2 * 0.40625 + 1.25 * 0.40625, accuracy: 1e-6)
        XCTAssertEqual(terms.wassersteinBound, 0.25 + 0.15625 + 0.15625, accuracy: 1e-6)
        XCTAssertEqual(terms.objective(alpha: 0.7), handLoss(velocity, alpha: 0.7), accuracy: 1e-6)
    }

    func testGradientMatchesFiniteDifferences() {
        var gradient = [Float](repeating: 0, count: 6)
        _ = orwLoss(velocity: velocity, target: target, reference: reference, weights: weights,
                    alpha: 0.7, batch: 3, dimension: 2, outputGradient: &gradient)
        let h: Float = 1e-2   // the loss is quadratic: central differences are exact up to rounding
        for k in 0..<6 {
            var plus = velocity, minus = velocity
            plus[k] += h
            minus[k] -= h
            let numeric = (handLoss(plus, alpha: 0.7) - handLoss(minus, alpha: 0.7)) / Double(2 * h)
            XCTAssertEqual(Double(gradient[k]), numeric, accuracy: 1e-4, "dL/dv[\(k)]")
        }
    }

    /// Issue 20: exp weights near e^88 overflowed Float in w·(v_θ − u_t), and the run stopped
    /// with a NaN-loss error that hid the cause. With a power-of-two gradient scale the written
    /// gradient is finite and exactly that scale times the formula (here by hand, in Double).
    func testHugeWeightsWithAGradientScaleStayFinite() {
        let huge = Float(Foundation.exp(88.5))   // ≈ 2.7e38, near Float's largest 3.4e38
        let scale = 0x1p-128
        var gradient = [Float](repeating: 0, count: 6)
        let terms = orwLoss(velocity: velocity, target: target, reference: reference, weights: [huge, huge, huge],
                            alpha: 0.7, batch: 3, dimension: 2, gradientScale: scale, outputGradient: &gradient)
        XCTAssertTrue(terms.weightedFlowMatching.isFinite)
        for k in 0..<6 {
            let expected = scale * (2.0 / 2) * (Double(huge) * Double(velocity[k] - target[k]) + 0.7 * Double(velocity[k] - reference[k]))
            XCTAssertTrue(gradient[k].isFinite, "dL/dv[\(k)]")
            XCTAssertEqual(Double(gradient[k]), expected, accuracy: 1e-6 * abs(expected), "dL/dv[\(k)]")
        }
    }

    func testPlainFlowMatchingIsTheSpecialCase() {
        var gradient = [Float](repeating: 0, count: 6)
        let terms = orwLoss(velocity: velocity, target: target, reference: nil, weights: nil,
                            alpha: 0, batch: 3, dimension: 2, outputGradient: &gradient)
        XCTAssertEqual(terms.weightedFlowMatching, terms.flowMatching)
        XCTAssertEqual(terms.wassersteinBound, 0)
        for k in 0..<6 { XCTAssertEqual(gradient[k], velocity[k] - target[k], accuracy: 1e-7) }   // 2/D · (v − u), D = 2
    }
}

final class RewardWeightingTests: XCTestCase {
    let rewards: [Float] = [-1, 0, 0.5, 2]

    func weights(_ kind: RewardWeighting, tau: Float, rewards: [Float]? = nil) throws -> ([Float], WeightStatistics) {
        let r = rewards ?? self.rewards
        var w = [Float](repeating: 0, count: r.count)
        let statistics = try kind.weights(rewards: r, count: r.count, tau: tau, into: &w)
        return (w, statistics)
    }

    func testExpIsTheAuthorsForm() throws {
        let (w, _) = try weights(.exp, tau: 0.5)
        for (weight, reward) in zip(w, rewards) { XCTAssertEqual(weight, Float(Foundation.exp(0.5 * Double(reward))), accuracy: 1e-6) }
    }

    func testSoftmaxHasMeanOneAndExpsRatios() throws {
        let (w, statistics) = try weights(.softmax, tau: 0.5)
        XCTAssertEqual(w.reduce(0, +) / Float(w.count), 1, accuracy: 1e-6)
        XCTAssertEqual(w[3] / w[0], Float(Foundation.exp(0.5 * 3.0)), accuracy: 1e-4)
        let sum = w.reduce(0, +), squares = w.reduce(0) { $0 + $1 * $1 }
        XCTAssertEqual(statistics.effectiveSampleSize, Double(sum * sum / squares), accuracy: 1e-4)
        XCTAssertEqual(statistics.maximum, Double(w.max()!), accuracy: 1e-6)
    }

    func testSoftmaxSurvivesWhereExpOverflows() throws {
        let huge: [Float] = [100, 200, 300]
        XCTAssertThrowsError(try weights(.exp, tau: 1, rewards: huge)) { error in
            XCTAssertTrue("\(error)".contains("softmax"), "the message names the fix: \(error)")
        }
        let (w, _) = try weights(.softmax, tau: 1, rewards: huge)
        XCTAssertTrue(w.allSatisfy(\.isFinite))
        XCTAssertEqual(w[2], 3, accuracy: 1e-5)
    }

    /// Issue 20: τ·r below ≈ −103 for the whole batch made every exp weight 0 without a word.
    func testExpUnderflowOfTheWholeBatchThrowsWithTheFix() throws {
        XCTAssertThrowsError(try weights(.exp, tau: 1, rewards: [-200, -150, .nan])) { error in
            XCTAssertEqual(error as? WeightingError, .underflow(largestExponent: -150))
            for part in ["underflow", "softmax", "offset"] { XCTAssertTrue("\(error)".contains(part), "'\(part)' in \(error)") }
        }
        let (w, statistics) = try weights(.exp, tau: 1, rewards: [-200, -90])
        XCTAssertEqual(w[0], 0, "e^−200 is 0 in Float")
        XCTAssertGreaterThan(w[1], 0)
        XCTAssertEqual(statistics.largestExponent, -90)
    }

    func testLinearNeedsNonNegativeRewards() throws {
        XCTAssertThrowsError(try weights(.linear, tau: 1)) { XCTAssertEqual($0 as? WeightingError, .negativeReward(-1)) }
        let (w, _) = try weights(.linear, tau: 1, rewards: [1, 3])
        XCTAssertEqual(w, [0.5, 1.5])
        XCTAssertThrowsError(try weights(.linear, tau: 1, rewards: [0, 0])) { XCTAssertEqual($0 as? WeightingError, .zeroRewardSum) }
    }
}
