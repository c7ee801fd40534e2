import Foundation
import ORWCore
import ORWData

/// What `FeatureEvaluation` measures of one set of evaluation samples.
struct FeatureMetrics: Equatable {
    var diversity: Double           // mean pairwise distance between the samples' features
    var classEntropy: Double        // bits, of `classHistogram`
    var classHistogram: [Int]       // [K] samples per predicted class
    var fid: Double                 // Fréchet distance of the features to the test set's
    var fidFloor: Double            // the same for the first N training images
}

/// The metrics of the paper's image experiments, in the feature space of a Fashion-MNIST
/// classifier (`run.eval_classifier`, a file from `orwdist classifier train`): the spread of the
/// samples' penultimate features, the entropy of the classes the classifier predicts for them,
/// and the Fréchet distance between their features and those of Fashion-MNIST's test set (FID
/// with this classifier in Inception's place). The test set's statistics and the floor, the FID
/// of the first N training images (what a perfect model gets with N samples), are computed once.
/// Runs on rank 0.
///
/// Letters: N = evaluation samples, D = 784 pixels, F = feature width, K = classes, T = images.
final class FeatureEvaluation {
    let classifier: MLPClassifier
    let parameters: [Float]                 // θ [P]
    let reference: GaussianStatistics       // the test set's features: μ [F], Σ [F, F]
    let floor: Double

    /// Images per classifier pass, which bounds its activations.
    static let chunk = 512

    /// The classifier of `run.eval_classifier`, read on every rank so that a mismatch is the same
    /// configuration error everywhere: it must read samples of the base model's `dimension` and
    /// be a Fashion-MNIST one, since the FID's reference is Fashion-MNIST's test set.
    static func classifier(at path: String, dimension: Int) throws -> ClassifierFile {
        let file = try ClassifierFile.read(from: path)
        let pixels = FashionMNIST.side * FashionMNIST.side
        try require(file.architecture.inputDimension == dimension, "run.eval_classifier",
                    "\(path) reads samples of shape \(file.architecture.inputShape) but the base model's samples have \(dimension) dimensions",
                    "use a classifier trained on the base model's data (`orwdist classifier train`), or \"\" to leave the feature metrics off")
        try require(file.architecture.inputDimension == pixels, "run.eval_classifier",
                    "\(path) reads \(file.architecture.inputDimension) floats, but the FID's reference is Fashion-MNIST's test set of \(pixels)-pixel images",
                    "use a Fashion-MNIST classifier from `orwdist classifier train`, or \"\" to leave the feature metrics off")
        return file
    }

    /// Loads Fashion-MNIST (`directory`) and computes the test set's statistics and the floor at
    /// `sampleCount` samples.
    init(file: ClassifierFile, sampleCount: Int, directory: String = FashionMNIST.defaultDirectory) throws {
        let classifier = MLPClassifier(file.architecture), parameters = file.parameters
        let test = try FashionMNIST(split: .test, directory: directory)
        let train = try FashionMNIST(split: .train, directory: directory)
        func statistics(_ dataset: FashionMNIST, first count: Int) -> GaussianStatistics {
            var images = [Float](repeating: 0, count: count * dataset.dimension)       // [T, D]
            images.withUnsafeMutableBufferPointer { dataset.copySamples(0..<count, into: $0.baseAddress!) }
            let features = Self.classify(images, count: count, classifier: classifier, parameters: parameters).features
            return GaussianStatistics(features: features, count: count, dimension: classifier.featureDimension)
        }
        let reference = statistics(test, first: test.labels.count)
        self.floor = FrechetDistance.between(statistics(train, first: min(sampleCount, train.labels.count)), reference)
        self.reference = reference
        self.classifier = classifier
        self.parameters = parameters
    }

    /// The metrics of `samples` [N, D].
    func measure(_ samples: [Float], count: Int) -> FeatureMetrics {
        let (features, classes) = Self.classify(samples, count: count, classifier: classifier, parameters: parameters)
        var histogram = [Int](repeating: 0, count: classifier.spec.classes)
        for predicted in classes { histogram[predicted] += 1 }
        let statistics = GaussianStatistics(features: features, count: count, dimension: classifier.featureDimension)
        return FeatureMetrics(diversity: PairwiseDistance.mean(features, count: count, dimension: classifier.featureDimension),
                              classEntropy: Self.entropyBits(histogram), classHistogram: histogram,
                              fid: FrechetDistance.between(statistics, reference), fidFloor: floor)
    }

    /// The penultimate features [T, F] and the predicted classes (argmax of the logits) [T] of
    /// `images` [T, D], `chunk` images at a time.
    static func classify(_ images: [Float], count: Int, classifier: MLPClassifier, parameters: [Float])
        -> (features: [Float], classes: [Int]) {
        let (dimension, width, classCount) = (classifier.inputDimension, classifier.featureDimension, classifier.spec.classes)
        var features = [Float](repeating: 0, count: count * width)                  // [T, F]
        var logits = [Float](repeating: 0, count: min(count, chunk) * classCount)   // [chunk, K]
        var classes = [Int](repeating: 0, count: count)                             // [T]
        for start in stride(from: 0, to: count, by: chunk) {
            let batch = min(chunk, count - start)
            images.withUnsafeBufferPointer { x in
                features.withUnsafeMutableBufferPointer { f in
                    classifier.infer(parameters, x: x.baseAddress! + start * dimension, batch: batch,
                                     logits: &logits, features: f.baseAddress! + start * width)
                }
            }
            for i in 0..<batch {
                var best = 0
                for k in 1..<classCount where logits[i * classCount + k] > logits[i * classCount + best] { best = k }
                classes[start + i] = best
            }
        }
        return (features, classes)
    }

    /// Entropy in bits of the distribution that `histogram` counts: 0 when one class has every
    /// sample, log2 K when all K classes are equally common.
    static func entropyBits(_ histogram: [Int]) -> Double {
        let total = Double(histogram.reduce(0, +))
        return histogram.filter { $0 > 0 }.reduce(0.0) { entropy, count in
            let p = Double(count) / total
            return entropy - p * log2(p)
        }
    }
}
