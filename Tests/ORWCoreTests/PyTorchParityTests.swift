import Foundation
import XCTest
import ORWCore
import TestSupport

/// Parity with PyTorch 2.13 (float32, CPU) on the fixtures written by
/// scripts/fixtures/make_core_fixtures.py. Bound: 1e-5 in ∞-norm relative terms (max |Δ| over
/// max |expected|) for every tensor; each tensor's deviation is printed.
final class PyTorchParityTests: XCTestCase {
    struct ModelCase: Decodable {
        struct Tensor: Decodable { var name: String; var shape: [Int]; var value: [Float]; var gradient: [Float] }
        var name: String
        var architecture: MLPArchitecture
        var batch: Int
        var tensors: [Tensor]
        var t, x, outputGradient, output, inputGradient: [Float]
    }

    struct OptimizerCase: Decodable {
        struct Schedule: Decodable { var base: Float; var warmupSteps: Int; var kind: String; var totalSteps: Int?; var minimum: Float? }
        struct Step: Decodable { var gradient: [Float]; var norm: Float; var learningRate: Float; var parameters: [Float] }
        var name: String
        var decoupled: Bool
        var weightDecay: Float
        var maxNorm: Float
        var schedule: Schedule
        var initialParameters: [Float]
        var steps: [Step]
    }

    let bound = 1e-5

    func fixture<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url.appendingPathComponent(name)))
    }

    func check<A: Collection, E: Collection>(_ actual: A, _ expected: E, _ label: String,
                                             file: StaticString = #filePath, line: UInt = #line)
    where A.Element == Float, E.Element == Float {
        let deviation = Deviation(actual, expected)
        print("parity \(label): \(deviation)")
        XCTAssertLessThanOrEqual(deviation.relative, bound, "\(label): \(deviation)", file: file, line: line)
    }

    func testMLPMatchesPyTorch() throws {
        for fixture in try fixture("mlp.json", as: [ModelCase].self) {
            let model = MLPVelocityField(fixture.architecture)
            XCTAssertEqual(model.layout.tensors.map(\.name), fixture.tensors.map(\.name))
            XCTAssertEqual(model.layout.tensors.map(\.shape), fixture.tensors.map(\.shape))
            let theta = FloatBuffer(fixture.tensors.flatMap(\.value))
            let t = FloatBuffer(fixture.t), x = FloatBuffer(fixture.x), g = FloatBuffer(fixture.outputGradient)
            let v = FloatBuffer(zeros: fixture.output.count)
            let dtheta = FloatBuffer(zeros: theta.count), dx = FloatBuffer(zeros: x.count)
            model.forward(theta.pointer, t: t.pointer, x: x.pointer, batch: fixture.batch, output: v.pointer)
            model.backward(parameterGradient: dtheta.pointer, inputGradient: dx.pointer,
                           outputGradient: g.pointer, parameters: theta.pointer)
            check(v.values, fixture.output, "\(fixture.name) output")
            check(dx.values, fixture.inputGradient, "\(fixture.name) input gradient")
            for (spec, tensor) in zip(model.layout.tensors, fixture.tensors) {
                check(dtheta.values[spec.range], tensor.gradient, "\(fixture.name) d \(spec.name)")
            }
        }
    }

    func testAdamAndAdamWMatchPyTorch() throws {
        for fixture in try fixture("optimizer.json", as: [OptimizerCase].self) {
            let schedule = LearningRateSchedule(
                base: fixture.schedule.base, warmupSteps: fixture.schedule.warmupSteps,
                kind: fixture.schedule.kind == "cosine"
                    ? .cosine(totalSteps: try XCTUnwrap(fixture.schedule.totalSteps), minimum: try XCTUnwrap(fixture.schedule.minimum))
                    : .constant)
            let adam = Adam(parameterCount: fixture.initialParameters.count,
                            weightDecay: fixture.weightDecay, decoupled: fixture.decoupled)
            let theta = FloatBuffer(fixture.initialParameters)
            for (index, step) in fixture.steps.enumerated() {
                let gradient = FloatBuffer(step.gradient)
                let norm = clipGradientNorm(gradient.buffer, maxNorm: fixture.maxNorm)
                check([norm], [step.norm], "\(fixture.name) step \(index) clip norm")
                let rate = schedule.rate(at: index)
                XCTAssertEqual(rate, step.learningRate, accuracy: 2.5e-7 * step.learningRate, "\(fixture.name) step \(index) rate")
                adam.step(parameters: theta.buffer, gradients: UnsafeBufferPointer(gradient.buffer), learningRate: rate)
                check(theta.values, step.parameters, "\(fixture.name) step \(index) parameters")
            }
        }
    }
}
