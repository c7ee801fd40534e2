import Foundation
import ORWCore
import ORWRewards

/// The `[reward]` block of `orwdist train`: which reward and its parameters.
///
/// A composite reward names its components in `reward.components` (kinds, each at most once)
/// with `reward.weights`; every component reads its parameters from the same `[reward]` fields
/// (`target`, `classifier`, `quality`, `command`, …), so one block configures them all.
public struct RewardSettings: Equatable, Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case distance, linear, classifier, jpeg
        case jpegIncompressibility = "jpeg-incompressibility"
        case external, composite
    }

    /// What the trainer does with a NaN or ±Inf reward.
    public enum InvalidPolicy: String, CaseIterable, Sendable {
        /// Stop the run, naming the reward and how many samples.
        case fail
        /// Leave those samples out of the step and count them in the metrics (`invalid_rewards`).
        case drop
    }

    public var kind = Kind.distance
    public var target: [Float] = [5, 0]
    public var direction: [Float] = []
    public var classifier = ""
    public var classes: [String] = []
    public var logProbability = false
    public var quality = 95
    public var command: [String] = []
    public var timeout = 120.0
    public var sampleShape: [Int] = []
    public var components: [String] = []
    public var weights: [Float] = []
    public var onInvalid = InvalidPolicy.fail

    public init() {}

    public static func fields<Config>(_ path: WritableKeyPath<Config, RewardSettings>) -> [ConfigField<Config>] {
        [
            .choice("reward.kind", path.appending(path: \.kind),
                    "The reward: distance = −‖x − target‖², linear = direction · x, classifier = probability of the target classes, "
                    + "jpeg = −(JPEG size in kB), jpeg-incompressibility = +size, external = a program speaking protocol v1, "
                    + "composite = a weighted sum of components."),
            .floats("reward.target", path.appending(path: \.target), "distance: the target point c (one entry per data dimension)."),
            .floats("reward.direction", path.appending(path: \.direction), "linear: the direction a (one entry per data dimension)."),
            .string("reward.classifier", path.appending(path: \.classifier), "classifier: the .safetensors file from `orwdist classifier train`."),
            .labels("reward.classes", path.appending(path: \.classes),
                    "classifier: the target classes, by name (e.g. [\"sneaker\", \"sandal\"]) or index (e.g. [7, 5]); the reward is their total probability."),
            .bool("reward.log_probability", path.appending(path: \.logProbability), "classifier: reward the log-probability of the target classes instead of the probability."),
            .int("reward.quality", path.appending(path: \.quality), "jpeg, jpeg-incompressibility: JPEG quality, 1…100 (DDPO uses 95)."),
            .strings("reward.command", path.appending(path: \.command),
                     "external: the program and its arguments as an argv list, never a shell, e.g. [\"python3\", \"scripts/rewards/example_scorer.py\"]; one child per rank."),
            .double("reward.timeout", path.appending(path: \.timeout), "external: seconds a child may take to answer one batch before the run stops."),
            .ints("reward.sample_shape", path.appending(path: \.sampleShape),
                  "Shape of one sample, e.g. [1, 28, 28]: sent to external children, read by jpeg as [1, H, W] or [H, W]. Empty: [D] for external, a square image for jpeg."),
            .strings("reward.components", path.appending(path: \.components), "composite: the component kinds, e.g. [\"jpeg\", \"classifier\"], each at most once; each reads its parameters from this block."),
            .floats("reward.weights", path.appending(path: \.weights), "composite: one weight per component; r = Σ weight · component."),
            .choice("reward.on_invalid", path.appending(path: \.onInvalid),
                    "NaN or ±Inf rewards (or samples): fail = stop the run on every rank naming the reward, the ranks and how many samples; drop = leave those samples out of the step (weights' normalisation, coupling, loss, gradient, statistics), counted as invalid_rewards in the metrics. Never clamped."),
        ]
    }

    /// The kinds a composite combines, in order (empty unless `kind` is composite).
    var componentKinds: [Kind] { kind == .composite ? components.compactMap(Kind.init(rawValue:)) : [] }

    /// Whether every reward this can make is ≥ 0 (what `linear` weighting needs).
    public var isNonNegative: Bool {
        isNonNegative(kind)
    }

    private func isNonNegative(_ kind: Kind) -> Bool {
        switch kind {
        case .distance, .linear, .jpeg, .external: false
        case .classifier: !logProbability
        case .jpegIncompressibility: true
        case .composite: !componentKinds.isEmpty && weights.allSatisfy { $0 >= 0 } && componentKinds.allSatisfy { isNonNegative($0) }
        }
    }

    public func validate() throws {
        if kind == .composite {
            try require(!components.isEmpty, "reward.components", "the composite reward needs components", "write components = [\"jpeg\", \"classifier\"]")
            for name in components {
                guard let component = Kind(rawValue: name), component != .composite else {
                    throw ConfigError(field: "reward.components", problem: "unknown component \"\(name)\"",
                                      fix: "use kinds among \(Kind.allCases.filter { $0 != .composite }.map(\.rawValue).joined(separator: ", "))")
                }
                try validate(component)
            }
            try require(Set(components).count == components.count, "reward.components", "a component appears twice in \(components)", "name each kind once and set its weight")
            try require(weights.count == components.count && weights.allSatisfy(\.isFinite), "reward.weights",
                        "needs one finite weight per component (\(components.count)), got \(weights.count)", "write weights = [" + components.map { _ in "1.0" }.joined(separator: ", ") + "]")
        } else {
            try validate(kind)
        }
        if !sampleShape.isEmpty {
            try require(sampleShape.allSatisfy { $0 > 0 }, "reward.sample_shape", "every entry must be ≥ 1, got \(sampleShape)", "e.g. sample_shape = [1, 28, 28]")
            // Overflow-safe: makeReward and imageSize multiply the sizes.
            try require(SizeLimits.elementCount(sampleShape, limit: SizeLimits.sampleElements) != nil, "reward.sample_shape",
                        "\(sampleShape) holds more than \(SizeLimits.sampleElements) floats", "give the shape of one sample, e.g. [1, 28, 28]")
        }
    }

    private func validate(_ kind: Kind) throws {
        switch kind {
        case .distance:
            try require(!target.isEmpty && target.allSatisfy(\.isFinite), "reward.target", "the distance reward needs a finite target point", "write target = [x, y, …] with one entry per data dimension")
        case .linear:
            try require(!direction.isEmpty && direction.allSatisfy(\.isFinite), "reward.direction", "the linear reward needs a finite direction", "write direction = [a1, a2, …] with one entry per data dimension")
        case .classifier:
            try require(!classifier.isEmpty, "reward.classifier", "the classifier reward needs a classifier file", "train one with `orwdist classifier train` and write classifier = \"runs/classifier/classifier.safetensors\"")
            try require(!classes.isEmpty, "reward.classes", "the classifier reward needs target classes", "write classes = [\"sneaker\"] (names or indices)")
        case .jpeg, .jpegIncompressibility:
            try require((1...100).contains(quality), "reward.quality", "must lie in 1…100, got \(quality)", "use e.g. quality = 95")
        case .external:
            try require(!command.isEmpty && !command[0].isEmpty, "reward.command", "the external reward needs a command", "write command = [\"python3\", \"scripts/rewards/example_scorer.py\"]")
            try require(timeout.isFinite && timeout > 0, "reward.timeout", "must be a positive number of seconds, got \(timeout)", "use e.g. timeout = 120.0")
        case .composite:
            break
        }
    }

    /// The reward for samples of `dimension` floats, set up once per rank. External children's
    /// stderr goes to `log` (default: the process's logger), each line tagged with the rank.
    public func makeReward(dimension: Int, rank: Int, worldSize: Int, log: Log? = nil) throws -> any Reward {
        guard kind == .composite else { return try makeReward(kind, dimension: dimension, rank: rank, worldSize: worldSize, log: log) }
        return CompositeReward(try zip(componentKinds, weights).map { component, weight in
            CompositeReward.Component(try makeReward(component, dimension: dimension, rank: rank, worldSize: worldSize, log: log), weight: weight)
        })
    }

    private func makeReward(_ kind: Kind, dimension: Int, rank: Int, worldSize: Int, log: Log?) throws -> any Reward {
        switch kind {
        case .distance:
            try require(target.count == dimension, "reward.target", "has \(target.count) entries but the base model's samples have \(dimension) dimensions", "give one entry per data dimension")
            return DistanceReward(target: target)
        case .linear:
            try require(direction.count == dimension, "reward.direction", "has \(direction.count) entries but the base model's samples have \(dimension) dimensions", "give one entry per data dimension")
            return LinearReward(direction: direction)
        case .classifier:
            let file = try ClassifierFile.read(from: classifier)
            try require(file.architecture.inputDimension == dimension, "reward.classifier",
                        "\(classifier) reads samples of shape \(file.architecture.inputShape) but the base model's samples have \(dimension) dimensions",
                        "use a classifier trained on the base model's data")
            return try ClassifierReward(model: MLPClassifier(file.architecture), parameters: file.parameters,
                                        targets: try file.classIndices(classes), logProbability: logProbability)
        case .jpeg, .jpegIncompressibility:
            let (height, width) = try imageSize(dimension: dimension)
            return try JPEGReward(width: width, height: height, quality: quality, incompressibility: kind == .jpegIncompressibility)
        case .external:
            let shape = sampleShape.isEmpty ? [dimension] : sampleShape
            try require(shape.reduce(1, *) == dimension, "reward.sample_shape", "\(shape) holds \(shape.reduce(1, *)) floats but samples have \(dimension)", "give the shape of one sample, e.g. [1, 28, 28]")
            let logger = (log ?? Log(rank: rank)).logger
            return try ExternalReward(command: command, sampleShape: shape, rank: rank, worldSize: worldSize, timeout: timeout) { line in
                logger.info("[reward rank \(rank)] \(line)")
            }
        case .composite:
            preconditionFailure("a composite reward cannot be a component")
        }
    }

    /// (H, W) of the greyscale images the JPEG rewards read: from `sample_shape` ([1, H, W] or
    /// [H, W]), else the square that holds `dimension` pixels.
    func imageSize(dimension: Int) throws -> (height: Int, width: Int) {
        let shape = sampleShape.isEmpty ? [Int(Double(dimension).squareRoot().rounded())].flatMap { [$0, $0] } : sampleShape
        let spatial = shape.count == 3 && shape[0] == 1 ? Array(shape.dropFirst()) : shape
        guard spatial.count == 2, spatial[0] * spatial[1] == dimension else {
            throw ConfigError(field: "reward.sample_shape", problem: "the JPEG reward needs greyscale images; samples have \(dimension) floats"
                              + (sampleShape.isEmpty ? ", not a square image" : " but sample_shape is \(sampleShape)"),
                              fix: "set sample_shape = [1, H, W] with H·W = \(dimension)")
        }
        return (spatial[0], spatial[1])
    }
}

extension ConfigField {
    /// An array of class labels, each a name (string) or an index (whole number); kept as
    /// strings, indices in decimal.
    static func labels(_ key: String, _ path: WritableKeyPath<Config, [String]>, _ help: String) -> Self {
        ConfigField(key: key, help: help, read: { config, value in
            guard let array = value.array, case let labels = array.compactMap({ $0.string ?? $0.int.map(String.init) }), labels.count == array.count else {
                throw ConfigError(field: key, problem: "expected an array of class names or indices, got \(value)", fix: "write e.g. \(key.split(separator: ".").last!) = [\"sneaker\", 5]")
            }
            config[keyPath: path] = labels
        }, render: { "[" + $0[keyPath: path].map { Int($0) != nil ? $0 : tomlString($0) }.joined(separator: ", ") + "]" })
    }
}
