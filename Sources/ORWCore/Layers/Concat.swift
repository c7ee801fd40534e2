/// Concatenation along the feature axis: y = [a, c] row by row.
///
/// Letters: B = batch, A = features of the first input, C = features of the second.
public enum Concat {
    /// y [B, A + C] = concat(a [B, A], c [B, C]). Overwrites y.
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [B, A + C]
        first: UnsafePointer<Float>,          // [B, A]
        second: UnsafePointer<Float>,         // [B, C]
        batch: Int, firstFeatures: Int, secondFeatures: Int
    ) {
        let width = firstFeatures + secondFeatures
        for row in 0..<batch {
            let y = output + row * width
            y.update(from: first + row * firstFeatures, count: firstFeatures)
            (y + firstFeatures).update(from: second + row * secondFeatures, count: secondFeatures)
        }
    }

    /// da += dy[:, :A] and dc += dy[:, A:], each only if its buffer is non-nil.
    public static func backward(
        firstGradient: UnsafeMutablePointer<Float>?,   // [B, A]
        secondGradient: UnsafeMutablePointer<Float>?,  // [B, C]
        outputGradient: UnsafePointer<Float>,          // [B, A + C]
        batch: Int, firstFeatures: Int, secondFeatures: Int
    ) {
        let width = firstFeatures + secondFeatures
        for row in 0..<batch {
            let dy = outputGradient + row * width
            if let da = firstGradient.map({ $0 + row * firstFeatures }) {
                for j in 0..<firstFeatures { da[j] += dy[j] }
            }
            if let dc = secondGradient.map({ $0 + row * secondFeatures }) {
                for j in 0..<secondFeatures { dc[j] += dy[firstFeatures + j] }
            }
        }
    }
}
