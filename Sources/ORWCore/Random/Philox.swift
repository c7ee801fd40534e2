import CKernels
import Foundation

/// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
/// a keyed bijection of a 128-bit counter. Any block is computed directly from (key, counter),
/// which is what lets every sample's noise be regenerated without replaying the others.
public enum Philox4x32 {
    static let multiplier0: UInt32 = 0xD251_1F53
    static let multiplier1: UInt32 = 0xCD9E_8D57
    static let weyl0: UInt32 = 0x9E37_79B9
    static let weyl1: UInt32 = 0xBB67_AE85

    /// The ten-round block function: four random words for one (counter, key).
    @inline(__always)
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c = counter
        var k = key
        for round in 0..<10 {
            if round > 0 { k &+= SIMD2(weyl0, weyl1) }
            let product0 = UInt64(multiplier0) &* UInt64(c[0])
            let product1 = UInt64(multiplier1) &* UInt64(c[2])
            c = SIMD4(UInt32(truncatingIfNeeded: product1 >> 32) ^ c[1] ^ k[0],
                      UInt32(truncatingIfNeeded: product1),
                      UInt32(truncatingIfNeeded: product0 >> 32) ^ c[3] ^ k[1],
                      UInt32(truncatingIfNeeded: product0))
        }
        return c
    }
}

/// What a random stream is for. Part of the stream's key, so two purposes never share numbers.
public enum RandomPurpose: UInt32, Sendable {
    case initialization = 1   // model weights
    case samplingNoise = 2    // x0 of the sampler's rollout
    case sourceNoise = 3      // fresh x0 paired with x1 in the loss
    case time = 4             // t ~ U(0, 1)
    case pathNoise = 5        // ε of a path with σ > 0
    case dataIndex = 6        // which dataset example a global sample index reads
    case dataGeneration = 7   // toy dataset points
    case evaluation = 8       // evaluation noise (diversity, W2 bound)
    case reward = 9           // stochastic rewards
}

/// A counter-based random stream keyed by (seed, purpose, epoch, step, sample).
///
/// The key is the 64-bit seed; the counter is (block, sample, step, epoch << 8 | purpose), so the
/// stream of one sample at one step depends on nothing else that was drawn. Each stream holds
/// 2^32 blocks of four words.
public struct RandomStream: Sendable {
    private let key: SIMD2<UInt32>
    private var counter: SIMD4<UInt32>
    private var buffer = SIMD4<UInt32>(repeating: 0)
    private var used = 4                  // words of `buffer` already handed out
    private var spareNormal: Float?       // Box–Muller's second value

    public init(seed: UInt64, purpose: RandomPurpose, epoch: Int = 0, step: Int = 0, sample: Int = 0) {
        precondition(epoch >= 0 && epoch < 1 << 24, "epoch \(epoch) out of the stream's range")
        precondition(step >= 0 && step <= Int(UInt32.max), "step \(step) out of the stream's range")
        precondition(sample >= 0 && sample <= Int(UInt32.max), "sample \(sample) out of the stream's range")
        key = SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        counter = SIMD4(0, UInt32(sample), UInt32(step), UInt32(epoch) << 8 | purpose.rawValue)
    }

    public mutating func nextUInt32() -> UInt32 {
        if used == 4 {
            buffer = Philox4x32.block(counter: counter, key: key)
            counter[0] &+= 1
            used = 0
        }
        defer { used += 1 }
        return buffer[used]
    }

    /// Uniform on [0, 1), 24 random bits.
    public mutating func nextUniform() -> Float {
        Float(nextUInt32() >> 8) * 0x1p-24
    }

    /// Uniform on [0, 1), 53 random bits.
    public mutating func nextUniformDouble() -> Double {
        let high = UInt64(nextUInt32() >> 5), low = UInt64(nextUInt32() >> 6)
        return Double(high << 26 | low) * 0x1p-53
    }

    /// Standard normal by Box–Muller (computed in Double, both values used).
    public mutating func nextNormal() -> Float {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        let u1 = 1 - nextUniformDouble()    // (0, 1]: log is finite
        let u2 = nextUniformDouble()
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareNormal = Float(radius * sin(angle))
        return Float(radius * cos(angle))
    }

    /// `count` successive `nextNormal()` values. Whole blocks go through a vectorised C kernel
    /// (the same values, bit for bit); a leftover spare, a block already begun and an odd last
    /// value take the scalar path.
    public mutating func fillNormal(_ output: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        if count > 0, let spare = spareNormal {
            output[0] = spare
            spareNormal = nil
            i = 1
        }
        if used == 4 {
            let pairs = (count - i) / 2
            withUnsafeBytes(of: key) { k in
                withUnsafeBytes(of: counter) { c in
                    orw_philox_normals(output + i, pairs, k.baseAddress!.assumingMemoryBound(to: UInt32.self),
                                       c.baseAddress!.assumingMemoryBound(to: UInt32.self))
                }
            }
            counter[0] &+= UInt32(truncatingIfNeeded: pairs)
            i += 2 * pairs
        }
        while i < count {
            output[i] = nextNormal()
            i += 1
        }
    }

    public mutating func fillUniform(_ output: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { output[i] = nextUniform() }
    }

    /// Uniform integer in 0..<bound (Lemire's multiply-shift with rejection; unbiased).
    public mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound > 0 && bound <= Int(UInt32.max))
        let range = UInt64(bound)
        while true {
            let product = UInt64(nextUInt32()) &* range
            let low = UInt32(truncatingIfNeeded: product)
            if low >= UInt32(truncatingIfNeeded: ((1 << 32) - range) % range) {
                return Int(product >> 32)
            }
        }
    }
}
