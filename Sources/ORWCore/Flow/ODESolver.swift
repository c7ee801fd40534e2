import Foundation

/// How the flow ODE dx/dt = v(t, x) is integrated from t0 to t1 (by default noise at t = 0 to
/// data at t = 1). All methods are explicit Runge–Kutta methods (Hairer, Nørsett & Wanner,
/// "Solving Ordinary Differential Equations I", §II.1 for the fixed-step ones, §II.5 for Dormand–
/// Prince):
///
/// - `euler(steps:)`: order 1, one field evaluation per step.
/// - `heun(steps:)`: Heun's (explicit trapezoidal) method, order 2, two evaluations per step.
/// - `rk4(steps:)`: the classical Runge–Kutta method, order 4, four evaluations per step.
/// - `dopri5(rtol:atol:initialStep:)`: Dormand & Prince's adaptive 5(4) pair with local
///   extrapolation and first-same-as-last (six evaluations per accepted step). The error of a
///   step is the RMS over the **whole state** (one `integrate` call; one group of
///   `ODEIntegrator.sample`) of err_i / (atol + rtol·max(|x_i|, |x̃_i|)); a step
///   is accepted when that norm is ≤ 1. `initialStep` nil picks the first step by Hairer's
///   heuristic (one extra evaluation).
///
/// Fixed-step methods take `steps` equal steps, t_k = t0 + (t1 − t0)·k/steps.
public enum ODESolver: Codable, Equatable, Sendable {
    case euler(steps: Int)
    case heun(steps: Int)
    case rk4(steps: Int)
    case dopri5(rtol: Float, atol: Float, initialStep: Float? = nil)

    fileprivate var tableau: ButcherTableau {
        switch self {
        case .euler: return .euler
        case .heun: return .heun
        case .rk4: return .rk4
        case .dopri5: return .dormandPrince
        }
    }
}

/// The work an integration took.
public struct SolverStatistics: Codable, Equatable, Sendable {
    /// Evaluations of the vector field over the whole batch.
    public var functionEvaluations = 0
    public var acceptedSteps = 0
    /// Steps of `dopri5` whose error was too large and that were retried with a smaller step.
    public var rejectedSteps = 0

    public init() {}

    /// The work of two integrations together.
    public static func += (lhs: inout SolverStatistics, rhs: SolverStatistics) {
        lhs.functionEvaluations += rhs.functionEvaluations
        lhs.acceptedSteps += rhs.acceptedSteps
        lhs.rejectedSteps += rhs.rejectedSteps
    }
}

/// Why an adaptive integration stopped before reaching t1.
public enum ODESolverError: Error, Equatable, CustomStringConvertible {
    /// The step size needed for the tolerance is below what Float time can resolve at t
    /// (a non-finite or too stiff field).
    case stepSizeUnderflow(t: Float, stepSize: Float)
    /// More than `ODEIntegrator.maximumAdaptiveSteps` steps were tried.
    case tooManySteps(t: Float, steps: Int)

    public var description: String {
        switch self {
        case let .stepSizeUnderflow(t, stepSize):
            return "dopri5: step size \(stepSize) at t = \(t) is too small to advance time " +
                "(is the velocity field finite? loosen rtol/atol or use a fixed-step solver)"
        case let .tooManySteps(t, steps):
            return "dopri5: gave up at t = \(t) after \(steps) steps " +
                "(loosen rtol/atol or use a fixed-step solver)"
        }
    }
}

/// A vector field over a batch at one time: writes v [B, D] = v(t, x [B, D]).
public typealias BatchVectorField = (_ t: Float, _ x: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>) -> Void

/// Integrates batches with one `ODESolver`, keeping its stage buffers between calls: a batch no
/// larger than the largest seen allocates nothing. Not thread-safe.
///
/// Letters in shape comments: B = batch, D = floats per sample, N = B·D.
public final class ODEIntegrator {
    public let solver: ODESolver
    /// The most steps, accepted or rejected, `dopri5` tries before giving up.
    public static let maximumAdaptiveSteps = 100_000

    private var capacity = 0                                             // N of the buffers
    private var stages: [UnsafeMutablePointer<Float>] = []               // s × [N] k_j
    private var stageInput = UnsafeMutablePointer<Float>.allocate(capacity: 0)  // [N] x + h Σ a_sj k_j
    private var proposal = UnsafeMutablePointer<Float>.allocate(capacity: 0)    // [N] x̃, the step's result
    private var times = UnsafeMutablePointer<Float>.allocate(capacity: 0)       // [B] t for `sample`
    private var timesCapacity = 0

    /// The `group` of `sample` for samples that belong to no microbatch (evaluations, `orwdist
    /// sample`): fixed, so with dopri5 a sample does not depend on how many are drawn with it.
    public static let standaloneGroup = 64

    public init(_ solver: ODESolver) {
        switch solver {
        case .euler(let steps), .heun(let steps), .rk4(let steps):
            precondition(steps >= 1, "a fixed-step solver needs at least one step, got \(steps)")
        case let .dopri5(rtol, atol, initialStep):
            precondition(rtol >= 0 && atol >= 0 && rtol + atol > 0, "dopri5 needs rtol, atol ≥ 0, not both 0")
            precondition(initialStep.map { $0 > 0 } ?? true, "dopri5's initial step must be > 0")
        }
        self.solver = solver
    }

    deinit {
        stages.forEach { $0.deallocate() }
        stageInput.deallocate()
        proposal.deallocate()
        times.deallocate()
    }

    /// Replaces x [B, D] (the state at t0) by the solution at t1 of dx/dt = field(t, x).
    public func integrate(_ x: UnsafeMutablePointer<Float>,             // [B, D]
                          batch: Int, dimension: Int,
                          from t0: Float = 0, to t1: Float = 1,
                          field: BatchVectorField) throws(ODESolverError) -> SolverStatistics {
        let count = batch * dimension
        let tableau = solver.tableau
        reserve(count: count, stageCount: tableau.b.count)
        var statistics = SolverStatistics()
        guard count > 0, t0 != t1 else { return statistics }
        switch solver {
        case .euler(let steps), .heun(let steps), .rk4(let steps):
            for step in 0..<steps {
                let t = t0 + (t1 - t0) * Float(step) / Float(steps)
                let next = t0 + (t1 - t0) * Float(step + 1) / Float(steps)
                field(t, x, stages[0])
                statistics.functionEvaluations += 1
                attempt(tableau, x: x, count: count, t: t, h: next - t, field: field, statistics: &statistics)
                x.update(from: proposal, count: count)
                statistics.acceptedSteps += 1
            }
        case let .dopri5(rtol, atol, initialStep):
            try integrateAdaptively(x, count: count, from: t0, to: t1, rtol: rtol, atol: atol,
                                    initialStep: initialStep, field: field, statistics: &statistics)
        }
        return statistics
    }

    /// Draws samples with a model: integrates x [B, D] (noise at t0, replaced by the samples at t1)
    /// through v_θ, `group` rows at a time, each group as its own ODE state: for `dopri5` each
    /// group has its own error norm and step sizes, so a sample's trajectory depends only on its
    /// group, not on which other groups share the call. The trainer passes its microbatch (the
    /// rollout unit dealt to ranks), so rollouts do not depend on the number of ranks (DESIGN.md,
    /// the microbatch invariant). `model.infer` sees at most `maximumInferenceBatch` rows of one
    /// group at a time. `group` nil integrates the whole batch as one state.
    public func sample(model: any VelocityField, parameters: UnsafePointer<Float>,    // [P]
                       noise x: UnsafeMutablePointer<Float>,                          // [B, D]
                       batch: Int, group: Int? = nil, maximumInferenceBatch: Int = 256,
                       from t0: Float = 0, to t1: Float = 1) throws(ODESolverError) -> SolverStatistics {
        precondition(maximumInferenceBatch >= 1, "the inference batch must be ≥ 1")
        precondition(group.map { $0 >= 1 } ?? true, "the group must be ≥ 1")
        let dimension = model.dimension
        let group = min(batch, group ?? batch)
        let chunk = min(group, maximumInferenceBatch)
        if chunk > timesCapacity {
            times.deallocate()
            times = .allocate(capacity: chunk)
            timesCapacity = chunk
        }
        let t = times
        model.beginInference(parameters)
        defer { model.endInference() }
        var statistics = SolverStatistics()
        for start in stride(from: 0, to: batch, by: group) {
            let rows = min(group, batch - start)
            let groupStatistics = try integrate(x + start * dimension, batch: rows, dimension: dimension,
                                                from: t0, to: t1) { time, state, velocity in
                t.update(repeating: time, count: chunk)                  // [chunk] every sample at `time`
                for first in stride(from: 0, to: rows, by: chunk) {
                    model.infer(parameters, t: t, x: state + first * dimension, batch: min(chunk, rows - first),
                                output: velocity + first * dimension)
                }
            }
            statistics += groupStatistics
        }
        return statistics
    }

    // MARK: Runge–Kutta steps

    /// One step of `tableau` from (t, x [N]) with k_0 = field(t, x) already in stages[0]:
    /// k_s = field(t + c_s·h, x + h·Σ_j a_sj·k_j), then proposal x̃ = x + h·Σ_s b_s·k_s.
    private func attempt(_ tableau: ButcherTableau, x: UnsafePointer<Float>, count: Int,
                         t: Float, h: Float, field: BatchVectorField,
                         statistics: inout SolverStatistics) {
        for s in 1..<tableau.b.count {
            combine(x, weights: tableau.a[s], h: h, count: count, into: stageInput)
            field(t + Float(tableau.c[s]) * h, stageInput, stages[s])
            statistics.functionEvaluations += 1
        }
        combine(x, weights: tableau.b, h: h, count: count, into: proposal)
    }

    /// output [N] = base + h·Σ_j weights_j·k_j (zero weights skipped; no base is zero).
    private func combine(_ base: UnsafePointer<Float>?, weights: [Double], h: Float, count: Int,
                         into output: UnsafeMutablePointer<Float>) {
        if let base {
            output.update(from: base, count: count)
        } else {
            output.update(repeating: 0, count: count)
        }
        for (j, weight) in weights.enumerated() where weight != 0 {
            let scale = h * Float(weight)
            let k = stages[j]
            for i in 0..<count { output[i] += scale * k[i] }
        }
    }

    // MARK: Dormand–Prince 5(4) with step-size control

    private static let safety = 0.9, minimumFactor = 0.2, maximumFactor = 10.0

    private func integrateAdaptively(_ x: UnsafeMutablePointer<Float>, count: Int,
                                     from t0: Float, to t1: Float, rtol: Float, atol: Float,
                                     initialStep: Float?, field: BatchVectorField,
                                     statistics: inout SolverStatistics) throws(ODESolverError) {
        let tableau = ButcherTableau.dormandPrince
        let direction: Float = t1 > t0 ? 1 : -1
        let tolerance = (relative: Double(rtol), absolute: Double(atol))
        field(t0, x, stages[0])
        statistics.functionEvaluations += 1
        var h = initialStep ?? firstStep(x, count: count, t0: t0, t1: t1, tolerance: tolerance,
                                         field: field, statistics: &statistics)
        var t = t0
        var rejectedInARow = false
        while (t1 - t) * direction > 0 {
            let attempts = statistics.acceptedSteps + statistics.rejectedSteps
            guard attempts < Self.maximumAdaptiveSteps else { throw .tooManySteps(t: t, steps: attempts) }
            h = min(h, abs(t1 - t))
            guard h > 0 else { throw .stepSizeUnderflow(t: t, stepSize: h) }
            let next = (t1 - t) * direction <= h ? t1 : t + direction * h
            guard next != t else { throw .stepSizeUnderflow(t: t, stepSize: h) }
            let signedStep = next - t
            attempt(tableau, x: x, count: count, t: t, h: signedStep, field: field, statistics: &statistics)
            let error = errorNorm(x, count: count, h: signedStep, tableau: tableau, tolerance: tolerance)
            if error <= 1 {
                x.update(from: proposal, count: count)
                stages.swapAt(0, tableau.b.count - 1)              // FSAL: k_7 = v(t + h, x̃)
                t = next
                statistics.acceptedSteps += 1
                var factor = error == 0 ? Self.maximumFactor : Self.safety * pow(error, -0.2)
                factor = min(rejectedInARow ? 1 : Self.maximumFactor, max(Self.minimumFactor, factor))
                h = abs(signedStep) * Float(factor)
                rejectedInARow = false
            } else {
                statistics.rejectedSteps += 1
                let factor = error.isFinite ? max(Self.minimumFactor, Self.safety * pow(error, -0.2))
                                            : Self.minimumFactor
                h = abs(signedStep) * Float(factor)
                rejectedInARow = true
            }
        }
    }

    /// RMS over all N elements of (h·Σ_j e_j·k_j)_i / (atol + rtol·max(|x_i|, |x̃_i|)), with
    /// e = b − b̂ the difference of the 5th- and 4th-order weights. NaN if any term is.
    private func errorNorm(_ x: UnsafePointer<Float>, count: Int, h: Float, tableau: ButcherTableau,
                           tolerance: (relative: Double, absolute: Double)) -> Double {
        combine(nil, weights: tableau.errorWeights, h: h, count: count, into: stageInput)
        var sum = 0.0
        for i in 0..<count {
            let estimate = Double(stageInput[i])
            let scale = tolerance.absolute + tolerance.relative * Double(max(abs(x[i]), abs(proposal[i])))
            let ratio = estimate / scale
            sum += ratio * ratio
        }
        return (sum / Double(count)).squareRoot()
    }

    /// Hairer, Nørsett & Wanner's starting step (§II.4): with k_0 = f(t0, x0) in stages[0] and
    /// sc_i = atol + rtol·|x0_i|, d0 = ‖x0/sc‖, d1 = ‖k_0/sc‖, h0 = 0.01·d0/d1, one Euler step
    /// to estimate the second derivative d2, then h = min(100·h0, (0.01 / max(d1, d2))^(1/5)).
    private func firstStep(_ x: UnsafePointer<Float>, count: Int, t0: Float, t1: Float,
                           tolerance: (relative: Double, absolute: Double), field: BatchVectorField,
                           statistics: inout SolverStatistics) -> Float {
        let span = Double(abs(t1 - t0))
        let direction: Float = t1 > t0 ? 1 : -1
        func rms(_ value: (Int) -> Double) -> Double {
            var sum = 0.0
            for i in 0..<count {
                let scaled = value(i) / (tolerance.absolute + tolerance.relative * Double(abs(x[i])))
                sum += scaled * scaled
            }
            return (sum / Double(count)).squareRoot()
        }
        let k0 = stages[0], k1 = stages[1]
        let d0 = rms { Double(x[$0]) }, d1 = rms { Double(k0[$0]) }
        let h0 = min(span, d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1)
        for i in 0..<count { stageInput[i] = x[i] + direction * Float(h0) * k0[i] }
        field(t0 + direction * Float(h0), stageInput, k1)
        statistics.functionEvaluations += 1
        let d2 = rms { Double(k1[$0]) - Double(k0[$0]) } / h0
        let largest = max(d1, d2)
        let h1 = largest <= 1e-15 || !largest.isFinite ? max(1e-6, h0 * 1e-3) : pow(0.01 / largest, 0.2)
        return Float(min(100 * h0, h1, span))
    }

    private func reserve(count: Int, stageCount: Int) {
        if count > capacity {
            stages.forEach { $0.deallocate() }
            stages = []
            stageInput.deallocate()
            proposal.deallocate()
            stageInput = .allocate(capacity: count)
            proposal = .allocate(capacity: count)
            capacity = count
        }
        while stages.count < stageCount { stages.append(.allocate(capacity: capacity)) }
    }
}

/// The coefficients of an explicit Runge–Kutta method: stage s evaluates the field at
/// t + c_s·h and x + h·Σ_{j<s} a_sj·k_j; the step's result is x + h·Σ_s b_s·k_s. For an
/// embedded pair, `errorWeights` e = b − b̂ gives the local error estimate h·Σ_s e_s·k_s.
private struct ButcherTableau {
    let a: [[Double]]
    let b: [Double]
    let c: [Double]
    let errorWeights: [Double]

    static let euler = ButcherTableau(a: [[]], b: [1], c: [0], errorWeights: [])

    static let heun = ButcherTableau(a: [[], [1]], b: [0.5, 0.5], c: [0, 1], errorWeights: [])

    static let rk4 = ButcherTableau(
        a: [[], [0.5], [0, 0.5], [0, 0, 1]],
        b: [1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6],
        c: [0, 0.5, 0.5, 1],
        errorWeights: [])

    /// Dormand & Prince (1980), "A family of embedded Runge–Kutta formulae", RK5(4)7M: b is the
    /// 5th-order solution (equal to the last row of a, so k_7 is the next step's k_1), b̂ the
    /// 4th-order one.
    static let dormandPrince: ButcherTableau = {
        let b: [Double] = [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0]
        let bHat: [Double] = [5179.0 / 57600, 0, 7571.0 / 16695, 393.0 / 640, -92097.0 / 339200,
                              187.0 / 2100, 1.0 / 40]
        let a: [[Double]] = [
            [],
            [1.0 / 5],
            [3.0 / 40, 9.0 / 40],
            [44.0 / 45, -56.0 / 15, 32.0 / 9],
            [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
            [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
            Array(b.prefix(6)),
        ]
        let c: [Double] = [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1]
        return ButcherTableau(a: a, b: b, c: c, errorWeights: zip(b, bHat).map { $0 - $1 })
    }()
}
