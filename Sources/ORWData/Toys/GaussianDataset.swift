import ORWCore

/// An isotropic Gaussian N(mean, std²·I) of any dimension: per coordinate d,
/// x_d = mean_d + std·z_d with z ~ N(0, 1). Sample shape [D].
public struct GaussianDataset: GeneratedDataset {
    public let seed: UInt64
    /// μ [D].
    public let mean: [Float]
    public let standardDeviation: Float
    public var sampleShape: [Int] { [mean.count] }

    public init(mean: [Float], standardDeviation: Float, seed: UInt64) {
        precondition(!mean.isEmpty, "a Gaussian dataset needs at least one dimension")
        precondition(standardDeviation >= 0, "the standard deviation must be ≥ 0")
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.seed = seed
    }

    public func generate(using random: inout RandomStream, into output: UnsafeMutablePointer<Float>) {
        for d in mean.indices {
            output[d] = mean[d] + standardDeviation * random.nextNormal()
        }
    }
}
