import XCTest
import ORWCore
import TestSupport

/// Multi-head attention over [B, N, H · d] (heads interleaved as diffusers' view(B, N, H, d)):
/// values against a naive Double evaluation of softmax(q kᵀ / √d) v written out here, and dq,
/// dk, dv against central differences (step 1e-2: truncation ~1e-5, Float rounding of the loss
/// ~1e-7 · √(B·N·H·d) / 2h ≈ 5e-5; bound 1e-3 as in `LayerTests`).
final class AttentionTests: XCTestCase {
    let (batch, tokens, heads, headDimension) = (2, 5, 2, 3)
    var width: Int { heads * headDimension }
    var count: Int { batch * tokens * width }

    /// Element (b, n, h, c) of a [B, N, H · d] buffer.
    func index(_ b: Int, _ n: Int, _ h: Int, _ c: Int) -> Int { (b * tokens + n) * width + h * headDimension + c }

    /// (o [B, N, H · d], P [B, H, N, N]) by the definition, in Double.
    func reference(_ q: FloatBuffer, _ k: FloatBuffer, _ v: FloatBuffer) -> (output: [Double], probabilities: [Double]) {
        var output = [Double](repeating: 0, count: count)
        var probabilities = [Double](repeating: 0, count: batch * heads * tokens * tokens)
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<tokens {
                    let logits = (0..<tokens).map { j in
                        (0..<headDimension).reduce(0.0) {
                            $0 + Double(q.pointer[index(b, i, h, $1)]) * Double(k.pointer[index(b, j, h, $1)])
                        } / Double(headDimension).squareRoot()
                    }
                    let largest = logits.max()!
                    let weights = logits.map { exp($0 - largest) }
                    let total = weights.reduce(0, +)
                    for j in 0..<tokens {
                        let p = weights[j] / total
                        probabilities[((b * heads + h) * tokens + i) * tokens + j] = p
                        for c in 0..<headDimension {
                            output[index(b, i, h, c)] += p * Double(v.pointer[index(b, j, h, c)])
                        }
                    }
                }
            }
        }
        return (output, probabilities)
    }

    func testForwardMatchesDefinition() {
        // Scale 1: moderate logits; scale 30: logits ~1e3, where softmax without its max
        // subtraction would overflow exp (and Float logits carry ~1e-4 of rounding).
        for (scale, tolerance) in [(Float(1), 1e-5), (30, 1e-3)] {
            let q = FloatBuffer(normals(count, seed: 61, scale: scale)), k = FloatBuffer(normals(count, seed: 62, scale: scale))
            let v = FloatBuffer(normals(count, seed: 63))
            let o = FloatBuffer(zeros: count), p = FloatBuffer(zeros: batch * heads * tokens * tokens)
            Attention.forward(output: o.pointer, probabilities: p.pointer, query: q.pointer, key: k.pointer, value: v.pointer,
                              batch: batch, tokens: tokens, heads: heads, headDimension: headDimension)
            let expected = reference(q, k, v)
            XCTAssertLessThanOrEqual(Deviation(o.values, expected.output).absolute, tolerance, "output, scale \(scale)")
            XCTAssertLessThanOrEqual(Deviation(p.values, expected.probabilities).absolute, tolerance, "probabilities, scale \(scale)")
        }
    }

    func testGradients() {
        let q = FloatBuffer(normals(count, seed: 64)), k = FloatBuffer(normals(count, seed: 65))
        let v = FloatBuffer(normals(count, seed: 66)), g = FloatBuffer(normals(count, seed: 67))
        let o = FloatBuffer(zeros: count), p = FloatBuffer(zeros: batch * heads * tokens * tokens)
        func loss() -> Double {
            Attention.forward(output: o.pointer, probabilities: p.pointer, query: q.pointer, key: k.pointer, value: v.pointer,
                              batch: batch, tokens: tokens, heads: heads, headDimension: headDimension)
            return dot(o.pointer, g.pointer, count: count)
        }
        _ = loss()
        let dq = AccumulatingGradient(count: count, seed: 68), dk = AccumulatingGradient(count: count, seed: 69)
        let dv = AccumulatingGradient(count: count, seed: 70), scratch = FloatBuffer(zeros: tokens * tokens)
        Attention.backward(queryGradient: dq.pointer, keyGradient: dk.pointer, valueGradient: dv.pointer,
                           outputGradient: g.pointer, query: q.pointer, key: k.pointer, value: v.pointer,
                           probabilities: p.pointer, scratch: scratch.pointer,
                           batch: batch, tokens: tokens, heads: heads, headDimension: headDimension)
        assertGradients(of: loss, step: 1e-2, [("Attention dq", dq, q), ("Attention dk", dk, k), ("Attention dv", dv, v)])
    }
}
