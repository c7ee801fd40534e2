/// The GEMM implementations ORWCore can call, chosen per layer (`MLPVelocityField.gemmBackends`).
///
/// - `openblas`: OpenBLAS' cblas_sgemm (the default). Its speed depends on the core it detects
///   at load time (`BLAS.coreName`; OPENBLAS_CORETYPE overrides it).
/// - `onednn`: oneDNN's matmul primitives, created once per shape and layout, with the bias and
///   SiLU fused into the product where a layer allows; the only backend for bf16.
public enum GEMMBackend: String, CaseIterable, Sendable, Codable {
    case openblas, onednn
}

/// Element precision of a model's forward passes. Master weights, gradients and optimiser
/// state are fp32 whatever this says.
public enum Precision: String, CaseIterable, Sendable, Codable {
    /// IEEE single precision throughout.
    case fp32
    /// bfloat16 weights and activations (8-bit mantissa) in oneDNN matmuls, fp32 accumulation,
    /// bias and output.
    case bf16
}

/// Row-major fp32 GEMM through a chosen backend: C[m, n] = alpha · op(A) · op(B) + beta · C.
public enum GEMM {
    @inline(__always)
    public static func sgemm(
        _ backend: GEMMBackend,
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        switch backend {
        case .openblas:
            BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                       a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        case .onednn:
            if beta != 0 && beta != 1 {
                // oneDNN's sum post-op is used with scale 1 only; other betas pre-scale C.
                for row in 0..<m { for j in 0..<n { c[row * ldc + j] *= beta } }
                OneDNN.matmul(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                              a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: c, ldc: ldc)
            } else {
                OneDNN.matmul(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                              a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }
        }
    }
}
