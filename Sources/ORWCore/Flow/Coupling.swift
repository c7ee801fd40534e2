/// How the source samples x0 are paired with the target samples x1 of a minibatch before the
/// probability path is sampled (the coupling q(x0, x1) of Tong et al., TMLR 2024, §3.2).
///
/// - `independent`: q(x0, x1) = q0(x0)·q1(x1), the pairs as drawn (I-CFM).
/// - `exactOT`: the exact minibatch optimal-transport plan for the squared Euclidean cost
///   (OT-CFM, Tong et al. eq. 16): with b samples on each side and uniform weights, the plan is a
///   permutation, found exactly by `LinearAssignmentSolver` in O(b³). torchcfm's exact
///   `OTPlanSampler` solves the same problem and then draws b pairs from the plan with
///   replacement; here every pair of the permutation is used once, so no sample is dropped and
///   no randomness is spent.
///
/// Letters in shape comments: b = samples in the minibatch, D = floats per sample.
public enum Coupling: String, Codable, CaseIterable, Sendable {
    case independent
    case exactOT = "exact-ot"

    /// Reorders the rows of x0 [b, D] in place so that row i of x0 is paired with row i of
    /// x1 [b, D]. The samples must be finite for `exactOT`. Pass a workspace kept across steps to
    /// allocate nothing; the default one is made for this call.
    public func pair(x0: UnsafeMutablePointer<Float>,               // [b, D]
                     x1: UnsafePointer<Float>,                      // [b, D]
                     batch: Int, dimension: Int,
                     workspace: CouplingWorkspace = CouplingWorkspace()) {
        switch self {
        case .independent:
            return
        case .exactOT:
            workspace.pairByOptimalTransport(x0: x0, x1: x1, batch: batch, dimension: dimension)
        }
    }
}

/// Buffers of `Coupling.pair`, kept between calls: a minibatch no larger than the largest seen
/// allocates nothing. Not thread-safe.
public final class CouplingWorkspace {
    private let solver = LinearAssignmentSolver()
    private var capacity = (batch: 0, floats: 0)
    private var cost = UnsafeMutablePointer<Double>.allocate(capacity: 0)     // [b, b]
    private var assignment = UnsafeMutablePointer<Int>.allocate(capacity: 0)  // [b] x0 row i → x1 row
    private var rows = UnsafeMutablePointer<Float>.allocate(capacity: 0)      // [b, D] copy of x0

    public init() {}

    deinit {
        cost.deallocate()
        assignment.deallocate()
        rows.deallocate()
    }

    /// C[i, j] = ‖x0_i − x1_j‖² (accumulated in Double), σ = argmin_σ Σ_i C[i, σ(i)], then
    /// x0 row σ(i) ← old x0 row i.
    fileprivate func pairByOptimalTransport(x0: UnsafeMutablePointer<Float>,   // [b, D]
                                            x1: UnsafePointer<Float>,          // [b, D]
                                            batch: Int, dimension: Int) {
        guard batch > 1 else { return }
        reserve(batch: batch, floats: batch * dimension)
        for i in 0..<batch {
            let source = x0 + i * dimension
            for j in 0..<batch {
                let target = x1 + j * dimension
                var sum = 0.0
                for d in 0..<dimension {
                    let difference = Double(source[d]) - Double(target[d])
                    sum += difference * difference
                }
                cost[i * batch + j] = sum
            }
        }
        solver.solve(cost: cost, n: batch, assignment: assignment)
        rows.update(from: x0, count: batch * dimension)
        for i in 0..<batch {
            (x0 + assignment[i] * dimension).update(from: rows + i * dimension, count: dimension)
        }
    }

    private func reserve(batch: Int, floats: Int) {
        if batch > capacity.batch {
            cost.deallocate()
            assignment.deallocate()
            cost = .allocate(capacity: batch * batch)
            assignment = .allocate(capacity: batch)
            capacity.batch = batch
        }
        if floats > capacity.floats {
            rows.deallocate()
            rows = .allocate(capacity: floats)
            capacity.floats = floats
        }
    }
}
