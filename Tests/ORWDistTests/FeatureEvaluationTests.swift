import Foundation
import ORWCore
import TestSupport
import XCTest
@testable import ORWDist

/// The metrics in a classifier's feature space (run.eval_classifier): class entropy and
/// diversity on hand-checkable cases, the classifier's features and predictions against numpy,
/// the configuration mistakes, and metrics.jsonl of a short Fashion-MNIST run against the
/// README. (The Fréchet distance itself is checked against SciPy in ORWCoreTests.)
final class FeatureEvaluationTests: XCTestCase {
    static let scratch = scratchDirectory("feature-evaluation-tests")

    /// A classifier with PyTorch's initialisation (untrained), written to `name`.
    static func randomClassifier(_ name: String, inputShape: [Int] = [1, 28, 28], hidden: [Int] = [64, 32]) throws -> String {
        let architecture = ClassifierArchitecture(inputShape: inputShape, hidden: hidden, classes: 10)
        let model = MLPClassifier(architecture)
        var parameters = [Float](repeating: 0, count: model.layout.count)
        parameters.withUnsafeMutableBufferPointer { model.initialize($0.baseAddress!, seed: 3) }
        let path = scratch + "/" + name
        try ClassifierFile(architecture: architecture, parameters: parameters, classNames: (0..<10).map { "class \($0)" }).write(to: path)
        return path
    }

    func testClassEntropyAndDiversityOnHandCheckableCases() {
        XCTAssertEqual(FeatureEvaluation.entropyBits([5, 5, 0, 0, 0, 0, 0, 0, 0, 0]), 1, accuracy: 1e-12)
        XCTAssertEqual(FeatureEvaluation.entropyBits([0, 0, 7, 0, 0, 0, 0, 0, 0, 0]), 0, accuracy: 1e-12)
        XCTAssertEqual(FeatureEvaluation.entropyBits([3, 3, 3, 3, 3, 3, 3, 3, 3, 3]), log2(10), accuracy: 1e-12)
        XCTAssertEqual(FeatureEvaluation.entropyBits([1, 1, 2, 0]), 1.5, accuracy: 1e-12)
        // (0, 0), (3, 4), (6, 8): distances 5, 10 and 5.
        XCTAssertEqual(PairwiseDistance.mean([0, 0, 3, 4, 6, 8], count: 3, dimension: 2), 20.0 / 3, accuracy: 1e-12)
    }

    /// 700 images (two chunks of the classifier's passes): features, predicted classes, their
    /// histogram's entropy and the features' mean pairwise distance against a numpy forward pass
    /// of the same file, `scipy.spatial.distance.pdist` and `np.bincount`.
    func testFeaturesPredictionsEntropyAndDiversityMatchNumpy() throws {
        let path = try Self.randomClassifier("numpy.safetensors")
        let file = try ClassifierFile.read(from: path)
        let count = 700, dimension = 784
        var images = [Float](repeating: 0, count: count * dimension)          // [T, D]
        var stream = RandomStream(seed: 5, purpose: .evaluation)
        images.withUnsafeMutableBufferPointer { stream.fillUniform($0.baseAddress!, count: $0.count) }
        images = images.enumerated().map { 2 * $0.element - 1 + 0.5 * Float($0.offset / dimension % 3) }   // three brightness groups
        let imagesPath = Self.scratch + "/images.f32"
        try images.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: imagesPath))

        let classifier = MLPClassifier(file.architecture)
        let (features, classes) = FeatureEvaluation.classify(images, count: count, classifier: classifier, parameters: file.parameters)
        var histogram = [Int](repeating: 0, count: 10)
        for predicted in classes { histogram[predicted] += 1 }
        let entropy = FeatureEvaluation.entropyBits(histogram)
        let diversity = PairwiseDistance.mean(features, count: count, dimension: classifier.featureDimension)

        let output = try Python.run(python: try Python.environment(), """
            import json, sys
            import numpy as np
            from safetensors.numpy import load_file
            from scipy.spatial.distance import pdist
            theta = {k: v.astype(np.float64) for k, v in load_file(sys.argv[1]).items()}
            h = np.fromfile(sys.argv[2], dtype="<f4").astype(np.float64).reshape(-1, 784)
            silu = lambda z: z / (1 + np.exp(-z))
            h = silu(h @ theta["net.0.weight"].T + theta["net.0.bias"])
            features = silu(h @ theta["net.2.weight"].T + theta["net.2.bias"])
            logits = features @ theta["net.4.weight"].T + theta["net.4.bias"]
            top2 = np.sort(logits, axis=1)[:, -2:]
            histogram = np.bincount(logits.argmax(axis=1), minlength=10)
            p = histogram[histogram > 0] / histogram.sum()
            print(json.dumps({"features": features.ravel().tolist(), "classes": logits.argmax(axis=1).tolist(),
                              "margin": (top2[:, 1] - top2[:, 0]).tolist(), "histogram": histogram.tolist(),
                              "entropy": float(-(p * np.log2(p)).sum()), "diversity": float(pdist(features).mean())}))
            """, [path, imagesPath])
        struct Reference: Decodable { var features: [Double]; var classes: [Int]; var margin: [Double]; var histogram: [Int]; var entropy, diversity: Double }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(output.utf8))

        let deviation = Deviation(features, reference.features)
        print("features vs numpy: \(deviation); histogram \(histogram), entropy \(entropy) bits, diversity \(diversity)")
        XCTAssertLessThanOrEqual(deviation.relative, 1e-5)
        for i in 0..<count where reference.margin[i] > 1e-4 {
            XCTAssertEqual(classes[i], reference.classes[i], "image \(i)")
        }
        XCTAssertGreaterThan(Set(classes).count, 1, "the images are told apart")
        XCTAssertEqual(histogram, reference.histogram)
        XCTAssertEqual(entropy, reference.entropy, accuracy: 1e-12)
        XCTAssertEqual(diversity, reference.diversity, accuracy: 1e-5 * reference.diversity)
    }

    func testConfigurationMistakesNameTheField() throws {
        var config = TrainConfig()
        config.evaluationClassifier = Self.scratch + "/missing.safetensors"
        XCTAssertThrowsError(try config.validate(worldSize: 1)) { error in
            XCTAssertEqual((error as? ConfigError)?.field, "run.eval_classifier", "\(error)")
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        config.evaluationClassifier = try Self.randomClassifier("fashion.safetensors")
        try config.validate(worldSize: 1)

        // The 2-D default base against a 784-pixel classifier; a 64-pixel classifier against a 64-D base.
        XCTAssertThrowsError(try FeatureEvaluation.classifier(at: config.evaluationClassifier, dimension: 2)) { error in
            XCTAssertEqual((error as? ConfigError)?.field, "run.eval_classifier", "\(error)")
            XCTAssertTrue("\(error)".contains("2 dimensions"), "\(error)")
        }
        let small = try Self.randomClassifier("small.safetensors", inputShape: [1, 8, 8], hidden: [8])
        XCTAssertThrowsError(try FeatureEvaluation.classifier(at: small, dimension: 64)) { error in
            XCTAssertEqual((error as? ConfigError)?.field, "run.eval_classifier", "\(error)")
            XCTAssertTrue("\(error)".contains("Fashion-MNIST"), "\(error)")
        }
        XCTAssertEqual(try FeatureEvaluation.classifier(at: config.evaluationClassifier, dimension: 784).architecture.hidden, [64, 32])
        XCTAssertTrue(TrainConfig.fieldsFreeOnResume.contains("run.eval_classifier"), "it changes only measurements")
    }

    /// A short `orwdist train` of a barely pretrained Fashion-MNIST base (2 steps of a narrow MLP)
    /// with run.eval_classifier: every epoch line carries the documented feature metrics,
    /// consistent with each other, and the floor is logged once and repeated in every line.
    func testAFashionMNISTRunRecordsTheFeatureMetrics() throws {
        @discardableResult
        func orwdist(_ arguments: [String]) throws -> ProcessResult {
            let result = try runOrwdist(arguments, timeout: 300)
            XCTAssertTrue(result.succeeded, result.summary)
            return result
        }
        let base = Self.scratch + "/base"
        try orwdist(["pretrain", "--run-dir", base, "--data", "fashion-mnist", "--steps", "2", "--batch", "32", "--microbatch", "32",
                     "--set", "model.hidden=32", "--set", "model.depth=1", "--set", "model.time_embedding=8"])
        let classifier = try Self.randomClassifier("run.safetensors")
        let run = Self.scratch + "/run"
        let started = Date()
        let result = try orwdist(["train", "--base", base + "/model.safetensors", "--run-dir", run, "--batch", "32", "--microbatch", "32",
                                  "--steps-per-epoch", "2", "--epochs", "1", "--set", "run.eval_samples=64",
                                  "--set", "run.eval_classifier=\"\(classifier)\"", "--set", "reward.kind=\"classifier\"",
                                  "--set", "reward.classifier=\"\(classifier)\"", "--set", "reward.classes=[7]"])
        print("train with run.eval_classifier: \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        XCTAssertEqual(result.stdout.components(separatedBy: "FID floor at N=64: ").count, 2, "logged once: \(result.stdout)")
        XCTAssertTrue(result.stdout.contains("] epoch 1: reward") && result.stdout.contains(", FID "), result.stdout)

        let lines = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let epochs = lines.filter { $0["kind"] as? String == "epoch" }
        XCTAssertEqual(epochs.count, 2)
        let documented = Set(try ObservabilityTests.documentedFields().filter { $0.value.contains("epoch") }.keys)
        let featureFields: Set = ["feature_diversity", "class_entropy", "class_histogram", "fid", "fid_floor"]
        XCTAssertTrue(featureFields.isSubset(of: documented), "the README documents \(featureFields.subtracting(documented))")
        for epoch in epochs {
            XCTAssertTrue(Set(epoch.keys).isSubset(of: documented), "undocumented: \(Set(epoch.keys).subtracting(documented))")
            XCTAssertTrue(featureFields.isSubset(of: Set(epoch.keys)), "missing: \(featureFields.subtracting(epoch.keys))")
            let histogram = try XCTUnwrap(epoch["class_histogram"] as? [Int])
            XCTAssertEqual(histogram.count, 10)
            XCTAssertEqual(histogram.reduce(0, +), 64)
            XCTAssertEqual(epoch["class_entropy"] as! Double, FeatureEvaluation.entropyBits(histogram), accuracy: 1e-9)
            XCTAssertGreaterThan(epoch["feature_diversity"] as! Double, 0)
        }
        let floor = try XCTUnwrap(epochs[0]["fid_floor"] as? Double)
        XCTAssertEqual(epochs[1]["fid_floor"] as? Double, floor, "computed once")
        let fid = try XCTUnwrap(epochs[0]["fid"] as? Double)
        print("FID floor \(floor), FID of the base \(fid), histogram \(epochs[0]["class_histogram"]!)")
        XCTAssertGreaterThan(floor, 0, "N = 64 real images are not the test set")
        XCTAssertGreaterThan(fid, floor, "a 2-step base is further from the data than real images")

        // The report's table of runs shows the FID, base → last epoch.
        try orwdist(["report", run, "--out", Self.scratch + "/report.html"])
        let html = try String(contentsOfFile: Self.scratch + "/report.html", encoding: .utf8)
        let last = try XCTUnwrap(epochs[1]["fid"] as? Double)
        XCTAssertTrue(html.contains("<th>W2 bound</th><th>FID</th></tr>"), "no FID column")
        XCTAssertTrue(html.contains("<td>\(SVGChart.label(fid, digits: 4)) → \(SVGChart.label(last, digits: 4))</td></tr>"),
                      "FID \(fid) → \(last) not in the table")
    }
}
