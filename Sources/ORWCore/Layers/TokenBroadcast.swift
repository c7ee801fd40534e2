/// The loop of the maps that apply one [B, C] row per sample to every token of a [B, N, C]
/// buffer (`Modulation`, `GatedResidual`: adaLN's per-sample scale, shift and gate broadcast over
/// tokens, diffusers' `[:, None]`): visits the tokens in order with the offset of the token's row
/// in [B, N, C] and of its sample's row in the per-sample buffer, whose rows are `sampleStride`
/// apart (nil: C, a [B, C] buffer of its own).
///
/// The stride lets the per-sample vectors be chunks of adaLN's Linear output read in place:
/// diffusers' `AdaLayerNormZero` splits a [B, 6C] output with `emb.chunk(6, dim=1)` into shift,
/// scale and gate for attention and feed-forward; chunk i is then the pointer + i · C with stride
/// 6C, and its gradient lands where that Linear's backward reads it.
///
/// Letters: B = batch, N = tokens per sample, C = features.
@inline(__always)
func forEachToken(batch: Int, tokens: Int, features: Int, sampleStride: Int?,
                  _ body: (_ token: Int, _ sample: Int) -> Void) {
    let stride = sampleStride ?? features
    for b in 0..<batch {
        for n in 0..<tokens { body((b * tokens + n) * features, b * stride) }
    }
}
