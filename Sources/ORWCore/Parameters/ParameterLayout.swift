/// One named tensor inside a flat parameter buffer.
public struct TensorSpec: Equatable, Sendable {
    public let name: String    // PyTorch state_dict name, e.g. "net.0.weight"
    public let shape: [Int]    // PyTorch convention: Linear.weight is [out, in]
    public let offset: Int     // first element within the flat buffer
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }

    public init(name: String, shape: [Int], offset: Int) {
        self.name = name
        self.shape = shape
        self.offset = offset
    }
}

/// Where every tensor of a model lives in one contiguous Float buffer. Parameters, gradients and
/// Adam moments share one layout, so the optimiser, the checkpoint writer and the allreduce are
/// each one loop over one buffer.
public struct ParameterLayout: Equatable, Sendable {
    public private(set) var tensors: [TensorSpec] = []
    /// Total number of floats.
    public private(set) var count: Int = 0

    public init() {}

    /// Appends a tensor after the last one and returns its spec.
    @discardableResult
    public mutating func append(_ name: String, shape: [Int]) -> TensorSpec {
        precondition(!tensors.contains { $0.name == name }, "duplicate tensor name \(name)")
        let spec = TensorSpec(name: name, shape: shape, offset: count)
        tensors.append(spec)
        count += spec.count
        return spec
    }

    public subscript(name: String) -> TensorSpec? { tensors.first { $0.name == name } }
}
