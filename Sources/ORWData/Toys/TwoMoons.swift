import Foundation
import ORWCore

/// Two interleaved half-moons, torchcfm's `sample_moons` convention: scikit-learn's moons with
/// noise 0.2, scaled by 3 and shifted by −1. Each sample picks a moon uniformly and an angle
/// θ ~ U(0, π): the outer moon is (cos θ, sin θ), the inner (1 − cos θ, 1/2 − sin θ); then
/// N(0, 0.2²) noise per coordinate, then x ↦ 3x − 1. Sample shape [2].
public struct TwoMoons: GeneratedDataset {
    public static let noise: Float = 0.2

    public let seed: UInt64
    public var sampleShape: [Int] { [2] }

    public init(seed: UInt64) { self.seed = seed }

    public func generate(using random: inout RandomStream, into output: UnsafeMutablePointer<Float>) {
        let inner = random.nextIndex(below: 2) == 1
        let angle = Float.pi * random.nextUniform()
        let x = inner ? 1 - cos(angle) : cos(angle)
        let y = inner ? 0.5 - sin(angle) : sin(angle)
        output[0] = 3 * (x + Self.noise * random.nextNormal()) - 1
        output[1] = 3 * (y + Self.noise * random.nextNormal()) - 1
    }
}
