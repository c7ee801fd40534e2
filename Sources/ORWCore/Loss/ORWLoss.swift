/// The ORW-CFM-W2 objective for one microbatch (DESIGN.md, step 5; Fan et al. 2025, eq. for
/// L_ORW-W2):
///
///     L = (1/B) Σ_i [ w_i ‖v_θ(t_i, x_t,i) − u_t,i‖² + α ‖v_θ(t_i, x_t,i) − v_ref(t_i, x_t,i)‖² ]
///
/// with ‖·‖² averaged over the D data dimensions. This function returns the microbatch's *sums*
/// (before the division by the global batch B, which happens once after the allreduce) and
/// writes the gradient of that sum with respect to v_θ. Plain conditional flow matching is the
/// special case w ≡ 1, α = 0.
///
/// Shapes: b = microbatch, D = dimension.
public struct ORWLossTerms: Equatable, Sendable {
    /// Σ_i w_i ‖v_θ − u_t‖²/D, the reward-weighted flow-matching term.
    public var weightedFlowMatching: Double = 0
    /// Σ_i ‖v_θ − u_t‖²/D, unweighted (for monitoring the fit).
    public var flowMatching: Double = 0
    /// Σ_i ‖v_θ − v_ref‖²/D, the W2 regulariser before α.
    public var wassersteinBound: Double = 0

    public init() {}

    /// The objective's value summed over samples: weighted FM + α · W2 term.
    public func objective(alpha: Double) -> Double { weightedFlowMatching + alpha * wassersteinBound }

    public static func += (lhs: inout ORWLossTerms, rhs: ORWLossTerms) {
        lhs.weightedFlowMatching += rhs.weightedFlowMatching
        lhs.flowMatching += rhs.flowMatching
        lhs.wassersteinBound += rhs.wassersteinBound
    }
}

/// Computes the loss sums of one microbatch and dL_sum/dv_θ.
///
/// The gradient is formed in Double and written as `gradientScale`·d(Σ_i loss_i)/dv_θ: with
/// `exp` weights up to e^88 (≈ 1.7e38, Float's largest is 3.4e38) the unscaled w·(v_θ − u_t)
/// overflows Float, so the trainer passes a power of two that brings the largest weight to 1
/// and undoes it in Double after the allreduce (`DistributedOptimizer`). The loss sums are not
/// scaled (they are Double).
///
/// - Parameters:
///   - velocity: v_θ(t, x_t) [b, D]
///   - target: u_t [b, D]
///   - reference: v_ref(t, x_t) [b, D]; may be nil only when `alpha` is 0
///   - weights: w [b]; nil means w ≡ 1
///   - gradientScale: s > 0, the factor of the written gradient (exact when a power of two)
///   - outputGradient: written (not accumulated) with s·d(Σ_i loss_i)/dv_θ [b, D]
public func orwLoss(
    velocity: UnsafePointer<Float>, target: UnsafePointer<Float>,
    reference: UnsafePointer<Float>?, weights: UnsafePointer<Float>?, alpha: Float,
    batch: Int, dimension: Int, gradientScale: Double = 1, outputGradient: UnsafeMutablePointer<Float>
) -> ORWLossTerms {
    precondition(alpha == 0 || reference != nil, "the W2 term needs the reference velocity")
    let scale = 2 / Double(dimension) * gradientScale
    var terms = ORWLossTerms()
    for i in 0..<batch {
        let w = Double(weights?[i] ?? 1)
        var fitSquares: Float = 0, regulariserSquares: Float = 0
        for d in (i * dimension)..<((i + 1) * dimension) {
            let fit = velocity[d] - target[d]
            fitSquares += fit * fit
            var gradient = w * Double(fit)
            if let reference {
                let drift = velocity[d] - reference[d]
                regulariserSquares += drift * drift
                gradient += Double(alpha) * Double(drift)
            }
            outputGradient[d] = Float(scale * gradient)
        }
        let fitMean = Double(fitSquares) / Double(dimension)
        terms.flowMatching += fitMean
        terms.weightedFlowMatching += w * fitMean
        terms.wassersteinBound += Double(regulariserSquares) / Double(dimension)
    }
    return terms
}
