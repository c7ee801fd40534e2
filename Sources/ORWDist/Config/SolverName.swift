import ORWCore

/// The ODE solvers by the names configs and flags use.
public enum SolverName: String, CaseIterable, Sendable {
    case euler, heun, rk4, dopri5

    /// The solver: `steps` fixed steps, or the tolerances for adaptive dopri5.
    public func solver(steps: Int, rtol: Double, atol: Double) -> ODESolver {
        switch self {
        case .euler: .euler(steps: steps)
        case .heun: .heun(steps: steps)
        case .rk4: .rk4(steps: steps)
        case .dopri5: .dopri5(rtol: Float(rtol), atol: Float(atol))
        }
    }
}
