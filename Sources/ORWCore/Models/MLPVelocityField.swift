/// v_θ(t, x) = MLP(concat(x, e(t))): `depth` blocks of Linear (width H) + SiLU, then a Linear
/// back to D. e is the sinusoidal `TimeEmbedding`.
///
/// Letters: B = batch, D = dimension, E = time-embedding width, H = hidden width,
/// L = depth, P = number of parameters.
///
/// θ holds the tensors in the order and with the names of the PyTorch module
/// `nn.Sequential(Linear(D + E, H), SiLU(), Linear(H, H), SiLU(), …, Linear(H, D))` stored as
/// `net`: `net.0.weight` [H, D + E], `net.0.bias` [H], `net.2.weight` [H, H], …,
/// `net.{2L}.weight` [D, H], `net.{2L}.bias` [D]. With L = 0 the model is one Linear(D + E, D).
public final class MLPVelocityField: VelocityField {
    public let spec: MLPArchitecture
    public let layout: ParameterLayout
    public var dimension: Int { spec.dimension }
    public var architecture: Architecture { .mlp(spec) }

    private let embedding: TimeEmbedding
    private let linears: [LinearTensors]    // [L + 1], input layer first

    private let saved = Workspace()         // activations of the last `forward`
    private let savedGradient = Workspace() // their gradients during `backward`
    private let scratch = Workspace()       // activations of `infer`
    private var savedBatch = 0              // B of the last `forward`; 0 before the first

    public init(_ spec: MLPArchitecture) {
        precondition(spec.dimension > 0 && spec.hidden > 0 && spec.depth >= 0,
                     "invalid MLP architecture \(spec)")
        self.spec = spec
        embedding = TimeEmbedding(width: spec.timeEmbedding)
        var layout = ParameterLayout()
        var linears: [LinearTensors] = []
        for layer in 0...spec.depth {
            let inFeatures = layer == 0 ? spec.dimension + spec.timeEmbedding : spec.hidden
            let outFeatures = layer == spec.depth ? spec.dimension : spec.hidden
            let weight = layout.append("net.\(2 * layer).weight", shape: [outFeatures, inFeatures])
            let bias = layout.append("net.\(2 * layer).bias", shape: [outFeatures])
            linears.append(LinearTensors(weight: weight.offset, bias: bias.offset,
                                         inFeatures: inFeatures, outFeatures: outFeatures))
        }
        self.layout = layout
        self.linears = linears
    }

    /// PyTorch's `nn.Linear` default: kaiming_uniform(a = √5) for the weight, which is
    /// U(−1/√in, 1/√in), and the same bound for the bias. Tensor number i of the layout
    /// (`net.{2l}.weight` is 2l, `net.{2l}.bias` is 2l + 1) draws its elements in order from
    /// `RandomStream(seed: seed, purpose: .initialization, sample: i)`.
    public func initialize(_ parameters: UnsafeMutablePointer<Float>, seed: UInt64) {
        for (layer, linear) in linears.enumerated() {
            let bound = 1 / Float(linear.inFeatures).squareRoot()
            for (tensor, offset, count) in [(2 * layer, linear.weight, linear.outFeatures * linear.inFeatures),
                                            (2 * layer + 1, linear.bias, linear.outFeatures)] {
                var stream = RandomStream(seed: seed, purpose: .initialization, sample: tensor)
                for i in offset..<(offset + count) {
                    parameters[i] = bound * (2 * stream.nextUniform() - 1)
                }
            }
        }
    }

    public func forward(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>,
                        x: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>) {
        savedBatch = batch
        evaluate(parameters, t: t, x: x, batch: batch, output: output, into: saved)
    }

    public func infer(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>,
                      x: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>) {
        evaluate(parameters, t: t, x: x, batch: batch, output: output, into: scratch)
    }

    public func backward(parameterGradient: UnsafeMutablePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?,
                         outputGradient: UnsafePointer<Float>,
                         parameters: UnsafePointer<Float>) {
        precondition(savedBatch > 0, "backward called before forward")
        let batch = savedBatch
        let acts = Activations(saved.base, batch: batch, spec: spec)
        let count = Activations.count(batch: batch, spec: spec)
        let grads = Activations(savedGradient.reserve(count), batch: batch, spec: spec)
        grads.base.update(repeating: 0, count: count)

        for layer in stride(from: spec.depth, through: 0, by: -1) {
            let linear = linears[layer]
            let dy = layer == spec.depth ? outputGradient : UnsafePointer(grads.preactivation(layer))
            let dx = layer > 0 ? grads.activation(layer - 1) : (inputGradient == nil ? nil : grads.input)
            Linear.backward(inputGradient: dx,
                            weightGradient: parameterGradient + linear.weight,
                            biasGradient: parameterGradient + linear.bias,
                            outputGradient: dy,
                            input: acts.layerInput(layer),
                            weight: parameters + linear.weight,
                            batch: batch, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures)
            if layer > 0 {
                SiLU.backward(inputGradient: grads.preactivation(layer - 1),
                              outputGradient: grads.activation(layer - 1),
                              input: acts.preactivation(layer - 1), count: batch * spec.hidden)
            }
        }
        if let inputGradient {
            Concat.backward(firstGradient: inputGradient, secondGradient: nil,
                            outputGradient: grads.input, batch: batch,
                            firstFeatures: spec.dimension, secondFeatures: spec.timeEmbedding)
        }
    }

    /// The forward pass shared by `forward` and `infer`; `workspace` receives the activations.
    private func evaluate(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>,
                          x: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>,
                          into workspace: Workspace) {
        precondition(batch > 0, "batch must be positive")
        let acts = Activations(workspace.reserve(Activations.count(batch: batch, spec: spec)),
                               batch: batch, spec: spec)
        embedding.forward(output: acts.embedding, t: t, batch: batch)
        Concat.forward(output: acts.input, first: x, second: acts.embedding, batch: batch,
                       firstFeatures: spec.dimension, secondFeatures: spec.timeEmbedding)
        for layer in 0...spec.depth {
            let linear = linears[layer]
            Linear.forward(output: layer == spec.depth ? output : acts.preactivation(layer),
                           input: acts.layerInput(layer),
                           weight: parameters + linear.weight, bias: parameters + linear.bias,
                           batch: batch, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures)
            if layer < spec.depth {
                SiLU.forward(output: acts.activation(layer), input: acts.preactivation(layer),
                             count: batch * spec.hidden)
            }
        }
    }
}

/// Offsets of one `nn.Linear`'s tensors in θ and its sizes.
private struct LinearTensors {
    let weight: Int       // offset of [out, in]
    let bias: Int         // offset of [out]
    let inFeatures: Int
    let outFeatures: Int
}

/// Named views into one flat activation buffer of the MLP for a batch of B, laid out as
/// embedding [B, E], input [B, D + E], then per block l < L: preactivation [B, H], activation [B, H].
/// The same layout serves the activations and their gradients.
private struct Activations {
    let base: UnsafeMutablePointer<Float>
    let batch: Int
    let spec: MLPArchitecture

    init(_ base: UnsafeMutablePointer<Float>, batch: Int, spec: MLPArchitecture) {
        self.base = base
        self.batch = batch
        self.spec = spec
    }

    static func count(batch: Int, spec: MLPArchitecture) -> Int {
        batch * (2 * spec.timeEmbedding + spec.dimension + 2 * spec.depth * spec.hidden)
    }

    var embedding: UnsafeMutablePointer<Float> { base }                        // [B, E]
    var input: UnsafeMutablePointer<Float> { base + batch * spec.timeEmbedding } // [B, D + E]

    func preactivation(_ block: Int) -> UnsafeMutablePointer<Float> {           // [B, H]
        input + batch * (spec.dimension + spec.timeEmbedding) + 2 * block * batch * spec.hidden
    }

    func activation(_ block: Int) -> UnsafeMutablePointer<Float> {              // [B, H]
        preactivation(block) + batch * spec.hidden
    }

    /// What Linear number `layer` reads: the concatenated input, or the previous block's output.
    func layerInput(_ layer: Int) -> UnsafeMutablePointer<Float> {               // [B, D + E] or [B, H]
        layer == 0 ? input : activation(layer - 1)
    }
}
