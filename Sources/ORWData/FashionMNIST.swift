import Foundation

/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28 × 28 grey images of clothes in ten classes,
/// 60,000 for training and 10,000 for testing, read from the four gzipped IDX files that
/// Debian's `dataset-fashion-mnist` installs under `defaultDirectory`.
///
/// Samples have shape [1, 28, 28] (C, H, W); a pixel byte p becomes p/127.5 − 1 ∈ [−1, 1].
public struct FashionMNIST: LabeledDataset {
    public enum Split: String, Codable, CaseIterable, Sendable {
        case train
        case test

        /// How the split's file names start.
        var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let side = 28
    /// The largest of the four files once inflated, the training images (16-byte header, 60,000
    /// images): inflating stops with an error beyond it.
    public static let maximumFileBytes = 16 + 60_000 * 28 * 28
    /// The class names, indexed by label.
    public static let classNames = ["t-shirt/top", "trouser", "pullover", "dress", "coat",
                                    "sandal", "shirt", "sneaker", "bag", "ankle boot"]

    public let split: Split
    /// Pixels [N, 28, 28], bytes 0…255.
    public let pixels: [UInt8]
    /// Labels [N], 0…9.
    public let labels: [UInt8]

    public var count: Int? { labels.count }
    public var sampleShape: [Int] { [1, Self.side, Self.side] }
    public var classNames: [String] { Self.classNames }

    /// Loads one split from `directory`, which holds `train-images-idx3-ubyte.gz`,
    /// `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz` and `t10k-labels-idx1-ubyte.gz`.
    public init(split: Split, directory: String = FashionMNIST.defaultDirectory) throws {
        let images = try Self.load(directory, "\(split.filePrefix)-images-idx3-ubyte.gz")
        let labels = try Self.load(directory, "\(split.filePrefix)-labels-idx1-ubyte.gz")
        let path = "\(directory)/\(split.filePrefix)-*.gz"
        guard images.shape.count == 3, images.shape[1] == Self.side, images.shape[2] == Self.side else {
            throw DatasetError.malformedFile(path: path, reason: "images have shape \(images.shape), expected [N, 28, 28]")
        }
        guard labels.shape == [images.shape[0]] else {
            throw DatasetError.malformedFile(path: path, reason: "labels have shape \(labels.shape) for \(images.shape[0]) images")
        }
        guard let largest = labels.bytes.max(), largest < Self.classNames.count else {
            throw DatasetError.malformedFile(path: path, reason: "a label is outside 0…9")
        }
        self.split = split
        self.pixels = images.bytes
        self.labels = labels.bytes
    }

    public func copySample(_ index: Int, into output: UnsafeMutablePointer<Float>) {
        let size = Self.side * Self.side
        let first = index * size
        for k in 0..<size {
            output[k] = Float(pixels[first + k]) / 127.5 - 1
        }
    }

    public func label(_ index: Int) -> Int { Int(labels[index]) }

    private static func load(_ directory: String, _ name: String) throws -> IDXArray {
        let path = "\(directory)/\(name)"
        guard FileManager.default.fileExists(atPath: path) else { throw DatasetError.fashionMNISTMissing(path: path) }
        let bytes: [UInt8]
        do {
            bytes = try gunzip(Files.read(path), maximumBytes: maximumFileBytes)
        } catch let error as GzipError {
            throw DatasetError.malformedFile(path: path, reason: error.description)
        }
        return try IDXArray(decoding: bytes, path: path)
    }
}
