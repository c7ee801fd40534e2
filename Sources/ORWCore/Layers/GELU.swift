import Foundation

/// GELU with the tanh approximation, PyTorch's `F.gelu(x, approximate="tanh")`, elementwise:
/// y = ½ x (1 + tanh(u)), u = √(2/π) (x + 0.044715 x³).
///
/// MMDiT layers: the activation of SD3's feed-forward networks (diffusers' `FeedForward` with
/// `activation_fn="gelu-approximate"`, i.e. `GELU(dim, 4·dim, approximate="tanh")`), between
/// the two Linear layers of both the image and the context stream.
///
/// Letters: N = number of elements.
public enum GELU {
    static let k: Float = (2 / Float.pi).squareRoot()  // √(2/π)
    static let cubic: Float = 0.044715

    /// y [N] = ½ x (1 + tanh(u(x))). Overwrites y; y may be x when no backward
    /// follows (backward reads x).
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [N]
        input: UnsafePointer<Float>,          // [N]
        count: Int
    ) {
        for i in 0..<count {
            let x = input[i]
            output[i] = 0.5 * x * (1 + tanh(k * (x + cubic * x * x * x)))
        }
    }

    /// dx += dy · (½ (1 + tanh u) + ½ x (1 − tanh² u) · √(2/π) (1 + 3 · 0.044715 x²)).
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,  // [N]
        outputGradient: UnsafePointer<Float>,        // [N]
        input: UnsafePointer<Float>,                 // [N]
        count: Int
    ) {
        for i in 0..<count {
            let x = input[i]
            let t = tanh(k * (x + cubic * x * x * x))
            let derivative = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * cubic * x * x)
            inputGradient[i] += outputGradient[i] * derivative
        }
    }
}
