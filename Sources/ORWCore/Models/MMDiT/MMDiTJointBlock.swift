/// One of SD3's joint transformer blocks, diffusers' `JointTransformerBlock` with
/// `JointAttnProcessor2_0`, as pure math over a flat θ.
///
/// Image stream x [B, N, D] and context stream c [B, L, D], conditioning s = SiLU(temb) [B, D]:
///   (shift, scale, gate)_msa, (shift, scale, gate)_mlp = norm1.linear(s) (6 chunks of D)
///   x̃ = LN(x)(1 + scale_msa) + shift_msa, likewise c̃ from norm1_context
///   q, k, v = [to_q x̃; add_q_proj c̃] … (image tokens first), each head RMS-normalised with
///   qk_norm, o = attention over the T = N + L joint tokens, split back
///   x ← x + gate_msa · to_out.0(o_img);  x ← x + gate_mlp · FF(LN(x)(1 + scale_mlp) + shift_mlp)
///   and the same for c with to_add_out and ff_context.
/// The last block (`context_pre_only`) modulates c with AdaLayerNormContinuous (norm1_context
/// gives (scale, shift), in that order, 2 chunks) and outputs no context.
///
/// Letters: B = batch, N = image tokens, L = context tokens, T = N + L, D = width,
/// H = heads, d = head dimension, F = 4D feed-forward width.
final class MMDiTJointBlock {
    let last: Bool
    let width: Int, heads: Int, headDimension: Int
    let norm1, norm1Context: LinearTensors
    let toQ, toK, toV, addQ, addK, addV, toOut: LinearTensors
    let toAddOut: LinearTensors?
    let normQ, normK, normAddedQ, normAddedK: Int?   // offsets of [d] RMSNorm weights
    let ff0, ff2: LinearTensors
    let ffContext0, ffContext2: LinearTensors?
    static let epsilon: Float = 1e-6

    init(index: Int, architecture: MMDiTArchitecture, layout: ParameterLayout) {
        let prefix = "transformer_blocks.\(index)"
        last = index == architecture.numLayers - 1
        width = architecture.innerDim
        heads = architecture.numAttentionHeads
        headDimension = architecture.attentionHeadDim
        func linear(_ name: String) -> LinearTensors { layout.linear("\(prefix).\(name)") }
        func offset(_ name: String) -> Int? { layout["\(prefix).\(name).weight"]?.offset }
        norm1 = linear("norm1.linear")
        norm1Context = linear("norm1_context.linear")
        toQ = linear("attn.to_q"); toK = linear("attn.to_k"); toV = linear("attn.to_v")
        addQ = linear("attn.add_q_proj"); addK = linear("attn.add_k_proj"); addV = linear("attn.add_v_proj")
        toOut = linear("attn.to_out.0")
        toAddOut = last ? nil : linear("attn.to_add_out")
        normQ = offset("attn.norm_q"); normK = offset("attn.norm_k")
        normAddedQ = offset("attn.norm_added_q"); normAddedK = offset("attn.norm_added_k")
        ff0 = linear("ff.net.0.proj"); ff2 = linear("ff.net.2")
        ffContext0 = last ? nil : linear("ff_context.net.0.proj")
        ffContext2 = last ? nil : linear("ff_context.net.2")
    }

    /// What one stream (image or context) keeps from forward for backward.
    final class Stream {
        let tokens: Int
        let normalized: MMDiTBuffer    // [B, n, D] LN(input)
        let mean, rstd: MMDiTBuffer    // [B · n]
        let modulated: MMDiTBuffer     // [B, n, D] attention input
        let attention: MMDiTBuffer     // [B, n, D] after to_out.0 / to_add_out
        let middle: MMDiTBuffer        // [B, n, D] after the attention residual
        let normalized2: MMDiTBuffer   // [B, n, D] LN(middle)
        let mean2, rstd2: MMDiTBuffer  // [B · n]
        let modulated2: MMDiTBuffer    // [B, n, D] FF input
        let hidden: MMDiTBuffer        // [B, n, F] first FF Linear
        let activated: MMDiTBuffer     // [B, n, F] GELU(hidden)
        let feedForward: MMDiTBuffer   // [B, n, D] second FF Linear
        // Gradients (scratch of backward).
        let dModulated, dNormalized, dAttention, dMiddle, dFeedForward: MMDiTBuffer  // [B, n, D]
        let dActivated, dHidden: MMDiTBuffer                                        // [B, n, F]

        init(batch: Int, tokens: Int, width: Int) {
            self.tokens = tokens
            let rows = batch * tokens, wide = rows * width
            func make(_ count: Int) -> MMDiTBuffer { MMDiTBuffer(count) }
            normalized = make(wide); mean = make(rows); rstd = make(rows); modulated = make(wide)
            attention = make(wide); middle = make(wide); normalized2 = make(wide)
            mean2 = make(rows); rstd2 = make(rows); modulated2 = make(wide)
            hidden = make(4 * wide); activated = make(4 * wide); feedForward = make(wide)
            dModulated = make(wide); dNormalized = make(wide); dAttention = make(wide)
            dMiddle = make(wide); dFeedForward = make(wide)
            dActivated = make(4 * wide); dHidden = make(4 * wide)
        }
    }

    /// Everything the block keeps from one forward, for the shape it was made for.
    final class Activations {
        let shape: MMDiTShape
        let image, context: Stream
        let modulation, contextModulation: MMDiTBuffer      // [B, 6D], [B, 6D or 2D]
        let queryRaw, keyRaw: MMDiTBuffer                   // [B, T, D] projections before RMSNorm
        let query, key, value: MMDiTBuffer                  // [B, T, D]
        let queryRstd, keyRstd: MMDiTBuffer                 // [B · T · H]
        let output: MMDiTBuffer                             // [B, T, D] attention output
        let probabilities: MMDiTBuffer                      // [B, H, T, T]
        // Gradients (scratch of backward).
        let dModulation, dContextModulation: MMDiTBuffer
        let dQueryRaw, dKeyRaw, dQuery, dKey, dValue, dOutput: MMDiTBuffer  // [B, T, D]
        let scratch: MMDiTBuffer                                           // [T, T]

        init(shape: MMDiTShape, block: MMDiTJointBlock) {
            self.shape = shape
            let b = shape.batch, t = shape.jointTokens, d = block.width
            image = Stream(batch: b, tokens: shape.imageTokens, width: d)
            context = Stream(batch: b, tokens: shape.contextLength, width: d)
            modulation = MMDiTBuffer(b * 6 * d)
            contextModulation = MMDiTBuffer(b * block.norm1Context.outFeatures)
            queryRaw = MMDiTBuffer(b * t * d); keyRaw = MMDiTBuffer(b * t * d)
            query = MMDiTBuffer(b * t * d); key = MMDiTBuffer(b * t * d); value = MMDiTBuffer(b * t * d)
            queryRstd = MMDiTBuffer(b * t * block.heads); keyRstd = MMDiTBuffer(b * t * block.heads)
            output = MMDiTBuffer(b * t * d)
            probabilities = MMDiTBuffer(b * block.heads * t * t)
            dModulation = MMDiTBuffer(modulation.count); dContextModulation = MMDiTBuffer(contextModulation.count)
            dQueryRaw = MMDiTBuffer(b * t * d); dKeyRaw = MMDiTBuffer(b * t * d)
            dQuery = MMDiTBuffer(b * t * d); dKey = MMDiTBuffer(b * t * d); dValue = MMDiTBuffer(b * t * d)
            dOutput = MMDiTBuffer(b * t * d)
            scratch = MMDiTBuffer(t * t)
        }
    }

    /// The offsets of (shift, scale) of a stream's first modulation in its adaLN output and that
    /// output's row width: chunks 0, 1 of 6 for AdaLayerNormZero; (1, 0) of 2 for the last
    /// block's context (AdaLayerNormContinuous chunks (scale, shift)).
    private func firstModulation(context: Bool) -> (shift: Int, scale: Int, stride: Int) {
        context && last ? (width, 0, 2 * width) : (0, width, 6 * width)
    }

    /// Visits each sample's image rows, then its context rows, with the first row's index in the
    /// joint [B, T, ·] layout and in the stream's own [B, n, ·] layout, and n.
    private func forEachSegment(_ s: MMDiTShape,
                                _ body: (_ image: Bool, _ joint: Int, _ own: Int, _ tokens: Int) -> Void) {
        for b in 0..<s.batch {
            body(true, b * s.jointTokens, b * s.imageTokens, s.imageTokens)
            body(false, b * s.jointTokens + s.imageTokens, b * s.contextLength, s.contextLength)
        }
    }

    /// Runs the block: image [B, N, D] → imageOutput, context [B, L, D] → contextOutput (the
    /// last block writes no contextOutput). The inputs must stay unchanged until backward.
    func forward(_ θ: UnsafePointer<Float>, image: UnsafePointer<Float>, context: UnsafePointer<Float>,
                 conditioning: UnsafePointer<Float>,   // [B, D] SiLU(temb)
                 imageOutput: UnsafeMutablePointer<Float>, contextOutput: UnsafeMutablePointer<Float>?,
                 _ a: Activations) {
        let s = a.shape, b = s.batch, d = width
        norm1.forward(θ, output: a.modulation.pointer, input: conditioning, rows: b)
        norm1Context.forward(θ, output: a.contextModulation.pointer, input: conditioning, rows: b)
        modulate(a.image, input: image, modulation: a.modulation.pointer, chunks: firstModulation(context: false), batch: b)
        modulate(a.context, input: context, modulation: a.contextModulation.pointer,
                 chunks: firstModulation(context: true), batch: b)
        // Joint q, k, v [B, T, D]: per sample its N image rows, then its L context rows.
        forEachSegment(s) { isImage, joint, own, tokens in
            let input = (isImage ? a.image : a.context).modulated.pointer + own * d
            for (projection, target) in isImage ? [(toQ, a.queryRaw), (toK, a.keyRaw), (toV, a.value)]
                                                : [(addQ, a.queryRaw), (addK, a.keyRaw), (addV, a.value)] {
                projection.forward(θ, output: target.pointer + joint * d, input: input, rows: tokens)
            }
            for (raw, normed, rstd, weight) in [(a.queryRaw, a.query, a.queryRstd, isImage ? normQ : normAddedQ),
                                                (a.keyRaw, a.key, a.keyRstd, isImage ? normK : normAddedK)] {
                if let weight {
                    RMSNorm.forward(output: normed.pointer + joint * d, rstd: rstd.pointer + joint * heads,
                                    input: raw.pointer + joint * d, weight: θ + weight,
                                    rows: tokens * heads, columns: headDimension, epsilon: Self.epsilon)
                } else {
                    (normed.pointer + joint * d).update(from: raw.pointer + joint * d, count: tokens * d)
                }
            }
        }
        Attention.forward(output: a.output.pointer, probabilities: a.probabilities.pointer,
                          query: a.query.pointer, key: a.key.pointer, value: a.value.pointer,
                          batch: b, tokens: s.jointTokens, heads: heads, headDimension: headDimension)
        forEachSegment(s) { isImage, joint, own, tokens in
            guard let projection = isImage ? toOut : toAddOut else { return }
            projection.forward(θ, output: (isImage ? a.image : a.context).attention.pointer + own * d,
                               input: a.output.pointer + joint * d, rows: tokens)
        }
        finish(θ, a.image, input: image, output: imageOutput, modulation: a.modulation.pointer,
               feedForward: (ff0, ff2), batch: b)
        if let contextOutput, let ffContext0, let ffContext2 {
            finish(θ, a.context, input: context, output: contextOutput, modulation: a.contextModulation.pointer,
                   feedForward: (ffContext0, ffContext2), batch: b)
        }
    }

    /// LN(x)(1 + scale) + shift into the stream's `modulated`.
    private func modulate(_ stream: Stream, input: UnsafePointer<Float>, modulation: UnsafePointer<Float>,
                          chunks: (shift: Int, scale: Int, stride: Int), batch: Int) {
        LayerNorm.forward(output: stream.normalized.pointer, mean: stream.mean.pointer, rstd: stream.rstd.pointer,
                          input: input, rows: batch * stream.tokens, columns: width, epsilon: Self.epsilon)
        Modulation.forward(output: stream.modulated.pointer, input: stream.normalized.pointer,
                           scale: modulation + chunks.scale, shift: modulation + chunks.shift,
                           batch: batch, tokens: stream.tokens, features: width, conditionStride: chunks.stride)
    }

    /// The gated attention residual and the modulated, gated feed-forward of one stream
    /// (adaLN-Zero chunks gate_msa 2, shift_mlp 3, scale_mlp 4, gate_mlp 5).
    private func finish(_ θ: UnsafePointer<Float>, _ stream: Stream, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                        modulation m: UnsafePointer<Float>, feedForward: (LinearTensors, LinearTensors), batch: Int) {
        let d = width, n = stream.tokens, rows = batch * n, stride = 6 * d
        GatedResidual.forward(output: stream.middle.pointer, residual: input, input: stream.attention.pointer,
                              gate: m + 2 * d, batch: batch, tokens: n, features: d, conditionStride: stride)
        LayerNorm.forward(output: stream.normalized2.pointer, mean: stream.mean2.pointer, rstd: stream.rstd2.pointer,
                          input: stream.middle.pointer, rows: rows, columns: d, epsilon: Self.epsilon)
        Modulation.forward(output: stream.modulated2.pointer, input: stream.normalized2.pointer,
                           scale: m + 4 * d, shift: m + 3 * d, batch: batch, tokens: n, features: d, conditionStride: stride)
        feedForward.0.forward(θ, output: stream.hidden.pointer, input: stream.modulated2.pointer, rows: rows)
        GELU.forward(output: stream.activated.pointer, input: stream.hidden.pointer, count: rows * 4 * d)
        feedForward.1.forward(θ, output: stream.feedForward.pointer, input: stream.activated.pointer, rows: rows)
        GatedResidual.forward(output: output, residual: stream.middle.pointer, input: stream.feedForward.pointer,
                              gate: m + 5 * d, batch: batch, tokens: n, features: d, conditionStride: stride)
    }

    /// Backward of `forward` with the activations `a` it saved: accumulates dθ into g and
    /// d(conditioning) into dConditioning, and OVERWRITES imageInputGradient [B, N, D] and
    /// contextInputGradient [B, L, D] with the gradients of the block's inputs, given those of its
    /// outputs (contextOutputGradient nil for the last block, whose context output is unused).
    func backward(_ θ: UnsafePointer<Float>, gradient g: UnsafeMutablePointer<Float>,
                  imageOutputGradient: UnsafePointer<Float>, contextOutputGradient: UnsafePointer<Float>?,
                  imageInputGradient: UnsafeMutablePointer<Float>, contextInputGradient: UnsafeMutablePointer<Float>,
                  image: UnsafePointer<Float>, context: UnsafePointer<Float>,
                  conditioning: UnsafePointer<Float>, conditioningGradient: UnsafeMutablePointer<Float>,
                  _ a: Activations) {
        let s = a.shape, b = s.batch, d = width
        a.dModulation.zero()
        a.dContextModulation.zero()
        unfinish(θ, g, a.image, outputGradient: imageOutputGradient, inputGradient: imageInputGradient,
                 input: image, modulation: a.modulation.pointer, modulationGradient: a.dModulation.pointer,
                 feedForward: (ff0, ff2), batch: b)
        if let contextOutputGradient, let ffContext0, let ffContext2 {
            unfinish(θ, g, a.context, outputGradient: contextOutputGradient, inputGradient: contextInputGradient,
                     input: context, modulation: a.contextModulation.pointer,
                     modulationGradient: a.dContextModulation.pointer, feedForward: (ffContext0, ffContext2), batch: b)
        } else {
            contextInputGradient.update(repeating: 0, count: b * s.contextLength * d)
            a.context.dAttention.zero()
        }
        a.dOutput.zero()
        forEachSegment(s) { isImage, joint, own, tokens in
            guard let projection = isImage ? toOut : toAddOut else { return }
            projection.backward(θ, gradient: g, inputGradient: a.dOutput.pointer + joint * d,
                                outputGradient: (isImage ? a.image : a.context).dAttention.pointer + own * d,
                                input: a.output.pointer + joint * d, rows: tokens)
        }
        for buffer in [a.dQuery, a.dKey, a.dValue, a.dQueryRaw, a.dKeyRaw, a.image.dModulated, a.context.dModulated] {
            buffer.zero()
        }
        Attention.backward(queryGradient: a.dQuery.pointer, keyGradient: a.dKey.pointer, valueGradient: a.dValue.pointer,
                           outputGradient: a.dOutput.pointer, query: a.query.pointer, key: a.key.pointer,
                           value: a.value.pointer, probabilities: a.probabilities.pointer, scratch: a.scratch.pointer,
                           batch: b, tokens: s.jointTokens, heads: heads, headDimension: headDimension)
        forEachSegment(s) { isImage, joint, own, tokens in
            for (raw, dRaw, dNormed, rstd, weight) in [
                (a.queryRaw, a.dQueryRaw, a.dQuery, a.queryRstd, isImage ? normQ : normAddedQ),
                (a.keyRaw, a.dKeyRaw, a.dKey, a.keyRstd, isImage ? normK : normAddedK),
            ] {
                if let weight {
                    RMSNorm.backward(inputGradient: dRaw.pointer + joint * d, weightGradient: g + weight,
                                     outputGradient: dNormed.pointer + joint * d, input: raw.pointer + joint * d,
                                     weight: θ + weight, rstd: rstd.pointer + joint * heads,
                                     rows: tokens * heads, columns: headDimension)
                } else {
                    (dRaw.pointer + joint * d).update(from: dNormed.pointer + joint * d, count: tokens * d)
                }
            }
            let stream = isImage ? a.image : a.context
            for (projection, dRaw) in isImage ? [(toQ, a.dQueryRaw), (toK, a.dKeyRaw), (toV, a.dValue)]
                                              : [(addQ, a.dQueryRaw), (addK, a.dKeyRaw), (addV, a.dValue)] {
                projection.backward(θ, gradient: g, inputGradient: stream.dModulated.pointer + own * d,
                                    outputGradient: dRaw.pointer + joint * d,
                                    input: stream.modulated.pointer + own * d, rows: tokens)
            }
        }
        unmodulate(a.image, inputGradient: imageInputGradient, input: image, modulation: a.modulation.pointer,
                   modulationGradient: a.dModulation.pointer, chunks: firstModulation(context: false), batch: b)
        unmodulate(a.context, inputGradient: contextInputGradient, input: context,
                   modulation: a.contextModulation.pointer, modulationGradient: a.dContextModulation.pointer,
                   chunks: firstModulation(context: true), batch: b)
        norm1.backward(θ, gradient: g, inputGradient: conditioningGradient, outputGradient: a.dModulation.pointer,
                       input: conditioning, rows: b)
        norm1Context.backward(θ, gradient: g, inputGradient: conditioningGradient,
                              outputGradient: a.dContextModulation.pointer, input: conditioning, rows: b)
    }

    /// Backward of `modulate`: accumulates into inputGradient and the adaLN output's gradient,
    /// from the stream's dModulated.
    private func unmodulate(_ stream: Stream, inputGradient: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                            modulation: UnsafePointer<Float>, modulationGradient: UnsafeMutablePointer<Float>,
                            chunks: (shift: Int, scale: Int, stride: Int), batch: Int) {
        stream.dNormalized.zero()
        Modulation.backward(inputGradient: stream.dNormalized.pointer, scaleGradient: modulationGradient + chunks.scale,
                            shiftGradient: modulationGradient + chunks.shift, outputGradient: stream.dModulated.pointer,
                            input: stream.normalized.pointer, scale: modulation + chunks.scale,
                            batch: batch, tokens: stream.tokens, features: width, conditionStride: chunks.stride)
        LayerNorm.backward(inputGradient: inputGradient, outputGradient: stream.dNormalized.pointer, input: input,
                           mean: stream.mean.pointer, rstd: stream.rstd.pointer,
                           rows: batch * stream.tokens, columns: width)
    }

    /// Backward of `finish`: overwrites inputGradient with d(input) through both residuals and
    /// leaves d(attention) in the stream's dAttention; accumulates dθ and the adaLN gradient.
    private func unfinish(_ θ: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ stream: Stream,
                          outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
                          input: UnsafePointer<Float>, modulation m: UnsafePointer<Float>,
                          modulationGradient dm: UnsafeMutablePointer<Float>,
                          feedForward: (LinearTensors, LinearTensors), batch: Int) {
        let d = width, n = stream.tokens, rows = batch * n, stride = 6 * d
        stream.dMiddle.copy(from: outputGradient)
        for buffer in [stream.dFeedForward, stream.dActivated, stream.dHidden, stream.dModulated,
                       stream.dNormalized, stream.dAttention] {
            buffer.zero()
        }
        GatedResidual.backward(residualGradient: nil, inputGradient: stream.dFeedForward.pointer, gateGradient: dm + 5 * d,
                               outputGradient: outputGradient, input: stream.feedForward.pointer, gate: m + 5 * d,
                               batch: batch, tokens: n, features: d, conditionStride: stride)
        feedForward.1.backward(θ, gradient: g, inputGradient: stream.dActivated.pointer,
                               outputGradient: stream.dFeedForward.pointer, input: stream.activated.pointer, rows: rows)
        GELU.backward(inputGradient: stream.dHidden.pointer, outputGradient: stream.dActivated.pointer,
                      input: stream.hidden.pointer, count: rows * 4 * d)
        feedForward.0.backward(θ, gradient: g, inputGradient: stream.dModulated.pointer,
                               outputGradient: stream.dHidden.pointer, input: stream.modulated2.pointer, rows: rows)
        Modulation.backward(inputGradient: stream.dNormalized.pointer, scaleGradient: dm + 4 * d, shiftGradient: dm + 3 * d,
                            outputGradient: stream.dModulated.pointer, input: stream.normalized2.pointer, scale: m + 4 * d,
                            batch: batch, tokens: n, features: d, conditionStride: stride)
        LayerNorm.backward(inputGradient: stream.dMiddle.pointer, outputGradient: stream.dNormalized.pointer,
                           input: stream.middle.pointer, mean: stream.mean2.pointer, rstd: stream.rstd2.pointer,
                           rows: rows, columns: d)
        inputGradient.update(from: stream.dMiddle.pointer, count: rows * d)
        GatedResidual.backward(residualGradient: nil, inputGradient: stream.dAttention.pointer, gateGradient: dm + 2 * d,
                               outputGradient: stream.dMiddle.pointer, input: stream.attention.pointer, gate: m + 2 * d,
                               batch: batch, tokens: n, features: d, conditionStride: stride)
    }
}
