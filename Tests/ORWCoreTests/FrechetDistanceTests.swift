import Foundation
import ORWCore
import TestSupport
import XCTest

/// The Fréchet distance against the standard FID code's arithmetic in numpy and SciPy
/// (`np.cov`, `scipy.linalg.sqrtm(sigma1 @ sigma2)`), on feature sets with different means and
/// covariances, including sets with fewer vectors than features (singular covariances).
final class FrechetDistanceTests: XCTestCase {
    static let scratch = scratchDirectory("frechet-tests")

    /// N vectors [N, F]: x = μ + z·A with z standard normal, μ_f = shift · f / F and
    /// A_fg = scale · δ_fg + 0.3 · (f + 1)/F · [g < f], so each set has its own mean and a
    /// correlated covariance.
    func features(_ count: Int, _ dimension: Int, seed: UInt64, shift: Float, scale: Float) -> [Float] {
        var z = [Float](repeating: 0, count: count * dimension)
        var stream = RandomStream(seed: seed, purpose: .evaluation)
        z.withUnsafeMutableBufferPointer { stream.fillNormal($0.baseAddress!, count: $0.count) }
        var x = [Float](repeating: 0, count: count * dimension)
        for i in 0..<count {
            for g in 0..<dimension {
                var value = shift * Float(g) / Float(dimension)
                for f in 0..<dimension where f >= g {
                    let mixing = f == g ? scale : 0.3 * Float(f + 1) / Float(dimension)
                    value += z[i * dimension + f] * mixing
                }
                x[i * dimension + g] = value
            }
        }
        return x
    }

    func write(_ values: [Float], _ name: String) throws -> String {
        let path = Self.scratch + "/" + name
        try values.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: path))
        return path
    }

    func testMatchesScipyIncludingSingularCovariances() throws {
        let python = try Python.environment()
        let dimension = 16
        // (N₁, N₂): two full-rank sets, then one and two sets with fewer vectors than features.
        let cases = [(300, 200), (12, 200), (10, 8)]
        var arguments: [String] = []
        var distances: [Double] = []
        for (k, (first, second)) in cases.enumerated() {
            let a = features(first, dimension, seed: UInt64(2 * k + 1), shift: 0, scale: 1)
            let b = features(second, dimension, seed: UInt64(2 * k + 2), shift: 1.5, scale: 0.6)
            arguments += [try write(a, "a\(k).f32"), "\(first)", try write(b, "b\(k).f32"), "\(second)"]
            distances.append(FrechetDistance.between(GaussianStatistics(features: a, count: first, dimension: dimension),
                                                     GaussianStatistics(features: b, count: second, dimension: dimension)))
        }
        let output = try Python.run(python: python, """
            import json, sys
            import numpy as np
            from scipy import linalg
            def fid(x1, x2):
                mu1, mu2 = x1.mean(axis=0), x2.mean(axis=0)
                sigma1, sigma2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
                covmean = linalg.sqrtm(sigma1.dot(sigma2))
                diff = mu1 - mu2
                return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean.real))
            args, out = sys.argv[1:], []
            for k in range(0, len(args), 4):
                x1 = np.fromfile(args[k], dtype="<f4").astype(np.float64).reshape(int(args[k + 1]), \(dimension))
                x2 = np.fromfile(args[k + 2], dtype="<f4").astype(np.float64).reshape(int(args[k + 3]), \(dimension))
                out.append(fid(x1, x2))
            print(json.dumps(out))
            """, arguments)
        let expected = try JSONDecoder().decode([Double].self, from: Data(output.utf8))
        XCTAssertEqual(expected.count, cases.count)
        for (k, (mine, scipy)) in zip(distances, expected).enumerated() {
            let deviation = abs(mine - scipy) / abs(scipy)
            print("FID \(cases[k].0)×\(dimension) vs \(cases[k].1)×\(dimension): orwdist \(mine), scipy \(scipy), relative deviation \(deviation)")
            XCTAssertGreaterThan(scipy, 1, "the sets differ")
            XCTAssertLessThanOrEqual(deviation, 1e-6, "case \(k)")
        }
    }

    func testDistanceOfASetToItselfIsZeroAndTheRootSquaresBack() {
        for (count, dimension) in [(300, 16), (10, 16)] {
            let x = features(count, dimension, seed: 7, shift: 2, scale: 1)
            let statistics = GaussianStatistics(features: x, count: count, dimension: dimension)
            let distance = FrechetDistance.between(statistics, statistics)
            print("FID(X, X) for \(count)×\(dimension): \(distance) (tr Σ = \(statistics.trace))")
            XCTAssertLessThanOrEqual(abs(distance), 1e-6 * statistics.trace, "\(count)×\(dimension)")

            // √Σ · √Σ = Σ, singular or not.
            let root = FrechetDistance.squareRoot(statistics.covariance, n: dimension)!
            var largest = 0.0
            for i in 0..<dimension {
                for j in 0..<dimension {
                    let product = (0..<dimension).reduce(0.0) { $0 + root[i * dimension + $1] * root[$1 * dimension + j] }
                    largest = max(largest, abs(product - statistics.covariance[i * dimension + j]))
                }
            }
            XCTAssertLessThanOrEqual(largest, 1e-10 * statistics.trace, "\(count)×\(dimension): √Σ² − Σ")
        }
        let nan = GaussianStatistics(features: [0, 1, .nan, 2], count: 2, dimension: 2)
        XCTAssertTrue(FrechetDistance.between(nan, nan).isNaN, "non-finite features give NaN, not a number from LAPACK")
    }
}
