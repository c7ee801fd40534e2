import Foundation

/// The Gaussian summary of a set of feature vectors that the Fréchet distance compares: their
/// mean and covariance, the covariance normalised by N − 1 (unbiased, as the standard FID code
/// does), in Float64.
///
/// Letters: N = vectors, F = features.
public struct GaussianStatistics: Equatable, Sendable {
    public let count: Int               // N
    public let dimension: Int           // F
    public let mean: [Double]           // μ [F]
    public let covariance: [Double]     // Σ [F, F], row-major

    /// The statistics of the rows of `features` [N, F], N ≥ 2.
    public init(features: [Float], count: Int, dimension: Int) {
        precondition(count >= 2 && features.count == count * dimension, "need at least 2 rows of \(dimension) features, got \(features.count) floats")
        var mean = [Double](repeating: 0, count: dimension)
        for i in 0..<count {
            for f in 0..<dimension { mean[f] += Double(features[i * dimension + f]) }
        }
        for f in 0..<dimension { mean[f] /= Double(count) }
        var centered = [Double](repeating: 0, count: count * dimension)      // [N, F]
        for i in 0..<count {
            for f in 0..<dimension { centered[i * dimension + f] = Double(features[i * dimension + f]) - mean[f] }
        }
        var covariance = [Double](repeating: 0, count: dimension * dimension)
        BLAS.dgemm(transposeA: true, transposeB: false, m: dimension, n: dimension, k: count,
                   alpha: 1 / Double(count - 1), a: centered, lda: dimension, b: centered, ldb: dimension,
                   beta: 0, c: &covariance, ldc: dimension)
        self.count = count
        self.dimension = dimension
        self.mean = mean
        self.covariance = covariance
    }

    /// tr Σ.
    public var trace: Double { (0..<dimension).reduce(0) { $0 + covariance[$1 * dimension + $1] } }
}

/// The Fréchet (2-Wasserstein) distance between two Gaussians, the FID formula:
/// d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr((Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}),
/// from symmetric eigendecompositions (LAPACK dsyev) in Float64.
public enum FrechetDistance {
    /// d² between `a` and `b` (of the same dimension); NaN when either has a non-finite entry
    /// or an eigendecomposition fails.
    public static func between(_ a: GaussianStatistics, _ b: GaussianStatistics) -> Double {
        precondition(a.dimension == b.dimension, "\(a.dimension) features against \(b.dimension)")
        guard [a.mean, a.covariance, b.mean, b.covariance].allSatisfy({ $0.allSatisfy(\.isFinite) }) else { return .nan }
        let n = a.dimension
        let meanTerm = zip(a.mean, b.mean).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        guard let root = squareRoot(a.covariance, n: n) else { return .nan }
        // Σ₁^{1/2} Σ₂ Σ₁^{1/2} is symmetric positive semi-definite: the trace of its square root
        // is the sum of the square roots of its eigenvalues.
        var left = [Double](repeating: 0, count: n * n), middle = [Double](repeating: 0, count: n * n)   // [F, F]
        BLAS.dgemm(transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1, a: root, lda: n,
                   b: b.covariance, ldb: n, beta: 0, c: &left, ldc: n)
        BLAS.dgemm(transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1, a: left, lda: n,
                   b: root, ldb: n, beta: 0, c: &middle, ldc: n)
        guard let eigenvalues = BLAS.symmetricEigen(&middle, n: n, vectors: false) else { return .nan }
        let traceOfRoot = eigenvalues.reduce(0.0) { $0 + max($1, 0).squareRoot() }
        return meanTerm + a.trace + b.trace - 2 * traceOfRoot
    }

    /// The principal square root of the symmetric positive semi-definite `matrix` [n, n]:
    /// Σ_i √λ_i u_i u_iᵀ over its eigenpairs, negative eigenvalues (rounding) clamped to 0.
    /// nil when the eigendecomposition fails.
    public static func squareRoot(_ matrix: [Double], n: Int) -> [Double]? {
        var scaled = matrix                                                   // [n, n]: row i ← u_i
        guard let eigenvalues = BLAS.symmetricEigen(&scaled, n: n, vectors: true) else { return nil }
        // Row i ← λ_i^{1/4} u_i =: S, so that SᵀS = Σ_i √λ_i u_i u_iᵀ.
        for i in 0..<n {
            let scale = max(eigenvalues[i], 0).squareRoot().squareRoot()
            for j in 0..<n { scaled[i * n + j] *= scale }
        }
        var root = [Double](repeating: 0, count: n * n)                      // [n, n]
        BLAS.dgemm(transposeA: true, transposeB: false, m: n, n: n, k: n, alpha: 1, a: scaled, lda: n,
                   b: scaled, ldb: n, beta: 0, c: &root, ldc: n)
        return root
    }
}
