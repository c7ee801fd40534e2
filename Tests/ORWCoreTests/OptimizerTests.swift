import XCTest
import ORWCore
import TestSupport

final class OptimizerTests: XCTestCase {
    /// First step from zero moments: m̂ = g, v̂ = g², so θ moves by η · g / (|g| + ε).
    func testFirstAdamStepMovesByLearningRate() {
        var theta: [Float] = [1, -2, 0.5]
        let gradient: [Float] = [0.3, -4, 1e-3]
        Adam(parameterCount: 3).step(parameters: &theta, gradients: gradient, learningRate: 0.1)
        XCTAssertEqual(theta[0], 0.9, accuracy: 1e-6)
        XCTAssertEqual(theta[1], -1.9, accuracy: 1e-6)
        XCTAssertEqual(theta[2], 0.5 - 0.1 * 1e-3 / (1e-3 + 1e-8), accuracy: 1e-6)
    }

    /// AdamW shrinks θ by (1 − ηλ) before the update; with g = 0 that is all that happens.
    func testDecoupledWeightDecayWithZeroGradient() {
        var theta: [Float] = [2, -1]
        let adam = Adam(parameterCount: 2, weightDecay: 0.5, decoupled: true)
        adam.step(parameters: &theta, gradients: [0, 0], learningRate: 0.1)
        XCTAssertEqual(theta, [1.9, -0.95])
        XCTAssertEqual(adam.stepCount, 1)
    }

    func testClippingSemantics() {
        let g = FloatBuffer([3, 4])
        XCTAssertEqual(clipGradientNorm(g.buffer, maxNorm: 10), 5)
        XCTAssertEqual(g.values, [3, 4], "below the bound: untouched")
        XCTAssertEqual(clipGradientNorm(g.buffer, maxNorm: 0), 5)
        XCTAssertEqual(clipGradientNorm(g.buffer, maxNorm: .infinity), 5)
        XCTAssertEqual(g.values, [3, 4], "no bound: untouched")
        XCTAssertEqual(clipGradientNorm(g.buffer, maxNorm: 1), 5)
        let scale = Float(1) / (5 + 1e-6)
        XCTAssertEqual(g.values, [3 * scale, 4 * scale])
    }

    func testScheduleFormulas() {
        let constant = LearningRateSchedule(base: 1, warmupSteps: 4)
        XCTAssertEqual((0..<6).map(constant.rate(at:)), [0.25, 0.5, 0.75, 1, 1, 1])
        XCTAssertEqual(LearningRateSchedule(base: 0.3).rate(at: 0), 0.3)
        let cosine = LearningRateSchedule(base: 1, warmupSteps: 2, kind: .cosine(totalSteps: 6, minimum: 0.2))
        let rates = (0..<8).map(cosine.rate(at:))
        let expected: [Float] = [0.5, 1, 1, 0.2 + 0.8 * Float((1 + cos(Double.pi / 4)) / 2), 0.6,
                                 0.2 + 0.8 * Float((1 + cos(3 * Double.pi / 4)) / 2), 0.2, 0.2]
        for (rate, value) in zip(rates, expected) { XCTAssertEqual(rate, value, accuracy: 1e-6) }
    }
}
