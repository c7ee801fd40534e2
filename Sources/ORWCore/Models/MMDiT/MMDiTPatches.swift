/// The map between an NCHW image [B, C, H, W] and its patch tokens [B, N, C · p · p] (N =
/// (H / p)(W / p), tokens row-major over the patch grid), in the two feature orders diffusers
/// uses: the patch embedding's Conv2d flattens a patch as (C, p, p) (`channelsLast: false`), the
/// unpatchify of `proj_out` reads (p, p, C) (`channelsLast: true`, einsum "nhwpqc->nchpwq").
///
/// Letters: B = batch, C = channels, H × W = image, p = patch size, N = tokens.
enum MMDiTPatches {
    /// Calls body(image index, token index) for every element, image index into [B, C, H, W] and
    /// token index into [B, N, C · p · p].
    @inline(__always)
    static func forEach(_ s: MMDiTShape, channels: Int, channelsLast: Bool, _ body: (_ image: Int, _ token: Int) -> Void) {
        let p = s.patch, features = channels * p * p
        for b in 0..<s.batch {
            for c in 0..<channels {
                for y in 0..<s.height {
                    for x in 0..<s.width {
                        let (i, pi) = y.quotientAndRemainder(dividingBy: p), (j, qi) = x.quotientAndRemainder(dividingBy: p)
                        let feature = channelsLast ? (pi * p + qi) * channels + c : (c * p + pi) * p + qi
                        let token = (b * s.imageTokens + i * s.columns + j) * features + feature
                        body(((b * channels + c) * s.height + y) * s.width + x, token)
                    }
                }
            }
        }
    }

    /// tokens [B, N, C p p] = patches of image [B, C, H, W]. Overwrites tokens.
    static func gather(tokens: UnsafeMutablePointer<Float>, image: UnsafePointer<Float>,
                       _ s: MMDiTShape, channels: Int, channelsLast: Bool) {
        forEach(s, channels: channels, channelsLast: channelsLast) { tokens[$1] = image[$0] }
    }

    /// image [B, C, H, W] (+)= the pixels of tokens [B, N, C p p].
    static func scatter(image: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>,
                        _ s: MMDiTShape, channels: Int, channelsLast: Bool, accumulate: Bool) {
        forEach(s, channels: channels, channelsLast: channelsLast) { index, token in
            image[index] = (accumulate ? image[index] : 0) + tokens[token]
        }
    }
}
