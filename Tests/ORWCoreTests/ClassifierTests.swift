import Foundation
import ORWCore
import TestSupport
import XCTest

/// Softmax cross-entropy and the MLP classifier: values against their definitions, gradients
/// against finite differences (tolerances as in LayerTests: ∞-norm relative error ≤ 1e-3).
final class ClassifierTests: XCTestCase {
    let spec = ClassifierArchitecture(inputShape: [1, 2, 3], hidden: [5, 4], classes: 3)

    func testCrossEntropyMatchesDefinition() {
        let (batch, classes) = (3, 4)
        let z = normals(batch * classes, seed: 1, scale: 3)
        let labels = [2, 0, 3]
        var logp = [Float](repeating: 0, count: z.count)
        let loss = SoftmaxCrossEntropy.forward(logProbabilities: &logp, logits: z, labels: labels, batch: batch, classes: classes)
        var expected = 0.0
        for row in 0..<batch {
            let total = (0..<classes).reduce(0.0) { $0 + exp(Double(z[row * classes + $1])) }
            for k in 0..<classes {
                XCTAssertEqual(Double(logp[row * classes + k]), Double(z[row * classes + k]) - log(total), accuracy: 1e-5)
            }
            expected -= Double(z[row * classes + labels[row]]) - log(total)
        }
        XCTAssertEqual(loss, expected, accuracy: 1e-5)
        // Huge logits stay finite (the row maximum is subtracted first).
        var big = [Float](repeating: 0, count: 2)
        SoftmaxCrossEntropy.logSoftmax(output: &big, logits: [1000, 0], batch: 1, classes: 2)
        XCTAssertEqual(big[0], 0, accuracy: 1e-6)
        XCTAssertEqual(big[1], -1000, accuracy: 1e-3)
    }

    func testCrossEntropyGradient() {
        let (batch, classes) = (3, 4)
        let z = FloatBuffer(normals(batch * classes, seed: 2))
        let labels = [1, 3, 0]
        let logp = FloatBuffer(zeros: z.count)
        func loss() -> Double {
            SoftmaxCrossEntropy.forward(logProbabilities: logp.pointer, logits: z.pointer, labels: labels, batch: batch, classes: classes)
        }
        _ = loss()
        let dz = FloatBuffer(zeros: z.count)
        SoftmaxCrossEntropy.backward(logitGradient: dz.pointer, logProbabilities: logp.pointer, labels: labels, batch: batch, classes: classes)
        let deviation = Deviation(dz.values, centralDifferences(of: loss, at: z.pointer, count: z.count, step: 1e-2))
        print("finite differences cross-entropy dz: \(deviation)")
        XCTAssertLessThanOrEqual(deviation.relative, 1e-3)
    }

    func testLayoutFollowsPyTorchSequential() {
        let model = MLPClassifier(spec)
        XCTAssertEqual(model.layout.tensors.map(\.name), ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.4.weight", "net.4.bias"])
        XCTAssertEqual(model.layout.tensors.map(\.shape), [[5, 6], [5], [4, 5], [4], [3, 4], [3]])
        XCTAssertEqual(model.featureDimension, 4)
        let json = String(decoding: try! JSONEncoder().encode(spec), as: UTF8.self)
        XCTAssertTrue(json.contains("\"type\":\"mlp-classifier\""), json)
        XCTAssertEqual(try JSONDecoder().decode(ClassifierArchitecture.self, from: Data(json.utf8)), spec)
    }

    /// The forward pass by hand: Linear, SiLU, Linear, SiLU, Linear; features are the last SiLU.
    func testForwardAndFeaturesMatchDefinition() {
        let model = MLPClassifier(spec)
        var theta = [Float](repeating: 0, count: model.layout.count)
        model.initialize(&theta, seed: 3)
        let batch = 2
        let x = normals(batch * 6, seed: 4)
        var logits = [Float](repeating: 0, count: batch * 3), features = [Float](repeating: 0, count: batch * 4)
        model.infer(theta, x: x, batch: batch, logits: &logits, features: &features)
        func linear(_ input: [Double], _ name: Int) -> [Double] {
            let w = model.layout["net.\(name).weight"]!, b = model.layout["net.\(name).bias"]!
            return (0..<w.shape[0]).map { o in
                (0..<w.shape[1]).reduce(Double(theta[b.offset + o])) { $0 + Double(theta[w.offset + o * w.shape[1] + $1]) * input[$1] }
            }
        }
        func silu(_ v: [Double]) -> [Double] { v.map { $0 / (1 + exp(-$0)) } }
        for row in 0..<batch {
            let input = x[(row * 6)..<(row * 6 + 6)].map(Double.init)
            let hidden = silu(linear(silu(linear(input, 0)), 2))
            let output = linear(hidden, 4)
            for k in 0..<3 { XCTAssertEqual(Double(logits[row * 3 + k]), output[k], accuracy: 1e-5) }
            for k in 0..<4 { XCTAssertEqual(Double(features[row * 4 + k]), hidden[k], accuracy: 1e-5) }
        }
    }

    /// Finite differences of L = Σ logits · g with respect to every parameter.
    func testGradientsMatchFiniteDifferences() {
        let model = MLPClassifier(spec)
        let batch = 3
        let theta = FloatBuffer(zeros: model.layout.count)
        model.initialize(theta.pointer, seed: 5)
        let x = FloatBuffer(normals(batch * 6, seed: 6)), g = FloatBuffer(normals(batch * 3, seed: 7))
        let logits = FloatBuffer(zeros: batch * 3)
        func loss() -> Double {
            model.infer(theta.pointer, x: x.pointer, batch: batch, logits: logits.pointer)
            return dot(logits.pointer, g.pointer, count: logits.count)
        }
        model.forward(theta.pointer, x: x.pointer, batch: batch, logits: logits.pointer)
        let dtheta = FloatBuffer(zeros: theta.count)
        model.backward(parameterGradient: dtheta.pointer, logitGradient: g.pointer, parameters: theta.pointer)
        let deviation = Deviation(dtheta.values, centralDifferences(of: loss, at: theta.pointer, count: theta.count, step: 4e-3))
        print("finite differences classifier dθ: \(deviation)")
        XCTAssertLessThanOrEqual(deviation.relative, 1e-3)
    }

    /// Dropped (NaN or ±Inf) rewards get weight 0 and are left out of the normalisation: the rest
    /// weigh exactly as the valid batch alone, so softmax and linear weights sum to the number of
    /// valid samples V (issue 20: they used to sum to B, counting the dropped samples).
    func testInvalidRewardsGetWeightZero() throws {
        let rewards: [Float] = [1, .nan, 2, .infinity, 0.5, -.infinity]
        let valid: [Float] = [1, 2, 0.5]
        for kind in RewardWeighting.allCases {
            var w = [Float](repeating: -1, count: rewards.count)
            _ = try kind.weights(rewards: rewards, count: rewards.count, tau: 0.7, into: &w)
            XCTAssertEqual([w[1], w[3], w[5]], [0, 0, 0], "\(kind)")
            var reference = [Float](repeating: 0, count: 3)
            _ = try kind.weights(rewards: valid, count: 3, tau: 0.7, into: &reference)
            XCTAssertEqual(w[0], reference[0], accuracy: 1e-5, "\(kind)")
            XCTAssertEqual(w[2], reference[1], accuracy: 1e-5, "\(kind)")
            XCTAssertEqual(w[4], reference[2], accuracy: 1e-5, "\(kind)")
            if kind != .exp { XCTAssertEqual(w.reduce(0, +), Float(valid.count), accuracy: 1e-4, "\(kind)") }
        }
        var w = [Float](repeating: 0, count: 2)
        XCTAssertThrowsError(try RewardWeighting.softmax.weights(rewards: [.nan, .nan], count: 2, tau: 1, into: &w)) { error in
            XCTAssertEqual(error as? WeightingError, .noValidReward)
        }
    }
}
