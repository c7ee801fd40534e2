/// The loop of the maps that apply one [B, C] row per sample to every token of a [B, N, C]
/// buffer (`Modulation`, `GatedResidual`: adaLN's per-sample scale, shift and gate broadcast over
/// tokens, diffusers' `[:, None]`): visits the tokens in order with the offset of the token's row
/// in [B, N, C] and of its sample's row in [B, C].
///
/// Letters: B = batch, N = tokens per sample, C = features.
@inline(__always)
func forEachToken(batch: Int, tokens: Int, features: Int, _ body: (_ token: Int, _ sample: Int) -> Void) {
    for b in 0..<batch {
        for n in 0..<tokens { body((b * tokens + n) * features, b * features) }
    }
}
