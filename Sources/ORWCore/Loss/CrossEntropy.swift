import Foundation

/// Softmax cross-entropy on logits, PyTorch's `F.cross_entropy(logits, labels, reduction="sum")`,
/// and the log-softmax it is built on.
///
/// Letters: B = batch, K = classes.
public enum SoftmaxCrossEntropy {
    /// logp [B, K] = log_softmax(z [B, K]) row by row, overflow-safe (the row maximum is
    /// subtracted first). Overwrites logp; logp may alias z.
    public static func logSoftmax(
        output: UnsafeMutablePointer<Float>,   // logp [B, K]
        logits: UnsafePointer<Float>,          // z [B, K]
        batch: Int, classes: Int
    ) {
        for row in 0..<batch {
            let z = logits + row * classes, logp = output + row * classes
            var largest = -Float.infinity
            for k in 0..<classes { largest = max(largest, z[k]) }
            var total = 0.0
            for k in 0..<classes { total += exp(Double(z[k] - largest)) }
            let logTotal = Float(log(total))
            for k in 0..<classes { logp[k] = z[k] - largest - logTotal }
        }
    }

    /// L = −Σ_i logp[i, y_i], the summed loss, in Double; also writes logp [B, K] for `backward`.
    public static func forward(
        logProbabilities: UnsafeMutablePointer<Float>,  // logp [B, K]
        logits: UnsafePointer<Float>,                   // z [B, K]
        labels: UnsafePointer<Int>,                     // y [B], each in 0..<K
        batch: Int, classes: Int
    ) -> Double {
        logSoftmax(output: logProbabilities, logits: logits, batch: batch, classes: classes)
        var loss = 0.0
        for row in 0..<batch {
            precondition(labels[row] >= 0 && labels[row] < classes, "label \(labels[row]) outside 0..<\(classes)")
            loss -= Double(logProbabilities[row * classes + labels[row]])
        }
        return loss
    }

    /// dz += scale · (softmax(z) − onehot(y)), the gradient of scale · L.
    public static func backward(
        logitGradient: UnsafeMutablePointer<Float>,     // dz [B, K]
        logProbabilities: UnsafePointer<Float>,         // logp [B, K] from `forward`
        labels: UnsafePointer<Int>,                     // y [B]
        batch: Int, classes: Int, scale: Float = 1
    ) {
        for row in 0..<batch {
            for k in 0..<classes {
                let p = exp(logProbabilities[row * classes + k])
                logitGradient[row * classes + k] += scale * (p - (k == labels[row] ? 1 : 0))
            }
        }
    }
}
