/// A time-dependent vector field v_θ(t, x) with a flat parameter buffer θ.
///
/// Letters in shape comments: B = batch, D = `dimension` (floats per sample), P = `layout.count`.
///
/// The model object holds the architecture and its own activation buffers, never the weights:
/// θ is passed to every call, so one model object serves the policy, the sampler and the
/// reference (three flat buffers). Buffers grow on first use with a larger batch and are then
/// reused, so a training step allocates nothing. A model object is not thread-safe.
public protocol VelocityField: AnyObject {
    /// Floats per sample, D.
    var dimension: Int { get }
    /// Names, shapes and offsets of every tensor in θ.
    var layout: ParameterLayout { get }
    /// What a checkpoint records to rebuild this model.
    var architecture: Architecture { get }

    /// Writes PyTorch's default initialisation into θ [P], drawn from `seed`.
    func initialize(_ parameters: UnsafeMutablePointer<Float>, seed: UInt64)

    /// v [B, D] = v_θ(t [B], x [B, D]); saves what `backward` needs.
    func forward(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>, x: UnsafePointer<Float>,
                 batch: Int, output: UnsafeMutablePointer<Float>)

    /// Given dL/dv [B, D] for the batch of the last `forward`, accumulates dL/dθ into
    /// `parameterGradient` [P] (+=) and, if non-nil, dL/dx into `inputGradient` [B, D] (+=).
    func backward(parameterGradient: UnsafeMutablePointer<Float>,
                  inputGradient: UnsafeMutablePointer<Float>?,
                  outputGradient: UnsafePointer<Float>,
                  parameters: UnsafePointer<Float>)

    /// v [B, D] = v_θ(t [B], x [B, D]) for inference: saves nothing and leaves the activations
    /// of the last `forward` intact.
    func infer(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>, x: UnsafePointer<Float>,
               batch: Int, output: UnsafeMutablePointer<Float>)

    /// Announces a series of `infer` calls with the same θ [P] (a rollout), which must not
    /// change until `endInference`: a model may prepare θ once (e.g. convert it to bf16).
    func beginInference(_ parameters: UnsafePointer<Float>)

    /// Ends what `beginInference` started.
    func endInference()
}

extension VelocityField {
    public func beginInference(_ parameters: UnsafePointer<Float>) {}
    public func endInference() {}
}

/// The supported architectures, as recorded in checkpoints: JSON `{"type": "mlp", …fields}`.
public enum Architecture: Codable, Equatable, Sendable {
    case mlp(MLPArchitecture)

    /// Builds a model object of this architecture.
    public func makeModel() -> any VelocityField {
        switch self {
        case .mlp(let spec): return MLPVelocityField(spec)
        }
    }

    private enum CodingKeys: String, CodingKey { case type }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "mlp": self = .mlp(try MLPArchitecture(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container,
                                                   debugDescription: "unknown architecture \"\(type)\" (supported: mlp)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .mlp(let spec):
            try container.encode("mlp", forKey: .type)
            try spec.encode(to: encoder)
        }
    }
}

/// `MLPVelocityField`'s hyperparameters.
public struct MLPArchitecture: Codable, Equatable, Sendable {
    public var dimension: Int       // D, floats per sample
    public var hidden: Int          // width of every hidden layer
    public var depth: Int           // number of Linear + SiLU blocks
    public var timeEmbedding: Int   // width of the sinusoidal embedding of t (even)

    public init(dimension: Int, hidden: Int, depth: Int, timeEmbedding: Int = 64) {
        self.dimension = dimension
        self.hidden = hidden
        self.depth = depth
        self.timeEmbedding = timeEmbedding
    }

    private enum CodingKeys: String, CodingKey {
        case dimension, hidden, depth
        case timeEmbedding = "time_embedding"
    }
}
