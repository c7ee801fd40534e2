import Foundation
import ORWCore

/// The checkerboard of FFJORD's toy data (Grathwohl et al. 2019), as used across the flow
/// literature: uniform on the black squares of a 4 × 4 board of unit cells on [−2, 2)², scaled
/// by 2, so on [−4, 4)². u1 ~ U(−2, 2), v ~ U(0, 1) minus 0 or 2 (uniformly),
/// u2 = v + (⌊u1⌋ mod 2); the sample is 2·(u1, u2). Sample shape [2].
public struct Checkerboard: GeneratedDataset {
    public let seed: UInt64
    public var sampleShape: [Int] { [2] }

    public init(seed: UInt64) { self.seed = seed }

    public func generate(using random: inout RandomStream, into output: UnsafeMutablePointer<Float>) {
        let u1 = 4 * random.nextUniform() - 2
        let v = random.nextUniform() - 2 * Float(random.nextIndex(below: 2))
        let column = floor(u1)
        let u2 = v + (column - 2 * floor(column / 2))      // ⌊u1⌋ mod 2, in {0, 1}
        output[0] = 2 * u1
        output[1] = 2 * u2
    }
}
