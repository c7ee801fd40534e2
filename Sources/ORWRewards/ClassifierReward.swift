import Foundation
import ORWCore

/// The paper's target-image reward: the probability a classifier gives to a set of target
/// classes, r(x) = Σ_{c ∈ targets} softmax(f(x))_c, or its logarithm with `logProbability`
/// (computed as a log-sum-exp of log-softmax, so it stays finite where the probability
/// underflows). Also exposes the classifier's penultimate features for diversity and
/// FID-style metrics.
///
/// Letters: B = batch, D = input features, K = classes, F = feature width.
public final class ClassifierReward: Reward {
    public let model: MLPClassifier
    public let parameters: [Float]          // θ [P]
    /// Target class indices, each in 0..<K, no repeats.
    public let targets: [Int]
    public let logProbability: Bool
    public var name: String { "classifier" }

    private var logits: [Float] = []        // [B, K], reused

    public init(model: MLPClassifier, parameters: [Float], targets: [Int], logProbability: Bool) throws {
        guard parameters.count == model.layout.count else {
            throw RewardError(reward: "classifier", message: "has \(parameters.count) parameters, its architecture needs \(model.layout.count)")
        }
        guard !targets.isEmpty, Set(targets).count == targets.count, targets.allSatisfy({ (0..<model.spec.classes).contains($0) }) else {
            throw RewardError(reward: "classifier", message: "target classes \(targets) must be distinct indices in 0..<\(model.spec.classes)")
        }
        self.model = model
        self.parameters = parameters
        self.targets = targets
        self.logProbability = logProbability
    }

    /// log p(y | x) [B, K] for x [B, D].
    public func logProbabilities(_ x: UnsafePointer<Float>, batch: Int) -> [Float] {
        let classes = model.spec.classes
        var output = [Float](repeating: 0, count: batch * classes)
        parameters.withUnsafeBufferPointer { theta in
            output.withUnsafeMutableBufferPointer { z in
                model.infer(theta.baseAddress!, x: x, batch: batch, logits: z.baseAddress!)
                SoftmaxCrossEntropy.logSoftmax(output: z.baseAddress!, logits: z.baseAddress!, batch: batch, classes: classes)
            }
        }
        return output
    }

    /// The penultimate features [B, F] of x [B, D] (the last hidden layer's activation).
    public func features(_ x: UnsafePointer<Float>, batch: Int) -> [Float] {
        let classes = model.spec.classes
        if logits.count < batch * classes { logits = [Float](repeating: 0, count: batch * classes) }
        var features = [Float](repeating: 0, count: batch * model.featureDimension)
        parameters.withUnsafeBufferPointer { theta in
            logits.withUnsafeMutableBufferPointer { z in
                features.withUnsafeMutableBufferPointer { f in
                    model.infer(theta.baseAddress!, x: x, batch: batch, logits: z.baseAddress!, features: f.baseAddress!)
                }
            }
        }
        return features
    }

    public func score(_ x: UnsafePointer<Float>, batch: Int, dimension: Int, into rewards: UnsafeMutablePointer<Float>) throws {
        guard dimension == model.inputDimension else {
            throw RewardError(reward: name, message: "the classifier reads \(model.spec.inputShape) = \(model.inputDimension) floats but samples have \(dimension)")
        }
        let classes = model.spec.classes
        let logp = logProbabilities(x, batch: batch)
        for i in 0..<batch {
            // log Σ_{c ∈ targets} p_c, by log-sum-exp over the targets' log-probabilities.
            let largest = targets.map { logp[i * classes + $0] }.max()!
            let total = targets.reduce(0.0) { $0 + exp(Double(logp[i * classes + $1] - largest)) }
            let logTarget = Double(largest) + log(total)
            rewards[i] = Float(logProbability ? logTarget : exp(logTarget))
        }
    }
}
