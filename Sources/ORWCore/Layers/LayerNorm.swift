/// Layer normalisation over the last axis without an affine map, PyTorch's
/// `nn.LayerNorm(C, elementwise_affine=False, eps=ε)` (`F.layer_norm` without weight and bias):
/// y = (x − μ) · r with μ the row's mean, σ² its biased variance and r = 1 / √(σ² + ε).
///
/// MMDiT layers: diffusers' SD3 (`SD3Transformer2DModel`) uses it with ε = 1e-6 under every
/// adaLN modulation (`AdaLayerNormZero.norm`, `AdaLayerNormContinuous.norm`, the blocks'
/// `norm2`); the scale and shift it leaves out come from the conditioning (`Modulation`).
///
/// The variance is the mean of squared deviations from μ (two passes), so a row with a large
/// common offset normalises as well as a centred one.
///
/// Letters: R = rows (every leading axis flattened, e.g. B · N tokens), C = columns (features).
public enum LayerNorm {
    /// y [R, C] = (x − μ) · r row by row; saves μ [R] and r [R] for `backward`. Overwrites y, mean
    /// and rstd. y may be x only when no backward follows (backward reads x).
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [R, C]
        mean: UnsafeMutablePointer<Float>,    // [R]
        rstd: UnsafeMutablePointer<Float>,    // [R]
        input: UnsafePointer<Float>,          // [R, C]
        rows: Int, columns: Int, epsilon: Float
    ) {
        for row in 0..<rows {
            let x = input + row * columns, y = output + row * columns
            var sum: Float = 0
            for j in 0..<columns { sum += x[j] }
            let mu = sum / Float(columns)
            var squares: Float = 0
            for j in 0..<columns { squares += (x[j] - mu) * (x[j] - mu) }
            let r = 1 / (squares / Float(columns) + epsilon).squareRoot()
            for j in 0..<columns { y[j] = (x[j] - mu) * r }
            mean[row] = mu
            rstd[row] = r
        }
    }

    /// dx += r · (dy − mean(dy) − x̂ · mean(dy · x̂)) with x̂ = (x − μ) · r, the derivative of the
    /// normalisation (μ and r depend on x).
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,  // [R, C]
        outputGradient: UnsafePointer<Float>,        // [R, C]
        input: UnsafePointer<Float>,                 // [R, C]
        mean: UnsafePointer<Float>,                  // [R], from forward
        rstd: UnsafePointer<Float>,                  // [R], from forward
        rows: Int, columns: Int
    ) {
        for row in 0..<rows {
            let x = input + row * columns, dy = outputGradient + row * columns
            let dx = inputGradient + row * columns
            let mu = mean[row], r = rstd[row]
            var sumDy: Float = 0, sumDyXhat: Float = 0
            for j in 0..<columns {
                sumDy += dy[j]
                sumDyXhat += dy[j] * (x[j] - mu) * r
            }
            let meanDy = sumDy / Float(columns), meanDyXhat = sumDyXhat / Float(columns)
            for j in 0..<columns {
                dx[j] += r * (dy[j] - meanDy - (x[j] - mu) * r * meanDyXhat)
            }
        }
    }
}
