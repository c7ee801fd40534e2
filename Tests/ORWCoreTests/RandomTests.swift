import XCTest
import ORWCore
import TestSupport

final class RandomTests: XCTestCase {
    /// Random123's kat_vectors for philox4x32_10: counter words c[0…3], key words k[0], k[1].
    func testPhiloxKnownAnswers() {
        let cases: [(counter: SIMD4<UInt32>, key: SIMD2<UInt32>, expected: SIMD4<UInt32>)] = [
            (SIMD4(0, 0, 0, 0), SIMD2(0, 0),
             SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
            (SIMD4(repeating: 0xffff_ffff), SIMD2(repeating: 0xffff_ffff),
             SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
            (SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), SIMD2(0xa409_3822, 0x299f_31d0),
             SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
        ]
        for (counter, key, expected) in cases {
            XCTAssertEqual(Philox4x32.block(counter: counter, key: key), expected, "counter \(counter) key \(key)")
        }
    }

    /// The stream is the block function on (block, sample, step, epoch << 8 | purpose) under the seed.
    func testStreamWordsAreBlocksOfItsCounter() {
        let seed: UInt64 = 0x0123_4567_89ab_cdef
        var stream = RandomStream(seed: seed, purpose: .time, epoch: 3, step: 17, sample: 42)
        let key = SIMD2<UInt32>(0x89ab_cdef, 0x0123_4567)
        for block: UInt32 in 0..<3 {
            let expected = Philox4x32.block(counter: SIMD4(block, 42, 17, 3 << 8 | RandomPurpose.time.rawValue), key: key)
            for word in 0..<4 { XCTAssertEqual(stream.nextUInt32(), expected[word]) }
        }
    }

    /// Mean, variance, skewness and kurtosis of 2¹⁹ draws, each within 6 standard errors
    /// (standard errors of the sample moments of N(0, 1): √(1/n), √(2/n), √(15/n), √(96/n)).
    func testNormalMoments() {
        let n = 1 << 19
        var stream = RandomStream(seed: 7, purpose: .sourceNoise)
        var sums = [Double](repeating: 0, count: 5)
        for _ in 0..<n {
            let x = Double(stream.nextNormal())
            XCTAssert(x.isFinite)
            var power = 1.0
            for k in 1...4 { power *= x; sums[k] += power }
        }
        let moments = sums.map { $0 / Double(n) }
        let tolerance = { (variance: Double) in 6 * (variance / Double(n)).squareRoot() }
        XCTAssertEqual(moments[1], 0, accuracy: tolerance(1), "mean")
        XCTAssertEqual(moments[2], 1, accuracy: tolerance(2), "second moment")
        XCTAssertEqual(moments[3], 0, accuracy: tolerance(15), "third moment")
        XCTAssertEqual(moments[4], 3, accuracy: tolerance(96), "fourth moment")
    }

    /// `fillNormal` (whole blocks in the C kernel) gives exactly the values of as many
    /// `nextNormal` calls, whatever state the stream is in: fresh, holding a spare normal, in
    /// the middle of a block (after one word or one double uniform), for even, odd and
    /// multi-batch counts; and it leaves the stream where those calls would (the next draws agree).
    func testFillNormalMatchesNextNormalBitForBit() {
        let preparations: [(String, (inout RandomStream) -> Void)] = [
            ("fresh", { _ in }),
            ("spare held", { _ = $0.nextNormal() }),
            ("one word used", { _ = $0.nextUInt32() }),
            ("a double uniform used", { _ = $0.nextUniformDouble() }),
            ("a spare and half a block", { _ = $0.nextUniformDouble(); _ = $0.nextNormal() }),
        ]
        var compared = 0
        for (name, prepare) in preparations {
            for count in [0, 1, 2, 3, 31, 32, 33, 784, 4097] {
                for sample in [0, 5, 1 << 20] {
                    var scalar = RandomStream(seed: 0x1234_5678_9ABC, purpose: .samplingNoise, epoch: 3, step: 17, sample: sample)
                    var filled = scalar
                    prepare(&scalar)
                    prepare(&filled)
                    let expected = (0..<count).map { _ in scalar.nextNormal() }
                    var actual = [Float](repeating: .nan, count: count)
                    actual.withUnsafeMutableBufferPointer { filled.fillNormal($0.baseAddress!, count: count) }
                    XCTAssertEqual(actual.map(\.bitPattern), expected.map(\.bitPattern), "\(name), count \(count), sample \(sample)")
                    XCTAssertEqual((0..<3).map { _ in filled.nextNormal() }, (0..<3).map { _ in scalar.nextNormal() },
                                   "after \(name), count \(count): the streams must continue alike")
                    compared += count
                }
            }
        }
        XCTAssertGreaterThan(compared, 60_000)
    }

    /// Uniforms: in [0, 1), mean 1/2 and variance 1/12 within 6 standard errors; indices in range
    /// with every value hit about equally often.
    func testUniformsAndIndices() {
        let n = 1 << 18
        var stream = RandomStream(seed: 11, purpose: .time)
        var sum = 0.0, sumOfSquares = 0.0, sumDouble = 0.0
        for _ in 0..<n {
            let u = Double(stream.nextUniform()), w = stream.nextUniformDouble()
            XCTAssert(u >= 0 && u < 1 && w >= 0 && w < 1)
            sum += u; sumOfSquares += u * u; sumDouble += w
        }
        let mean = sum / Double(n)
        XCTAssertEqual(mean, 0.5, accuracy: 6 * (1.0 / 12 / Double(n)).squareRoot())
        XCTAssertEqual(sumDouble / Double(n), 0.5, accuracy: 6 * (1.0 / 12 / Double(n)).squareRoot())
        XCTAssertEqual(sumOfSquares / Double(n) - mean * mean, 1.0 / 12, accuracy: 6 * (1.0 / 180 / Double(n)).squareRoot())

        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[stream.nextIndex(below: 7)] += 1 }
        for count in counts { XCTAssertEqual(Double(count), 10_000, accuracy: 6 * (10_000 * 6.0 / 7).squareRoot()) }
    }

    /// Sample i's numbers depend only on (seed, purpose, epoch, step, i): not on which other
    /// samples were drawn, in which order, or how many numbers they took.
    func testSampleStreamsAreIndependentOfOtherSamples() {
        func draws(_ sample: Int, _ count: Int = 9) -> [Float] {
            var stream = RandomStream(seed: 99, purpose: .sourceNoise, epoch: 2, step: 5, sample: sample)
            return (0..<count).map { _ in stream.nextNormal() }
        }
        let alone = draws(3)
        var interleaved: [[Float]] = []
        for sample in [7, 0, 3, 1] { interleaved.append(draws(sample, sample == 3 ? 9 : 2 + sample)) }
        XCTAssertEqual(interleaved[2], alone)
        XCTAssertEqual(Array(draws(3, 20).prefix(9)), alone, "a longer draw extends the same stream")

        let variants: [RandomStream] = [
            RandomStream(seed: 98, purpose: .sourceNoise, epoch: 2, step: 5, sample: 3),
            RandomStream(seed: 99, purpose: .time, epoch: 2, step: 5, sample: 3),
            RandomStream(seed: 99, purpose: .sourceNoise, epoch: 1, step: 5, sample: 3),
            RandomStream(seed: 99, purpose: .sourceNoise, epoch: 2, step: 6, sample: 3),
            RandomStream(seed: 99, purpose: .sourceNoise, epoch: 2, step: 5, sample: 4),
        ]
        for var stream in variants {
            XCTAssertNotEqual((0..<9).map { _ in stream.nextNormal() }, alone)
        }
    }
}
