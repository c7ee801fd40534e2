import CKernels

/// Element-wise passes, vectorised in C (Sources/CKernels, one clone per instruction set).
/// Letters: R = rows, C = columns, N = elements.
public enum Elementwise {
    /// y [N] = x · σ(x); y may be x.
    @inline(__always)
    public static func silu(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        orw_silu(y, x, count)
    }

    /// pre [R, C] += bias [C]; then act = silu(pre) if `activation` is non-nil (it may be pre).
    @inline(__always)
    public static func biasSiLU(_ pre: UnsafeMutablePointer<Float>, activation: UnsafeMutablePointer<Float>?,
                                bias: UnsafePointer<Float>, rows: Int, columns: Int) {
        orw_bias_silu(pre, activation, bias, rows, columns)
    }

    /// y [R, C] += bias [C].
    @inline(__always)
    public static func addBias(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, columns: Int) {
        orw_add_bias(y, bias, rows, columns)
    }

    /// dx [N] = dy · silu'(x) if `accumulate` is false, dx += dy · silu'(x) if true.
    @inline(__always)
    public static func siluBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                                    _ x: UnsafePointer<Float>, count: Int, accumulate: Bool) {
        orw_silu_backward(dx, dy, x, count, accumulate ? 1 : 0)
    }

    /// db [C] += Σ_r dy [r, C].
    @inline(__always)
    public static func columnSum(_ db: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, rows: Int, columns: Int) {
        orw_column_sum(db, dy, rows, columns)
    }

    /// bf16 bit patterns (round to nearest even) of x [N].
    @inline(__always)
    public static func toBFloat16(_ destination: UnsafeMutablePointer<UInt16>, _ source: UnsafePointer<Float>, count: Int) {
        orw_f32_to_bf16(destination, source, count)
    }

    /// The same for a [R, C] block with row strides.
    @inline(__always)
    public static func toBFloat16(_ destination: UnsafeMutablePointer<UInt16>, stride destinationStride: Int,
                                  _ source: UnsafePointer<Float>, stride sourceStride: Int, rows: Int, columns: Int) {
        orw_f32_to_bf16_rows(destination, destinationStride, source, sourceStride, rows, columns)
    }

    /// fp32 values of bf16 bit patterns [N] (exact).
    @inline(__always)
    public static func fromBFloat16(_ destination: UnsafeMutablePointer<Float>, _ source: UnsafePointer<UInt16>, count: Int) {
        orw_bf16_to_f32(destination, source, count)
    }

    /// One Adam/AdamW update of p, m, v [N] from g [N] (scalars as `Adam.step` computes them).
    @inline(__always)
    static func adam(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
                     m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                     beta1: Float, beta2: Float, epsilon: Float, stepSize: Float, correction2: Float,
                     decay: Float, coupledDecay: Float, decoupled: Bool) {
        orw_adam(parameters, gradients, m, v, count, beta1, beta2, epsilon, stepSize, correction2,
                 decay, coupledDecay, decoupled ? 1 : 0)
    }

    /// Σ x² over x [N], accumulated in Double with eight partial sums.
    @inline(__always)
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        orw_sum_squares(x, count)
    }

    /// x [N] *= scale.
    @inline(__always)
    public static func scale(_ x: UnsafeMutablePointer<Float>, by scale: Float, count: Int) {
        orw_scale(x, scale, count)
    }

    /// x [N] (bf16 bit patterns) = bf16(silu(x)), computed in fp32.
    @inline(__always)
    public static func siluBFloat16(_ x: UnsafeMutablePointer<UInt16>, count: Int) {
        orw_silu_bf16(x, count)
    }

    /// y [R, C] (bf16 bit patterns) = bf16(silu(x [R, C] + bias [C])), computed in fp32.
    @inline(__always)
    public static func biasSiLUToBFloat16(_ y: UnsafeMutablePointer<UInt16>, _ x: UnsafePointer<Float>,
                                          bias: UnsafePointer<Float>, rows: Int, columns: Int) {
        orw_bias_silu_to_bf16(y, x, bias, rows, columns)
    }

    /// y [N] (bf16 bit patterns) = bf16(silu(x [N])).
    @inline(__always)
    public static func siluToBFloat16(_ y: UnsafeMutablePointer<UInt16>, _ x: UnsafePointer<Float>, count: Int) {
        orw_silu_to_bf16(y, x, count)
    }
}
