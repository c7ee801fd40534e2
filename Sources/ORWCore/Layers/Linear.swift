/// Fully connected layer, PyTorch's `nn.Linear`: y = x · Wᵀ + b.
///
/// Letters: B = batch, I = in features, O = out features. The weight is [O, I] as in PyTorch.
public enum Linear {
    /// y [B, O] = x [B, I] · Wᵀ [I, O] + b [O]. Overwrites y.
    public static func forward(
        output: UnsafeMutablePointer<Float>,    // [B, O]
        input: UnsafePointer<Float>,            // [B, I]
        weight: UnsafePointer<Float>,           // [O, I]
        bias: UnsafePointer<Float>,             // [O]
        batch: Int, inFeatures: Int, outFeatures: Int
    ) {
        for row in 0..<batch {
            (output + row * outFeatures).update(from: bias, count: outFeatures)
        }
        BLAS.sgemm(transposeA: false, transposeB: true, m: batch, n: outFeatures, k: inFeatures,
                   alpha: 1, a: input, lda: inFeatures, b: weight, ldb: inFeatures,
                   beta: 1, c: output, ldc: outFeatures)
    }

    /// Accumulates dW += dyᵀ · x, db += Σ_rows dy and, if `inputGradient` is non-nil, dx += dy · W.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>?,  // [B, I]
        weightGradient: UnsafeMutablePointer<Float>,  // [O, I]
        biasGradient: UnsafeMutablePointer<Float>,    // [O]
        outputGradient: UnsafePointer<Float>,         // [B, O]
        input: UnsafePointer<Float>,                  // [B, I]
        weight: UnsafePointer<Float>,                 // [O, I]
        batch: Int, inFeatures: Int, outFeatures: Int
    ) {
        BLAS.sgemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: batch,
                   alpha: 1, a: outputGradient, lda: outFeatures, b: input, ldb: inFeatures,
                   beta: 1, c: weightGradient, ldc: inFeatures)
        Elementwise.columnSum(biasGradient, outputGradient, rows: batch, columns: outFeatures)
        if let inputGradient {
            BLAS.sgemm(transposeA: false, transposeB: false, m: batch, n: inFeatures, k: outFeatures,
                       alpha: 1, a: outputGradient, lda: outFeatures, b: weight, ldb: inFeatures,
                       beta: 1, c: inputGradient, ldc: inFeatures)
        }
    }
}

/// Offsets of one `nn.Linear`'s tensors in a flat θ, and its sizes: what a model keeps per layer.
struct LinearTensors {
    let weight: Int       // offset of [out, in]
    let bias: Int         // offset of [out]
    let inFeatures: Int
    let outFeatures: Int
}
