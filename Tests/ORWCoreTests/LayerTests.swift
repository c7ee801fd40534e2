import XCTest
import ORWCore
import TestSupport

/// Finite-difference checks of every layer's backward. The loss is L = Σ y · g for a fixed random
/// g, accumulated in Double; the analytic gradients come from backward with dy = g.
///
/// Tolerance: the ∞-norm relative error max|analytic − numeric| / max|numeric| ≤ 1e-3. The
/// forward runs in Float, so each loss carries rounding of ~1e-7 · |y|, divided by the step
/// 2h: 2e-2 for Linear and Concat (linear, so a large step costs no truncation error), 8e-3 for
/// SiLU (truncation O(h²) ~ 1e-5), 2e-5 for the time embedding at small t. Expected errors
/// ~1e-5 … 1e-4; each is printed.
final class LayerTests: XCTestCase {
    func testLinearForwardMatchesDefinition() {
        let (batch, inFeatures, outFeatures) = (3, 4, 5)
        let x = normals(batch * inFeatures, seed: 1), w = normals(outFeatures * inFeatures, seed: 2)
        let b = normals(outFeatures, seed: 3)
        let y = FloatBuffer(zeros: batch * outFeatures)
        Linear.forward(output: y.pointer, input: x, weight: w, bias: b,
                       batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
        for r in 0..<batch {
            for o in 0..<outFeatures {
                let expected = (0..<inFeatures).reduce(Double(b[o])) { $0 + Double(x[r * inFeatures + $1]) * Double(w[o * inFeatures + $1]) }
                XCTAssertEqual(Double(y.pointer[r * outFeatures + o]), expected, accuracy: 1e-5)
            }
        }
    }

    func testLinearGradients() {
        let (batch, inFeatures, outFeatures) = (3, 4, 5)
        let x = FloatBuffer(normals(batch * inFeatures, seed: 1))
        let w = FloatBuffer(normals(outFeatures * inFeatures, seed: 2, scale: 0.5))
        let b = FloatBuffer(normals(outFeatures, seed: 3))
        let g = FloatBuffer(normals(batch * outFeatures, seed: 4))
        let y = FloatBuffer(zeros: batch * outFeatures)
        func loss() -> Double {
            Linear.forward(output: y.pointer, input: x.pointer, weight: w.pointer, bias: b.pointer,
                           batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
            return dot(y.pointer, g.pointer, count: y.count)
        }
        let dx = FloatBuffer(zeros: x.count), dw = FloatBuffer(zeros: w.count), db = FloatBuffer(zeros: b.count)
        Linear.backward(inputGradient: dx.pointer, weightGradient: dw.pointer, biasGradient: db.pointer,
                        outputGradient: g.pointer, input: x.pointer, weight: w.pointer,
                        batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
        assertGradient(dx.values, centralDifferences(of: loss, at: x.pointer, count: x.count, step: 1e-2), "Linear dx")
        assertGradient(dw.values, centralDifferences(of: loss, at: w.pointer, count: w.count, step: 1e-2), "Linear dW")
        assertGradient(db.values, centralDifferences(of: loss, at: b.pointer, count: b.count, step: 1e-2), "Linear db")

        // Accumulates: a second backward (without dx) adds the same dW and db again, dx unchanged.
        Linear.backward(inputGradient: nil, weightGradient: dw.pointer, biasGradient: db.pointer,
                        outputGradient: g.pointer, input: x.pointer, weight: w.pointer,
                        batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
        let once = FloatBuffer(zeros: w.count), onceBias = FloatBuffer(zeros: b.count)
        Linear.backward(inputGradient: nil, weightGradient: once.pointer, biasGradient: onceBias.pointer,
                        outputGradient: g.pointer, input: x.pointer, weight: w.pointer,
                        batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
        XCTAssertLessThanOrEqual(Deviation(dw.values, once.values.map { 2 * $0 }).relative, 1e-6)
        XCTAssertLessThanOrEqual(Deviation(db.values, onceBias.values.map { 2 * $0 }).relative, 1e-6)
    }

    func testSiLUValuesAndGradient() {
        let count = 40
        let x = FloatBuffer(normals(count, seed: 5, scale: 3))
        let g = FloatBuffer(normals(count, seed: 6))
        let y = FloatBuffer(zeros: count)
        SiLU.forward(output: y.pointer, input: x.pointer, count: count)
        for i in 0..<count {
            let v = Double(x.pointer[i])
            XCTAssertEqual(Double(y.pointer[i]), v / (1 + exp(-v)), accuracy: 1e-6 * max(1, abs(v)))
        }
        func loss() -> Double {
            SiLU.forward(output: y.pointer, input: x.pointer, count: count)
            return dot(y.pointer, g.pointer, count: count)
        }
        let dx = FloatBuffer(zeros: count)
        SiLU.backward(inputGradient: dx.pointer, outputGradient: g.pointer, input: x.pointer, count: count)
        assertGradient(dx.values, centralDifferences(of: loss, at: x.pointer, count: count, step: 4e-3), "SiLU dx")
    }

    func testConcatValuesAndGradient() {
        let (batch, first, second) = (3, 2, 5)
        let a = FloatBuffer(normals(batch * first, seed: 7)), c = FloatBuffer(normals(batch * second, seed: 8))
        let g = FloatBuffer(normals(batch * (first + second), seed: 9))
        let y = FloatBuffer(zeros: g.count)
        Concat.forward(output: y.pointer, first: a.pointer, second: c.pointer,
                       batch: batch, firstFeatures: first, secondFeatures: second)
        for r in 0..<batch {
            XCTAssertEqual(Array(y.values[(r * 7)..<(r * 7 + 2)]), Array(a.values[(r * 2)..<(r * 2 + 2)]))
            XCTAssertEqual(Array(y.values[(r * 7 + 2)..<(r * 7 + 7)]), Array(c.values[(r * 5)..<(r * 5 + 5)]))
        }
        func loss() -> Double {
            Concat.forward(output: y.pointer, first: a.pointer, second: c.pointer,
                           batch: batch, firstFeatures: first, secondFeatures: second)
            return dot(y.pointer, g.pointer, count: y.count)
        }
        let da = FloatBuffer(zeros: a.count), dc = FloatBuffer(zeros: c.count)
        Concat.backward(firstGradient: da.pointer, secondGradient: dc.pointer, outputGradient: g.pointer,
                        batch: batch, firstFeatures: first, secondFeatures: second)
        assertGradient(da.values, centralDifferences(of: loss, at: a.pointer, count: a.count, step: 1e-2), "Concat da")
        assertGradient(dc.values, centralDifferences(of: loss, at: c.pointer, count: c.count, step: 1e-2), "Concat dc")
    }

    func testTimeEmbeddingValuesAndGradient() {
        let (batch, width) = (4, 8)
        let embedding = TimeEmbedding(width: width)
        let t = FloatBuffer([0, 0.25, 0.5, 0.999])
        let e = FloatBuffer(zeros: batch * width)
        embedding.forward(output: e.pointer, t: t.pointer, batch: batch)
        for r in 0..<batch {
            for k in 0..<4 {
                let angle = 1000 * Double(t.pointer[r]) * exp(-log(10000) * Double(k) / 4)
                XCTAssertEqual(e.pointer[r * width + k], Float(sin(angle)), accuracy: 1e-6)
                XCTAssertEqual(e.pointer[r * width + 4 + k], Float(cos(angle)), accuracy: 1e-6)
            }
        }
        // Small t keep the fastest component (1000 t) slow enough for a 1e-5 step.
        let small = FloatBuffer([0.001, 0.0033, 0.0071, 0.0002])
        let g = FloatBuffer(normals(batch * width, seed: 10))
        func loss() -> Double {
            embedding.forward(output: e.pointer, t: small.pointer, batch: batch)
            return dot(e.pointer, g.pointer, count: e.count)
        }
        let dt = FloatBuffer(zeros: batch)
        embedding.backward(timeGradient: dt.pointer, outputGradient: g.pointer, t: small.pointer, batch: batch)
        assertGradient(dt.values, centralDifferences(of: loss, at: small.pointer, count: batch, step: 1e-5), "TimeEmbedding dt")
    }
}
