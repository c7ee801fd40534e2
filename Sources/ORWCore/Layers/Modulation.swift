/// adaLN modulation: y = x · (1 + scale) + shift, with one scale and one shift per sample
/// broadcast over its tokens. diffusers writes it inline as
/// `norm(x) * (1 + scale[:, None]) + shift[:, None]`.
///
/// MMDiT layers: in SD3's joint blocks (`AdaLayerNormZero`, and `AdaLayerNormContinuous` before
/// `proj_out` and in the `context_pre_only` block) x is the `LayerNorm` (no affine, ε = 1e-6)
/// of the tokens, and scale and shift are slices of a Linear of SiLU(time + pooled embedding).
/// The gate that goes with them is `GatedResidual`.
///
/// scale, shift and their gradients may be chunks of a wider per-sample buffer, rows
/// `conditionStride` apart (nil: C): see `forEachToken`.
///
/// Letters: B = batch, N = tokens per sample, C = features.
public enum Modulation {
    /// y [B, N, C] = x · (1 + scale[b]) + shift[b]. Overwrites y; y may be x
    /// when no backward follows (backward reads x).
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [B, N, C]
        input: UnsafePointer<Float>,          // [B, N, C]
        scale: UnsafePointer<Float>,          // [B, C], row stride conditionStride
        shift: UnsafePointer<Float>,          // [B, C], row stride conditionStride
        batch: Int, tokens: Int, features: Int, conditionStride: Int? = nil
    ) {
        forEachToken(batch: batch, tokens: tokens, features: features, sampleStride: conditionStride) { token, sample in
            let x = input + token, y = output + token, s = scale + sample, t = shift + sample
            for c in 0..<features { y[c] = x[c] * (1 + s[c]) + t[c] }
        }
    }

    /// dx += dy · (1 + scale[b]), dscale[b] += Σ_n dy · x, dshift[b] += Σ_n dy.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,  // [B, N, C]
        scaleGradient: UnsafeMutablePointer<Float>,  // [B, C], row stride conditionStride
        shiftGradient: UnsafeMutablePointer<Float>,  // [B, C], row stride conditionStride
        outputGradient: UnsafePointer<Float>,        // [B, N, C]
        input: UnsafePointer<Float>,                 // [B, N, C]
        scale: UnsafePointer<Float>,                 // [B, C], row stride conditionStride
        batch: Int, tokens: Int, features: Int, conditionStride: Int? = nil
    ) {
        forEachToken(batch: batch, tokens: tokens, features: features, sampleStride: conditionStride) { token, sample in
            let x = input + token, dy = outputGradient + token, dx = inputGradient + token
            let s = scale + sample, ds = scaleGradient + sample, dt = shiftGradient + sample
            for c in 0..<features {
                dx[c] += dy[c] * (1 + s[c])
                ds[c] += dy[c] * x[c]
                dt[c] += dy[c]
            }
        }
    }
}
