/// Global-norm clipping with `torch.nn.utils.clip_grad_norm_` semantics, over the whole flat
/// gradient buffer [P]: n = ‖g‖₂ (accumulated in Double); if `maxNorm` is positive and finite and
/// s = maxNorm / (n + 1e-6) < 1, then g ← s · g. Returns n, the norm before clipping.
/// A non-finite n leaves the gradients untouched; the caller decides what to do with the step.
@discardableResult
public func clipGradientNorm(_ gradients: UnsafeMutableBufferPointer<Float>, maxNorm: Float) -> Float {
    guard let base = gradients.baseAddress else { return 0 }
    let norm = Float(Elementwise.sumOfSquares(base, count: gradients.count).squareRoot())
    guard maxNorm > 0, maxNorm.isFinite, norm.isFinite else { return norm }
    let scale = maxNorm / (norm + 1e-6)
    if scale < 1 {
        Elementwise.scale(base, by: scale, count: gradients.count)
    }
    return norm
}
