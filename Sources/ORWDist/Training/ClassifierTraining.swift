import Foundation
import ORWCore
import ORWData

/// `orwdist classifier train`: softmax cross-entropy on Fashion-MNIST, data-parallel by the
/// microbatch invariant (as `PretrainingRun`), then the test accuracy; rank 0 writes
/// RUN/classifier.safetensors. Shapes: B = global batch, b = microbatch, D = 784, K = 10,
/// P = parameters.
public struct ClassifierTraining {
    public let config: ClassifierConfig
    public let world: any Communicator
    public let log: Log

    public init(config: ClassifierConfig, world: any Communicator, log: Log) {
        self.config = config
        self.world = world
        self.log = log
    }

    /// Trains, measures the test accuracy, and (rank 0) writes the file; returns its path and
    /// the test accuracy.
    @discardableResult
    public func run() throws -> (path: String, testAccuracy: Double) {
        let started = Date()
        let directory = config.dataPath.isEmpty ? FashionMNIST.defaultDirectory : config.dataPath
        // Each rank reads the data itself: files missing on one node stop every rank (exit 2).
        let training = try world.agreeOnStartup {
            try config.validate(worldSize: world.size)
            return try FashionMNIST(split: .train, directory: directory)
        }
        // One job per run directory: a second classifier training on it stops here with exit 2.
        let lock = try RunLock.acquire(directory: config.runDirectory, world: world)
        defer { lock?.release() }
        let seed = UInt64(config.seed)
        let architecture = ClassifierArchitecture(inputShape: training.sampleShape, hidden: config.hidden,
                                                  classes: FashionMNIST.classNames.count)
        let model = MLPClassifier(architecture)
        var parameters = [Float](repeating: 0, count: model.layout.count)   // θ [P]
        parameters.withUnsafeMutableBufferPointer { model.initialize($0.baseAddress!, seed: seed) }
        var gradient = parameters                                             // [P]
        let steps = config.steps(trainingCount: training.labels.count)
        var optimizer = DistributedOptimizer(world: world, settings: config.optimizer,
                                             parameterCount: parameters.count, totalSteps: steps)
        let run = world.isRoot ? try RunDirectory(path: config.runDirectory) : nil
        try run?.writeConfig(config.tomlText())
        log.info("training a classifier MLP \(architecture.inputDimension) → \(config.hidden.map(String.init).joined(separator: " → ")) → \(architecture.classes) "
                 + "(\(parameters.count) parameters) on Fashion-MNIST on \(world.size) rank(s): \(steps) steps of \(config.globalBatch) images (\(config.epochs) epochs)")

        let b = config.microbatch, dimension = architecture.inputDimension, classes = architecture.classes
        var x = [Float](repeating: 0, count: b * dimension)              // [b, D]
        var labels = [Int](repeating: 0, count: b)                       // [b]
        var logits = [Float](repeating: 0, count: b * classes)           // [b, K], then log-probabilities
        var logitGradient = logits                                       // [b, K]
        let microbatchCount = config.globalBatch / b
        for step in 0..<steps {
            for i in gradient.indices { gradient[i] = 0 }
            var local = [0.0, 0.0]    // Σ loss, correct
            for microbatch in stride(from: world.rank, to: microbatchCount, by: world.size) {
                for j in 0..<b {
                    var stream = RandomStream(seed: seed, purpose: .dataIndex, step: step, sample: microbatch * b + j)
                    let index = stream.nextIndex(below: training.labels.count)
                    x.withUnsafeMutableBufferPointer { training.copySample(index, into: $0.baseAddress! + j * dimension) }
                    labels[j] = training.label(index)
                }
                x.withUnsafeBufferPointer { input in
                    parameters.withUnsafeBufferPointer { theta in
                        logits.withUnsafeMutableBufferPointer { z in
                            model.forward(theta.baseAddress!, x: input.baseAddress!, batch: b, logits: z.baseAddress!)
                            local[0] += SoftmaxCrossEntropy.forward(logProbabilities: z.baseAddress!, logits: z.baseAddress!,
                                                                    labels: labels, batch: b, classes: classes)
                            for i in logitGradient.indices { logitGradient[i] = 0 }
                            SoftmaxCrossEntropy.backward(logitGradient: &logitGradient, logProbabilities: z.baseAddress!,
                                                         labels: labels, batch: b, classes: classes)
                            gradient.withUnsafeMutableBufferPointer { g in
                                model.backward(parameterGradient: g.baseAddress!, logitGradient: logitGradient, parameters: theta.baseAddress!)
                            }
                        }
                    }
                }
                local[1] += Double(Self.correct(logits, labels: labels, classes: classes))
            }
            let (norm, rate) = try optimizer.step(parameters: &parameters, gradientSums: &gradient,
                                                  globalBatch: config.globalBatch, step: step)
            if (step + 1) % config.logEvery == 0 || step + 1 == steps {
                try world.allreduceSum(&local)
                let metrics = ClassifierMetrics(step: step + 1, loss: local[0] / Double(config.globalBatch),
                                                trainingAccuracy: local[1] / Double(config.globalBatch),
                                                gradientNorm: Double(norm), learningRate: Double(rate),
                                                seconds: Date().timeIntervalSince(started))
                try run?.record(metrics)
                log.info(String(format: "step %d/%d: loss %.4f, batch accuracy %.3f, |g| %.3g, lr %.3g",
                                step + 1, steps, metrics.loss, metrics.trainingAccuracy, norm, rate))
            }
        }

        let test = try FashionMNIST(split: .test, directory: directory)
        let accuracy = try Self.accuracy(model: model, parameters: parameters, dataset: test, world: world)
        let output = run?.file("classifier.safetensors") ?? ""
        if let run {
            try ClassifierFile(architecture: architecture, parameters: parameters, classNames: FashionMNIST.classNames,
                               metadata: ["orwdist.role": "classifier", "orwdist.step": "\(steps)",
                                          "orwdist.test_accuracy": "\(accuracy)", "orwdist.config": config.tomlText()])
                .write(to: output)
            try run.record(ClassifierTestMetrics(step: steps, testAccuracy: accuracy, seconds: Date().timeIntervalSince(started)))
            log.info(String(format: "test accuracy %.4f; wrote %@ in %.1f s", accuracy, output, Date().timeIntervalSince(started)))
        }
        try world.barrier()
        return (output, accuracy)
    }

    /// How many rows of logits [n, K] have their largest entry at the label.
    static func correct(_ logits: [Float], labels: [Int], classes: Int) -> Int {
        labels.indices.filter { row in
            let scores = logits[(row * classes)..<((row + 1) * classes)]
            return scores.firstIndex(of: scores.max()!)! - row * classes == labels[row]
        }.count
    }

    /// The fraction of `dataset` classified correctly, the test images split over the ranks.
    public static func accuracy(model: MLPClassifier, parameters: [Float], dataset: FashionMNIST,
                                world: any Communicator, chunk: Int = 500) throws -> Double {
        let count = dataset.labels.count, dimension = model.inputDimension, classes = model.spec.classes
        var x = [Float](repeating: 0, count: chunk * dimension)
        var logits = [Float](repeating: 0, count: chunk * classes)
        var right = 0.0
        for first in stride(from: world.rank * chunk, to: count, by: world.size * chunk) {
            let n = min(chunk, count - first)
            x.withUnsafeMutableBufferPointer { dataset.copySamples(first..<(first + n), into: $0.baseAddress!) }
            model.infer(parameters, x: x, batch: n, logits: &logits)
            right += Double(correct(Array(logits[..<(n * classes)]), labels: (first..<(first + n)).map(dataset.label), classes: classes))
        }
        return try world.allreduceSum(right) / Double(count)
    }
}

/// One line of a classifier run's metrics.jsonl per logged step (`"kind": "classifier"`).
public struct ClassifierMetrics: Codable, Sendable {
    public var kind = "classifier"
    public var step: Int
    public var loss: Double                 // (1/B) Σ cross-entropy over the last batch
    public var trainingAccuracy: Double     // on the last batch
    public var gradientNorm: Double
    public var learningRate: Double
    public var seconds: Double
}

/// The last line of a classifier run's metrics.jsonl (`"kind": "test"`).
public struct ClassifierTestMetrics: Codable, Sendable {
    public var kind = "test"
    public var step: Int
    public var testAccuracy: Double         // on the 10,000 test images
    public var seconds: Double
}
