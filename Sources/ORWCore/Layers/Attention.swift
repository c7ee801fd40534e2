import Foundation

/// Multi-head scaled dot-product attention without a mask, PyTorch's
/// `F.scaled_dot_product_attention(q, k, v)` per head: o = softmax(q kᵀ / √d) v.
///
/// MMDiT layers: the core of SD3's joint attention (diffusers' `JointAttnProcessor2_0`). The
/// caller projects the image tokens (to_q, to_k, to_v) and the context tokens (add_q_proj, …),
/// optionally `RMSNorm`s each head, concatenates the two along the token axis so that every
/// token attends to every token of both streams, calls this, and splits the output back.
///
/// Layout as diffusers' `view(B, N, H, d)`: q, k, v and o are [B, N, H · d], head h of token n
/// being the contiguous slice [h · d, (h + 1) · d). Each (sample, head) pair is a strided
/// [N, d] matrix (row stride H · d) that sgemm reads and writes in place, so no transpose copies.
///
/// Memory: forward keeps the probabilities P [B, H, N, N] for backward, 4 B · H · N² bytes:
/// 58 kB per sample for 60 tokens and 4 heads (a Fashion-MNIST-sized model), but 1.9 GB per
/// sample for SD3-medium at 1024² (4096 + 333 tokens, 24 heads), where a backward that
/// recomputes P from q, k and a saved row log-sum-exp (flash-attention style) is needed; not
/// built. Backward needs a scratch [N, N].
///
/// Letters: B = batch, N = tokens (image + context), H = heads, d = head dimension.
public enum Attention {
    /// o [B, N, H · d] = softmax(q kᵀ / √d) v per sample and head; saves P [B, H, N, N].
    /// Overwrites o and probabilities.
    public static func forward(
        output: UnsafeMutablePointer<Float>,         // [B, N, H · d]
        probabilities: UnsafeMutablePointer<Float>,  // [B, H, N, N]
        query: UnsafePointer<Float>,                 // [B, N, H · d]
        key: UnsafePointer<Float>,                   // [B, N, H · d]
        value: UnsafePointer<Float>,                 // [B, N, H · d]
        batch: Int, tokens: Int, heads: Int, headDimension: Int
    ) {
        let width = heads * headDimension, scale = 1 / Float(headDimension).squareRoot()
        forEachHead(batch: batch, tokens: tokens, heads: heads, headDimension: headDimension) { slice, block in
            let p = probabilities + block  // [N, N]
            // P = q kᵀ / √d, then softmax row by row.
            BLAS.sgemm(transposeA: false, transposeB: true, m: tokens, n: tokens, k: headDimension,
                       alpha: scale, a: query + slice, lda: width, b: key + slice, ldb: width,
                       beta: 0, c: p, ldc: tokens)
            for i in 0..<tokens { softmax(p + i * tokens, count: tokens) }
            // o = P v.
            BLAS.sgemm(transposeA: false, transposeB: false, m: tokens, n: headDimension, k: tokens,
                       alpha: 1, a: p, lda: tokens, b: value + slice, ldb: width,
                       beta: 0, c: output + slice, ldc: width)
        }
    }

    /// Accumulates dv += Pᵀ do, dq += dS k / √d and dk += dSᵀ q / √d per sample and head, where
    /// dS = P ⊙ (dP − rowsum(dP ⊙ P)) with dP = do vᵀ is the gradient of the logits q kᵀ.
    public static func backward(
        queryGradient: UnsafeMutablePointer<Float>,  // [B, N, H · d]
        keyGradient: UnsafeMutablePointer<Float>,    // [B, N, H · d]
        valueGradient: UnsafeMutablePointer<Float>,  // [B, N, H · d]
        outputGradient: UnsafePointer<Float>,        // [B, N, H · d]
        query: UnsafePointer<Float>,                 // [B, N, H · d]
        key: UnsafePointer<Float>,                   // [B, N, H · d]
        value: UnsafePointer<Float>,                 // [B, N, H · d]
        probabilities: UnsafePointer<Float>,         // [B, H, N, N], from forward
        scratch: UnsafeMutablePointer<Float>,        // [N, N]
        batch: Int, tokens: Int, heads: Int, headDimension: Int
    ) {
        let width = heads * headDimension, scale = 1 / Float(headDimension).squareRoot()
        forEachHead(batch: batch, tokens: tokens, heads: heads, headDimension: headDimension) { slice, block in
            let p = probabilities + block, dout = outputGradient + slice  // [N, N], [N, d] (stride H · d)
            BLAS.sgemm(transposeA: true, transposeB: false, m: tokens, n: headDimension, k: tokens,
                       alpha: 1, a: p, lda: tokens, b: dout, ldb: width,
                       beta: 1, c: valueGradient + slice, ldc: width)
            // scratch = dP = do vᵀ, then dS in place.
            BLAS.sgemm(transposeA: false, transposeB: true, m: tokens, n: tokens, k: headDimension,
                       alpha: 1, a: dout, lda: width, b: value + slice, ldb: width,
                       beta: 0, c: scratch, ldc: tokens)
            for i in 0..<tokens {
                let pRow = p + i * tokens, dRow = scratch + i * tokens
                var inner: Float = 0
                for j in 0..<tokens { inner += pRow[j] * dRow[j] }
                for j in 0..<tokens { dRow[j] = pRow[j] * (dRow[j] - inner) }
            }
            BLAS.sgemm(transposeA: false, transposeB: false, m: tokens, n: headDimension, k: tokens,
                       alpha: scale, a: scratch, lda: tokens, b: key + slice, ldb: width,
                       beta: 1, c: queryGradient + slice, ldc: width)
            BLAS.sgemm(transposeA: true, transposeB: false, m: tokens, n: headDimension, k: tokens,
                       alpha: scale, a: scratch, lda: tokens, b: query + slice, ldb: width,
                       beta: 1, c: keyGradient + slice, ldc: width)
        }
    }

    /// Visits every (sample, head) pair with the offset of its [N, d] slice (row stride H · d) in
    /// q, k, v, o [B, N, H · d] and of its [N, N] block in P [B, H, N, N].
    @inline(__always)
    private static func forEachHead(batch: Int, tokens: Int, heads: Int, headDimension: Int,
                                    _ body: (_ slice: Int, _ block: Int) -> Void) {
        for b in 0..<batch {
            for h in 0..<heads {
                body(b * tokens * heads * headDimension + h * headDimension, (b * heads + h) * tokens * tokens)
            }
        }
    }

    /// x [count] ← softmax(x), subtracting the maximum first so exp cannot overflow.
    private static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var largest = -Float.infinity
        for j in 0..<count { largest = max(largest, x[j]) }
        var sum: Float = 0
        for j in 0..<count {
            x[j] = exp(x[j] - largest)
            sum += x[j]
        }
        let inverse = 1 / sum
        for j in 0..<count { x[j] *= inverse }
    }
}
