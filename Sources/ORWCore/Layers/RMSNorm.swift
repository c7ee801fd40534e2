/// Root-mean-square normalisation over the last axis with a weight, diffusers' `RMSNorm(C, eps=ε)`
/// (`diffusers.models.normalization`; PyTorch's `nn.RMSNorm` is the same map):
/// y = x · r · w with r = 1 / √(mean(x²) + ε) per row and w [C] shared by every row.
///
/// MMDiT layers: SD3.5's attention (`qk_norm = "rms_norm"`, ε = 1e-6) normalises each head's
/// query and key (`norm_q`, `norm_k`, and `norm_added_q`, `norm_added_k` for the context
/// tokens) over the head dimension d. In the [B, N, H · d] layout of `Attention` each head's
/// slice is a contiguous row of d, so that is this layer with R = B · N · H rows and C = d.
///
/// Letters: R = rows, C = columns (features).
public enum RMSNorm {
    /// y [R, C] = x · r · w row by row; saves r [R] for `backward`. Overwrites y and rstd. y may
    /// be x only when no backward follows (backward reads x).
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [R, C]
        rstd: UnsafeMutablePointer<Float>,    // [R]
        input: UnsafePointer<Float>,          // [R, C]
        weight: UnsafePointer<Float>,         // [C]
        rows: Int, columns: Int, epsilon: Float
    ) {
        for row in 0..<rows {
            let x = input + row * columns, y = output + row * columns
            var squares: Float = 0
            for j in 0..<columns { squares += x[j] * x[j] }
            let r = 1 / (squares / Float(columns) + epsilon).squareRoot()
            for j in 0..<columns { y[j] = x[j] * r * weight[j] }
            rstd[row] = r
        }
    }

    /// dw += Σ_rows dy · x · r and dx += r · (dy · w − x · r² · mean(dy · w · x)), the
    /// derivative of x · r · w (r depends on x).
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,   // [R, C]
        weightGradient: UnsafeMutablePointer<Float>,  // [C]
        outputGradient: UnsafePointer<Float>,         // [R, C]
        input: UnsafePointer<Float>,                  // [R, C]
        weight: UnsafePointer<Float>,                 // [C]
        rstd: UnsafePointer<Float>,                   // [R], from forward
        rows: Int, columns: Int
    ) {
        for row in 0..<rows {
            let x = input + row * columns, dy = outputGradient + row * columns
            let dx = inputGradient + row * columns
            let r = rstd[row]
            var sum: Float = 0
            for j in 0..<columns {
                sum += dy[j] * weight[j] * x[j]
                weightGradient[j] += dy[j] * x[j] * r
            }
            let correction = r * r * sum / Float(columns)
            for j in 0..<columns {
                dx[j] += r * (dy[j] * weight[j] - x[j] * correction)
            }
        }
    }
}
