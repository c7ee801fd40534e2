/// An image classifier, logits = MLP(flatten(x)): one Linear + SiLU block per entry of
/// `hidden`, then a Linear to the K classes. Not a velocity field: it has no time input.
///
/// Letters: B = batch, D = input features (the product of `inputShape`), H_l = `hidden[l]`,
/// L = hidden.count, K = classes, F = feature width (H_{L−1}, or D when L = 0), P = parameters.
///
/// θ holds the tensors in the order and with the names of the PyTorch module
/// `nn.Sequential(Linear(D, H_0), SiLU(), Linear(H_0, H_1), SiLU(), …, Linear(H_{L−1}, K))`
/// stored as `net` and applied to `x.flatten(1)`: `net.0.weight` [H_0, D], `net.0.bias` [H_0],
/// `net.2.weight` [H_1, H_0], …, `net.{2L}.weight` [K, H_{L−1}], `net.{2L}.bias` [K].
public final class MLPClassifier {
    public let spec: ClassifierArchitecture
    public let layout: ParameterLayout
    /// D, floats per input sample.
    public var inputDimension: Int { spec.inputDimension }
    /// F, the width of `features`: the last hidden layer's activation.
    public var featureDimension: Int { spec.hidden.last ?? spec.inputDimension }

    private let linears: [LinearTensors]        // [L + 1], input layer first
    private let saved = Workspace()          // activations of the last `forward`
    private let savedGradient = Workspace()  // their gradients during `backward`
    private let scratch = Workspace()        // activations of `infer`
    private var savedInput: UnsafePointer<Float>?
    private var savedBatch = 0

    public init(_ spec: ClassifierArchitecture) {
        precondition(spec.inputDimension > 0 && spec.classes > 1 && spec.hidden.allSatisfy { $0 > 0 },
                     "invalid classifier architecture \(spec)")
        self.spec = spec
        var layout = ParameterLayout()
        var linears: [LinearTensors] = []
        let widths = [spec.inputDimension] + spec.hidden + [spec.classes]
        for layer in 0..<(widths.count - 1) {
            let weight = layout.append("net.\(2 * layer).weight", shape: [widths[layer + 1], widths[layer]])
            let bias = layout.append("net.\(2 * layer).bias", shape: [widths[layer + 1]])
            linears.append(LinearTensors(weight: weight.offset, bias: bias.offset,
                                      inFeatures: widths[layer], outFeatures: widths[layer + 1]))
        }
        self.layout = layout
        self.linears = linears
    }

    /// PyTorch's `nn.Linear` default, U(−1/√in, 1/√in) for weight and bias; tensor number i of
    /// the layout draws from `RandomStream(seed: seed, purpose: .initialization, sample: i)`.
    public func initialize(_ parameters: UnsafeMutablePointer<Float>, seed: UInt64) {
        for (index, tensor) in layout.tensors.enumerated() {
            let bound = 1 / Float(linears[index / 2].inFeatures).squareRoot()
            var stream = RandomStream(seed: seed, purpose: .initialization, sample: index)
            for i in tensor.range { parameters[i] = bound * (2 * stream.nextUniform() - 1) }
        }
    }

    /// logits [B, K] for x [B, D]; saves what `backward` needs (including the pointer `x`, which
    /// must stay valid until `backward`).
    public func forward(_ parameters: UnsafePointer<Float>, x: UnsafePointer<Float>, batch: Int,
                        logits: UnsafeMutablePointer<Float>) {
        savedInput = x
        savedBatch = batch
        evaluate(parameters, x: x, batch: batch, logits: logits, features: nil, into: saved)
    }

    /// logits [B, K] and, if non-nil, the penultimate features [B, F] (the last hidden layer's
    /// activation, for diversity and FID-style metrics). Saves nothing.
    public func infer(_ parameters: UnsafePointer<Float>, x: UnsafePointer<Float>, batch: Int,
                      logits: UnsafeMutablePointer<Float>, features: UnsafeMutablePointer<Float>? = nil) {
        evaluate(parameters, x: x, batch: batch, logits: logits, features: features, into: scratch)
    }

    /// Given dL/dlogits [B, K] for the batch of the last `forward`, accumulates dL/dθ into
    /// `parameterGradient` [P] (+=).
    public func backward(parameterGradient: UnsafeMutablePointer<Float>, logitGradient: UnsafePointer<Float>,
                         parameters: UnsafePointer<Float>) {
        guard let input = savedInput, savedBatch > 0 else { preconditionFailure("backward called before forward") }
        let batch = savedBatch
        let acts = ClassifierActivations(saved.base, batch: batch, hidden: spec.hidden)
        let grads = ClassifierActivations(savedGradient.reserve(acts.count), batch: batch, hidden: spec.hidden)
        grads.base.update(repeating: 0, count: acts.count)
        for layer in stride(from: linears.count - 1, through: 0, by: -1) {
            let linear = linears[layer]
            let dy = layer == linears.count - 1 ? logitGradient : UnsafePointer(grads.preactivation(layer))
            Linear.backward(inputGradient: layer > 0 ? grads.activation(layer - 1) : nil,
                            weightGradient: parameterGradient + linear.weight,
                            biasGradient: parameterGradient + linear.bias,
                            outputGradient: dy,
                            input: layer > 0 ? UnsafePointer(acts.activation(layer - 1)) : input,
                            weight: parameters + linear.weight,
                            batch: batch, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures)
            if layer > 0 {
                SiLU.backward(inputGradient: grads.preactivation(layer - 1), outputGradient: grads.activation(layer - 1),
                              input: acts.preactivation(layer - 1), count: batch * linear.inFeatures)
            }
        }
    }

    private func evaluate(_ parameters: UnsafePointer<Float>, x: UnsafePointer<Float>, batch: Int,
                          logits: UnsafeMutablePointer<Float>, features: UnsafeMutablePointer<Float>?,
                          into workspace: Workspace) {
        precondition(batch > 0, "batch must be positive")
        let count = ClassifierActivations.count(batch: batch, hidden: spec.hidden)
        let acts = ClassifierActivations(workspace.reserve(count), batch: batch, hidden: spec.hidden)
        for (layer, linear) in linears.enumerated() {
            let last = layer == linears.count - 1
            Linear.forward(output: last ? logits : acts.preactivation(layer),
                           input: layer > 0 ? UnsafePointer(acts.activation(layer - 1)) : x,
                           weight: parameters + linear.weight, bias: parameters + linear.bias,
                           batch: batch, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures)
            if !last {
                SiLU.forward(output: acts.activation(layer), input: acts.preactivation(layer), count: batch * linear.outFeatures)
            }
        }
        if let features {
            let source = spec.hidden.isEmpty ? x : UnsafePointer(acts.activation(spec.hidden.count - 1))
            features.update(from: source, count: batch * featureDimension)
        }
    }
}

/// `MLPClassifier`'s hyperparameters, as recorded in its file: JSON
/// `{"type": "mlp-classifier", "input_shape": [1, 28, 28], "hidden": [512, 256], "classes": 10}`.
public struct ClassifierArchitecture: Codable, Equatable, Sendable {
    public var inputShape: [Int]    // one sample, e.g. [1, 28, 28] (C, H, W)
    public var hidden: [Int]        // widths of the Linear + SiLU blocks
    public var classes: Int         // K

    public static let typeName = "mlp-classifier"

    public init(inputShape: [Int], hidden: [Int], classes: Int) {
        self.inputShape = inputShape
        self.hidden = hidden
        self.classes = classes
    }

    public var inputDimension: Int { inputShape.reduce(1, *) }

    private enum CodingKeys: String, CodingKey {
        case type, hidden, classes
        case inputShape = "input_shape"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        guard type == Self.typeName else {
            throw DecodingError.dataCorruptedError(forKey: .type, in: container,
                                                   debugDescription: "unknown classifier type \"\(type)\" (supported: \(Self.typeName))")
        }
        inputShape = try container.decode([Int].self, forKey: .inputShape)
        hidden = try container.decode([Int].self, forKey: .hidden)
        classes = try container.decode(Int.self, forKey: .classes)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.typeName, forKey: .type)
        try container.encode(inputShape, forKey: .inputShape)
        try container.encode(hidden, forKey: .hidden)
        try container.encode(classes, forKey: .classes)
    }
}

/// Named views into one flat activation buffer for a batch of B: per hidden block l,
/// preactivation [B, H_l] then activation [B, H_l]. The same layout serves the gradients.
private struct ClassifierActivations {
    let base: UnsafeMutablePointer<Float>
    let batch: Int
    let offsets: [Int]     // start of block l's preactivation
    let hidden: [Int]

    init(_ base: UnsafeMutablePointer<Float>, batch: Int, hidden: [Int]) {
        self.base = base
        self.batch = batch
        self.hidden = hidden
        var offsets: [Int] = [], next = 0
        for width in hidden {
            offsets.append(next)
            next += 2 * batch * width
        }
        self.offsets = offsets
    }

    static func count(batch: Int, hidden: [Int]) -> Int { 2 * batch * hidden.reduce(0, +) }
    var count: Int { Self.count(batch: batch, hidden: hidden) }

    func preactivation(_ block: Int) -> UnsafeMutablePointer<Float> { base + offsets[block] }                 // [B, H_l]
    func activation(_ block: Int) -> UnsafeMutablePointer<Float> { base + offsets[block] + batch * hidden[block] } // [B, H_l]
}
