import Foundation
import XCTest
import ORWCore
import TestSupport

/// The performance kernels against their plain definitions: the C element-wise loops, oneDNN's
/// fp32 matmul against OpenBLAS, the MLP on either backend, the shared-t rollout pass, and bf16
/// inference against fp32 within a stated tolerance. No timing here (scripts/bench times).
final class KernelTests: XCTestCase {
    // MARK: Element-wise

    func testSiLUAndItsSlopeMatchDoublePrecision() {
        let x = (0..<4099).map { Float($0 - 2049) / 128 }          // [−16, 16], odd count for tails
        let y = FloatBuffer(zeros: x.count), dx = FloatBuffer(zeros: x.count)
        let dy = FloatBuffer(normals(x.count, seed: 3))
        x.withUnsafeBufferPointer { input in
            Elementwise.silu(y.pointer, input.baseAddress!, count: x.count)
            Elementwise.siluBackward(dx.pointer, dy.pointer, input.baseAddress!, count: x.count, accumulate: false)
        }
        for i in x.indices {
            let v = Double(x[i]), s = 1 / (1 + exp(-v))
            XCTAssertEqual(Double(y.pointer[i]), v * s, accuracy: 4e-7 * max(1, abs(v * s)), "silu(\(v))")
            XCTAssertEqual(Double(dx.pointer[i]), Double(dy.pointer[i]) * s * (1 + v * (1 - s)),
                           // 1 − σ(x) cancels for large x in Float (as in PyTorch): error grows like |x|·ε
                           accuracy: 4e-7 * (1 + abs(v)) * max(1, abs(Double(dy.pointer[i]))), "silu'(\(v))")
        }
        // In place (the MLP's backward) gives the same values as out of place; accumulate adds.
        let inPlace = FloatBuffer(dy.values)
        x.withUnsafeBufferPointer { Elementwise.siluBackward(inPlace.pointer, inPlace.pointer, $0.baseAddress!, count: x.count, accumulate: false) }
        XCTAssertEqual(inPlace.values, dx.values)
        let accumulated = FloatBuffer(dx.values)
        x.withUnsafeBufferPointer { Elementwise.siluBackward(accumulated.pointer, dy.pointer, $0.baseAddress!, count: x.count, accumulate: true) }
        XCTAssertEqual(accumulated.values, dx.values.map { 2 * $0 })
        // Extremes stay finite: σ saturates, silu(−∞-ish) → 0, silu(large) = x.
        let extremes: [Float] = [-1000, -100, -88, 88, 100, 1000]
        let out = FloatBuffer(zeros: extremes.count)
        extremes.withUnsafeBufferPointer { Elementwise.silu(out.pointer, $0.baseAddress!, count: extremes.count) }
        XCTAssertEqual(out.values.map { abs($0) < 1e-30 ? 0 : $0 }, [0, 0, 0, 88, 100, 1000])
    }

    func testBiasSiLUFusedEqualsSeparatePasses() {
        let rows = 7, columns = 37
        let pre = FloatBuffer(normals(rows * columns, seed: 5, scale: 3)), bias = FloatBuffer(normals(columns, seed: 6))
        let kept = FloatBuffer(pre.values), act = FloatBuffer(zeros: rows * columns), inPlace = FloatBuffer(pre.values)
        Elementwise.biasSiLU(kept.pointer, activation: act.pointer, bias: bias.pointer, rows: rows, columns: columns)
        Elementwise.biasSiLU(inPlace.pointer, activation: inPlace.pointer, bias: bias.pointer, rows: rows, columns: columns)
        let separate = FloatBuffer(pre.values), silu = FloatBuffer(zeros: rows * columns)
        Elementwise.addBias(separate.pointer, bias: bias.pointer, rows: rows, columns: columns)
        Elementwise.silu(silu.pointer, separate.pointer, count: rows * columns)
        XCTAssertEqual(kept.values, separate.values)
        XCTAssertEqual(act.values, silu.values)
        XCTAssertEqual(inPlace.values, silu.values)
    }

    func testBFloat16RoundsToNearestEven() {
        let values: [Float] = [1, -2, 1 + 1.0 / 256, 1 + 3.0 / 256, 1 + 1.0 / 512, 3.14159265, .infinity, -.infinity, 0, -0.0]
        // 1 + 2⁻⁸ is a tie between 1 and 1 + 2⁻⁷: even mantissa, 1; 1 + 3·2⁻⁸ ties up to 1 + 2⁻⁶.
        let expected: [UInt16] = [0x3F80, 0xC000, 0x3F80, 0x3F82, 0x3F80, 0x4049, 0x7F80, 0xFF80, 0x0000, 0x8000]
        var bits = [UInt16](repeating: 0, count: values.count)
        Elementwise.toBFloat16(&bits, values, count: values.count)
        XCTAssertEqual(bits, expected)
        var nan = [UInt16](repeating: 0, count: 1)
        Elementwise.toBFloat16(&nan, [Float.nan], count: 1)
        var back = [Float](repeating: 0, count: 1)
        Elementwise.fromBFloat16(&back, nan, count: 1)
        XCTAssertTrue(back[0].isNaN)
        // Every bf16 value converts back exactly, and the rounding error is ≤ half an ulp, 2⁻⁸ relative.
        let x = normals(1000, seed: 9, scale: 100)
        var rounded = [UInt16](repeating: 0, count: x.count), restored = [Float](repeating: 0, count: x.count)
        Elementwise.toBFloat16(&rounded, x, count: x.count)
        Elementwise.fromBFloat16(&restored, rounded, count: x.count)
        for (a, b) in zip(x, restored) { XCTAssertLessThanOrEqual(abs(a - b), abs(a) / 256) }
    }

    // MARK: oneDNN against OpenBLAS

    /// Every transpose combination, strides wider than the rows, beta 0 and 1, alpha ≠ 1.
    func testOneDNNMatmulMatchesOpenBLAS() {
        for (transposeA, transposeB) in [(false, false), (false, true), (true, false), (true, true)] {
            for (m, n, k) in [(5, 7, 3), (33, 2, 17), (64, 66, 128)] {
                for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.5, 1)] {
                    let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 1, ldc = n + 2
                    let a = FloatBuffer(normals((transposeA ? k : m) * lda, seed: 11))
                    let b = FloatBuffer(normals((transposeB ? n : k) * ldb, seed: 12))
                    let c0 = normals(m * ldc, seed: 13)
                    let blas = FloatBuffer(c0), dnnl = FloatBuffer(c0)
                    for (backend, c) in [(GEMMBackend.openblas, blas), (.onednn, dnnl)] {
                        GEMM.sgemm(backend, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                   a: a.pointer, lda: lda, b: b.pointer, ldb: ldb, beta: beta, c: c.pointer, ldc: ldc)
                    }
                    let label = "\(transposeA ? "T" : "N")\(transposeB ? "T" : "N") \(m)×\(n)×\(k) α \(alpha) β \(beta)"
                    XCTAssertLessThanOrEqual(Deviation(dnnl.values, blas.values).relative, 1e-5, label)
                    for row in 0..<m { for j in n..<ldc {   // padding untouched
                        XCTAssertEqual(dnnl.pointer[row * ldc + j], c0[row * ldc + j], label)
                    } }
                }
            }
        }
    }

    /// Bias and SiLU fused into the matmul equal the product followed by the C passes.
    func testOneDNNFusedBiasAndSiLU() {
        let (m, n, k) = (9, 20, 13)
        let a = FloatBuffer(normals(m * k, seed: 21)), b = FloatBuffer(normals(n * k, seed: 22)), bias = FloatBuffer(normals(n, seed: 23))
        let fused = FloatBuffer(zeros: m * n), plain = FloatBuffer(zeros: m * n)
        OneDNN.matmul(transposeA: false, transposeB: true, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: k,
                      bias: bias.pointer, activation: .silu, c: fused.pointer, ldc: n)
        BLAS.sgemm(transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: 1, a: a.pointer, lda: k,
                   b: b.pointer, ldb: k, beta: 0, c: plain.pointer, ldc: n)
        Elementwise.biasSiLU(plain.pointer, activation: plain.pointer, bias: bias.pointer, rows: m, columns: n)
        XCTAssertLessThanOrEqual(Deviation(fused.values, plain.values).relative, 1e-5)
    }

    // MARK: The MLP on each path

    let spec = MLPArchitecture(dimension: 3, hidden: 40, depth: 3, timeEmbedding: 8)

    func inputs(_ model: MLPVelocityField, batch: Int) -> (theta: FloatBuffer, t: FloatBuffer, x: FloatBuffer, g: FloatBuffer) {
        let theta = FloatBuffer(zeros: model.layout.count)
        model.initialize(theta.pointer, seed: 4)
        return (theta, FloatBuffer(uniforms(batch, seed: 5)), FloatBuffer(normals(batch * spec.dimension, seed: 6)),
                FloatBuffer(normals(batch * spec.dimension, seed: 7)))
    }

    /// One forward, infer and backward (parameter and input gradients) of `model` on the
    /// `inputs` of a batch.
    func passes(_ model: MLPVelocityField, batch: Int) -> (v: [Float], inferred: [Float], dtheta: [Float], dx: [Float]) {
        let (theta, t, x, g) = inputs(model, batch: batch)
        let v = FloatBuffer(zeros: batch * 3), inferred = FloatBuffer(zeros: batch * 3)
        let dtheta = FloatBuffer(zeros: theta.count), dx = FloatBuffer(zeros: x.count)
        model.forward(theta.pointer, t: t.pointer, x: x.pointer, batch: batch, output: v.pointer)
        model.infer(theta.pointer, t: t.pointer, x: x.pointer, batch: batch, output: inferred.pointer)
        model.backward(parameterGradient: dtheta.pointer, inputGradient: dx.pointer, outputGradient: g.pointer, parameters: theta.pointer)
        return (v.values, inferred.values, dtheta.values, dx.values)
    }

    /// Forward, backward (parameter and input gradients) and inference agree between the
    /// backends, also with the backends mixed per layer.
    func testMLPOnOneDNNMatchesOpenBLAS() {
        let batch = 11
        let reference = MLPVelocityField(spec)
        let run = { (model: MLPVelocityField) in self.passes(model, batch: batch) }
        let expected = run(reference)
        for backends in [[GEMMBackend](repeating: .onednn, count: 4), [.onednn, .openblas, .onednn, .openblas]] {
            let model = MLPVelocityField(spec)
            model.gemmBackends = backends
            let actual = run(model)
            XCTAssertLessThanOrEqual(Deviation(actual.v, expected.v).relative, 1e-5, "\(backends) forward")
            XCTAssertLessThanOrEqual(Deviation(actual.inferred, expected.v).relative, 1e-5, "\(backends) infer")
            XCTAssertLessThanOrEqual(Deviation(actual.dtheta, expected.dtheta).relative, 1e-5, "\(backends) dθ")
            XCTAssertLessThanOrEqual(Deviation(actual.dx, expected.dx).relative, 1e-5, "\(backends) dx")
        }
    }

    /// Training passes in bf16 (`trainingPrecision`): forward, parameter and input gradients
    /// within 3e-2 (∞-norm relative) of the fp32 passes — whose gradients the finite-difference
    /// tests check; a finite difference of a bf16 forward would measure its rounding, not its
    /// slope — and `infer` (the reference, evaluations) stays exactly fp32.
    func testBFloat16TrainingPassesAreCloseToFP32() {
        let batch = 24
        let reference = MLPVelocityField(spec)
        let run = { (model: MLPVelocityField) in self.passes(model, batch: batch) }
        let expected = run(reference)
        let model = MLPVelocityField(spec)
        model.trainingPrecision = .bf16
        let actual = run(model)
        for (name, a, e) in [("forward", actual.v, expected.v), ("dθ", actual.dtheta, expected.dtheta), ("dx", actual.dx, expected.dx)] {
            let deviation = Deviation(a, e)
            print("bf16 vs fp32 training pass, \(name): \(deviation)")
            XCTAssertLessThanOrEqual(deviation.relative, 3e-2, name)
            XCTAssertGreaterThan(deviation.absolute, 0, "\(name): bf16 should round something")
        }
        XCTAssertEqual(actual.inferred, expected.inferred, "infer is not a training pass")
        // The whole gradient points the way the fp32 one does.
        let cosine = zip(actual.dtheta, expected.dtheta).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            / (actual.dtheta.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
               * expected.dtheta.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
        XCTAssertGreaterThan(cosine, 0.999)
    }

    /// A rollout's pass (every sample at the same t: the embedding's product done once) gives
    /// the per-sample pass's values, on both backends.
    func testSharedTimeInferenceMatchesPerSamplePass() {
        let batch = 13
        for backend in GEMMBackend.allCases {
            let model = MLPVelocityField(spec)
            model.gemmBackends = Array(repeating: backend, count: 4)
            let (theta, _, x, _) = inputs(model, batch: batch)
            let shared = FloatBuffer([Float](repeating: 0.37, count: batch))
            let fast = FloatBuffer(zeros: batch * 3), slow = FloatBuffer(zeros: batch * 3)
            model.infer(theta.pointer, t: shared.pointer, x: x.pointer, batch: batch, output: fast.pointer)
            model.forward(theta.pointer, t: shared.pointer, x: x.pointer, batch: batch, output: slow.pointer)   // always per sample
            XCTAssertLessThanOrEqual(Deviation(fast.values, slow.values).relative, 1e-5, "\(backend)")
        }
    }

    /// A rollout pass in bf16 (weights and activations rounded to 8-bit mantissas, fp32
    /// accumulation; inside beginInference/endInference) stays within 3e-2 of fp32 in ∞-norm
    /// relative terms, for shared t (packed weights) and per-sample t; outside a session (the
    /// reference's pass) `infer` stays fp32; an fp32 oneDNN rollout (packed weights) matches.
    func testBFloat16InferenceIsCloseToFP32() {
        let batch = 16
        let model = MLPVelocityField(spec)
        let (theta, t, x, _) = inputs(model, batch: batch)
        let shared = FloatBuffer([Float](repeating: 0.61, count: batch))
        for times in [t, shared] {
            let single = FloatBuffer(zeros: batch * 3), half = FloatBuffer(zeros: batch * 3)
            let outside = FloatBuffer(zeros: batch * 3), packed32 = FloatBuffer(zeros: batch * 3)
            model.infer(theta.pointer, t: times.pointer, x: x.pointer, batch: batch, output: single.pointer)
            model.rolloutPrecision = .bf16
            model.beginInference(theta.pointer)
            model.infer(theta.pointer, t: times.pointer, x: x.pointer, batch: batch, output: half.pointer)
            model.endInference()
            model.infer(theta.pointer, t: times.pointer, x: x.pointer, batch: batch, output: outside.pointer)
            model.rolloutPrecision = .fp32
            model.gemmBackends = Array(repeating: .onednn, count: 4)
            model.beginInference(theta.pointer)
            model.infer(theta.pointer, t: times.pointer, x: x.pointer, batch: batch, output: packed32.pointer)
            model.endInference()
            model.gemmBackends = Array(repeating: .openblas, count: 4)
            let deviation = Deviation(half.values, single.values)
            print("bf16 vs fp32 inference (\(times === shared ? "shared t" : "per-sample t")): \(deviation)")
            XCTAssertLessThanOrEqual(deviation.relative, 3e-2)
            XCTAssertGreaterThan(deviation.absolute, 0, "bf16 should round something")
            XCTAssertEqual(outside.values, single.values)
            XCTAssertLessThanOrEqual(Deviation(packed32.values, single.values).relative, 1e-5)
        }
    }

    /// Packed weights follow θ: a new session after θ changed packs the new values.
    func testPackedRolloutWeightsFollowParameters() {
        let batch = 8
        let model = MLPVelocityField(spec)
        model.gemmBackends = Array(repeating: .onednn, count: 4)
        let (theta, _, x, _) = inputs(model, batch: batch)
        let t = FloatBuffer([Float](repeating: 0.2, count: batch))
        let first = FloatBuffer(zeros: batch * 3), second = FloatBuffer(zeros: batch * 3), expected = FloatBuffer(zeros: batch * 3)
        model.beginInference(theta.pointer)
        model.infer(theta.pointer, t: t.pointer, x: x.pointer, batch: batch, output: first.pointer)
        model.endInference()
        for i in 0..<theta.count { theta.pointer[i] *= 1.5 }
        model.beginInference(theta.pointer)
        model.infer(theta.pointer, t: t.pointer, x: x.pointer, batch: batch, output: second.pointer)
        model.endInference()
        model.infer(theta.pointer, t: t.pointer, x: x.pointer, batch: batch, output: expected.pointer)
        XCTAssertGreaterThan(Deviation(first.values, expected.values).absolute, 1e-3)
        XCTAssertLessThanOrEqual(Deviation(second.values, expected.values).relative, 1e-5)
    }

    /// A bf16 Euler rollout lands near the fp32 one from the same noise.
    func testBFloat16RolloutStaysNearFP32() throws {
        let batch = 32
        let model = MLPVelocityField(spec)
        let (theta, _, _, _) = inputs(model, batch: batch)
        let noise = normals(batch * 3, seed: 31)
        var single = noise, half = noise
        let integrator = ODEIntegrator(.euler(steps: 20))
        _ = try integrator.sample(model: model, parameters: theta.pointer, noise: &single, batch: batch)
        model.rolloutPrecision = .bf16
        _ = try integrator.sample(model: model, parameters: theta.pointer, noise: &half, batch: batch)
        let deviation = Deviation(half, single)
        print("bf16 vs fp32 Euler rollout: \(deviation)")
        XCTAssertLessThanOrEqual(deviation.relative, 1e-2)
    }
}
