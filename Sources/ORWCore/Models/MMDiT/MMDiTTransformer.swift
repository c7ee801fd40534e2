/// Stable Diffusion 3's MMDiT, diffusers' `SD3Transformer2DModel` (0.42.1), as pure math over a
/// flat θ laid out by `MMDiTArchitecture.tensors` (diffusers' names and shapes): forward saving
/// activations, backward, and inference. See DESIGN.md, "Conditioning and SD3".
///
/// The output is exactly diffusers' `sample` for (hidden_states = latents, timestep,
/// encoder_hidden_states = context, pooled_projections = pooled): no orwdist sign or time
/// convention is applied here (an adapter does v = −sample at timestep = 1000(1 − t)).
///
///   tokens = pos_embed.proj(patches(x)) + crop(pos_embed)           [B, N, D]
///   temb = timestep_embedder(Timesteps(τ)) + text_embedder(pooled)   [B, D]; s = SiLU(temb)
///   c = context_embedder(context)                                    [B, L, D]
///   (tokens, c) ← joint block i (s) for every i (the last outputs no c)
///   sample = unpatchify(proj_out(LN(tokens)(1 + scale) + shift)), (scale, shift) = norm_out.linear(s)
///
/// Letters: B = batch, C = in channels, H × W = latent size, p = patch, N = (H/p)(W/p),
/// L = context tokens, J = joint_attention_dim, Q = pooled width, D = inner width,
/// O = out channels, E = 256 timestep features.
public final class MMDiTTransformer {
    public let architecture: MMDiTArchitecture
    public let layout: ParameterLayout

    private let patchEmbed: LinearTensors                 // Conv2d [D, C, p, p] as Linear(C p p → D)
    private let timestep1, timestep2, pooled1, pooled2, contextEmbedder: LinearTensors
    private let blocks: [MMDiTJointBlock]
    private let normOut, projOut: LinearTensors
    private static let epsilon: Float = 1e-6

    private var saved: Activations?       // of the last `forward`
    private var inference: Activations?   // scratch of `infer`

    /// Traps on an invalid architecture: call `architecture.validate()` first on untrusted input.
    public init(_ architecture: MMDiTArchitecture) {
        do { try architecture.validate() } catch { preconditionFailure(error.description) }
        self.architecture = architecture
        var layout = ParameterLayout()
        for (name, shape) in architecture.tensors { layout.append(name, shape: shape) }
        self.layout = layout
        let a = architecture, patchFeatures = a.inChannels * a.patchSize * a.patchSize
        patchEmbed = LinearTensors(weight: layout["pos_embed.proj.weight"]!.offset,
                                   bias: layout["pos_embed.proj.bias"]!.offset,
                                   inFeatures: patchFeatures, outFeatures: a.innerDim)
        timestep1 = layout.linear("time_text_embed.timestep_embedder.linear_1")
        timestep2 = layout.linear("time_text_embed.timestep_embedder.linear_2")
        pooled1 = layout.linear("time_text_embed.text_embedder.linear_1")
        pooled2 = layout.linear("time_text_embed.text_embedder.linear_2")
        contextEmbedder = layout.linear("context_embedder")
        blocks = (0..<a.numLayers).map { MMDiTJointBlock(index: $0, architecture: a, layout: layout) }
        normOut = layout.linear("norm_out.linear")
        projOut = layout.linear("proj_out")
    }

    /// What one pass keeps: its inputs' copies, every activation, and backward's scratch.
    final class Activations {
        let shape: MMDiTShape
        let patches: MMDiTBuffer          // [B, N, C p p]
        let positions: [Float]            // [N, D] centre crop of the fixed position table
        let context, pooled: MMDiTBuffer  // [B, L, J], [B, Q] copies of the inputs
        let features: MMDiTBuffer         // [B, E] timestep features
        let time1, time1Silu, pooled1, pooled1Silu: MMDiTBuffer  // [B, D]
        let pooledEmbedding: MMDiTBuffer                         // [B, D] text_embedder(pooled)
        let embedding, conditioning: MMDiTBuffer                 // [B, D] temb, SiLU(temb)
        let images: [MMDiTBuffer]         // [layers + 1] × [B, N, D]: block inputs, then the last output
        let contexts: [MMDiTBuffer]       // [layers] × [B, L, D]: block context inputs
        let blocks: [MMDiTJointBlock.Activations]
        let normalized, modulated: MMDiTBuffer  // [B, N, D] final LN and modulation
        let mean, rstd: MMDiTBuffer             // [B · N]
        let modulation: MMDiTBuffer             // [B, 2D] norm_out.linear (scale, shift)
        let projected: MMDiTBuffer              // [B, N, p p O]
        // Backward scratch.
        let dImage, dImageNext: MMDiTBuffer        // [B, N, D]
        let dContext, dContextNext: MMDiTBuffer    // [B, L, D]
        let dConditioning, dEmbedding, dHidden, dHiddenSilu: MMDiTBuffer  // [B, D]
        let dModulation: MMDiTBuffer               // [B, 2D]
        let dProjected: MMDiTBuffer                // [B, N, p p O]
        let dPatches: MMDiTBuffer                  // [B, N, C p p]

        /// training: false (inference) keeps one block's activations shared by every block and two
        /// ping-pong stream buffers, and no backward scratch.
        init(shape s: MMDiTShape, model: MMDiTTransformer, training: Bool) {
            shape = s
            let a = model.architecture, b = s.batch, n = s.imageTokens, l = s.contextLength, d = a.innerDim
            let g = training ? 1 : 0  // backward scratch only for training
            let patchFeatures = a.inChannels * a.patchSize * a.patchSize
            let outFeatures = a.patchSize * a.patchSize * a.outChannels
            patches = MMDiTBuffer(b * n * patchFeatures)
            positions = MMDiTPositionEmbedding.crop(a, rows: s.rows, columns: s.columns)
            context = MMDiTBuffer(b * l * a.jointAttentionDim)
            pooled = MMDiTBuffer(b * a.pooledProjectionDim)
            features = MMDiTBuffer(b * MMDiTTimestepEmbedding.width)
            time1 = MMDiTBuffer(b * d); time1Silu = MMDiTBuffer(b * d)
            pooled1 = MMDiTBuffer(b * d); pooled1Silu = MMDiTBuffer(b * d)
            pooledEmbedding = MMDiTBuffer(b * d)
            embedding = MMDiTBuffer(b * d); conditioning = MMDiTBuffer(b * d)
            if training {
                images = (0...a.numLayers).map { _ in MMDiTBuffer(b * n * d) }
                contexts = (0..<a.numLayers).map { _ in MMDiTBuffer(b * l * d) }
                blocks = model.blocks.map { MMDiTJointBlock.Activations(shape: s, block: $0) }
            } else {
                let image = [MMDiTBuffer(b * n * d), MMDiTBuffer(b * n * d)]
                let context = [MMDiTBuffer(b * l * d), MMDiTBuffer(b * l * d)]
                images = (0...a.numLayers).map { image[$0 % 2] }
                contexts = (0..<a.numLayers).map { context[$0 % 2] }
                // The first block's adaLN width (6D) covers every block's (the last's is 2D).
                let shared = MMDiTJointBlock.Activations(shape: s, block: model.blocks[0])
                blocks = model.blocks.map { _ in shared }
            }
            normalized = MMDiTBuffer(b * n * d); modulated = MMDiTBuffer(b * n * d)
            mean = MMDiTBuffer(b * n); rstd = MMDiTBuffer(b * n)
            modulation = MMDiTBuffer(b * 2 * d)
            projected = MMDiTBuffer(b * n * outFeatures)
            dImage = MMDiTBuffer(g * b * n * d); dImageNext = MMDiTBuffer(g * b * n * d)
            dContext = MMDiTBuffer(g * b * l * d); dContextNext = MMDiTBuffer(g * b * l * d)
            dConditioning = MMDiTBuffer(g * b * d); dEmbedding = MMDiTBuffer(g * b * d)
            dHidden = MMDiTBuffer(g * b * d); dHiddenSilu = MMDiTBuffer(g * b * d)
            dModulation = MMDiTBuffer(g * b * 2 * d)
            dProjected = MMDiTBuffer(g * b * n * outFeatures)
            dPatches = MMDiTBuffer(g * b * n * patchFeatures)
        }
    }

    private func shape(batch: Int, height: Int, width: Int, contextLength: Int) -> MMDiTShape {
        let a = architecture, p = a.patchSize
        precondition(batch > 0 && contextLength > 0, "MMDiT: batch \(batch) and context length \(contextLength) must be positive")
        precondition(height > 0 && width > 0 && height % p == 0 && width % p == 0,
                     "MMDiT: latent size \(height)×\(width) must be a positive multiple of patch_size \(p)")
        precondition(height / p <= a.posEmbedMaxSize && width / p <= a.posEmbedMaxSize,
                     "MMDiT: latent size \(height)×\(width) exceeds pos_embed_max_size \(a.posEmbedMaxSize) patches")
        return MMDiTShape(batch: batch, height: height, width: width, contextLength: contextLength, patch: p)
    }

    /// sample [B, O, H, W] for latents [B, C, H, W], timestep τ [B] (diffusers' 1000σ), context
    /// [B, L, J] and pooled [B, Q]; saves the activations for `backward`. Overwrites output.
    public func forward(parameters θ: UnsafePointer<Float>, latents: UnsafePointer<Float>,
                        timestep: UnsafePointer<Float>, context: UnsafePointer<Float>, pooled: UnsafePointer<Float>,
                        batch: Int, height: Int, width: Int, contextLength: Int,
                        output: UnsafeMutablePointer<Float>) {
        let s = shape(batch: batch, height: height, width: width, contextLength: contextLength)
        run(θ, latents: latents, timestep: timestep, context: context, pooled: pooled, output: output,
            activations(s, training: true))
    }

    /// `forward` without keeping its activations for backward: it runs in buffers of its own (one
    /// block's activations reused by every block, no backward scratch), so a forward's saved state survives (the reference model and rollouts between a policy's
    /// forward and backward).
    public func infer(parameters θ: UnsafePointer<Float>, latents: UnsafePointer<Float>,
                      timestep: UnsafePointer<Float>, context: UnsafePointer<Float>, pooled: UnsafePointer<Float>,
                      batch: Int, height: Int, width: Int, contextLength: Int, output: UnsafeMutablePointer<Float>) {
        run(θ, latents: latents, timestep: timestep, context: context, pooled: pooled, output: output,
            activations(shape(batch: batch, height: height, width: width, contextLength: contextLength), training: false))
    }

    /// The buffers of a pass of shape s, `saved` (for backward) or `inference`, reallocated
    /// when the shape changes.
    private func activations(_ s: MMDiTShape, training: Bool) -> Activations {
        let current = training ? saved : inference
        if let current, current.shape == s { return current }
        let fresh = Activations(shape: s, model: self, training: training)
        if training { saved = fresh } else { inference = fresh }
        return fresh
    }

    private func run(_ θ: UnsafePointer<Float>, latents: UnsafePointer<Float>, timestep: UnsafePointer<Float>,
                     context: UnsafePointer<Float>, pooled: UnsafePointer<Float>,
                     output: UnsafeMutablePointer<Float>, _ v: Activations) {
        let a = architecture, s = v.shape, b = s.batch, d = a.innerDim, n = s.imageTokens
        v.context.copy(from: context)
        v.pooled.copy(from: pooled)
        // Patch embedding and the centre crop of the position table.
        MMDiTPatches.gather(tokens: v.patches.pointer, image: latents, s, channels: a.inChannels, channelsLast: false)
        patchEmbed.forward(θ, output: v.images[0].pointer, input: v.patches.pointer, rows: b * n)
        v.positions.withUnsafeBufferPointer { positions in
            for sample in 0..<b {
                let tokens = v.images[0].pointer + sample * n * d
                for k in 0..<(n * d) { tokens[k] += positions[k] }
            }
        }
        // Conditioning: temb = timestep_embedder(features) + text_embedder(pooled), s = SiLU(temb).
        MMDiTTimestepEmbedding.forward(output: v.features.pointer, timestep: timestep, batch: b)
        timestep1.forward(θ, output: v.time1.pointer, input: v.features.pointer, rows: b)
        SiLU.forward(output: v.time1Silu.pointer, input: v.time1.pointer, count: b * d)
        timestep2.forward(θ, output: v.embedding.pointer, input: v.time1Silu.pointer, rows: b)
        pooled1.forward(θ, output: v.pooled1.pointer, input: v.pooled.pointer, rows: b)
        SiLU.forward(output: v.pooled1Silu.pointer, input: v.pooled1.pointer, count: b * d)
        pooled2.forward(θ, output: v.pooledEmbedding.pointer, input: v.pooled1Silu.pointer, rows: b)
        for k in 0..<(b * d) { v.embedding.pointer[k] += v.pooledEmbedding.pointer[k] }
        SiLU.forward(output: v.conditioning.pointer, input: v.embedding.pointer, count: b * d)
        contextEmbedder.forward(θ, output: v.contexts[0].pointer, input: v.context.pointer, rows: b * s.contextLength)
        for (i, block) in blocks.enumerated() {
            block.forward(θ, image: v.images[i].pointer, context: v.contexts[i].pointer,
                          conditioning: v.conditioning.pointer, imageOutput: v.images[i + 1].pointer,
                          contextOutput: i + 1 < blocks.count ? v.contexts[i + 1].pointer : nil, v.blocks[i])
        }
        // norm_out (AdaLayerNormContinuous: chunks scale, shift), proj_out, unpatchify.
        normOut.forward(θ, output: v.modulation.pointer, input: v.conditioning.pointer, rows: b)
        LayerNorm.forward(output: v.normalized.pointer, mean: v.mean.pointer, rstd: v.rstd.pointer,
                          input: v.images[blocks.count].pointer, rows: b * n, columns: d, epsilon: Self.epsilon)
        Modulation.forward(output: v.modulated.pointer, input: v.normalized.pointer, scale: v.modulation.pointer,
                           shift: v.modulation.pointer + d, batch: b, tokens: n, features: d, conditionStride: 2 * d)
        projOut.forward(θ, output: v.projected.pointer, input: v.modulated.pointer, rows: b * n)
        MMDiTPatches.scatter(image: output, tokens: v.projected.pointer, s, channels: a.outChannels,
                             channelsLast: true, accumulate: false)
    }

    /// Backward of the last `forward` (same θ, which must be unchanged): accumulates dθ into
    /// parameterGradient and, if non-nil, d(latents) [B, C, H, W] into latentGradient, given
    /// d(sample) outputGradient [B, O, H, W]. The timestep, context and pooled get no gradient.
    public func backward(parameterGradient g: UnsafeMutablePointer<Float>, latentGradient: UnsafeMutablePointer<Float>?,
                         outputGradient: UnsafePointer<Float>, parameters θ: UnsafePointer<Float>) {
        guard let v = saved else { preconditionFailure("MMDiTTransformer.backward before forward") }
        let a = architecture, s = v.shape, b = s.batch, d = a.innerDim, n = s.imageTokens
        // unpatchify, proj_out, norm_out.
        MMDiTPatches.gather(tokens: v.dProjected.pointer, image: outputGradient, s, channels: a.outChannels, channelsLast: true)
        v.dImage.zero()
        let dModulated = v.dImageNext  // [B, N, D] scratch
        dModulated.zero()
        projOut.backward(θ, gradient: g, inputGradient: dModulated.pointer, outputGradient: v.dProjected.pointer,
                         input: v.modulated.pointer, rows: b * n)
        let dNormalized = v.blocks.last!.image.dNormalized  // [B, N, D] scratch
        dNormalized.zero()
        v.dModulation.zero()
        Modulation.backward(inputGradient: dNormalized.pointer, scaleGradient: v.dModulation.pointer,
                            shiftGradient: v.dModulation.pointer + d, outputGradient: dModulated.pointer,
                            input: v.normalized.pointer, scale: v.modulation.pointer,
                            batch: b, tokens: n, features: d, conditionStride: 2 * d)
        LayerNorm.backward(inputGradient: v.dImage.pointer, outputGradient: dNormalized.pointer,
                           input: v.images[blocks.count].pointer, mean: v.mean.pointer, rstd: v.rstd.pointer,
                           rows: b * n, columns: d)
        v.dConditioning.zero()
        normOut.backward(θ, gradient: g, inputGradient: v.dConditioning.pointer, outputGradient: v.dModulation.pointer,
                         input: v.conditioning.pointer, rows: b)
        // Blocks, last first; gradients ping-pong between the two buffers of each stream.
        var dImage = v.dImage, dImageNext = v.dImageNext, dContext = v.dContext, dContextNext = v.dContextNext
        for (i, block) in blocks.enumerated().reversed() {
            block.backward(θ, gradient: g, imageOutputGradient: dImage.pointer,
                           contextOutputGradient: i + 1 < blocks.count ? dContext.pointer : nil,
                           imageInputGradient: dImageNext.pointer, contextInputGradient: dContextNext.pointer,
                           image: v.images[i].pointer, context: v.contexts[i].pointer,
                           conditioning: v.conditioning.pointer, conditioningGradient: v.dConditioning.pointer, v.blocks[i])
            swap(&dImage, &dImageNext)
            swap(&dContext, &dContextNext)
        }
        contextEmbedder.backward(θ, gradient: g, inputGradient: nil, outputGradient: dContext.pointer,
                                 input: v.context.pointer, rows: b * s.contextLength)
        // Conditioning: through SiLU(temb) into both embedders.
        v.dEmbedding.zero()
        SiLU.backward(inputGradient: v.dEmbedding.pointer, outputGradient: v.dConditioning.pointer,
                      input: v.embedding.pointer, count: b * d)
        for (first, second, input, hidden, hiddenSilu) in [
            (timestep1, timestep2, v.features, v.time1, v.time1Silu),
            (pooled1, pooled2, v.pooled, v.pooled1, v.pooled1Silu),
        ] {
            v.dHiddenSilu.zero()
            v.dHidden.zero()
            second.backward(θ, gradient: g, inputGradient: v.dHiddenSilu.pointer, outputGradient: v.dEmbedding.pointer,
                            input: hiddenSilu.pointer, rows: b)
            SiLU.backward(inputGradient: v.dHidden.pointer, outputGradient: v.dHiddenSilu.pointer,
                          input: hidden.pointer, count: b * d)
            first.backward(θ, gradient: g, inputGradient: nil, outputGradient: v.dHidden.pointer,
                           input: input.pointer, rows: b)
        }
        // Patch embedding (the position table is fixed).
        if latentGradient != nil { v.dPatches.zero() }
        patchEmbed.backward(θ, gradient: g, inputGradient: latentGradient == nil ? nil : v.dPatches.pointer,
                            outputGradient: dImage.pointer, input: v.patches.pointer, rows: b * n)
        if let latentGradient {
            MMDiTPatches.scatter(image: latentGradient, tokens: v.dPatches.pointer, s, channels: a.inChannels,
                                 channelsLast: false, accumulate: true)
        }
    }
}
