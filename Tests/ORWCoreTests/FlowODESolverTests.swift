import XCTest
@testable import ORWCore

/// dx/dt = A x for every sample, x [B, 2], with A = [[−a, ω], [−ω, −a]] (a damped rotation):
/// x(t) = e^{−a t} R(ω t) x(0), R the rotation by −ωt.
private struct LinearSystem {
    let decay: Float = 0.5
    let frequency: Float = 3

    func field(_ t: Float, _ x: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>, batch: Int) {
        for b in 0..<batch {
            let x0 = x[2 * b], x1 = x[2 * b + 1]
            v[2 * b] = -decay * x0 + frequency * x1
            v[2 * b + 1] = -frequency * x0 - decay * x1
        }
    }

    func exact(_ initial: [Float], t: Double) -> [Double] {
        let scale = exp(-Double(decay) * t), angle = Double(frequency) * t
        return stride(from: 0, to: initial.count, by: 2).flatMap { k -> [Double] in
            let x0 = Double(initial[k]), x1 = Double(initial[k + 1])
            return [scale * (cos(angle) * x0 + sin(angle) * x1), scale * (-sin(angle) * x0 + cos(angle) * x1)]
        }
    }
}

/// v = A x per sample as a `VelocityField`, recording the batch sizes it is asked for.
private final class LinearVelocityField: VelocityField {
    let system = LinearSystem()
    var batches: [Int] = []
    var dimension: Int { 2 }
    var layout: ParameterLayout { ParameterLayout() }
    var architecture: Architecture { .mlp(MLPArchitecture(dimension: 2, hidden: 0, depth: 0)) }
    func initialize(_ parameters: UnsafeMutablePointer<Float>, seed: UInt64) {}
    func forward(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>, x: UnsafePointer<Float>,
                 batch: Int, output: UnsafeMutablePointer<Float>) {
        XCTFail("sampling must use infer")
    }
    func backward(parameterGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  outputGradient: UnsafePointer<Float>, parameters: UnsafePointer<Float>) {}
    func infer(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>, x: UnsafePointer<Float>,
               batch: Int, output: UnsafeMutablePointer<Float>) {
        batches.append(batch)
        for b in 1..<max(batch, 1) { XCTAssertEqual(t[b], t[0], "all samples share t") }
        system.field(t[0], x, output, batch: batch)
    }
}

final class FlowODESolverTests: XCTestCase {
    private let system = LinearSystem()
    private let initial: [Float] = [1, 0, -0.5, 2, 0.3, -1.2]      // [3, 2]

    private func solve(_ solver: ODESolver, from t0: Float = 0, to t1: Float = 1) throws -> ([Float], SolverStatistics) {
        var x = initial
        let statistics = try ODEIntegrator(solver).integrate(&x, batch: 3, dimension: 2, from: t0, to: t1) { t, state, v in
            system.field(t, state, v, batch: 3)
        }
        return (x, statistics)
    }

    private func maximumError(_ x: [Float], t: Double) -> Double {
        zip(x, system.exact(initial, t: t)).map { abs(Double($0) - $1) }.max() ?? 0
    }

    /// Least-squares slope of log(error) against log(h).
    private func measuredOrder(_ make: (Int) -> ODESolver, steps: [Int]) throws -> Double {
        let points = try steps.map { n -> (Double, Double) in
            (log(1 / Double(n)), log(maximumError(try solve(make(n)).0, t: 1)))
        }
        let meanX = points.map(\.0).reduce(0, +) / Double(points.count)
        let meanY = points.map(\.1).reduce(0, +) / Double(points.count)
        let covariance = points.map { ($0.0 - meanX) * ($0.1 - meanY) }.reduce(0, +)
        let variance = points.map { ($0.0 - meanX) * ($0.0 - meanX) }.reduce(0, +)
        return covariance / variance
    }

    func testConvergenceOrders() throws {
        XCTAssertEqual(try measuredOrder({ .euler(steps: $0) }, steps: [64, 128, 256, 512]), 1, accuracy: 0.15)
        XCTAssertEqual(try measuredOrder({ .heun(steps: $0) }, steps: [16, 32, 64, 128]), 2, accuracy: 0.2)
        XCTAssertEqual(try measuredOrder({ .rk4(steps: $0) }, steps: [8, 12, 16, 24]), 4, accuracy: 0.3)
    }

    func testFixedStepStatistics() throws {
        let (_, euler) = try solve(.euler(steps: 10))
        XCTAssertEqual(euler.functionEvaluations, 10)
        XCTAssertEqual(euler.acceptedSteps, 10)
        let (_, rk4) = try solve(.rk4(steps: 10))
        XCTAssertEqual(rk4.functionEvaluations, 40)
        XCTAssertEqual(rk4.rejectedSteps, 0)
    }

    func testStageTimes() throws {
        // Heun (trapezoid) is exact for dx/dt linear in t, RK4 (Simpson) for cubics, dopri5 for quartics.
        let cases: [(ODESolver, (Float) -> Float)] = [
            (.heun(steps: 3), { 2 * $0 }),
            (.rk4(steps: 3), { 4 * $0 * $0 * $0 }),
            (.dopri5(rtol: 1e-3, atol: 1e-3), { 5 * $0 * $0 * $0 * $0 }),
        ]
        for (solver, derivative) in cases {
            var x: [Float] = [0.25, -1]
            _ = try ODEIntegrator(solver).integrate(&x, batch: 2, dimension: 1) { t, _, v in
                v[0] = derivative(t)
                v[1] = derivative(t)
            }
            XCTAssertEqual(x[0], 1.25, accuracy: 1e-5, "\(solver)")
            XCTAssertEqual(x[1], 0, accuracy: 1e-5, "\(solver)")
        }
    }

    func testDopri5MeetsTolerance() throws {
        var previousSteps = 0
        for tolerance: Float in [1e-3, 1e-5, 1e-6] {
            let (x, statistics) = try solve(.dopri5(rtol: tolerance, atol: tolerance))
            XCTAssertLessThan(maximumError(x, t: 1), 10 * Double(tolerance) + 1e-6, "tolerance \(tolerance)")
            XCTAssertGreaterThan(statistics.acceptedSteps, previousSteps, "tighter tolerance, more steps")
            // k_1 and Hairer's initial-step probe, then six evaluations per attempted step (FSAL).
            XCTAssertEqual(statistics.functionEvaluations,
                           2 + 6 * (statistics.acceptedSteps + statistics.rejectedSteps))
            previousSteps = statistics.acceptedSteps
        }
    }

    func testDopri5RejectsATooLargeInitialStep() throws {
        let (x, statistics) = try solve(.dopri5(rtol: 1e-6, atol: 1e-6, initialStep: 1))
        XCTAssertGreaterThan(statistics.rejectedSteps, 0)
        XCTAssertLessThan(maximumError(x, t: 1), 1e-5)
        XCTAssertEqual(statistics.functionEvaluations, 1 + 6 * (statistics.acceptedSteps + statistics.rejectedSteps))
    }

    func testBackwardIntegrationReturnsToStart() throws {
        for solver: ODESolver in [.rk4(steps: 50), .dopri5(rtol: 1e-6, atol: 1e-7)] {
            var x = initial
            let integrator = ODEIntegrator(solver)
            for (t0, t1): (Float, Float) in [(0, 1), (1, 0)] {
                _ = try integrator.integrate(&x, batch: 3, dimension: 2, from: t0, to: t1) { t, state, v in
                    system.field(t, state, v, batch: 3)
                }
            }
            for (value, start) in zip(x, initial) { XCTAssertEqual(value, start, accuracy: 1e-4, "\(solver)") }
        }
    }

    func testNonFiniteFieldFailsInsteadOfLooping() {
        var x: [Float] = [1, 2]
        XCTAssertThrowsError(try ODEIntegrator(.dopri5(rtol: 1e-4, atol: 1e-4)).integrate(&x, batch: 1, dimension: 2) { _, _, v in
            v[0] = .nan
            v[1] = 1
        }) { error in
            XCTAssertTrue(error is ODESolverError, "\(error)")
        }
    }

    func testSampleChunksInferenceAndMatchesTheField() throws {
        let model = LinearVelocityField()
        let parameters: [Float] = [0]
        let batch = 7
        var noise = (0..<(2 * batch)).map { Float($0) / 5 - 1 }
        var reference = noise
        _ = try ODEIntegrator(.rk4(steps: 20)).integrate(&reference, batch: batch, dimension: 2) { t, x, v in
            system.field(t, x, v, batch: batch)
        }
        let statistics = try ODEIntegrator(.rk4(steps: 20)).sample(model: model, parameters: parameters, noise: &noise,
                                                                   batch: batch, maximumInferenceBatch: 3)
        XCTAssertEqual(noise, reference)
        XCTAssertEqual(statistics.functionEvaluations, 80)
        XCTAssertEqual(model.batches.count, 80 * 3)
        XCTAssertEqual(Set(model.batches), [3, 1])
    }

    func testSolverIsCodable() throws {
        for solver: ODESolver in [.euler(steps: 4), .heun(steps: 8), .rk4(steps: 16),
                                  .dopri5(rtol: 1e-5, atol: 1e-6), .dopri5(rtol: 1e-4, atol: 1e-4, initialStep: 0.1)] {
            XCTAssertEqual(try JSONDecoder().decode(ODESolver.self, from: JSONEncoder().encode(solver)), solver)
        }
    }
}
