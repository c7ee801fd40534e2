import XCTest
import ORWCore
@testable import ORWData

final class ToyDatasetTests: XCTestCase {
    private func samples(_ dataset: any Dataset, _ indices: [Int]) -> [Float] {
        var output = [Float](repeating: .nan, count: indices.count * dataset.dimension)
        output.withUnsafeMutableBufferPointer { dataset.copySamples(indices, into: $0.baseAddress!) }
        return output
    }

    private var toys: [any GeneratedDataset] {
        Toy.allCases.map { $0.makeDataset(seed: 7) } +
            [GaussianDataset(mean: [1, -2, 3], standardDeviation: 0.5, seed: 7)]
    }

    func testSampleDependsOnlyOnSeedAndIndex() {
        for toy in toys {
            let forward = samples(toy, Array(0..<64))
            let backward = samples(toy, Array((0..<64).reversed()))
            let d = toy.dimension
            for i in 0..<64 {
                XCTAssertEqual(Array(forward[(i * d)..<((i + 1) * d)]),
                               Array(backward[((63 - i) * d)..<((64 - i) * d)]), "\(type(of: toy)) sample \(i)")
            }
            XCTAssertEqual(samples(toy, [1_000_000]), samples(toy, [1_000_000]))
            XCTAssertNotEqual(samples(toy, [0]), samples(toy, [1]))
            XCTAssertNil(toy.count)
            XCTAssertTrue(forward.allSatisfy(\.isFinite))
        }
        XCTAssertNotEqual(samples(TwoMoons(seed: 1), [5]), samples(TwoMoons(seed: 2), [5]))
    }

    func testEightGaussiansSitOnTheCircle() {
        let n = 4000
        let points = samples(EightGaussians(seed: 3), Array(0..<n))
        var modes = [Int](repeating: 0, count: 8)
        var squaredDeviation = 0.0
        for i in 0..<n {
            let x = points[2 * i], y = points[2 * i + 1]
            let k = (Int((atan2(y, x) / (.pi / 4)).rounded()) + 8) % 8
            modes[k] += 1
            let cx = 5 * cos(Float(k) * .pi / 4), cy = 5 * sin(Float(k) * .pi / 4)
            squaredDeviation += Double((x - cx) * (x - cx) + (y - cy) * (y - cy))
        }
        XCTAssertTrue(modes.allSatisfy { abs($0 - n / 8) < n / 40 }, "\(modes)")
        let variance = squaredDeviation / Double(2 * n)          // per coordinate, √0.1 expected
        XCTAssertEqual(variance, 0.1.squareRoot(), accuracy: 0.02)
    }

    func testMoonsAndCheckerboardSupport() {
        let n = 2000
        let board = samples(Checkerboard(seed: 4), Array(0..<n))
        for i in 0..<n {
            let x = board[2 * i], y = board[2 * i + 1]
            XCTAssertTrue((-4..<4).contains(x) && (-4..<4).contains(y))
            let cell = Int(floor(x / 2)) + Int(floor(y / 2))
            XCTAssertEqual((cell % 2 + 2) % 2, 0, "(\(x), \(y)) is on a white square")
        }
        let moons = samples(TwoMoons(seed: 4), Array(0..<n))
        let meanX = stride(from: 0, to: 2 * n, by: 2).map { Double(moons[$0]) }.reduce(0, +) / Double(n)
        let meanY = stride(from: 1, to: 2 * n, by: 2).map { Double(moons[$0]) }.reduce(0, +) / Double(n)
        // Moon centroids: x̄ = 1/2, ȳ = 1/4 before x ↦ 3x − 1.
        XCTAssertEqual(meanX, 0.5, accuracy: 0.1)
        XCTAssertEqual(meanY, -0.25, accuracy: 0.1)
    }

    func testGaussianMoments() {
        let dataset = GaussianDataset(mean: [1, -2, 3], standardDeviation: 0.5, seed: 9)
        let n = 4000
        let points = samples(dataset, Array(0..<n))
        for d in 0..<3 {
            let column = (0..<n).map { Double(points[3 * $0 + d]) }
            let mean = column.reduce(0, +) / Double(n)
            let variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)
            XCTAssertEqual(mean, Double(dataset.mean[d]), accuracy: 0.05)
            XCTAssertEqual(variance.squareRoot(), 0.5, accuracy: 0.03)
        }
    }
}
