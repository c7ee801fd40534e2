/// The conditional probability path of conditional flow matching with a straight-line mean and
/// constant width: Tong et al., "Improving and generalizing flow-based generative models with
/// minibatch optimal transport" (TMLR 2024), eqs. 14–15 (I-CFM; OT-CFM with an OT coupling):
///
///     μ_t(x0, x1) = t·x1 + (1 − t)·x0          (mean)
///     σ_t         = σ                          (standard deviation, σ ≥ 0)
///     x_t         = μ_t + σ_t·ε,  ε ~ N(0, I)  (sample)
///     u_t(x | x0, x1) = x1 − x0                (conditional field: ∂μ_t/∂t, σ_t constant)
///
/// Modelled on torchcfm's `ConditionalFlowMatcher`: the pieces (`compute_mu_t`,
/// `compute_sigma_t`, `sample_xt`, `compute_conditional_flow`) stay separate, and `sample` is the
/// composite `sample_location_and_conditional_flow`. The coupling of x0 with x1 and the draw of
/// t and ε are the caller's (see `Coupling` and `RandomStream`), so the path is a pure function.
///
/// Letters in shape comments: B = batch, D = floats per sample.
public struct ProbabilityPath: Codable, Equatable, Sendable {
    /// σ, the constant standard deviation of the path around its mean.
    public var sigma: Float

    public init(sigma: Float = 0) {
        precondition(sigma >= 0 && sigma.isFinite, "the path's σ must be finite and ≥ 0, got \(sigma)")
        self.sigma = sigma
    }

    // MARK: The pieces, one element at a time

    /// μ_t = t·x1 + (1 − t)·x0.
    @inline(__always)
    public func mean(t: Float, x0: Float, x1: Float) -> Float {
        t * x1 + (1 - t) * x0
    }

    /// σ_t = σ (the same at every t).
    @inline(__always)
    public func standardDeviation(t: Float) -> Float {
        sigma
    }

    /// u_t = x1 − x0: the time derivative of μ_t; with σ_t constant, independent of t and x_t.
    @inline(__always)
    public func conditionalFlow(x0: Float, x1: Float) -> Float {
        x1 - x0
    }

    // MARK: Batches

    /// x_t [B, D] = μ_t + σ_t·ε for every sample, t [B] one time per sample.
    ///
    /// `noise` ε [B, D] is read only when σ > 0 and must then be non-nil.
    public func sampleLocation(t: UnsafePointer<Float>,                // [B]
                               x0: UnsafePointer<Float>,               // [B, D]
                               x1: UnsafePointer<Float>,               // [B, D]
                               noise: UnsafePointer<Float>?,           // [B, D] ε, or nil if σ = 0
                               batch: Int, dimension: Int,
                               xt: UnsafeMutablePointer<Float>) {      // [B, D]
        precondition(sigma == 0 || noise != nil, "a path with σ > 0 needs ε")
        for b in 0..<batch {
            let row = b * dimension
            let tb = t[b]
            for d in row..<(row + dimension) {
                xt[d] = mean(t: tb, x0: x0[d], x1: x1[d])
            }
            if sigma > 0, let noise {
                let sd = standardDeviation(t: tb)
                for d in row..<(row + dimension) { xt[d] += sd * noise[d] }
            }
        }
    }

    /// u_t [B, D] = x1 − x0 for every sample.
    public func conditionalFlow(x0: UnsafePointer<Float>,              // [B, D]
                                x1: UnsafePointer<Float>,              // [B, D]
                                batch: Int, dimension: Int,
                                ut: UnsafeMutablePointer<Float>) {     // [B, D]
        for d in 0..<(batch * dimension) {
            ut[d] = conditionalFlow(x0: x0[d], x1: x1[d])
        }
    }

    /// The composite (torchcfm's `sample_location_and_conditional_flow`): x_t and u_t for given
    /// t [B], x0 [B, D], x1 [B, D] and, if σ > 0, ε [B, D].
    public func sample(t: UnsafePointer<Float>,                        // [B]
                       x0: UnsafePointer<Float>,                       // [B, D]
                       x1: UnsafePointer<Float>,                       // [B, D]
                       noise: UnsafePointer<Float>?,                   // [B, D] ε, or nil if σ = 0
                       batch: Int, dimension: Int,
                       xt: UnsafeMutablePointer<Float>,                // [B, D]
                       ut: UnsafeMutablePointer<Float>) {              // [B, D]
        sampleLocation(t: t, x0: x0, x1: x1, noise: noise, batch: batch, dimension: dimension, xt: xt)
        conditionalFlow(x0: x0, x1: x1, batch: batch, dimension: dimension, ut: ut)
    }
}
