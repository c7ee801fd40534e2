/// Gated residual: y = residual + gate · x, with one gate per sample broadcast over its tokens.
/// diffusers writes it inline as `hidden_states + gate[:, None] * attn_output` (and the same
/// with `ff_output`).
///
/// MMDiT layers: in SD3's joint blocks the gates (`gate_msa`, `gate_mlp`, `c_gate_msa`,
/// `c_gate_mlp`) are slices of adaLN-Zero's Linear, next to `Modulation`'s scale and shift; they
/// add the attention and feed-forward outputs back onto each stream.
///
/// gate and its gradient may be a chunk of a wider per-sample buffer, rows `conditionStride`
/// apart (nil: C): see `forEachToken`.
///
/// Letters: B = batch, N = tokens per sample, C = features.
public enum GatedResidual {
    /// y [B, N, C] = residual + gate[b] · x. Overwrites y. y may be residual
    /// (in place on the residual stream: backward does not read it), or x when no backward follows.
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [B, N, C]
        residual: UnsafePointer<Float>,       // [B, N, C]
        input: UnsafePointer<Float>,          // [B, N, C]
        gate: UnsafePointer<Float>,           // [B, C], row stride conditionStride
        batch: Int, tokens: Int, features: Int, conditionStride: Int? = nil
    ) {
        forEachToken(batch: batch, tokens: tokens, features: features, sampleStride: conditionStride) { token, sample in
            let r = residual + token, x = input + token, y = output + token, g = gate + sample
            for c in 0..<features { y[c] = r[c] + g[c] * x[c] }
        }
    }

    /// dresidual += dy (if non-nil: a caller whose residual gradient is dy itself passes nil),
    /// dx += dy · gate[b], dgate[b] += Σ_n dy · x.
    public static func backward(
        residualGradient: UnsafeMutablePointer<Float>?,  // [B, N, C]
        inputGradient: UnsafeMutablePointer<Float>,      // [B, N, C]
        gateGradient: UnsafeMutablePointer<Float>,       // [B, C], row stride conditionStride
        outputGradient: UnsafePointer<Float>,            // [B, N, C]
        input: UnsafePointer<Float>,                     // [B, N, C]
        gate: UnsafePointer<Float>,                      // [B, C], row stride conditionStride
        batch: Int, tokens: Int, features: Int, conditionStride: Int? = nil
    ) {
        forEachToken(batch: batch, tokens: tokens, features: features, sampleStride: conditionStride) { token, sample in
            let x = input + token, dy = outputGradient + token, dx = inputGradient + token
            let g = gate + sample, dg = gateGradient + sample
            for c in 0..<features {
                dx[c] += dy[c] * g[c]
                dg[c] += dy[c] * x[c]
            }
            if let dr = residualGradient.map({ $0 + token }) {
                for c in 0..<features { dr[c] += dy[c] }
            }
        }
    }
}
