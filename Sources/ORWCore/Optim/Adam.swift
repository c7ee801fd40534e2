import Foundation

/// Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter) with `torch.optim.Adam` / `AdamW`
/// semantics. The moments m and v are flat buffers in the parameters' layout [P].
///
/// One step, with t = `stepCount` after the increment, g the gradient, λ = `weightDecay`,
/// η the learning rate:
///
///     Adam:   g ← g + λ θ                 (coupled decay; the gradient buffer is not modified)
///     AdamW:  θ ← θ · (1 − η λ)           (decoupled decay)
///     m ← β₁ m + (1 − β₁) g
///     v ← β₂ v + (1 − β₂) g²
///     θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// ε sits outside the square root, after the bias correction, as in PyTorch.
public final class Adam {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    /// true: AdamW's decoupled weight decay; false: Adam's L2 term added to the gradient.
    public var decoupled: Bool

    /// First moment m [P].
    public var m: [Float]
    /// Second moment v [P].
    public var v: [Float]
    /// Steps taken so far; the next step uses t = stepCount + 1 in the bias corrections.
    public var stepCount: Int = 0

    public init(parameterCount: Int, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0, decoupled: Bool = false) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        m = [Float](repeating: 0, count: parameterCount)
        v = [Float](repeating: 0, count: parameterCount)
    }

    /// One update of θ [P] from the gradient [P] with learning rate η.
    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>,
                     learningRate: Float) {
        precondition(parameters.count == m.count && gradients.count == m.count,
                     "Adam holds \(m.count) moments; got \(parameters.count) parameters, \(gradients.count) gradients")
        stepCount += 1
        // Scalars in Double, as PyTorch computes them in Python, then rounded once.
        let t = Double(stepCount)
        let stepSize = Float(Double(learningRate) / (1 - pow(Double(beta1), t)))
        let correction2 = Float((1 - pow(Double(beta2), t)).squareRoot())
        let decay = Float(1 - Double(learningRate) * Double(weightDecay))
        let coupledDecay = decoupled ? 0 : weightDecay
        let (beta1, beta2, epsilon, decoupled) = (beta1, beta2, epsilon, decoupled)
        guard let p = parameters.baseAddress, let g = gradients.baseAddress else { return }
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                // Vectorised in C (Elementwise); the same formulas as above, element by element.
                Elementwise.adam(parameters: p, gradients: g, m: m.baseAddress!, v: v.baseAddress!, count: m.count,
                                 beta1: beta1, beta2: beta2, epsilon: epsilon, stepSize: stepSize,
                                 correction2: correction2, decay: decay, coupledDecay: coupledDecay,
                                 decoupled: decoupled)
            }
        }
    }

    /// `step` on Swift arrays.
    public func step(parameters: inout [Float], gradients: [Float], learningRate: Float) {
        parameters.withUnsafeMutableBufferPointer { parameters in
            gradients.withUnsafeBufferPointer { gradients in
                step(parameters: parameters, gradients: gradients, learningRate: learningRate)
            }
        }
    }
}
