import Foundation
import ORWCore

/// Eight Gaussians on a circle, torchcfm's `sample_8gaussians` convention: centres at radius 5
/// at angles k·π/4 (k = 0…7, chosen uniformly), each with covariance √0.1·I (torchcfm passes
/// √var as the covariance with var = 0.1, so the per-coordinate standard deviation is
/// 0.1^(1/4) ≈ 0.562). Sample shape [2].
public struct EightGaussians: GeneratedDataset {
    public static let radius: Float = 5
    public static let standardDeviation = Float(pow(0.1, 0.25))

    public let seed: UInt64
    public var sampleShape: [Int] { [2] }

    public init(seed: UInt64) { self.seed = seed }

    public func generate(using random: inout RandomStream, into output: UnsafeMutablePointer<Float>) {
        let angle = Float(random.nextIndex(below: 8)) * .pi / 4
        output[0] = Self.radius * cos(angle) + Self.standardDeviation * random.nextNormal()
        output[1] = Self.radius * sin(angle) + Self.standardDeviation * random.nextNormal()
    }
}
