import XCTest
import ORWCore
import TestSupport

final class MLPVelocityFieldTests: XCTestCase {
    let spec = MLPArchitecture(dimension: 3, hidden: 6, depth: 2, timeEmbedding: 4)

    /// θ, t, x, dL/dv for `spec` and a batch, from fixed seeds.
    func inputs(batch: Int, model: MLPVelocityField, seed: UInt64 = 1)
        -> (theta: FloatBuffer, t: FloatBuffer, x: FloatBuffer, g: FloatBuffer) {
        let theta = FloatBuffer(zeros: model.layout.count)
        model.initialize(theta.pointer, seed: seed)
        return (theta, FloatBuffer(uniforms(batch, seed: seed + 1)),
                FloatBuffer(normals(batch * model.dimension, seed: seed + 2)),
                FloatBuffer(normals(batch * model.dimension, seed: seed + 3)))
    }

    func testLayoutFollowsPyTorchStateDict() {
        let model = MLPVelocityField(spec)
        XCTAssertEqual(model.layout.tensors.map(\.name),
                       ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.4.weight", "net.4.bias"])
        XCTAssertEqual(model.layout.tensors.map(\.shape), [[6, 7], [6], [6, 6], [6], [3, 6], [3]])
        XCTAssertEqual(model.layout.count, 42 + 6 + 36 + 6 + 18 + 3)
        XCTAssertEqual(model.architecture, .mlp(spec))
        XCTAssertEqual(model.dimension, 3)
        XCTAssertEqual(MLPVelocityField(MLPArchitecture(dimension: 2, hidden: 5, depth: 0)).layout.tensors.map(\.shape),
                       [[2, 66], [2]])
        XCTAssertTrue(Architecture.mlp(spec).makeModel() is MLPVelocityField)
    }

    /// U(−1/√in, 1/√in) for weights and biases: within the bound, mean 0 and variance bound²/3
    /// within 6 standard errors; the same seed gives the same θ, another seed another θ.
    func testInitializationIsPyTorchDefault() {
        let model = MLPVelocityField(MLPArchitecture(dimension: 4, hidden: 256, depth: 2, timeEmbedding: 16))
        let theta = FloatBuffer(zeros: model.layout.count)
        model.initialize(theta.pointer, seed: 42)
        for tensor in model.layout.tensors {
            let fanIn = model.layout.tensors.first { $0.name == tensor.name.replacingOccurrences(of: "bias", with: "weight") }!.shape[1]
            let bound = 1 / Double(fanIn).squareRoot()
            let values = theta.values[tensor.range].map(Double.init)
            XCTAssert(values.allSatisfy { abs($0) <= bound }, tensor.name)
            let n = Double(values.count)
            let mean = values.reduce(0, +) / n
            let variance = values.reduce(0) { $0 + $1 * $1 } / n
            XCTAssertEqual(mean, 0, accuracy: 6 * bound * (1 / (3 * n)).squareRoot(), tensor.name)
            XCTAssertEqual(variance, bound * bound / 3, accuracy: 6 * bound * bound * (4 / (45 * n)).squareRoot(), tensor.name)
        }
        let again = FloatBuffer(zeros: model.layout.count), other = FloatBuffer(zeros: model.layout.count)
        model.initialize(again.pointer, seed: 42)
        model.initialize(other.pointer, seed: 43)
        XCTAssertEqual(again.values, theta.values)
        XCTAssertNotEqual(other.values, theta.values)
    }

    /// Finite differences of L = Σ v · g with respect to every parameter and every input.
    /// Tolerance 1e-3 in ∞-norm relative terms, as in LayerTests; step 4e-3 balances Float
    /// rounding of the loss against the O(h²) truncation (observed errors ≤ 1e-4).
    func testGradientsMatchFiniteDifferences() {
        let model = MLPVelocityField(spec)
        let batch = 4
        let (theta, t, x, g) = inputs(batch: batch, model: model)
        let v = FloatBuffer(zeros: batch * spec.dimension)
        func loss() -> Double {
            model.infer(theta.pointer, t: t.pointer, x: x.pointer, batch: batch, output: v.pointer)
            return dot(v.pointer, g.pointer, count: v.count)
        }
        let dtheta = FloatBuffer(zeros: theta.count), dx = FloatBuffer(zeros: x.count)
        model.forward(theta.pointer, t: t.pointer, x: x.pointer, batch: batch, output: v.pointer)
        model.backward(parameterGradient: dtheta.pointer, inputGradient: dx.pointer,
                       outputGradient: g.pointer, parameters: theta.pointer)
        let numericTheta = centralDifferences(of: loss, at: theta.pointer, count: theta.count, step: 4e-3)
        for tensor in model.layout.tensors {
            let deviation = Deviation(dtheta.values[tensor.range], numericTheta[tensor.range])
            print("finite differences MLP d \(tensor.name): \(deviation)")
            XCTAssertLessThanOrEqual(deviation.relative, 1e-3, "\(tensor.name): \(deviation)")
        }
        let deviation = Deviation(dx.values, centralDifferences(of: loss, at: x.pointer, count: x.count, step: 4e-3))
        print("finite differences MLP dx: \(deviation)")
        XCTAssertLessThanOrEqual(deviation.relative, 1e-3, "dx: \(deviation)")
    }

    /// `infer` gives `forward`'s values and does not disturb what `backward` reads; backward
    /// accumulates; the input gradient is optional and does not change the parameter gradient.
    func testInferKeepsSavedActivationsAndBackwardAccumulates() {
        let model = MLPVelocityField(spec)
        let (theta, t, x, g) = inputs(batch: 5, model: model)
        let (_, t2, x2, _) = inputs(batch: 9, model: model, seed: 7)
        let v = FloatBuffer(zeros: 5 * 3), inferred = FloatBuffer(zeros: 5 * 3), other = FloatBuffer(zeros: 9 * 3)
        let reference = FloatBuffer(zeros: theta.count), dxReference = FloatBuffer(zeros: x.count)
        model.forward(theta.pointer, t: t.pointer, x: x.pointer, batch: 5, output: v.pointer)
        model.backward(parameterGradient: reference.pointer, inputGradient: dxReference.pointer,
                       outputGradient: g.pointer, parameters: theta.pointer)

        model.forward(theta.pointer, t: t.pointer, x: x.pointer, batch: 5, output: v.pointer)
        model.infer(theta.pointer, t: t.pointer, x: x.pointer, batch: 5, output: inferred.pointer)
        XCTAssertEqual(inferred.values, v.values)
        model.infer(theta.pointer, t: t2.pointer, x: x2.pointer, batch: 9, output: other.pointer)
        let twice = FloatBuffer(zeros: theta.count), dx = FloatBuffer(zeros: x.count)
        model.backward(parameterGradient: twice.pointer, inputGradient: nil,
                       outputGradient: g.pointer, parameters: theta.pointer)
        model.backward(parameterGradient: twice.pointer, inputGradient: dx.pointer,
                       outputGradient: g.pointer, parameters: theta.pointer)
        XCTAssertLessThanOrEqual(Deviation(twice.values, reference.values.map { 2 * $0 }).relative, 1e-6)
        XCTAssertLessThanOrEqual(Deviation(dx.values, dxReference.values).relative, 1e-6)
    }

    /// Rows are independent: a batch of 9 after a batch of 2 (buffers grow) and again a batch of 2
    /// (buffers reused) give each row's value of a batch of one.
    func testBatchesOfDifferentSizesAgreeRowByRow() {
        let model = MLPVelocityField(spec)
        let (theta, t, x, _) = inputs(batch: 9, model: model)
        let v = FloatBuffer(zeros: 9 * 3), single = FloatBuffer(zeros: 3)
        for batch in [2, 9, 2] {
            model.forward(theta.pointer, t: t.pointer, x: x.pointer, batch: batch, output: v.pointer)
            for row in 0..<batch {
                model.infer(theta.pointer, t: t.pointer + row, x: x.pointer + 3 * row, batch: 1, output: single.pointer)
                let deviation = Deviation(v.values[(3 * row)..<(3 * row + 3)], single.values)
                XCTAssertLessThanOrEqual(deviation.absolute, 1e-5, "batch \(batch) row \(row)")
            }
        }
    }
}
