import XCTest
@testable import ORWCore

final class FlowPathTests: XCTestCase {
    private let batch = 5, dimension = 3

    /// t [B], x0, x1, ε [B, D] from the stream, as the trainer draws them.
    private func draws(seed: UInt64) -> (t: [Float], x0: [Float], x1: [Float], noise: [Float]) {
        var random = RandomStream(seed: seed, purpose: .pathNoise)
        let n = batch * dimension
        let t = (0..<batch).map { _ in random.nextUniform() }
        let x0 = (0..<n).map { _ in random.nextNormal() }
        let x1 = (0..<n).map { _ in 3 + 2 * random.nextNormal() }
        let noise = (0..<n).map { _ in random.nextNormal() }
        return (t, x0, x1, noise)
    }

    private func run(_ path: ProbabilityPath, t: [Float], x0: [Float], x1: [Float],
                     noise: [Float]?) -> (xt: [Float], ut: [Float]) {
        var xt = [Float](repeating: .nan, count: x0.count), ut = xt
        let noiseCopy = noise ?? []
        noiseCopy.withUnsafeBufferPointer { e in
            path.sample(t: t, x0: x0, x1: x1, noise: noise == nil ? nil : e.baseAddress,
                        batch: batch, dimension: dimension, xt: &xt, ut: &ut)
        }
        return (xt, ut)
    }

    func testStraightPathInClosedForm() {
        let (t, x0, x1, _) = draws(seed: 11)
        let (xt, ut) = run(ProbabilityPath(), t: t, x0: x0, x1: x1, noise: nil)
        for b in 0..<batch {
            for d in 0..<dimension {
                let k = b * dimension + d
                XCTAssertEqual(xt[k], t[b] * x1[k] + (1 - t[b]) * x0[k], accuracy: 1e-6)
                XCTAssertEqual(ut[k], x1[k] - x0[k], accuracy: 1e-6)
            }
        }
    }

    func testNoisyPathAddsSigmaTimesEpsilon() {
        let (t, x0, x1, noise) = draws(seed: 12)
        let path = ProbabilityPath(sigma: 0.25)
        let (xt, ut) = run(path, t: t, x0: x0, x1: x1, noise: noise)
        for b in 0..<batch {
            XCTAssertEqual(path.standardDeviation(t: t[b]), 0.25)
            for d in 0..<dimension {
                let k = b * dimension + d
                XCTAssertEqual(xt[k], t[b] * x1[k] + (1 - t[b]) * x0[k] + 0.25 * noise[k], accuracy: 1e-5)
                XCTAssertEqual(ut[k], x1[k] - x0[k], accuracy: 1e-6)
            }
        }
    }

    func testEndpointsAndVelocityIsTimeDerivative() {
        let path = ProbabilityPath()
        XCTAssertEqual(path.mean(t: 0, x0: -2, x1: 7), -2)
        XCTAssertEqual(path.mean(t: 1, x0: -2, x1: 7), 7)
        // u_t = dμ_t/dt by a central difference.
        let h: Float = 1e-2
        let derivative = (path.mean(t: 0.4 + h, x0: -2, x1: 7) - path.mean(t: 0.4 - h, x0: -2, x1: 7)) / (2 * h)
        XCTAssertEqual(derivative, path.conditionalFlow(x0: -2, x1: 7), accuracy: 1e-3)
    }

    func testPathIsCodable() throws {
        let path = ProbabilityPath(sigma: 0.1)
        let decoded = try JSONDecoder().decode(ProbabilityPath.self, from: JSONEncoder().encode(path))
        XCTAssertEqual(decoded, path)
    }
}
