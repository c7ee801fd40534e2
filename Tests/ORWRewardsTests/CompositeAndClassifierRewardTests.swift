import Foundation
import ORWCore
import ORWRewards
import TestSupport
import XCTest

final class CompositeRewardTests: XCTestCase {
    func testWeightedSumKeepsEachComponent() throws {
        let distance = DistanceReward(target: [1, 0]), linear = LinearReward(direction: [0, 2])
        let composite = CompositeReward([.init(distance, weight: 0.5), .init(linear, weight: -1)])
        let x: [Float] = [0, 0, 1, 1, 3, -2]
        var r = [Float](repeating: 0, count: 3)
        try composite.score(x, batch: 3, dimension: 2, into: &r)
        let d: [Float] = [-1, -1, -8], l: [Float] = [0, 2, -4]
        XCTAssertEqual(composite.componentRewards, [d, l])
        XCTAssertEqual(r, zip(d, l).map { 0.5 * $0 - $1 })
        XCTAssertEqual(composite.componentNames, ["distance", "linear"])
        XCTAssertTrue(composite.name.contains("distance") && composite.name.contains("linear"), composite.name)
    }
}

final class ClassifierRewardTests: XCTestCase {
    func model() -> (MLPClassifier, [Float]) {
        let model = MLPClassifier(ClassifierArchitecture(inputShape: [4], hidden: [6], classes: 5))
        var theta = [Float](repeating: 0, count: model.layout.count)
        model.initialize(&theta, seed: 9)
        for i in theta.indices { theta[i] *= 4 }   // sharper probabilities
        return (model, theta)
    }

    /// r = Σ_{c ∈ targets} softmax(logits)_c, or its log; computed here in Double.
    func testProbabilityOfTargetClasses() throws {
        let (model, theta) = model()
        let batch = 6
        let x = normals(batch * 4, seed: 10, scale: 2)
        var logits = [Float](repeating: 0, count: batch * 5)
        model.infer(theta, x: x, batch: batch, logits: &logits)
        let targets = [3, 1]
        let probability = try ClassifierReward(model: model, parameters: theta, targets: targets, logProbability: false)
        let logProbability = try ClassifierReward(model: model, parameters: theta, targets: targets, logProbability: true)
        var r = [Float](repeating: 0, count: batch), logR = r
        try probability.score(x, batch: batch, dimension: 4, into: &r)
        try logProbability.score(x, batch: batch, dimension: 4, into: &logR)
        for i in 0..<batch {
            let exps = (0..<5).map { exp(Double(logits[i * 5 + $0])) }
            let expected = targets.reduce(0.0) { $0 + exps[$1] } / exps.reduce(0, +)
            XCTAssertEqual(Double(r[i]), expected, accuracy: 1e-5)
            XCTAssertEqual(Double(logR[i]), log(expected), accuracy: 1e-4)
        }
        let features = probability.features(x, batch: batch)
        XCTAssertEqual(features.count, batch * 6)
        XCTAssertThrowsError(try ClassifierReward(model: model, parameters: theta, targets: [5], logProbability: false))
        XCTAssertThrowsError(try ClassifierReward(model: model, parameters: theta, targets: [1, 1], logProbability: false))
        XCTAssertThrowsError(try probability.score(x, batch: 1, dimension: 3, into: &r))
    }
}
