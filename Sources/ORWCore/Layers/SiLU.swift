import Foundation

/// SiLU (swish), PyTorch's `nn.SiLU`: y = x · σ(x), applied elementwise. N = number of elements.
public enum SiLU {
    /// y [N] = x [N] · σ(x [N]). Overwrites y.
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [N]
        input: UnsafePointer<Float>,          // [N]
        count: Int
    ) {
        for i in 0..<count {
            let x = input[i]
            output[i] = x / (1 + exp(-x))
        }
    }

    /// dx += dy · σ(x) · (1 + x · (1 − σ(x))), the derivative of x · σ(x).
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,  // [N]
        outputGradient: UnsafePointer<Float>,        // [N]
        input: UnsafePointer<Float>,                 // [N]
        count: Int
    ) {
        for i in 0..<count {
            let x = input[i]
            let sigmoid = 1 / (1 + exp(-x))
            inputGradient[i] += outputGradient[i] * sigmoid * (1 + x * (1 - sigmoid))
        }
    }
}
