/// The collectives the trainer needs, over MPI or over nothing.
///
/// Every buffer operation is in place. Implementations: `MPICommunicator` (a job under
/// `mpirun` or `srun`, or a singleton of size 1) and `LocalCommunicator` (size 1, no MPI, for
/// unit tests and single-rank debugging).
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Rank among the processes on this node, and how many there are.
    var localRank: Int { get }
    var localSize: Int { get }

    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    func allreduceMax(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    func allreduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    func allreduceMin(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// Replaces `buffer` on every rank with root's bytes.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Root receives `size` blocks of `send.count` bytes, in rank order; others receive nothing.
    func gather(_ send: UnsafeRawBufferPointer, root: Int) throws -> [UInt8]
    /// Every rank receives `size` blocks of `send.count` bytes, in rank order, into `receive`
    /// (`size × send.count` bytes).
    func allgather(_ send: UnsafeRawBufferPointer, into receive: UnsafeMutableRawBufferPointer) throws
    func barrier() throws
    /// Ends every process of the job with `code`.
    func abort(code: Int32) -> Never
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }

    public func allreduceSum(_ array: inout [Float]) throws {
        try array.withUnsafeMutableBufferPointer { try allreduceSum($0) }
    }
    public func allreduceSum(_ array: inout [Double]) throws {
        try array.withUnsafeMutableBufferPointer { try allreduceSum($0) }
    }
    public func allreduceMax(_ array: inout [Double]) throws {
        try array.withUnsafeMutableBufferPointer { try allreduceMax($0) }
    }
    public func allreduceMin(_ array: inout [Double]) throws {
        try array.withUnsafeMutableBufferPointer { try allreduceMin($0) }
    }
    public func allreduceSum(_ value: Double) throws -> Double {
        var buffer = [value]
        try allreduceSum(&buffer)
        return buffer[0]
    }
    public func allreduceMax(_ value: Double) throws -> Double {
        var buffer = [value]
        try allreduceMax(&buffer)
        return buffer[0]
    }

    /// Broadcasts root's array; every rank must pass an array of the same count.
    public func broadcast<T: BitwiseCopyable>(_ array: inout [T], root: Int = 0) throws {
        try array.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Broadcasts root's bytes of any length: first the length, then the bytes.
    public func broadcast(bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        var length = [Int64(rank == root ? bytes.count : 0)]
        try broadcast(&length, root: root)
        var result = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
        try broadcast(&result, root: root)
        return result
    }

    /// Every rank receives every rank's `send` [m], in rank order, into `receive` [size × m]
    /// (allocated by the caller, so a step can reuse it).
    public func allgather<T: BitwiseCopyable>(_ send: [T], into receive: inout [T]) throws {
        precondition(receive.count == send.count * size, "allgather: receive holds \(receive.count), needs \(send.count * size)")
        try send.withUnsafeBytes { s in try receive.withUnsafeMutableBytes { try allgather(s, into: $0) } }
    }

    /// Root receives one string from every rank, in rank order; others receive [].
    public func gather(string: String, root: Int = 0) throws -> [String] {
        let mine = Array(string.utf8)
        var longest = [Double(mine.count)]
        try allreduceMax(&longest)
        let width = Int(longest[0])
        var padded = [UInt8](repeating: 0, count: width + 8)
        withUnsafeBytes(of: Int64(mine.count).littleEndian) { padded.replaceSubrange(0..<8, with: $0) }
        padded.replaceSubrange(8..<(8 + mine.count), with: mine)
        let all = try padded.withUnsafeBytes { try gather($0, root: root) }
        guard rank == root else { return [] }
        return (0..<size).map { r in
            let block = all[(r * (width + 8))..<((r + 1) * (width + 8))]
            let count = block.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            return String(decoding: block.dropFirst(8).prefix(count), as: UTF8.self)
        }
    }
}
