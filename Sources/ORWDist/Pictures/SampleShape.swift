import Foundation
import ORWCore

/// What one sample is, for drawing it: a point on a line, a point in the plane, or an image.
///
/// `orwdist pretrain` records the dataset's sample shape in the model file's metadata
/// (`orwdist.sample_shape`, JSON such as "[1,28,28]" or "[2]"). A model without it (a PyTorch
/// file, a fine-tuned `final.safetensors`) is read by its dimension D: 1 is a line, 2 the plane,
/// k² (k ≥ 4) a k×k grayscale image, 3k² a k×k RGB image, anything else the plane of its first
/// two coordinates.
public enum SampleShape: Equatable, Sendable {
    case line
    case plane
    case image(channels: Int, height: Int, width: Int)

    public static let metadataKey = "orwdist.sample_shape"

    /// The shape `recorded` (a JSON array of sizes, if any) names for samples of `dimension`
    /// floats, or the one inferred from `dimension`. The recorded sizes come from a file: they
    /// count only when they multiply (overflow-safe, all positive since D > 0) to `dimension`.
    public init(recorded: String?, dimension: Int) {
        if let recorded, let sizes = try? JSONDecoder().decode([Int].self, from: Data(recorded.utf8)),
           SizeLimits.elementCount(sizes, limit: SizeLimits.fileElements) == dimension {
            switch sizes.count {
            case 3 where sizes[0] == 1 || sizes[0] == 3:
                self = .image(channels: sizes[0], height: sizes[1], width: sizes[2]); return
            case 2 where sizes.allSatisfy({ $0 > 1 }):
                self = .image(channels: 1, height: sizes[0], width: sizes[1]); return
            default: break
            }
        }
        self.init(dimension: dimension)
    }

    /// The shape inferred from the dimension alone.
    public init(dimension: Int) {
        func squareSide(_ n: Int) -> Int? {
            let side = Int(Double(n).squareRoot().rounded())
            return side >= 4 && side * side == n ? side : nil
        }
        if dimension == 1 {
            self = .line
        } else if let side = squareSide(dimension) {
            self = .image(channels: 1, height: side, width: side)
        } else if dimension % 3 == 0, let side = squareSide(dimension / 3) {
            self = .image(channels: 3, height: side, width: side)
        } else {
            self = .plane
        }
    }

    /// The metadata value that records this shape, for images (lines and planes are what the
    /// dimension alone says).
    public var metadata: String? {
        guard case let .image(channels, height, width) = self else { return nil }
        return Self.metadata([channels, height, width])
    }

    /// The metadata value for a dataset's sample shape.
    public static func metadata(_ sizes: [Int]) -> String {
        "[" + sizes.map(String.init).joined(separator: ",") + "]"
    }
}
