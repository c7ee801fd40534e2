import CBLAS

/// OpenBLAS, the default GEMM backend, and the LAPACK routine it exports that the metrics need.
/// The only file that imports cblas.
public enum BLAS {
    /// OpenBLAS' build description (version, target core, threading).
    public static var configuration: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text)
    }

    /// The CPU core OpenBLAS selected at run time (e.g. "Haswell", "SkylakeX"); with a
    /// DYNAMIC_ARCH build this can differ between machines running the same binary.
    public static var coreName: String {
        guard let text = openblas_get_corename() else { return "unknown" }
        return String(cString: text)
    }

    /// The core OpenBLAS should run on a CPU with these /proc/cpuinfo `flags` when it chose
    /// `detected`, or nil when `detected` is already as good. A DYNAMIC_ARCH OpenBLAS that does
    /// not know a CPU model (0.3.21 and models newer than it) falls back to "Prescott", SSE3
    /// kernels 4–5× slower than the AVX-512 ones on these shapes; its own names for the cores
    /// that have AVX-512 are SkylakeX and newer, for AVX2 + FMA Haswell and newer.
    public static func betterCore(than detected: String, cpuFlags: Set<String>) -> String? {
        let avx512 = ["SkylakeX", "Cooperlake", "SapphireRapids"]
        if cpuFlags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]) {
            return avx512.contains(detected) ? nil : "SkylakeX"
        }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) {
            return (avx512 + ["Haswell", "Zen"]).contains(detected) ? nil : "Haswell"
        }
        return nil
    }

    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    public static func setThreadCount(_ count: Int) { openblas_set_num_threads(Int32(count)) }

    /// Row-major C[m, n] = alpha · op(A) · op(B) + beta · C, where op(A) is [m, k] and op(B) is
    /// [k, n]; `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    @inline(__always)
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// Row-major C[m, n] = alpha · op(A) · op(B) + beta · C in Float64; arguments as `sgemm`.
    @inline(__always)
    public static func dgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// The eigenvalues, ascending, of the symmetric matrix `matrix` [n, n] (LAPACK dsyev; only
    /// its upper triangle is read). With `vectors`, `matrix` is overwritten by the orthonormal
    /// eigenvectors, row i the eigenvector of eigenvalue i; without, its contents are destroyed.
    /// nil when LAPACK reports failure (no convergence).
    public static func symmetricEigen(_ matrix: inout [Double], n: Int, vectors: Bool) -> [Double]? {
        precondition(matrix.count == n * n, "\(matrix.count) entries for a \(n) × \(n) matrix")
        guard n > 0 else { return [] }
        // Column-major, as LAPACK sees it, a symmetric matrix is itself, and the eigenvectors it
        // writes as columns are our rows. The row-major upper triangle is LAPACK's lower one.
        var jobz = CChar(UInt8(ascii: vectors ? "V" : "N")), uplo = CChar(UInt8(ascii: "L"))
        var size = blasint(n), stride = blasint(n), info = blasint(0), query = blasint(-1), optimal = 0.0
        var values = [Double](repeating: 0, count: n)     // [n]
        dsyev_(&jobz, &uplo, &size, &matrix, &stride, &values, &optimal, &query, &info, 1, 1)
        guard info == 0 else { return nil }
        var length = blasint(max(1, Int(optimal)))
        var work = [Double](repeating: 0, count: Int(length))
        dsyev_(&jobz, &uplo, &size, &matrix, &stride, &values, &work, &length, &info, 1, 1)
        return info == 0 ? values : nil
    }
}
