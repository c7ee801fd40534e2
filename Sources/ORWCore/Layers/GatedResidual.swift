/// Gated residual: y = residual + gate · x, with one gate per sample broadcast over its tokens.
/// diffusers writes it inline as `hidden_states + gate[:, None] * attn_output` (and the same
/// with `ff_output`).
///
/// MMDiT layers: in SD3's joint blocks the gates (`gate_msa`, `gate_mlp`, `c_gate_msa`,
/// `c_gate_mlp`) are slices of adaLN-Zero's Linear, next to `Modulation`'s scale and shift; they
/// add the attention and feed-forward outputs back onto each stream.
///
/// Letters: B = batch, N = tokens per sample, C = features.
public enum GatedResidual {
    /// y [B, N, C] = residual + gate[b] · x. Overwrites y; y may be residual or x (in place).
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [B, N, C]
        residual: UnsafePointer<Float>,       // [B, N, C]
        input: UnsafePointer<Float>,          // [B, N, C]
        gate: UnsafePointer<Float>,           // [B, C]
        batch: Int, tokens: Int, features: Int
    ) {
        for b in 0..<batch {
            let g = gate + b * features
            for n in 0..<tokens {
                let offset = (b * tokens + n) * features
                let r = residual + offset, x = input + offset, y = output + offset
                for c in 0..<features { y[c] = r[c] + g[c] * x[c] }
            }
        }
    }

    /// dresidual += dy (if non-nil: a caller whose residual gradient is dy itself passes nil),
    /// dx += dy · gate[b], dgate[b] += Σ_n dy · x.
    public static func backward(
        residualGradient: UnsafeMutablePointer<Float>?,  // [B, N, C]
        inputGradient: UnsafeMutablePointer<Float>,      // [B, N, C]
        gateGradient: UnsafeMutablePointer<Float>,       // [B, C]
        outputGradient: UnsafePointer<Float>,            // [B, N, C]
        input: UnsafePointer<Float>,                     // [B, N, C]
        gate: UnsafePointer<Float>,                      // [B, C]
        batch: Int, tokens: Int, features: Int
    ) {
        for b in 0..<batch {
            let g = gate + b * features, dg = gateGradient + b * features
            for n in 0..<tokens {
                let offset = (b * tokens + n) * features
                let x = input + offset, dy = outputGradient + offset, dx = inputGradient + offset
                let dr = residualGradient.map { $0 + offset }
                for c in 0..<features {
                    dx[c] += dy[c] * g[c]
                    dg[c] += dy[c] * x[c]
                    dr?[c] += dy[c]
                }
            }
        }
    }
}
