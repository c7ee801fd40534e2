/// SiLU (swish), PyTorch's `nn.SiLU`: y = x · σ(x), applied elementwise. N = number of elements.
/// σ uses a polynomial exp (relative error < 2e-7; `Elementwise`).
public enum SiLU {
    /// y [N] = x [N] · σ(x [N]). Overwrites y.
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [N]
        input: UnsafePointer<Float>,          // [N]
        count: Int
    ) {
        Elementwise.silu(output, input, count: count)
    }

    /// dx += dy · σ(x) · (1 + x · (1 − σ(x))), the derivative of x · σ(x).
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,  // [N]
        outputGradient: UnsafePointer<Float>,        // [N]
        input: UnsafePointer<Float>,                 // [N]
        count: Int
    ) {
        Elementwise.siluBackward(inputGradient, outputGradient, input, count: count, accumulate: true)
    }
}
