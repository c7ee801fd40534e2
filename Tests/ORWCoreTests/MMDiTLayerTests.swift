import XCTest
import ORWCore
import TestSupport

/// The elementwise and normalisation layers of SD3's MMDiT: values against definitions written
/// out here in Double, and every gradient against central differences of L = Σ y · g
/// (`assertGradient`, ∞-norm relative error ≤ 1e-3). Gradient buffers start nonzero
/// (`AccumulatingGradient`), so each check also checks that backward accumulates.
///
/// Steps: 1e-2 for the maps that are linear in the perturbed argument (Modulation, GatedResidual:
/// central differences are exact up to Float rounding of ~1e-7 · |y| / 2h ≈ 1e-5); 1e-2 for
/// LayerNorm's 8-wide rows (truncation h² · f‴ / 6 ≈ 2e-5); 3e-3 for RMSNorm's dx, whose 4-wide
/// rows can have a small norm and so a large curvature (1e-2 measured 3.4e-4, 3e-3 2.8e-5);
/// 4e-3 for GELU as for SiLU.
final class MMDiTLayerTests: XCTestCase {
    /// Rows with their own offsets and spreads, the largest offset 100 (a one-pass E[x²] − E[x]²
    /// in Float would lose ~1e-3 of the variance there).
    func offsetRows(rows: Int, columns: Int, seed: UInt64) -> FloatBuffer {
        let z = normals(rows * columns, seed: seed)
        let offsets: [Float] = [0, 3, -7, 100], spreads: [Float] = [1, 0.5, 2, 1]
        return FloatBuffer((0..<(rows * columns)).map { i in
            offsets[(i / columns) % 4] + spreads[(i / columns) % 4] * z[i]
        })
    }

    /// f(i, j) for every element i of a [B, N, C] buffer, j being the element of its sample's
    /// [B, C] row at the same feature: the definition of a per-sample map broadcast over tokens.
    func perToken(batch: Int, tokens: Int, features: Int, _ f: (Int, Int) -> Double) -> [Double] {
        (0..<(batch * tokens * features)).map { i in f(i, (i / (tokens * features)) * features + i % features) }
    }

    func testLayerNormValues() {
        let (rows, columns) = (4, 16)
        let x = offsetRows(rows: rows, columns: columns, seed: 11)
        let y = FloatBuffer(zeros: x.count), mean = FloatBuffer(zeros: rows), rstd = FloatBuffer(zeros: rows)
        for epsilon: Float in [1e-6, 0.5] {
            LayerNorm.forward(output: y.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer,
                              rows: rows, columns: columns, epsilon: epsilon)
            for r in 0..<rows {
                let row = (0..<columns).map { Double(x.pointer[r * columns + $0]) }
                let mu = row.reduce(0, +) / Double(columns)
                let variance = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(columns)
                let inverse = 1 / (variance + Double(epsilon)).squareRoot()
                XCTAssertEqual(Double(mean.pointer[r]), mu, accuracy: 1e-5 * max(1, abs(mu)))
                XCTAssertEqual(Double(rstd.pointer[r]), inverse, accuracy: 1e-5 * inverse)
                let out = (0..<columns).map { Double(y.pointer[r * columns + $0]) }
                XCTAssertLessThanOrEqual(Deviation(out, row.map { ($0 - mu) * inverse }).absolute, 1e-4, "row \(r), ε \(epsilon)")
                if epsilon == 1e-6 {  // normalised: mean 0, variance 1 (to ε / σ²)
                    let outMean = out.reduce(0, +) / Double(columns)
                    XCTAssertEqual(outMean, 0, accuracy: 1e-5)
                    XCTAssertEqual(out.map { ($0 - outMean) * ($0 - outMean) }.reduce(0, +) / Double(columns), 1, accuracy: 1e-4)
                }
            }
        }
    }

    func testLayerNormGradient() {
        let (rows, columns) = (3, 8)
        let x = FloatBuffer(normals(rows * columns, seed: 12)), g = FloatBuffer(normals(rows * columns, seed: 13))
        let y = FloatBuffer(zeros: x.count), mean = FloatBuffer(zeros: rows), rstd = FloatBuffer(zeros: rows)
        func loss() -> Double {
            LayerNorm.forward(output: y.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer,
                              rows: rows, columns: columns, epsilon: 1e-6)
            return dot(y.pointer, g.pointer, count: y.count)
        }
        _ = loss()
        let dx = AccumulatingGradient(count: x.count, seed: 14)
        LayerNorm.backward(inputGradient: dx.pointer, outputGradient: g.pointer, input: x.pointer,
                           mean: mean.pointer, rstd: rstd.pointer, rows: rows, columns: columns)
        assertGradients(of: loss, step: 1e-2, [("LayerNorm dx", dx, x)])
    }

    func testRMSNormValues() {
        let (rows, columns) = (4, 16)
        let x = offsetRows(rows: rows, columns: columns, seed: 21)
        let w = FloatBuffer(normals(columns, seed: 22).map { 1 + 0.3 * $0 })
        let y = FloatBuffer(zeros: x.count), rstd = FloatBuffer(zeros: rows)
        for epsilon: Float in [1e-6, 0.5] {
            RMSNorm.forward(output: y.pointer, rstd: rstd.pointer, input: x.pointer, weight: w.pointer,
                            rows: rows, columns: columns, epsilon: epsilon)
            for r in 0..<rows {
                let row = (0..<columns).map { Double(x.pointer[r * columns + $0]) }
                let inverse = 1 / (row.map { $0 * $0 }.reduce(0, +) / Double(columns) + Double(epsilon)).squareRoot()
                XCTAssertEqual(Double(rstd.pointer[r]), inverse, accuracy: 1e-5 * inverse)
                let expected = (0..<columns).map { row[$0] * inverse * Double(w.pointer[$0]) }
                let out = (0..<columns).map { Double(y.pointer[r * columns + $0]) }
                XCTAssertLessThanOrEqual(Deviation(out, expected).relative, 1e-5, "row \(r), ε \(epsilon)")
                if epsilon == 1e-6 {  // y / w has root mean square 1
                    let ms = (0..<columns).map { out[$0] / Double(w.pointer[$0]) }.map { $0 * $0 }.reduce(0, +) / Double(columns)
                    XCTAssertEqual(ms, 1, accuracy: 1e-4)
                }
            }
        }
    }

    func testRMSNormGradients() {
        // Rows as SD3.5's qk norm sees them: B · N · H = 2 · 3 · 2 heads of d = 4.
        let (rows, columns) = (12, 4)
        let x = FloatBuffer(normals(rows * columns, seed: 23)), g = FloatBuffer(normals(rows * columns, seed: 24))
        let w = FloatBuffer(normals(columns, seed: 25).map { 1 + 0.3 * $0 })
        let y = FloatBuffer(zeros: x.count), rstd = FloatBuffer(zeros: rows)
        func loss() -> Double {
            RMSNorm.forward(output: y.pointer, rstd: rstd.pointer, input: x.pointer, weight: w.pointer,
                            rows: rows, columns: columns, epsilon: 1e-6)
            return dot(y.pointer, g.pointer, count: y.count)
        }
        _ = loss()
        let dx = AccumulatingGradient(count: x.count, seed: 26), dw = AccumulatingGradient(count: columns, seed: 27)
        RMSNorm.backward(inputGradient: dx.pointer, weightGradient: dw.pointer, outputGradient: g.pointer,
                         input: x.pointer, weight: w.pointer, rstd: rstd.pointer, rows: rows, columns: columns)
        assertGradients(of: loss, step: 3e-3, [("RMSNorm dx", dx, x)])
        assertGradients(of: loss, step: 1e-2, [("RMSNorm dw", dw, w)])
    }

    func testGELUValues() {
        // PyTorch: F.gelu(torch.tensor([1.0, -0.5], dtype=torch.float64), approximate="tanh").
        let known = FloatBuffer([1.0, -0.5]), y2 = FloatBuffer(zeros: 2)
        GELU.forward(output: y2.pointer, input: known.pointer, count: 2)
        XCTAssertEqual(Double(y2.pointer[0]), 0.8411919906082768, accuracy: 1e-7)
        XCTAssertEqual(Double(y2.pointer[1]), -0.15428599017485606, accuracy: 1e-7)

        let count = 64
        let x = FloatBuffer(normals(count - 4, seed: 31, scale: 3) + [0, 10, -10, 30])
        let y = FloatBuffer(zeros: count)
        GELU.forward(output: y.pointer, input: x.pointer, count: count)
        for i in 0..<count {
            let v = Double(x.pointer[i])
            let expected = 0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
            XCTAssertEqual(Double(y.pointer[i]), expected, accuracy: 1e-6 * max(1, abs(v)), "x = \(v)")
        }
    }

    func testGELUGradient() {
        let count = 40
        let x = FloatBuffer(normals(count, seed: 32, scale: 2)), g = FloatBuffer(normals(count, seed: 33))
        let y = FloatBuffer(zeros: count)
        func loss() -> Double {
            GELU.forward(output: y.pointer, input: x.pointer, count: count)
            return dot(y.pointer, g.pointer, count: count)
        }
        let dx = AccumulatingGradient(count: count, seed: 34)
        GELU.backward(inputGradient: dx.pointer, outputGradient: g.pointer, input: x.pointer, count: count)
        assertGradients(of: loss, step: 4e-3, [("GELU dx", dx, x)])
    }

    func testModulationValuesAndGradients() {
        let (batch, tokens, features) = (2, 3, 4)
        let x = FloatBuffer(normals(batch * tokens * features, seed: 41))
        let scale = FloatBuffer(normals(batch * features, seed: 42, scale: 0.5))
        let shift = FloatBuffer(normals(batch * features, seed: 43))
        let g = FloatBuffer(normals(x.count, seed: 44)), y = FloatBuffer(zeros: x.count)
        Modulation.forward(output: y.pointer, input: x.pointer, scale: scale.pointer, shift: shift.pointer,
                           batch: batch, tokens: tokens, features: features)
        let expected = perToken(batch: batch, tokens: tokens, features: features) { i, j in
            Double(x.pointer[i]) * (1 + Double(scale.pointer[j])) + Double(shift.pointer[j])
        }
        XCTAssertLessThanOrEqual(Deviation(y.values, expected).absolute, 1e-6)
        func loss() -> Double {
            Modulation.forward(output: y.pointer, input: x.pointer, scale: scale.pointer, shift: shift.pointer,
                               batch: batch, tokens: tokens, features: features)
            return dot(y.pointer, g.pointer, count: y.count)
        }
        let dx = AccumulatingGradient(count: x.count, seed: 45)
        let dscale = AccumulatingGradient(count: scale.count, seed: 46), dshift = AccumulatingGradient(count: shift.count, seed: 47)
        Modulation.backward(inputGradient: dx.pointer, scaleGradient: dscale.pointer, shiftGradient: dshift.pointer,
                            outputGradient: g.pointer, input: x.pointer, scale: scale.pointer,
                            batch: batch, tokens: tokens, features: features)
        assertGradients(of: loss, step: 1e-2, [("Modulation dx", dx, x), ("Modulation dscale", dscale, scale),
                                               ("Modulation dshift", dshift, shift)])
    }

    func testGatedResidualValuesAndGradients() {
        let (batch, tokens, features) = (2, 3, 4)
        let residual = FloatBuffer(normals(batch * tokens * features, seed: 51))
        let x = FloatBuffer(normals(residual.count, seed: 52)), gate = FloatBuffer(normals(batch * features, seed: 53))
        let g = FloatBuffer(normals(x.count, seed: 54)), y = FloatBuffer(zeros: x.count)
        GatedResidual.forward(output: y.pointer, residual: residual.pointer, input: x.pointer, gate: gate.pointer,
                              batch: batch, tokens: tokens, features: features)
        let expected = perToken(batch: batch, tokens: tokens, features: features) { i, j in
            Double(residual.pointer[i]) + Double(gate.pointer[j]) * Double(x.pointer[i])
        }
        XCTAssertLessThanOrEqual(Deviation(y.values, expected).absolute, 1e-6)
        // In place on the residual stream, as a block adds onto its hidden states.
        let stream = FloatBuffer(residual.values)
        GatedResidual.forward(output: stream.pointer, residual: stream.pointer, input: x.pointer, gate: gate.pointer,
                              batch: batch, tokens: tokens, features: features)
        XCTAssertEqual(stream.values, y.values)

        func loss() -> Double {
            GatedResidual.forward(output: y.pointer, residual: residual.pointer, input: x.pointer, gate: gate.pointer,
                                  batch: batch, tokens: tokens, features: features)
            return dot(y.pointer, g.pointer, count: y.count)
        }
        let dr = AccumulatingGradient(count: x.count, seed: 55), dx = AccumulatingGradient(count: x.count, seed: 56)
        let dgate = AccumulatingGradient(count: gate.count, seed: 57)
        GatedResidual.backward(residualGradient: dr.pointer, inputGradient: dx.pointer, gateGradient: dgate.pointer,
                               outputGradient: g.pointer, input: x.pointer, gate: gate.pointer,
                               batch: batch, tokens: tokens, features: features)
        assertGradients(of: loss, step: 1e-2, [("GatedResidual dresidual", dr, residual), ("GatedResidual dx", dx, x),
                                               ("GatedResidual dgate", dgate, gate)])

        // Without a residual gradient the other two are the same.
        let dx2 = AccumulatingGradient(count: x.count, seed: 56), dgate2 = AccumulatingGradient(count: gate.count, seed: 57)
        GatedResidual.backward(residualGradient: nil, inputGradient: dx2.pointer, gateGradient: dgate2.pointer,
                               outputGradient: g.pointer, input: x.pointer, gate: gate.pointer,
                               batch: batch, tokens: tokens, features: features)
        XCTAssertEqual(dx2.buffer.values, dx.buffer.values)
        XCTAssertEqual(dgate2.buffer.values, dgate.buffer.values)
    }

    /// Scale, shift and gate read in place from one [B, 3C] buffer (as chunks of adaLN-Zero's
    /// Linear output, rows 3C apart), and their gradients written into one [B, 3C] gradient: the
    /// same numbers, bit for bit, as with [B, C] buffers of their own.
    func testModulationAndGateReadChunksOfOneConditionBuffer() {
        let (batch, tokens, features) = (2, 3, 4)
        let stride = 3 * features
        let x = FloatBuffer(normals(batch * tokens * features, seed: 81)), dy = FloatBuffer(normals(x.count, seed: 82))
        let emb = FloatBuffer(normals(batch * stride, seed: 83))  // [B, 3C]: shift | scale | gate
        /// Chunk i of every row of a [B, 3C] buffer, as a [B, C] buffer of its own.
        func chunk(_ buffer: FloatBuffer, _ i: Int) -> FloatBuffer {
            FloatBuffer((0..<(batch * features)).map { buffer.pointer[($0 / features) * stride + i * features + $0 % features] })
        }
        let (shift, scale, gate) = (chunk(emb, 0), chunk(emb, 1), chunk(emb, 2))

        let modulated = FloatBuffer(zeros: x.count), modulatedInPlace = FloatBuffer(zeros: x.count)
        Modulation.forward(output: modulated.pointer, input: x.pointer, scale: scale.pointer, shift: shift.pointer,
                           batch: batch, tokens: tokens, features: features)
        Modulation.forward(output: modulatedInPlace.pointer, input: x.pointer, scale: emb.pointer + features,
                           shift: emb.pointer, batch: batch, tokens: tokens, features: features, conditionStride: stride)
        XCTAssertEqual(modulatedInPlace.values, modulated.values)
        let gated = FloatBuffer(zeros: x.count), gatedInPlace = FloatBuffer(zeros: x.count)
        GatedResidual.forward(output: gated.pointer, residual: dy.pointer, input: x.pointer, gate: gate.pointer,
                              batch: batch, tokens: tokens, features: features)
        GatedResidual.forward(output: gatedInPlace.pointer, residual: dy.pointer, input: x.pointer, gate: emb.pointer + 2 * features,
                              batch: batch, tokens: tokens, features: features, conditionStride: stride)
        XCTAssertEqual(gatedInPlace.values, gated.values)

        let dx = FloatBuffer(zeros: x.count), dshift = FloatBuffer(zeros: shift.count), dscale = FloatBuffer(zeros: scale.count)
        let dgate = FloatBuffer(zeros: gate.count), demb = FloatBuffer(zeros: emb.count)
        Modulation.backward(inputGradient: dx.pointer, scaleGradient: dscale.pointer, shiftGradient: dshift.pointer,
                            outputGradient: dy.pointer, input: x.pointer, scale: scale.pointer,
                            batch: batch, tokens: tokens, features: features)
        Modulation.backward(inputGradient: dx.pointer, scaleGradient: demb.pointer + features, shiftGradient: demb.pointer,
                            outputGradient: dy.pointer, input: x.pointer, scale: emb.pointer + features,
                            batch: batch, tokens: tokens, features: features, conditionStride: stride)
        GatedResidual.backward(residualGradient: nil, inputGradient: dx.pointer, gateGradient: dgate.pointer,
                               outputGradient: dy.pointer, input: x.pointer, gate: gate.pointer,
                               batch: batch, tokens: tokens, features: features)
        GatedResidual.backward(residualGradient: nil, inputGradient: dx.pointer, gateGradient: demb.pointer + 2 * features,
                               outputGradient: dy.pointer, input: x.pointer, gate: emb.pointer + 2 * features,
                               batch: batch, tokens: tokens, features: features, conditionStride: stride)
        XCTAssertEqual(chunk(demb, 0).values, dshift.values)
        XCTAssertEqual(chunk(demb, 1).values, dscale.values)
        XCTAssertEqual(chunk(demb, 2).values, dgate.values)
    }
}
