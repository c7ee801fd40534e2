import ORWCore

/// Steps 4–5 of DESIGN.md for one microbatch: fresh x0 paired with the given x1, t ~ U(0, 1),
/// x_t and u_t on the path, v_θ(t, x_t) (saving activations), v_ref(t, x_t) when α > 0, the
/// loss sums, and the backward pass accumulated into the gradient buffer.
///
/// Every draw for global sample index i comes from the stream keyed by (seed, epoch, step, i),
/// so the result does not depend on which rank computes the microbatch.
/// Shapes: b = microbatch, D = dimension, P = parameters.
final class MicrobatchObjective {
    let model: any VelocityField
    let coupling: Coupling
    let path: ProbabilityPath
    let seed: UInt64
    let microbatch: Int
    var x0: [Float]          // [b, D] fresh noise, reordered by the coupling
    var t: [Float]           // [b]
    var xt: [Float]          // [b, D]
    var ut: [Float]          // [b, D]
    var velocity: [Float]    // [b, D] v_θ(t, x_t)
    var reference: [Float]   // [b, D] v_ref(t, x_t)
    var outputGradient: [Float]   // [b, D] d(loss sum)/dv_θ
    var pathNoise: [Float]   // [b, D] ε of a path with σ > 0
    var validX1: [Float]     // [b, D] the valid rows of x1, compacted to the front
    var validWeights: [Float]   // [b] their weights
    let couplingWorkspace = CouplingWorkspace()
    var clock: PhaseClock?   // set by benchmarks: times pairing, forward passes, loss, backward

    init(model: any VelocityField, coupling: Coupling, path: ProbabilityPath, seed: UInt64, microbatch: Int) {
        self.model = model
        self.coupling = coupling
        self.path = path
        self.seed = seed
        self.microbatch = microbatch
        let size = microbatch * model.dimension
        x0 = [Float](repeating: 0, count: size)
        t = [Float](repeating: 0, count: microbatch)
        xt = x0; ut = x0; velocity = x0; reference = x0; outputGradient = x0; pathNoise = x0; validX1 = x0
        validWeights = t
    }

    /// Adds this microbatch's gradient of Σ_i loss_i to `gradient` [P] and returns its loss sums.
    ///
    /// - Parameters:
    ///   - x1: the microbatch's data or online samples [b, D]
    ///   - weights: w [b], or nil for plain flow matching
    ///   - valid: [b], false for a dropped sample (reward.on_invalid = "drop"); nil: all valid.
    ///     Dropped samples are left out before pairing, so they reach neither the coupling's cost
    ///     matrix nor the loss, its gradient or the sums: a NaN sample is never multiplied by 0.
    ///   - firstSample: global index of the microbatch's first sample
    ///   - reference: θ_ref [P], required when `alpha` > 0
    ///   - gradientScale: the factor of the accumulated gradient (`orwLoss`)
    func accumulate(
        x1 allX1: UnsafePointer<Float>, weights allWeights: UnsafePointer<Float>?, valid: UnsafePointer<Bool>? = nil,
        firstSample: Int, epoch: Int, step: Int, policy: UnsafePointer<Float>,
        reference referenceParameters: UnsafePointer<Float>?, alpha: Float, gradientScale: Double = 1,
        gradient: UnsafeMutablePointer<Float>
    ) -> ORWLossTerms {
        let dimension = model.dimension
        for j in 0..<microbatch {
            let sample = firstSample + j
            var noise = RandomStream(seed: seed, purpose: .sourceNoise, epoch: epoch, step: step, sample: sample)
            var time = RandomStream(seed: seed, purpose: .time, epoch: epoch, step: step, sample: sample)
            x0.withUnsafeMutableBufferPointer { noise.fillNormal($0.baseAddress! + j * dimension, count: dimension) }
            t[j] = time.nextUniform()
            if path.sigma > 0 {
                var epsilon = RandomStream(seed: seed, purpose: .pathNoise, epoch: epoch, step: step, sample: sample)
                pathNoise.withUnsafeMutableBufferPointer { epsilon.fillNormal($0.baseAddress! + j * dimension, count: dimension) }
            }
        }
        guard let valid, (0..<microbatch).contains(where: { !valid[$0] }) else {
            return pairAndAccumulate(x1: allX1, weights: allWeights, batch: microbatch, policy: policy,
                                     reference: referenceParameters, alpha: alpha, gradientScale: gradientScale, gradient: gradient)
        }
        let kept = keepValid(x1: allX1, weights: allWeights, valid: valid)
        guard kept > 0 else { return ORWLossTerms() }
        return validX1.withUnsafeBufferPointer { x1 in
            validWeights.withUnsafeBufferPointer { w in
                pairAndAccumulate(x1: x1.baseAddress!, weights: allWeights == nil ? nil : w.baseAddress!, batch: kept,
                                  policy: policy, reference: referenceParameters, alpha: alpha,
                                  gradientScale: gradientScale, gradient: gradient)
            }
        }
    }

    /// From x0, t (and ε) of the first b rows: pairing, the path, both forward passes, the loss
    /// and the backward pass. Shapes: x1 [b, D], weights [b].
    private func pairAndAccumulate(
        x1: UnsafePointer<Float>, weights: UnsafePointer<Float>?, batch b: Int,
        policy: UnsafePointer<Float>, reference referenceParameters: UnsafePointer<Float>?, alpha: Float,
        gradientScale: Double, gradient: UnsafeMutablePointer<Float>
    ) -> ORWLossTerms {
        let dimension = model.dimension
        coupling.pair(x0: &x0, x1: x1, batch: b, dimension: dimension, workspace: couplingWorkspace)
        path.sample(t: t, x0: x0, x1: x1, noise: path.sigma > 0 ? pathNoise : nil, batch: b, dimension: dimension,
                    xt: &xt, ut: &ut)
        clock?.lap(.pairing)
        model.forward(policy, t: t, x: xt, batch: b, output: &velocity)
        clock?.lap(.policyForward)
        if alpha > 0, let referenceParameters {
            model.infer(referenceParameters, t: t, x: xt, batch: b, output: &reference)
        }
        clock?.lap(.referenceForward)
        let terms = orwLoss(velocity: velocity, target: ut, reference: alpha > 0 ? reference : nil, weights: weights,
                            alpha: alpha, batch: b, dimension: dimension, gradientScale: gradientScale,
                            outputGradient: &outputGradient)
        clock?.lap(.loss)
        model.backward(parameterGradient: gradient, inputGradient: nil, outputGradient: outputGradient, parameters: policy)
        clock?.lap(.backward)
        return terms
    }

    /// Moves the valid rows of x0, t and the path noise (drawn for all b samples) to the front,
    /// copies the valid rows of x1 [b, D] and weights [b] to the front of `validX1` and
    /// `validWeights`, and returns how many rows are valid.
    private func keepValid(x1: UnsafePointer<Float>, weights: UnsafePointer<Float>?, valid: UnsafePointer<Bool>) -> Int {
        let dimension = model.dimension
        var kept = 0
        for j in 0..<microbatch where valid[j] {
            let from = j * dimension, to = kept * dimension
            for d in 0..<dimension {
                x0[to + d] = x0[from + d]
                pathNoise[to + d] = pathNoise[from + d]
                validX1[to + d] = x1[from + d]
            }
            t[kept] = t[j]
            validWeights[kept] = weights?[j] ?? 1
            kept += 1
        }
        return kept
    }
}
