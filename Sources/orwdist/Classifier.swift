import ArgumentParser
import Foundation
import ORWCore
import ORWData
import ORWDist

/// `orwdist classifier train|eval`: the Fashion-MNIST classifier behind the `classifier` reward.
struct Classifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train or evaluate the Fashion-MNIST classifier of the classifier reward.",
        subcommands: [Train.self, Eval.self])

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train an MLP classifier on Fashion-MNIST; writes RUN/classifier.safetensors.",
            discussion: """
            Data-parallel under mpirun (results do not depend on the number of ranks); reports the \
            test accuracy at the end. `--help-config` lists every field.
            """)

        @OptionGroup var options: ConfigOptions
        @OptionGroup var common: RunFlags
        @Option(help: "Passes over the training set (batch.epochs).") var epochs: Int?

        func run() throws {
            guard let config = try options.load(ClassifierConfig.self, flags: common.fields + [("batch.epochs", epochs)]) else { return }
            try launch(options) { world, log in
                let (path, accuracy) = try ClassifierTraining(config: config, world: world, log: log).run()
                if world.isRoot { print(String(format: "test accuracy %.4f (%@)", accuracy, path)) }
            }
        }
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report a classifier's accuracy on the Fashion-MNIST test set, overall and per class.")

        @Option(help: "A classifier .safetensors file from `orwdist classifier train`.") var model: String
        @Option(help: "Directory of Fashion-MNIST's gzipped IDX files.") var data: String = FashionMNIST.defaultDirectory

        func run() throws {
            let file = try ClassifierFile.read(from: model)
            let classifier = MLPClassifier(file.architecture)
            let test = try FashionMNIST(split: .test, directory: data)
            guard file.architecture.inputDimension == test.dimension else {
                throw ValidationError("\(model) reads samples of shape \(file.architecture.inputShape), Fashion-MNIST's are \(test.sampleShape)")
            }
            let classes = file.architecture.classes
            var logits = [Float](repeating: 0, count: classes)
            var x = [Float](repeating: 0, count: test.dimension)
            var right = [Int](repeating: 0, count: classes), total = [Int](repeating: 0, count: classes)
            for index in 0..<test.labels.count {
                x.withUnsafeMutableBufferPointer { test.copySample(index, into: $0.baseAddress!) }
                classifier.infer(file.parameters, x: x, batch: 1, logits: &logits)
                let label = test.label(index)
                total[label] += 1
                if logits.firstIndex(of: logits.max()!)! == label { right[label] += 1 }
            }
            print(String(format: "test accuracy %.4f (%d of %d)", Double(right.reduce(0, +)) / Double(test.labels.count),
                         right.reduce(0, +), test.labels.count))
            for k in 0..<classes {
                let name = file.classNames[k].padding(toLength: 12, withPad: " ", startingAt: 0)
                print("  \(name) " + String(format: "%.4f", Double(right[k]) / Double(max(total[k], 1))))
            }
        }
    }
}
