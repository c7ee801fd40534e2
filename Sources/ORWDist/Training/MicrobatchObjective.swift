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
        xt = x0; ut = x0; velocity = x0; reference = x0; outputGradient = x0; pathNoise = x0
    }

    /// Adds this microbatch's gradient of Σ_i loss_i to `gradient` [P] and returns its loss sums.
    ///
    /// - Parameters:
    ///   - x1: the microbatch's data or online samples [b, D]
    ///   - weights: w [b], or nil for plain flow matching
    ///   - firstSample: global index of the microbatch's first sample
    ///   - reference: θ_ref [P], required when `alpha` > 0
    func accumulate(
        x1: UnsafePointer<Float>, weights: UnsafePointer<Float>?, firstSample: Int,
        epoch: Int, step: Int, policy: UnsafePointer<Float>, reference referenceParameters: UnsafePointer<Float>?,
        alpha: Float, gradient: UnsafeMutablePointer<Float>
    ) -> ORWLossTerms {
        let b = microbatch, dimension = model.dimension
        for j in 0..<b {
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
                            alpha: alpha, batch: b, dimension: dimension, outputGradient: &outputGradient)
        clock?.lap(.loss)
        model.backward(parameterGradient: gradient, inputGradient: nil, outputGradient: outputGradient, parameters: policy)
        clock?.lap(.backward)
        return terms
    }
}
