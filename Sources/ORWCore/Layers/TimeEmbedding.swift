import Foundation

/// Sinusoidal embedding of the time t ∈ [0, 1]:
/// e(t) = [sin(1000 · t · f_k)]_{k<h} ++ [cos(1000 · t · f_k)]_{k<h}, with h = E / 2 and
/// f_k = exp(−ln(10000) · k / h).
///
/// Evaluated in Double and rounded to Float once, so e(t) is the formula's value to within half
/// an ulp. (A float32 PyTorch evaluation differs by up to ~1000 · t · 2⁻²⁴ ≈ 6e-5 at t = 1 in
/// the fastest components, from rounding the argument; the fixtures evaluate it in float64.)
///
/// Letters: B = batch, E = `width` (even).
public struct TimeEmbedding: Sendable {
    public let width: Int                 // E
    private let frequencies: [Double]     // [E / 2], 1000 · f_k

    public init(width: Int) {
        precondition(width > 0 && width % 2 == 0, "time embedding width \(width) must be even and positive")
        self.width = width
        let half = width / 2
        frequencies = (0..<half).map { 1000 * exp(-log(10000) * Double($0) / Double(half)) }
    }

    /// e [B, E] = e(t [B]). Overwrites e.
    public func forward(
        output: UnsafeMutablePointer<Float>,  // [B, E]
        t: UnsafePointer<Float>,              // [B]
        batch: Int
    ) {
        let half = width / 2
        for row in 0..<batch {
            let e = output + row * width
            let time = Double(t[row])
            for k in 0..<half {
                let angle = time * frequencies[k]
                e[k] = Float(sin(angle))
                e[half + k] = Float(cos(angle))
            }
        }
    }

    /// dt += Σ_k 1000 f_k · (de[k] · cos(1000 t f_k) − de[h + k] · sin(1000 t f_k)).
    public func backward(
        timeGradient: UnsafeMutablePointer<Float>,  // [B]
        outputGradient: UnsafePointer<Float>,       // [B, E]
        t: UnsafePointer<Float>,                    // [B]
        batch: Int
    ) {
        let half = width / 2
        for row in 0..<batch {
            let de = outputGradient + row * width
            let time = Double(t[row])
            var sum = 0.0
            for k in 0..<half {
                let angle = time * frequencies[k]
                sum += frequencies[k] * (Double(de[k]) * cos(angle) - Double(de[half + k]) * sin(angle))
            }
            timeGradient[row] += Float(sum)
        }
    }
}
