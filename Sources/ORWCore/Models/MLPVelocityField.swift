import Foundation

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

    /// The GEMM backend of each Linear, input layer first ([L + 1]); `.openblas` by default.
    public var gemmBackends: [GEMMBackend] {
        didSet {
            precondition(gemmBackends.count == linears.count,
                         "gemmBackends needs \(linears.count) entries (one per Linear), got \(gemmBackends.count)")
        }
    }

    /// The precision of rollouts: the `infer` calls between `beginInference` and `endInference`
    /// (`ODEIntegrator.sample`). `.bf16` runs every Linear through oneDNN with bf16 weights and
    /// activations and fp32 accumulation, bias and output; θ stays fp32. Every other pass
    /// (`forward`, `backward`, the reference's `infer`) is fp32.
    public var rolloutPrecision: Precision = .fp32

    /// The precision of the training passes, `forward` and `backward` (the policy's). `.bf16`
    /// runs every Linear's products through oneDNN with bf16 operands (θ, each layer's input
    /// and output gradient rounded once per pass) and fp32 accumulation; activations, bias,
    /// SiLU, the gradient and everything after it stay fp32. `infer` (the reference,
    /// evaluations) is not affected.
    public var trainingPrecision: Precision = .fp32
    private let train16 = TypedWorkspace<UInt16>()   // bf16 θ [P], each layer's input [B, I_l], then dy [B, max O]

    private let embedding: TimeEmbedding
    private let linears: [LinearTensors]    // [L + 1], input layer first

    private let saved = Workspace()         // activations of the last `forward`
    private let savedTimes = Workspace()    // t [B] of the last `forward`
    private let savedGradient = Workspace() // 2 × [B, H] ping-pong gradients during `backward`
    private let scratch = Workspace()       // activations of `infer`
    private let scratch16 = TypedWorkspace<UInt16>()   // bf16 activations of `infer`
    private let weights16 = TypedWorkspace<UInt16>()   // [P] bf16 copy of θ for bf16 `infer`
    private var weights16Source: UnsafePointer<Float>? // θ that `weights16` holds, between begin/endInference
    private var session: UnsafePointer<Float>?          // θ of the running inference session (a rollout)
    private var sessionNumber = 0                       // counts beginInference calls
    private var packs: [PackKey: PackedLayers] = [:]    // oneDNN matmuls with packed weights, per batch and precision
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
        gemmBackends = Array(repeating: .openblas, count: linears.count)
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

    /// The matrix products one pass over a batch performs, for FLOP counts and benchmarks.
    /// `inferSharedTime` is an `infer` whose samples all have the same t (a rollout): its first
    /// layer multiplies only x [B, D], the embedding's product being one row.
    public func matrixProducts(batch: Int, pass: MLPPass) -> [MatrixProduct] {
        var products: [MatrixProduct] = []
        for (layer, linear) in linears.enumerated() {
            let (i, o) = (linear.inFeatures, linear.outFeatures)
            switch pass {
            case .inferSharedTime where layer == 0:
                products.append(MatrixProduct(m: batch, n: o, k: spec.dimension, transposeA: false, transposeB: true, layer: layer))
                products.append(MatrixProduct(m: 1, n: o, k: spec.timeEmbedding, transposeA: false, transposeB: true, layer: layer))
            case .inferSharedTime, .forward:
                products.append(MatrixProduct(m: batch, n: o, k: i, transposeA: false, transposeB: true, layer: layer))
            case .backward:
                products.append(MatrixProduct(m: o, n: i, k: batch, transposeA: true, transposeB: false, layer: layer))     // dW = dyᵀ x
                if layer > 0 {
                    products.append(MatrixProduct(m: batch, n: i, k: o, transposeA: false, transposeB: false, layer: layer)) // dx = dy W
                }
            }
        }
        return products
    }

    public func forward(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>,
                        x: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>) {
        precondition(batch > 0, "batch must be positive")
        savedBatch = batch
        savedTimes.reserve(batch).update(from: t, count: batch)
        let acts = Activations(saved.reserve(Activations.count(batch: batch, spec: spec)), batch: batch, spec: spec)
        embedding.forward(output: acts.embedding, t: t, batch: batch)
        evaluateConcatenated(parameters, x: x, batch: batch, output: output, acts: acts, keepPreactivations: true,
                             bfloat16: trainingPrecision == .bf16)
    }

    /// Where layer `layer`'s bf16 input starts in `train16` (after θ); `layer` = L + 1 gives
    /// the start of the bf16 output gradient.
    private func inputs16Offset(_ layer: Int, batch: Int) -> Int {
        layout.count + linears[..<layer].reduce(0) { $0 + batch * $1.inFeatures }
    }

    /// One Linear of `forward` in bf16 (`trainingPrecision`), θ already in `train16`: the
    /// layer's input rounded to bf16 and kept there for `backwardBFloat16`, the product through
    /// oneDNN with fp32 output, then bias and SiLU in fp32 as `linearForward`'s.
    private func linearForwardBFloat16(_ layer: Int, _ parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int,
                                       preactivation pre: UnsafeMutablePointer<Float>, activation: UnsafeMutablePointer<Float>?) {
        let linear = linears[layer]
        let (i, o) = (linear.inFeatures, linear.outFeatures)
        let input16 = train16.base + inputs16Offset(layer, batch: batch)   // [B, I]
        Elementwise.toBFloat16(input16, input, count: batch * i)
        OneDNN.matmul(transposeA: false, transposeB: true, m: batch, n: o, k: i, a: input16, lda: i, sourceType: .bf16,
                      b: train16.base + linear.weight, ldb: i, weightType: .bf16, c: pre, ldc: o)
        Elementwise.biasSiLU(pre, activation: activation, bias: parameters + linear.bias, rows: batch, columns: o)   // nil: bias only
    }

    /// `backward` after a bf16 `forward`: each layer's output gradient rounded to bf16, then
    /// dW += dy₁₆ᵀ · input₁₆ and dx = dy₁₆ · W₁₆ through oneDNN (fp32 results); bias
    /// gradients and the SiLU slope in fp32 from the fp32 dy.
    /// θ is the bf16 copy that forward made (`backward`'s contract: the same θ as the forward).
    private func backwardBFloat16(parameterGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                                  outputGradient: UnsafePointer<Float>, batch: Int,
                                  acts: Activations, gradients: UnsafeMutablePointer<Float>) {
        let base = train16.base
        let weights16 = base, dy16 = base + inputs16Offset(linears.count, batch: batch)   // [P], [B, O]
        var dy = outputGradient                                                           // [B, O] fp32
        for layer in stride(from: spec.depth, through: 0, by: -1) {
            let linear = linears[layer]
            let (i, o) = (linear.inFeatures, linear.outFeatures)
            Elementwise.toBFloat16(dy16, dy, count: batch * o)
            OneDNN.matmul(transposeA: true, transposeB: false, m: o, n: i, k: batch, a: dy16, lda: o, sourceType: .bf16,
                          b: base + inputs16Offset(layer, batch: batch), ldb: i, weightType: .bf16,
                          beta: 1, c: parameterGradient + linear.weight, ldc: i)
            Elementwise.columnSum(parameterGradient + linear.bias, dy, rows: batch, columns: o)
            if layer > 0 {
                let next = gradients + (layer % 2) * batch * spec.hidden
                OneDNN.matmul(transposeA: false, transposeB: false, m: batch, n: i, k: o, a: dy16, lda: o, sourceType: .bf16,
                              b: weights16 + linear.weight, ldb: i, weightType: .bf16, c: next, ldc: i)
                Elementwise.siluBackward(next, next, acts.preactivation(layer - 1), count: batch * spec.hidden, accumulate: false)
                dy = UnsafePointer(next)
            } else if let inputGradient {
                // dx [B, D] += dy · W[:, :D]
                OneDNN.matmul(transposeA: false, transposeB: false, m: batch, n: spec.dimension, k: o, a: dy16, lda: o,
                              sourceType: .bf16, b: weights16 + linear.weight, ldb: i, weightType: .bf16,
                              beta: 1, c: inputGradient, ldc: spec.dimension)
            }
        }
    }

    public func infer(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>,
                      x: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>) {
        precondition(batch > 0, "batch must be positive")
        let time = t[0]
        var shared = true
        for i in 1..<batch where t[i] != time { shared = false; break }
        let rollout = session == parameters
        let half = rollout && rolloutPrecision == .bf16
        if shared, rollout, half || gemmBackends.contains(.onednn) {
            inferPacked(parameters, time: time, x: x, batch: batch, output: output)
        } else if half {
            inferBFloat16(parameters, t: t, x: x, batch: batch, output: output, sharedTime: shared)
        } else if shared {
            inferSharedTime(parameters, time: time, x: x, batch: batch, output: output)
        } else {
            let acts = Activations(scratch.reserve(Activations.count(batch: batch, spec: spec)), batch: batch, spec: spec)
            embedTimes(t, batch: batch, into: acts.embedding)
            evaluateConcatenated(parameters, x: x, batch: batch, output: output, acts: acts, keepPreactivations: false)
        }
    }

    /// Starts a rollout with θ, which must not change until `endInference`: the rollout's
    /// oneDNN layers (all of them in bf16) reorder their weights once, into oneDNN's packed
    /// layout (and bf16), at the first `infer` of each batch size, and reuse them after.
    public func beginInference(_ parameters: UnsafePointer<Float>) {
        session = parameters
        sessionNumber += 1
        weights16Source = nil
    }

    public func endInference() {
        session = nil
        weights16Source = nil
    }

    public func backward(parameterGradient: UnsafeMutablePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?,
                         outputGradient: UnsafePointer<Float>,
                         parameters: UnsafePointer<Float>) {
        precondition(savedBatch > 0, "backward called before forward")
        let batch = savedBatch
        let acts = Activations(saved.base, batch: batch, spec: spec)
        let gradients = savedGradient.reserve(2 * batch * spec.hidden)   // 2 × [B, H]
        var dy = outputGradient                                          // [B, O] of the current layer

        if trainingPrecision == .bf16 {
            backwardBFloat16(parameterGradient: parameterGradient, inputGradient: inputGradient, outputGradient: outputGradient,
                             batch: batch, acts: acts, gradients: gradients)
            return
        }

        for layer in stride(from: spec.depth, through: 0, by: -1) {
            let linear = linears[layer], backend = gemmBackends[layer]
            let (i, o) = (linear.inFeatures, linear.outFeatures)
            // dW [O, I] += dyᵀ [O, B] · input [B, I]; db [O] += Σ_rows dy
            GEMM.sgemm(backend, transposeA: true, transposeB: false, m: o, n: i, k: batch,
                       a: dy, lda: o, b: acts.layerInput(layer), ldb: i,
                       beta: 1, c: parameterGradient + linear.weight, ldc: i)
            Elementwise.columnSum(parameterGradient + linear.bias, dy, rows: batch, columns: o)
            if layer > 0 {
                // d activation [B, H] = dy · W, then in place d preactivation = d activation · silu'(pre)
                let next = gradients + (layer % 2) * batch * spec.hidden
                GEMM.sgemm(backend, transposeA: false, transposeB: false, m: batch, n: i, k: o,
                           a: dy, lda: o, b: parameters + linear.weight, ldb: i, beta: 0, c: next, ldc: i)
                Elementwise.siluBackward(next, next, acts.preactivation(layer - 1), count: batch * spec.hidden,
                                         accumulate: false)
                dy = UnsafePointer(next)
            } else if let inputGradient {
                // dx [B, D] += dy · W[:, :D] (the embedding's columns have no use)
                GEMM.sgemm(backend, transposeA: false, transposeB: false, m: batch, n: spec.dimension, k: o,
                           a: dy, lda: o, b: parameters + linear.weight, ldb: i, beta: 1, c: inputGradient,
                           ldc: spec.dimension)
            }
        }
    }

    // MARK: Passes

    /// e [B, E] = e(t): copied from the last `forward` when t is the same (the reference's pass
    /// after the policy's), computed otherwise.
    private func embedTimes(_ t: UnsafePointer<Float>, batch: Int, into e: UnsafeMutablePointer<Float>) {
        if savedBatch == batch, memcmp(savedTimes.base, t, batch * MemoryLayout<Float>.stride) == 0 {
            e.update(from: Activations(saved.base, batch: batch, spec: spec).embedding, count: batch * spec.timeEmbedding)
        } else {
            embedding.forward(output: e, t: t, batch: batch)
        }
    }

    /// The fp32 pass over concat(x, e) with e already in `acts.embedding`: every Linear's
    /// product, then bias and SiLU fused in one pass. `keepPreactivations` keeps the
    /// preactivations apart from the activations (what `backward` needs).
    private func evaluateConcatenated(_ parameters: UnsafePointer<Float>, x: UnsafePointer<Float>, batch: Int,
                                      output: UnsafeMutablePointer<Float>, acts: Activations,
                                      keepPreactivations: Bool, bfloat16: Bool = false) {
        Concat.forward(output: acts.input, first: x, second: acts.embedding, batch: batch,
                       firstFeatures: spec.dimension, secondFeatures: spec.timeEmbedding)
        if bfloat16 {   // room for θ, every layer's input and `backwardBFloat16`'s widest dy, all bf16
            let widest = linears.map(\.outFeatures).max()!
            Elementwise.toBFloat16(train16.reserve(inputs16Offset(linears.count, batch: batch) + batch * widest), parameters,
                                   count: layout.count)
        }
        for layer in 0...spec.depth {
            let linear = linears[layer]
            let last = layer == spec.depth
            let pre = last ? output : acts.preactivation(layer)
            let activation = last ? nil : keepPreactivations ? acts.activation(layer) : pre
            let input = acts.layerInput(layer, keepPreactivations: keepPreactivations)
            if bfloat16 {
                linearForwardBFloat16(layer, parameters, input: input, batch: batch, preactivation: pre, activation: activation)
            } else {
                linearForward(layer, parameters, input: input, lda: linear.inFeatures, weightColumns: linear.inFeatures,
                              bias: parameters + linear.bias, batch: batch, preactivation: pre, activation: activation)
            }
        }
    }

    /// A rollout's pass, every sample at the same t: the embedding's share of the first layer,
    /// b₀ + W₀[:, D:] · e(t), is one row computed once, then the first product is x · W₀[:, :D]ᵀ
    /// (K = D, not D + E). Activations are overwritten in place; nothing is kept.
    private func inferSharedTime(_ parameters: UnsafePointer<Float>, time: Float, x: UnsafePointer<Float>,
                                 batch: Int, output: UnsafeMutablePointer<Float>) {
        let (d, e, h) = (spec.dimension, spec.timeEmbedding, spec.hidden)
        let base = scratch.reserve(2 * batch * h + 2 * h + e + d)
        let ping = base, pong = base + batch * h, firstBias = base + 2 * batch * h, row = firstBias + max(h, d)
        sharedFirstBias(parameters, time: time, embeddingRow: row, into: firstBias)
        var input = x, inputWidth = d
        for layer in 0...spec.depth {
            let linear = linears[layer]
            let last = layer == spec.depth
            let out = last ? output : (layer % 2 == 0 ? ping : pong)
            linearForward(layer, parameters, input: input, lda: inputWidth, weightColumns: layer == 0 ? d : h,
                          bias: layer == 0 ? UnsafePointer(firstBias) : parameters + linear.bias,
                          batch: batch, preactivation: out, activation: last ? nil : out)
            input = UnsafePointer(out)
            inputWidth = h
        }
    }

    /// bias' [O₀] = b₀ + W₀[:, D:] · e(time), with e(time) written to `embeddingRow` [E].
    private func sharedFirstBias(_ parameters: UnsafePointer<Float>, time: Float,
                                 embeddingRow: UnsafeMutablePointer<Float>, into bias: UnsafeMutablePointer<Float>) {
        let first = linears[0]
        var t = time
        embedding.forward(output: embeddingRow, t: &t, batch: 1)
        bias.update(from: parameters + first.bias, count: first.outFeatures)
        BLAS.sgemm(transposeA: false, transposeB: true, m: 1, n: first.outFeatures, k: spec.timeEmbedding,
                   alpha: 1, a: embeddingRow, lda: spec.timeEmbedding,
                   b: parameters + first.weight + spec.dimension, ldb: first.inFeatures,
                   beta: 1, c: bias, ldc: first.outFeatures)
    }

    /// One Linear in fp32 through its backend: pre [B, O] = input [B, K] · W[:, :K]ᵀ + bias,
    /// K = `weightColumns` (the weight's row stride stays its in-features), then
    /// activation = silu(pre) if `activation` is non-nil (it may be `pre`).
    private func linearForward(_ layer: Int, _ parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, lda: Int,
                               weightColumns: Int, bias: UnsafePointer<Float>, batch: Int,
                               preactivation pre: UnsafeMutablePointer<Float>, activation: UnsafeMutablePointer<Float>?) {
        let linear = linears[layer]
        let o = linear.outFeatures
        switch gemmBackends[layer] {
        case .openblas:
            BLAS.sgemm(transposeA: false, transposeB: true, m: batch, n: o, k: weightColumns, alpha: 1,
                       a: input, lda: lda, b: parameters + linear.weight, ldb: linear.inFeatures,
                       beta: 0, c: pre, ldc: o)
            Elementwise.biasSiLU(pre, activation: activation, bias: bias, rows: batch, columns: o)   // nil: bias only
        case .onednn:
            let fused = activation == pre   // nothing kept: SiLU as the matmul's post-op
            OneDNN.matmul(transposeA: false, transposeB: true, m: batch, n: o, k: weightColumns,
                          a: input, lda: lda, b: parameters + linear.weight, ldb: linear.inFeatures,
                          bias: bias, activation: fused ? .silu : .none, c: pre, ldc: o)
            if let activation, !fused { Elementwise.silu(activation, pre, count: batch * o) }
        }
    }

    /// A rollout's pass inside an inference session: like `inferSharedTime`, with every oneDNN
    /// layer (every layer in bf16) a `PackedMatmul` whose weights were packed once this session.
    private func inferPacked(_ parameters: UnsafePointer<Float>, time: Float, x: UnsafePointer<Float>,
                             batch: Int, output: UnsafeMutablePointer<Float>) {
        let (d, e, h) = (spec.dimension, spec.timeEmbedding, spec.hidden)
        let half = rolloutPrecision == .bf16
        let layers = packedLayers(batch: batch)
        if layers.session != sessionNumber {
            for (layer, packed) in layers.matmuls.enumerated() { packed?.pack(weights: parameters + linears[layer].weight) }
            layers.session = sessionNumber
        }
        let floats = scratch.reserve(2 * batch * h + 2 * max(h, d) + e)
        let firstBias = floats + 2 * batch * h
        sharedFirstBias(parameters, time: time, embeddingRow: firstBias + max(h, d), into: firstBias)
        let halves = scratch16.reserve(batch * d + 2 * batch * h)
        var input = UnsafeRawPointer(x), inputWidth = d
        if half {
            Elementwise.toBFloat16(halves, x, count: batch * d)
            input = UnsafeRawPointer(halves)
        }
        for layer in 0...spec.depth {
            let linear = linears[layer]
            let last = layer == spec.depth
            let bias = layer == 0 ? UnsafePointer(firstBias) : parameters + linear.bias
            let out: UnsafeMutableRawPointer = last ? UnsafeMutableRawPointer(output)
                : half ? UnsafeMutableRawPointer(halves + batch * d + (layer % 2) * batch * h)
                : UnsafeMutableRawPointer(floats + (layer % 2) * batch * h)
            if let packed = layers.matmuls[layer] {
                packed.run(a: input, bias: bias, c: out)
            } else {   // an OpenBLAS layer of an fp32 rollout
                let pre = out.assumingMemoryBound(to: Float.self)
                linearForward(layer, parameters, input: input.assumingMemoryBound(to: Float.self), lda: inputWidth,
                              weightColumns: layer == 0 ? d : h, bias: bias, batch: batch,
                              preactivation: pre, activation: last ? nil : pre)
            }
            input = UnsafeRawPointer(out)
            inputWidth = h
        }
    }

    /// The packed matmuls of a rollout pass over `batch` rows at the current precision
    /// (nil for the OpenBLAS layers of an fp32 rollout), created on first use.
    private func packedLayers(batch: Int) -> PackedLayers {
        let key = PackKey(batch: batch, precision: rolloutPrecision, backends: gemmBackends)
        if let layers = packs[key] { return layers }
        let half = rolloutPrecision == .bf16
        let type: OneDNN.ElementType = half ? .bf16 : .fp32
        let matmuls = linears.enumerated().map { layer, linear -> PackedMatmul? in
            guard half || gemmBackends[layer] == .onednn else { return nil }
            let last = layer == spec.depth
            let k = layer == 0 ? spec.dimension : linear.inFeatures
            return PackedMatmul(m: batch, n: linear.outFeatures, k: k, lda: k, sourceType: type, weightType: type,
                                ldw: linear.inFeatures, hasBias: true, activation: last ? .none : .silu,
                                ldc: linear.outFeatures, destinationType: last ? .fp32 : type)
        }
        let layers = PackedLayers(matmuls: matmuls)
        packs[key] = layers
        return layers
    }

    /// The oneDNN implementation each packed rollout layer runs (for benchmarks and logs).
    public func rolloutImplementations(batch: Int) -> [String] {
        packedLayers(batch: batch).matmuls.map { $0?.implementation ?? "openblas" }
    }

    /// `infer` in bf16 through oneDNN: x (or concat(x, e)) converted once, hidden activations
    /// bf16 with bias and SiLU fused, the last layer's output fp32.
    private func inferBFloat16(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>, x: UnsafePointer<Float>,
                               batch: Int, output: UnsafeMutablePointer<Float>, sharedTime: Bool) {
        let (d, e, h) = (spec.dimension, spec.timeEmbedding, spec.hidden)
        if weights16Source != parameters {
            Elementwise.toBFloat16(weights16.reserve(layout.count), parameters, count: layout.count)
            weights16Source = session == parameters ? parameters : nil   // reused until endInference
        }
        let weights = UnsafePointer(weights16.base)
        let first = linears[0]
        let inputWidth = sharedTime ? d : d + e
        let buffers = scratch16.reserve(batch * inputWidth + 2 * batch * h)
        let input16 = buffers, ping = buffers + batch * inputWidth, pong = ping + batch * h
        let firstBias: UnsafePointer<Float>
        // fp32 scratch: [2·max(H, D) + E] shared-t bias and embedding row, then the first
        // layer's [B, H] product; or the per-sample pass's activations. Reserved once, up front.
        let productOffset = 2 * max(h, d) + e
        let needed = productOffset + batch * h
        _ = scratch.reserve(sharedTime ? needed : max(needed, Activations.count(batch: batch, spec: spec)))
        if sharedTime {
            let floats = scratch.base
            sharedFirstBias(parameters, time: t[0], embeddingRow: floats + max(h, d), into: floats)
            firstBias = UnsafePointer(floats)
            Elementwise.toBFloat16(input16, x, count: batch * d)
        } else {
            let acts = Activations(scratch.base, batch: batch, spec: spec)
            embedTimes(t, batch: batch, into: acts.embedding)
            Concat.forward(output: acts.input, first: x, second: acts.embedding, batch: batch,
                           firstFeatures: d, secondFeatures: e)
            Elementwise.toBFloat16(input16, acts.input, count: batch * (d + e))
            firstBias = parameters + first.bias
        }
        var input = UnsafePointer(input16), lda = inputWidth
        for layer in 0...spec.depth {
            let linear = linears[layer]
            let last = layer == spec.depth
            let out16 = layer % 2 == 0 ? ping : pong
            if layer == 0 && !last {
                // oneDNN 2.6 runs bias + SiLU into bf16 at odd K (e.g. 784) through its slow
                // gemm:jit; the plain product into fp32 stays on brgemm, then one C pass.
                let product = scratch.base + productOffset   // [B, H]; acts (per-sample t) are consumed
                OneDNN.matmul(transposeA: false, transposeB: true, m: batch, n: h, k: inputWidth,
                              a: input, lda: lda, sourceType: .bf16, b: weights + linear.weight, ldb: linear.inFeatures,
                              weightType: .bf16, c: product, ldc: h)
                Elementwise.biasSiLUToBFloat16(out16, product, bias: firstBias, rows: batch, columns: h)
                input = UnsafePointer(out16)
                lda = h
                continue
            }
            OneDNN.matmul(transposeA: false, transposeB: true, m: batch, n: linear.outFeatures,
                          k: layer == 0 ? inputWidth : linear.inFeatures,
                          a: input, lda: lda, sourceType: .bf16,
                          b: weights + linear.weight, ldb: linear.inFeatures, weightType: .bf16,
                          bias: layer == 0 ? firstBias : parameters + linear.bias,
                          activation: last ? .none : .silu,
                          c: last ? UnsafeMutableRawPointer(output) : UnsafeMutableRawPointer(out16),
                          ldc: linear.outFeatures, destinationType: last ? .fp32 : .bf16)
            input = UnsafePointer(out16)
            lda = h
        }
    }
}

private struct PackKey: Hashable {
    var batch: Int
    var precision: Precision
    var backends: [GEMMBackend]
}

private final class PackedLayers {
    let matmuls: [PackedMatmul?]   // [L + 1]
    var session = -1               // the inference session whose θ they hold
    init(matmuls: [PackedMatmul?]) { self.matmuls = matmuls }
}

/// Which pass `MLPVelocityField.matrixProducts` describes.
public enum MLPPass: Sendable {
    case forward, inferSharedTime, backward
}

/// One matrix product C[m, n] = op(A)[m, k] · op(B)[k, n] of a pass, and its Linear's index.
public struct MatrixProduct: Equatable, Sendable {
    public var m, n, k: Int
    public var transposeA, transposeB: Bool
    public var layer: Int
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
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

    /// What Linear number `layer` reads: the concatenated input, or the previous block's output
    /// (its preactivation buffer when SiLU ran in place, `keepPreactivations` false).
    func layerInput(_ layer: Int, keepPreactivations: Bool = true) -> UnsafeMutablePointer<Float> {  // [B, D + E] or [B, H]
        layer == 0 ? input : keepPreactivations ? activation(layer - 1) : preactivation(layer - 1)
    }
}
