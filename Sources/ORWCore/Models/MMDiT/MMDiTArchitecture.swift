/// The configuration of Stable Diffusion 3's MMDiT, diffusers' `SD3Transformer2DModel`
/// (diffusers 0.42.1), with the field names of its `config.json` so that file decodes into it
/// directly (unknown keys such as `_class_name` are ignored). See DESIGN.md, "Conditioning and SD3".
///
/// Letters: D = inner width = heads · head dimension, C = in channels, p = patch size,
/// J = joint attention (context) width, Q = pooled width, O = out channels, M = pos_embed_max_size.
public struct MMDiTArchitecture: Codable, Equatable, Sendable {
    public var sampleSize: Int
    public var patchSize: Int
    public var inChannels: Int
    public var numLayers: Int
    public var attentionHeadDim: Int
    public var numAttentionHeads: Int
    public var jointAttentionDim: Int
    public var captionProjectionDim: Int
    public var pooledProjectionDim: Int
    public var outChannels: Int
    public var posEmbedMaxSize: Int
    public var qkNorm: String?             // "rms_norm" (SD3.5) or nil (SD3)
    public var dualAttentionLayers: [Int]  // SD3.5's MMDiT-X blocks; must be empty

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size", patchSize = "patch_size", inChannels = "in_channels"
        case numLayers = "num_layers", attentionHeadDim = "attention_head_dim"
        case numAttentionHeads = "num_attention_heads", jointAttentionDim = "joint_attention_dim"
        case captionProjectionDim = "caption_projection_dim", pooledProjectionDim = "pooled_projection_dim"
        case outChannels = "out_channels", posEmbedMaxSize = "pos_embed_max_size", qkNorm = "qk_norm"
        case dualAttentionLayers = "dual_attention_layers"
    }

    public init(sampleSize: Int, patchSize: Int, inChannels: Int, numLayers: Int, attentionHeadDim: Int,
                numAttentionHeads: Int, jointAttentionDim: Int, captionProjectionDim: Int,
                pooledProjectionDim: Int, outChannels: Int, posEmbedMaxSize: Int, qkNorm: String? = nil,
                dualAttentionLayers: [Int] = []) {
        self.sampleSize = sampleSize
        self.patchSize = patchSize
        self.inChannels = inChannels
        self.numLayers = numLayers
        self.attentionHeadDim = attentionHeadDim
        self.numAttentionHeads = numAttentionHeads
        self.jointAttentionDim = jointAttentionDim
        self.captionProjectionDim = captionProjectionDim
        self.pooledProjectionDim = pooledProjectionDim
        self.outChannels = outChannels
        self.posEmbedMaxSize = posEmbedMaxSize
        self.qkNorm = qkNorm
        self.dualAttentionLayers = dualAttentionLayers
    }

    /// Missing `qk_norm` and `dual_attention_layers` take diffusers' defaults (nil, []), as in
    /// SD3-medium's config.json, which predates them.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(sampleSize: try c.decode(Int.self, forKey: .sampleSize),
                  patchSize: try c.decode(Int.self, forKey: .patchSize),
                  inChannels: try c.decode(Int.self, forKey: .inChannels),
                  numLayers: try c.decode(Int.self, forKey: .numLayers),
                  attentionHeadDim: try c.decode(Int.self, forKey: .attentionHeadDim),
                  numAttentionHeads: try c.decode(Int.self, forKey: .numAttentionHeads),
                  jointAttentionDim: try c.decode(Int.self, forKey: .jointAttentionDim),
                  captionProjectionDim: try c.decode(Int.self, forKey: .captionProjectionDim),
                  pooledProjectionDim: try c.decode(Int.self, forKey: .pooledProjectionDim),
                  outChannels: try c.decode(Int.self, forKey: .outChannels),
                  posEmbedMaxSize: try c.decode(Int.self, forKey: .posEmbedMaxSize),
                  qkNorm: try c.decodeIfPresent(String.self, forKey: .qkNorm),
                  dualAttentionLayers: try c.decodeIfPresent([Int].self, forKey: .dualAttentionLayers) ?? [])
    }

    /// D = heads · head dimension, the width of every token.
    public var innerDim: Int { numAttentionHeads * attentionHeadDim }
    /// Whether the attention RMS-normalises each head's query and key (SD3.5).
    public var usesQKNorm: Bool { qkNorm != nil }

    /// The largest value accepted for any one size, and for any tensor's element count: far
    /// above SD3.5-large (D = 2432, 38 layers) yet small enough that no product of sizes overflows.
    public static let maximumSize = 1 << 20
    public static let maximumTensorElements = 1 << 31

    /// Why a configuration cannot be built.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Throws `Invalid` saying which field is wrong and what it must be.
    public func validate() throws(Invalid) {
        func fail(_ message: String) throws(Invalid) -> Never {
            throw Invalid(description: "MMDiT config.json: \(message)")
        }
        if !dualAttentionLayers.isEmpty {
            try fail("dual_attention_layers \(dualAttentionLayers) is not supported (SD3.5's MMDiT-X); only plain MMDiT blocks are; set it to []")
        }
        if let qkNorm, qkNorm != "rms_norm" {
            try fail("qk_norm \"\(qkNorm)\" is not supported; use \"rms_norm\" or null")
        }
        let sizes: [(String, Int)] = [
            ("sample_size", sampleSize), ("patch_size", patchSize), ("in_channels", inChannels),
            ("num_layers", numLayers), ("attention_head_dim", attentionHeadDim),
            ("num_attention_heads", numAttentionHeads), ("joint_attention_dim", jointAttentionDim),
            ("caption_projection_dim", captionProjectionDim), ("pooled_projection_dim", pooledProjectionDim),
            ("out_channels", outChannels), ("pos_embed_max_size", posEmbedMaxSize),
        ]
        for (name, value) in sizes where value < 1 || value > Self.maximumSize {
            try fail("\(name) = \(value) must be between 1 and \(Self.maximumSize)")
        }
        // Each factor is ≤ 2²⁰, so every product of two is exact; larger ones are checked.
        if innerDim > Self.maximumSize {
            try fail("num_attention_heads · attention_head_dim = \(innerDim) must be at most \(Self.maximumSize)")
        }
        if captionProjectionDim != innerDim {
            try fail("caption_projection_dim = \(captionProjectionDim) must equal num_attention_heads · attention_head_dim = \(innerDim)")
        }
        if innerDim % 4 != 0 {
            try fail("num_attention_heads · attention_head_dim = \(innerDim) must be a multiple of 4 (2-D sin-cos position embedding)")
        }
        if posEmbedMaxSize < sampleSize / patchSize {
            try fail("pos_embed_max_size = \(posEmbedMaxSize) must be at least sample_size / patch_size = \(sampleSize / patchSize)")
        }
        for (name, shape) in tensors + [positionEmbeddingBuffer] {
            var count = 1
            for extent in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: extent)
                if overflow || product > Self.maximumTensorElements {
                    try fail("tensor \(name) \(shape) has more than \(Self.maximumTensorElements) elements")
                }
                count = product
            }
        }
    }

    /// The fixed (not trained) buffer diffusers keeps in its state_dict: `PatchEmbed` registers
    /// `pos_embed.pos_embed` [1, M², D] with `persistent=True` when pos_embed_max_size is set (as
    /// for every SD3), so a model directory's safetensors holds it. It is the 2-D sin-cos table
    /// `MMDiTPositionEmbedding` computes; it is not in θ (`tensors`), and a reader may skip it (or
    /// compare it), a writer should store it so diffusers loads the file without warnings.
    public var positionEmbeddingBuffer: (name: String, shape: [Int]) {
        ("pos_embed.pos_embed", [1, posEmbedMaxSize * posEmbedMaxSize, innerDim])
    }

    /// Every trained tensor with diffusers' state_dict name and PyTorch shape, in state_dict
    /// order (the buffer `pos_embed.pos_embed` left out: `positionEmbeddingBuffer`). The patch
    /// embedding is a Conv2d [D, C, p, p] with stride p, i.e. a Linear over each patch flattened in
    /// (C, p, p) order. Block i's attention has RMSNorm weights only with qk_norm; the last block
    /// (`context_pre_only`) has a 2D-wide norm1_context (AdaLayerNormContinuous), no to_add_out
    /// and no ff_context.
    public var tensors: [(name: String, shape: [Int])] {
        let d = innerDim, h = attentionHeadDim
        var list: [(name: String, shape: [Int])] = []
        func linear(_ name: String, _ out: Int, _ input: Int) {
            list.append(("\(name).weight", [out, input]))
            list.append(("\(name).bias", [out]))
        }
        list.append(("pos_embed.proj.weight", [d, inChannels, patchSize, patchSize]))
        list.append(("pos_embed.proj.bias", [d]))
        linear("time_text_embed.timestep_embedder.linear_1", d, MMDiTTimestepEmbedding.width)
        linear("time_text_embed.timestep_embedder.linear_2", d, d)
        linear("time_text_embed.text_embedder.linear_1", d, pooledProjectionDim)
        linear("time_text_embed.text_embedder.linear_2", d, d)
        linear("context_embedder", d, jointAttentionDim)
        for i in 0..<numLayers {
            let block = "transformer_blocks.\(i)", last = i == numLayers - 1
            linear("\(block).norm1.linear", 6 * d, d)
            linear("\(block).norm1_context.linear", (last ? 2 : 6) * d, d)
            if usesQKNorm {
                list.append(("\(block).attn.norm_q.weight", [h]))
                list.append(("\(block).attn.norm_k.weight", [h]))
            }
            for projection in ["to_q", "to_k", "to_v", "add_k_proj", "add_v_proj", "add_q_proj", "to_out.0"] {
                linear("\(block).attn.\(projection)", d, d)
            }
            if !last { linear("\(block).attn.to_add_out", d, d) }
            if usesQKNorm {
                list.append(("\(block).attn.norm_added_q.weight", [h]))
                list.append(("\(block).attn.norm_added_k.weight", [h]))
            }
            linear("\(block).ff.net.0.proj", 4 * d, d)
            linear("\(block).ff.net.2", d, 4 * d)
            if !last {
                linear("\(block).ff_context.net.0.proj", 4 * d, d)
                linear("\(block).ff_context.net.2", d, 4 * d)
            }
        }
        linear("norm_out.linear", 2 * d, d)
        linear("proj_out", patchSize * patchSize * outChannels, d)
        return list
    }
}
