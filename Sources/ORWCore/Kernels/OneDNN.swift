import CDNNL

/// oneDNN's matmul primitive, the second GEMM backend. The only file that imports CDNNL.
///
/// One primitive per distinct problem (shape, strides, transposes, data types, bias, post-ops),
/// created on first use and kept for the life of the process, so a training step creates
/// none after its first. Transposes are strides, never copies. Element types: fp32, or bf16
/// sources and weights with fp32 accumulation and an fp32 or bf16 destination.
///
/// oneDNN threads with OpenMP here (Debian's build): set OMP_NUM_THREADS per rank.
public enum OneDNN {
    /// Element type of a matmul operand.
    public enum ElementType: Sendable, Hashable {
        case fp32, bf16

        fileprivate var dnnl: dnnl_data_type_t { self == .fp32 ? dnnl_f32 : dnnl_bf16 }
    }

    /// What happens to C after the product (and the bias): nothing, or SiLU (oneDNN's swish
    /// with α = 1: x·σ(x)).
    public enum Activation: Sendable, Hashable { case none, silu }

    /// The oneDNN version as "major.minor.patch (cpu runtime)".
    public static var version: String {
        guard let v = dnnl_version() else { return "unknown" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.patch)"
    }

    /// Row-major C[m, n] = alpha · op(A) · op(B) (+ bias[n]) (+ beta · C, beta 0 or 1), then the
    /// activation; op(A) is [m, k], op(B) is [k, n]; `lda`, `ldb`, `ldc` are row strides as
    /// stored. A and B are fp32 or bf16 (UInt16 bit patterns) as `sourceType`/`weightType` say;
    /// C is fp32 or bf16 as `destinationType` says; the bias is fp32.
    public static func matmul(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafeRawPointer, lda: Int, sourceType: ElementType = .fp32,
        b: UnsafeRawPointer, ldb: Int, weightType: ElementType = .fp32,
        bias: UnsafePointer<Float>? = nil, beta: Float = 0, activation: Activation = .none,
        c: UnsafeMutableRawPointer, ldc: Int, destinationType: ElementType = .fp32
    ) {
        precondition(beta == 0 || beta == 1, "oneDNN matmul: beta must be 0 or 1, got \(beta)")
        guard m > 0, n > 0 else { return }
        let key = MatmulKey(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                            lda: lda, ldb: ldb, ldc: ldc, alpha: alpha, accumulate: beta == 1,
                            bias: bias != nil, activation: activation,
                            source: sourceType, weight: weightType, destination: destinationType)
        let primitive = Context.shared.primitive(for: key)
        primitive.run(a: a, b: b, bias: bias, c: c)
    }
}

/// Everything that makes two matmul problems need different primitives.
private struct MatmulKey: Hashable {
    var m, n, k: Int
    var transposeA, transposeB: Bool
    var lda, ldb, ldc: Int
    var alpha: Float
    var accumulate: Bool
    var bias: Bool
    var activation: OneDNN.Activation
    var source, weight, destination: OneDNN.ElementType
}

@inline(__always)
private func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    precondition(status == dnnl_success, "oneDNN: \(what()) failed with status \(status.rawValue)")
}

/// A 2-D memory descriptor of logical shape [rows, columns] with the given element strides.
private func descriptor(rows: Int, columns: Int, rowStride: Int, columnStride: Int,
                        type: OneDNN.ElementType) -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    let dims: [dnnl_dim_t] = [dnnl_dim_t(rows), dnnl_dim_t(columns)]
    let strides: [dnnl_dim_t] = [dnnl_dim_t(rowStride), dnnl_dim_t(columnStride)]
    check(dnnl_memory_desc_init_by_strides(&md, 2, dims, type.dnnl, strides), "memory descriptor [\(rows), \(columns)]")
    return md
}

/// The CPU engine, its stream and the primitive cache. oneDNN objects are used from one thread
/// at a time (a model object is not thread-safe, and neither is this).
private final class Context: @unchecked Sendable {
    static let shared = Context()

    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    var primitives: [MatmulKey: MatmulPrimitive] = [:]

    init() {
        var engine: dnnl_engine_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "CPU engine")
        var stream: dnnl_stream_t?
        check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream")
        self.engine = engine!
        self.stream = stream!
    }

    func primitive(for key: MatmulKey) -> MatmulPrimitive {
        if let primitive = primitives[key] { return primitive }
        let primitive = MatmulPrimitive(key, engine: engine, stream: stream)
        primitives[key] = primitive
        return primitive
    }
}

/// One created matmul primitive and the memory objects whose data handles each call sets.
private final class MatmulPrimitive {
    let primitive: dnnl_primitive_t
    let stream: dnnl_stream_t
    let a, b, c: dnnl_memory_t
    let bias: dnnl_memory_t?
    var arguments: [dnnl_exec_arg_t]
    let separateActivation: Bool       // SiLU after the product rather than as its post-op
    let implementation: String         // oneDNN's name for the kernel, e.g. "brg:avx512_core"
    let rows, columns, rowStride: Int
    let destination: OneDNN.ElementType

    static func createDescriptor(_ operation: inout dnnl_matmul_desc_t, key: MatmulKey, fuseActivation: Bool,
                                 engine: dnnl_engine_t) -> dnnl_primitive_desc_t {
        var attributes: dnnl_primitive_attr_t?
        check(dnnl_primitive_attr_create(&attributes), "primitive attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        if key.alpha != 1 {
            var alpha = key.alpha
            check(dnnl_primitive_attr_set_output_scales(attributes, 1, 0, &alpha), "output scale")
        }
        var postOps: dnnl_post_ops_t?
        check(dnnl_post_ops_create(&postOps), "post-ops")
        defer { dnnl_post_ops_destroy(postOps) }
        if key.accumulate { check(dnnl_post_ops_append_sum(postOps, 1), "sum post-op") }
        if fuseActivation { check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_swish, 1, 0), "swish post-op") }
        check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "attach post-ops")
        var descriptor: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&descriptor, &operation, attributes, engine, nil),
              "matmul primitive descriptor \(key)")
        return descriptor!
    }

    static func implementation(_ descriptor: dnnl_primitive_desc_t) -> String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name) == dnnl_success,
              let name else { return "unknown" }
        return String(cString: name)
    }

    init(_ key: MatmulKey, engine: dnnl_engine_t, stream: dnnl_stream_t) {
        self.stream = stream
        var aDesc = key.transposeA
            ? descriptor(rows: key.m, columns: key.k, rowStride: 1, columnStride: key.lda, type: key.source)
            : descriptor(rows: key.m, columns: key.k, rowStride: key.lda, columnStride: 1, type: key.source)
        var bDesc = key.transposeB
            ? descriptor(rows: key.k, columns: key.n, rowStride: 1, columnStride: key.ldb, type: key.weight)
            : descriptor(rows: key.k, columns: key.n, rowStride: key.ldb, columnStride: 1, type: key.weight)
        var cDesc = descriptor(rows: key.m, columns: key.n, rowStride: key.ldc, columnStride: 1, type: key.destination)
        var biasDesc = descriptor(rows: 1, columns: key.n, rowStride: key.n, columnStride: 1, type: .fp32)

        var operation = dnnl_matmul_desc_t()
        check(withUnsafePointer(to: &biasDesc) { biasPointer in
            dnnl_matmul_desc_init(&operation, &aDesc, &bDesc, key.bias ? biasPointer : nil, &cDesc)
        }, "matmul descriptor \(key)")

        // oneDNN 2.6 sends some fused problems (e.g. K = 784 with bias and swish) to its slower
        // gemm:jit implementation where the plain problem gets brgemm; then SiLU runs as a
        // separate pass (`separateActivation`) on the brgemm result.
        var handle = Self.createDescriptor(&operation, key: key, fuseActivation: key.activation == .silu, engine: engine)
        var separate = false
        if key.activation == .silu, Self.implementation(handle).hasPrefix("gemm") {
            let plain = Self.createDescriptor(&operation, key: key, fuseActivation: false, engine: engine)
            if Self.implementation(plain).hasPrefix("brg") {
                dnnl_primitive_desc_destroy(handle)
                handle = plain
                separate = true
            } else {
                dnnl_primitive_desc_destroy(plain)
            }
        }
        separateActivation = separate
        defer { dnnl_primitive_desc_destroy(handle) }
        implementation = Self.implementation(handle)
        var primitive: dnnl_primitive_t?
        check(dnnl_primitive_create(&primitive, handle), "matmul primitive")
        self.primitive = primitive!
        rows = key.m
        columns = key.n
        rowStride = key.ldc
        destination = key.destination

        func memory(_ desc: inout dnnl_memory_desc_t) -> dnnl_memory_t {
            var handle: dnnl_memory_t?
            check(dnnl_memory_create(&handle, &desc, engine, nil), "memory object")
            return handle!
        }
        a = memory(&aDesc)
        b = memory(&bDesc)
        c = memory(&cDesc)
        bias = key.bias ? memory(&biasDesc) : nil
        arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: a),
                     dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: b),
                     dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: c)]
        if let bias { arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: bias)) }
    }

    func run(a: UnsafeRawPointer, b: UnsafeRawPointer, bias: UnsafePointer<Float>?, c: UnsafeMutableRawPointer) {
        check(dnnl_memory_set_data_handle(self.a, UnsafeMutableRawPointer(mutating: a)), "set A")
        check(dnnl_memory_set_data_handle(self.b, UnsafeMutableRawPointer(mutating: b)), "set B")
        check(dnnl_memory_set_data_handle(self.c, c), "set C")
        if let handle = self.bias, let bias { check(dnnl_memory_set_data_handle(handle, UnsafeMutableRawPointer(mutating: bias)), "set bias") }
        let status = arguments.withUnsafeBufferPointer {
            dnnl_primitive_execute(primitive, stream, Int32($0.count), $0.baseAddress)
        }
        check(status, "matmul execution")
        if separateActivation {
            for row in 0..<rows {
                let start = c + row * rowStride * (destination == .fp32 ? 4 : 2)
                if destination == .fp32 {
                    let values = start.assumingMemoryBound(to: Float.self)
                    Elementwise.silu(values, values, count: columns)
                } else {
                    Elementwise.siluBFloat16(start.assumingMemoryBound(to: UInt16.self), count: columns)
                }
            }
        }
    }
}

/// A matmul C[m, n] = A[m, k] · Wᵀ (+ bias) (then SiLU) whose weights W [n, k] (fp32, row
/// stride `ldw`) oneDNN has reordered once, by `pack`, into the blocked layout its kernel reads
/// (converted to bf16 if asked), so that many products with the same weights (a rollout's
/// Euler steps) skip the per-call repacking of a plain-layout matmul. Created once per shape;
/// packed again whenever the weights change. Where oneDNN would fuse bias or SiLU only through
/// a slower kernel, they run as a C pass after the product instead.
public final class PackedMatmul {
    public let m, n, k: Int
    public let implementation: String
    private let primitive: dnnl_primitive_t
    private let reorder: dnnl_primitive_t
    private let stream: dnnl_stream_t
    private let a, b, c: dnnl_memory_t
    private let bias: dnnl_memory_t?
    private let userWeights, packedWeights: dnnl_memory_t
    private let packed: UnsafeMutableRawPointer
    private let arguments: [dnnl_exec_arg_t]
    private let post: Post
    private let product: UnsafeMutablePointer<Float>?   // [m, n] fp32 product when the C pass writes bf16
    private let ldc: Int
    private let destinationType: OneDNN.ElementType

    /// What runs after oneDNN's product.
    private enum Post { case none, silu, biasSiLU, bias }

    public init(m: Int, n: Int, k: Int, lda: Int, sourceType: OneDNN.ElementType, weightType: OneDNN.ElementType,
                ldw: Int, hasBias: Bool, activation: OneDNN.Activation, ldc: Int, destinationType: OneDNN.ElementType) {
        let context = Context.shared
        self.m = m; self.n = n; self.k = k; self.ldc = ldc; self.destinationType = destinationType
        stream = context.stream
        var aDesc = descriptor(rows: m, columns: k, rowStride: lda, columnStride: 1, type: sourceType)
        var biasDesc = descriptor(rows: 1, columns: n, rowStride: n, columnStride: 1, type: .fp32)
        var anyWeights = dnnl_memory_desc_t()
        let dims: [dnnl_dim_t] = [dnnl_dim_t(k), dnnl_dim_t(n)]
        check(dnnl_memory_desc_init_by_tag(&anyWeights, 2, dims, weightType.dnnl, dnnl_format_tag_any), "packed weights")

        // Configurations from most to least fused; the first on brgemm wins.
        struct Option { var bias: Bool; var silu: Bool; var fp32Product: Bool; var post: Post }
        var options = [Option(bias: hasBias, silu: activation == .silu, fp32Product: false, post: .none)]
        if activation == .silu {
            options.append(Option(bias: hasBias, silu: false, fp32Product: false, post: .silu))
            options.append(Option(bias: false, silu: false, fp32Product: destinationType == .bf16,
                                  post: hasBias ? .biasSiLU : .silu))
        } else if hasBias {
            options.append(Option(bias: false, silu: false, fp32Product: destinationType == .bf16, post: .bias))
        }
        var chosen: (option: Option, descriptor: dnnl_primitive_desc_t, cDesc: dnnl_memory_desc_t)?
        for (index, option) in options.enumerated() {
            var cDesc = option.fp32Product
                ? descriptor(rows: m, columns: n, rowStride: n, columnStride: 1, type: .fp32)
                : descriptor(rows: m, columns: n, rowStride: ldc, columnStride: 1, type: destinationType)
            var operation = dnnl_matmul_desc_t()
            check(withUnsafePointer(to: &biasDesc) { biasPointer in
                dnnl_matmul_desc_init(&operation, &aDesc, &anyWeights, option.bias ? biasPointer : nil, &cDesc)
            }, "packed matmul descriptor")
            let key = MatmulKey(m: m, n: n, k: k, transposeA: false, transposeB: true, lda: lda, ldb: 0, ldc: ldc,
                                alpha: 1, accumulate: false, bias: option.bias, activation: option.silu ? .silu : .none,
                                source: sourceType, weight: weightType, destination: destinationType)
            let handle = MatmulPrimitive.createDescriptor(&operation, key: key, fuseActivation: option.silu, engine: context.engine)
            if MatmulPrimitive.implementation(handle).hasPrefix("brg") || index == options.count - 1 {
                chosen = (option, handle, cDesc)
                break
            }
            dnnl_primitive_desc_destroy(handle)
        }
        let (option, handle, chosenC) = chosen!
        defer { dnnl_primitive_desc_destroy(handle) }
        implementation = MatmulPrimitive.implementation(handle)
        post = option.post
        var created: dnnl_primitive_t?
        check(dnnl_primitive_create(&created, handle), "packed matmul primitive")
        primitive = created!

        var packedDesc = dnnl_primitive_desc_query_md(handle, dnnl_query_weights_md, 0)!.pointee
        packed = UnsafeMutableRawPointer.allocate(byteCount: max(64, dnnl_memory_desc_get_size(&packedDesc)), alignment: 64)
        var userDesc = descriptor(rows: k, columns: n, rowStride: 1, columnStride: ldw, type: .fp32)
        var reorderDescriptor: dnnl_primitive_desc_t?
        check(dnnl_reorder_primitive_desc_create(&reorderDescriptor, &userDesc, context.engine, &packedDesc, context.engine, nil),
              "weight reorder descriptor")
        defer { dnnl_primitive_desc_destroy(reorderDescriptor) }
        var reorderPrimitive: dnnl_primitive_t?
        check(dnnl_primitive_create(&reorderPrimitive, reorderDescriptor), "weight reorder")
        reorder = reorderPrimitive!

        func memory(_ desc: inout dnnl_memory_desc_t, _ handle: UnsafeMutableRawPointer? = nil) -> dnnl_memory_t {
            var object: dnnl_memory_t?
            check(dnnl_memory_create(&object, &desc, context.engine, handle), "memory object")
            return object!
        }
        var cDesc = chosenC
        a = memory(&aDesc)
        b = memory(&packedDesc, packed)
        c = memory(&cDesc)
        bias = option.bias ? memory(&biasDesc) : nil
        userWeights = memory(&userDesc)
        packedWeights = b
        product = option.fp32Product ? .allocate(capacity: m * n) : nil
        var arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: a),
                         dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: b),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: c)]
        if let bias { arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: bias)) }
        self.arguments = arguments
        if let product { check(dnnl_memory_set_data_handle(c, product), "set C") }
    }

    deinit {
        packed.deallocate()
        product?.deallocate()
    }

    /// Reorders W [n, k] (fp32, row stride ldw) into the packed buffer.
    public func pack(weights: UnsafePointer<Float>) {
        check(dnnl_memory_set_data_handle(userWeights, UnsafeMutableRawPointer(mutating: weights)), "set W")
        let arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: userWeights),
                         dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: packedWeights)]
        let status = arguments.withUnsafeBufferPointer { dnnl_primitive_execute(reorder, stream, 2, $0.baseAddress) }
        check(status, "weight reorder")
    }

    /// C = A · Wᵀ (+ bias) (then SiLU) with the weights of the last `pack`.
    public func run(a source: UnsafeRawPointer, bias biasValues: UnsafePointer<Float>?, c destination: UnsafeMutableRawPointer) {
        check(dnnl_memory_set_data_handle(a, UnsafeMutableRawPointer(mutating: source)), "set A")
        if product == nil { check(dnnl_memory_set_data_handle(c, destination), "set C") }
        if let bias, let biasValues { check(dnnl_memory_set_data_handle(bias, UnsafeMutableRawPointer(mutating: biasValues)), "set bias") }
        let status = arguments.withUnsafeBufferPointer {
            dnnl_primitive_execute(primitive, stream, Int32($0.count), $0.baseAddress)
        }
        check(status, "packed matmul execution")
        switch (post, product) {
        case (.none, _):
            break
        case (_, let product?):   // bf16 destination from the fp32 product
            precondition(ldc == n, "a bf16 C pass needs contiguous rows")
            let out = destination.assumingMemoryBound(to: UInt16.self)
            switch post {
            case .biasSiLU: Elementwise.biasSiLUToBFloat16(out, product, bias: biasValues!, rows: m, columns: n)
            case .silu: Elementwise.siluToBFloat16(out, product, count: m * n)
            case .bias: Elementwise.toBFloat16(out, product, count: m * n)   // bias-only bf16 is not used by the MLP
            case .none: break
            }
        case (_, nil):            // fp32 destination, in place
            let out = destination.assumingMemoryBound(to: Float.self)
            for row in 0..<m {
                let values = out + row * ldc
                switch post {
                case .silu: Elementwise.silu(values, values, count: n)
                case .biasSiLU: Elementwise.biasSiLU(values, activation: values, bias: biasValues!, rows: 1, columns: n)
                case .bias: Elementwise.addBias(values, bias: biasValues!, rows: 1, columns: n)
                case .none: break
                }
            }
        }
    }
}
