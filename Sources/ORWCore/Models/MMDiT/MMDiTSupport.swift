/// A zero-filled heap Float buffer with a stable address, for the MMDiT's activations and
/// gradients (the layers take raw pointers; an Array's storage may move).
final class MMDiTBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }

    func zero() { pointer.update(repeating: 0, count: count) }
    func copy(from source: UnsafePointer<Float>) { pointer.update(from: source, count: count) }
}

/// The sizes of one pass: batch B, image tokens N = (H / p)(W / p), context tokens L, and the
/// derived T = N + L joint tokens.
struct MMDiTShape: Equatable {
    let batch: Int, height: Int, width: Int, contextLength: Int
    let patch: Int
    var rows: Int { height / patch }      // H / p
    var columns: Int { width / patch }    // W / p
    var imageTokens: Int { rows * columns }
    var jointTokens: Int { imageTokens + contextLength }
}

extension ParameterLayout {
    /// The `nn.Linear` stored as `name.weight` [O, I] and `name.bias` [O].
    func linear(_ name: String) -> LinearTensors {
        guard let weight = self["\(name).weight"], let bias = self["\(name).bias"], weight.shape.count == 2 else {
            preconditionFailure("layout has no Linear \(name)")
        }
        return LinearTensors(weight: weight.offset, bias: bias.offset,
                             inFeatures: weight.shape[1], outFeatures: weight.shape[0])
    }
}

extension LinearTensors {
    /// y [R, O] = x [R, I] · Wᵀ + b with W, b read from θ. Overwrites y.
    func forward(_ θ: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                 input: UnsafePointer<Float>, rows: Int) {
        Linear.forward(output: output, input: input, weight: θ + weight, bias: θ + bias,
                       batch: rows, inFeatures: inFeatures, outFeatures: outFeatures)
    }

    /// Accumulates dW, db into the gradient g (same layout as θ) and dx if non-nil.
    func backward(_ θ: UnsafePointer<Float>, gradient g: UnsafeMutablePointer<Float>,
                  inputGradient: UnsafeMutablePointer<Float>?, outputGradient: UnsafePointer<Float>,
                  input: UnsafePointer<Float>, rows: Int) {
        Linear.backward(inputGradient: inputGradient, weightGradient: g + weight, biasGradient: g + bias,
                        outputGradient: outputGradient, input: input, weight: θ + weight,
                        batch: rows, inFeatures: inFeatures, outFeatures: outFeatures)
    }
}
