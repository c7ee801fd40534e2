import XCTest
@testable import ORWCore

/// `BLAS.sgemm` (row-major, as the layers call it) against a naive triple loop in Double, for
/// every transpose combination, non-square shapes, strides wider than the rows, and alpha/beta.
final class BLASTests: XCTestCase {
    /// Deterministic values in [-1, 1).
    struct Values {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
    }

    /// A row-major matrix of `rows` rows, each `width` values long, stored with row stride `ld`;
    /// the padding between width and ld holds NaN so that reading it would poison the result.
    struct Strided {
        let rows: Int, width: Int, ld: Int
        var storage: [Float]
        init(rows: Int, width: Int, ld: Int, values: inout Values) {
            precondition(ld >= width)
            self.rows = rows; self.width = width; self.ld = ld
            storage = [Float](repeating: .nan, count: rows * ld)
            for r in 0..<rows { for c in 0..<width { storage[r * ld + c] = values.next() } }
        }
        subscript(r: Int, c: Int) -> Float { storage[r * ld + c] }
    }

    /// Runs one sgemm and compares it with the naive result, including that C's padding stays.
    func check(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, padding: Int,
               alpha: Float, beta: Float, file: StaticString = #filePath, line: UInt = #line) {
        var values = Values(state: UInt64(m * 1_000_003 + n * 1009 + k))
        // Stored shapes: A is [m, k], or [k, m] when transposed; B is [k, n], or [n, k].
        let a = transposeA ? Strided(rows: k, width: m, ld: m + padding, values: &values)
                           : Strided(rows: m, width: k, ld: k + padding, values: &values)
        let b = transposeB ? Strided(rows: n, width: k, ld: k + padding + 1, values: &values)
                           : Strided(rows: k, width: n, ld: n + padding + 1, values: &values)
        var c = Strided(rows: m, width: n, ld: n + padding + 2, values: &values)
        let sentinel: Float = 12345
        for r in 0..<m { for col in n..<c.ld { c.storage[r * c.ld + col] = sentinel } }

        var expected = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let aip = transposeA ? a[p, i] : a[i, p]
                    let bpj = transposeB ? b[j, p] : b[p, j]
                    sum += Double(aip) * Double(bpj)
                }
                expected[i * n + j] = Double(alpha) * sum + Double(beta) * Double(c[i, j])
            }
        }

        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.storage.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                               alpha: alpha, a: pa.baseAddress!, lda: a.ld,
                               b: pb.baseAddress!, ldb: b.ld,
                               beta: beta, c: pc.baseAddress!, ldc: c.ld)
                }
            }
        }

        let label = "transA \(transposeA) transB \(transposeB) m \(m) n \(n) k \(k)"
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                let error = abs(Double(c[i, j]) - expected[i * n + j])
                worst = max(worst, error.isNaN ? .infinity : error)
            }
            for col in n..<c.ld where c.storage[i * c.ld + col] != sentinel {
                XCTFail("\(label): C padding at row \(i), column \(col) was overwritten", file: file, line: line)
                return
            }
        }
        // Values are in [-1, 1): the Float rounding error grows at most like k · ε.
        let tolerance = 4 * Double(k + 2) * Double(Float.ulpOfOne)
        XCTAssertLessThanOrEqual(worst, tolerance, "\(label): largest error \(worst)", file: file, line: line)
    }

    func testAllTransposeCombinationsOnNonSquareShapes() {
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                for (m, n, k) in [(1, 1, 1), (2, 3, 5), (7, 4, 3), (5, 9, 1), (33, 17, 65), (64, 3, 130)] {
                    check(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                          padding: 3, alpha: 1, beta: 0)
                }
            }
        }
    }

    func testAlphaAndBetaAccumulate() {
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                check(transposeA: transposeA, transposeB: transposeB, m: 19, n: 11, k: 23,
                      padding: 5, alpha: -0.5, beta: 1)
                check(transposeA: transposeA, transposeB: transposeB, m: 6, n: 40, k: 8,
                      padding: 1, alpha: 2, beta: 0.25)
            }
        }
    }

    func testLargeShapeThroughBlockedKernels() {
        check(transposeA: true, transposeB: false, m: 150, n: 97, k: 211, padding: 7, alpha: 1, beta: 0)
        check(transposeA: false, transposeB: true, m: 97, n: 150, k: 211, padding: 7, alpha: 1, beta: 0)
    }

    func testRuntimeFacts() {
        XCTAssertFalse(BLAS.coreName.isEmpty)
        XCTAssertNotEqual(BLAS.coreName, "unknown")
        XCTAssertGreaterThanOrEqual(BLAS.threadCount, 1)
    }
    /// Which core replaces OpenBLAS' choice: only a slower one than the CPU's flags allow.
    func testBetterCoreOnlyUpgradesAFallback() {
        let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
        let avx2: Set<String> = ["sse3", "avx", "avx2", "fma"]
        XCTAssertEqual(BLAS.betterCore(than: "Prescott", cpuFlags: avx512), "SkylakeX")
        XCTAssertEqual(BLAS.betterCore(than: "Haswell", cpuFlags: avx512), "SkylakeX")
        XCTAssertNil(BLAS.betterCore(than: "SkylakeX", cpuFlags: avx512))
        XCTAssertNil(BLAS.betterCore(than: "Cooperlake", cpuFlags: avx512))
        XCTAssertNil(BLAS.betterCore(than: "SapphireRapids", cpuFlags: avx512))
        XCTAssertEqual(BLAS.betterCore(than: "Prescott", cpuFlags: avx2), "Haswell")
        XCTAssertEqual(BLAS.betterCore(than: "Sandybridge", cpuFlags: avx2), "Haswell")
        XCTAssertNil(BLAS.betterCore(than: "Zen", cpuFlags: avx2))
        XCTAssertNil(BLAS.betterCore(than: "Haswell", cpuFlags: avx2))
        XCTAssertNil(BLAS.betterCore(than: "Prescott", cpuFlags: ["sse3", "avx"]), "nothing better to offer")
        XCTAssertEqual(BLAS.betterCore(than: "Prescott", cpuFlags: avx2.union(["avx512f"])), "Haswell",
                       "AVX-512 without its BW/VL/DQ/CD subsets is not what SkylakeX kernels need")
    }
}

