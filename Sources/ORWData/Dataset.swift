import ORWCore

/// A source of training examples, read one sample at a time by global index.
///
/// A finite dataset (a file) has `count` samples; a generated one (a toy distribution) has none
/// and answers every index ≥ 0 (up to 2^32 − 1) with a sample that depends on the index and the
/// dataset's seed only, so sample i is the same whichever rank or batch draws it.
///
/// Letters in shape comments: n = samples copied, D = `dimension`.
public protocol Dataset: Sendable {
    /// Number of samples, or nil for a generated dataset.
    var count: Int? { get }
    /// Shape of one sample, e.g. [2] for a point or [1, 28, 28] for a grey image (C, H, W).
    var sampleShape: [Int] { get }
    /// Writes sample `index` into `output` [D].
    func copySample(_ index: Int, into output: UnsafeMutablePointer<Float>)
}

extension Dataset {
    /// D, the floats per sample.
    public var dimension: Int { sampleShape.reduce(1, *) }

    /// Writes sample `indices[k]` into row k of `output` [n, D].
    public func copySamples(_ indices: some Sequence<Int>, into output: UnsafeMutablePointer<Float>) {
        for (row, index) in indices.enumerated() {
            copySample(index, into: output + row * dimension)
        }
    }
}

/// A dataset whose samples carry a class label.
public protocol LabeledDataset: Dataset {
    /// The name of every class, indexed by label.
    var classNames: [String] { get }
    /// The label of sample `index`, in 0..<classNames.count.
    func label(_ index: Int) -> Int
}

/// A generated dataset: sample i is drawn from `RandomStream(seed, purpose: .dataGeneration,
/// sample: i)`, so it is a pure function of (seed, i).
public protocol GeneratedDataset: Dataset {
    var seed: UInt64 { get }
    /// Draws one sample [D] from `random`.
    func generate(using random: inout RandomStream, into output: UnsafeMutablePointer<Float>)
}

extension GeneratedDataset {
    public var count: Int? { nil }

    public func copySample(_ index: Int, into output: UnsafeMutablePointer<Float>) {
        var random = RandomStream(seed: seed, purpose: .dataGeneration, sample: index)
        generate(using: &random, into: output)
    }
}

/// Why a dataset could not be loaded.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    /// A Fashion-MNIST file is not where it was looked for.
    case fashionMNISTMissing(path: String)
    /// A file exists but is not what it should be.
    case malformedFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .fashionMNISTMissing(let path):
            return "Fashion-MNIST not found: \(path) does not exist. Install it with " +
                "`apt-get install dataset-fashion-mnist` (files under " +
                "\(FashionMNIST.defaultDirectory)), or point the dataset's directory at a copy " +
                "of the four gzipped IDX files."
        case let .malformedFile(path, reason):
            return "\(path): \(reason)"
        }
    }
}
