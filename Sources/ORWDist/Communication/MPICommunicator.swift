import CMPI
import Foundation

/// An MPI failure, with MPI's own description of the code.
public struct MPIError: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32
    public let message: String
    public var description: String { "MPI \(operation) failed (code \(code)): \(message)" }
}

/// The job's processes over OpenMPI, through the C shim. Started without `mpirun`, it is a
/// singleton of size 1. Collectives run on a private duplicate of MPI_COMM_WORLD.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let localRank: Int
    public let localSize: Int

    public init() throws {
        try MPICommunicator.check("init", cmpi_init())
        var value: Int32 = 0
        try MPICommunicator.check("rank", cmpi_rank(&value)); rank = Int(value)
        try MPICommunicator.check("size", cmpi_size(&value)); size = Int(value)
        try MPICommunicator.check("local rank", cmpi_local_rank(&value)); localRank = Int(value)
        try MPICommunicator.check("local size", cmpi_local_size(&value)); localSize = Int(value)
    }

    /// Frees the communicators and finalises MPI if this process initialised it.
    public func finalize() { _ = cmpi_finalize() }

    public static var libraryVersion: String {
        var text = [CChar](repeating: 0, count: 8192)
        guard cmpi_library_version(&text, Int32(text.count)) == 0 else { return "unknown" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func wallTime() -> Double { cmpi_wtime() }

    static func check(_ operation: String, _ code: Int32) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 1024)
        cmpi_error_string(code, &text, Int32(text.count))
        let message = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw MPIError(operation: operation, code: code, message: message)
    }

    public func allreduceSum(_ b: UnsafeMutableBufferPointer<Float>) throws {
        try Self.check("allreduce", cmpi_allreduce_sum_f32(b.baseAddress, Int64(b.count)))
    }
    public func allreduceSum(_ b: UnsafeMutableBufferPointer<Double>) throws {
        try Self.check("allreduce", cmpi_allreduce_sum_f64(b.baseAddress, Int64(b.count)))
    }
    public func allreduceMax(_ b: UnsafeMutableBufferPointer<Float>) throws {
        try Self.check("allreduce", cmpi_allreduce_max_f32(b.baseAddress, Int64(b.count)))
    }
    public func allreduceMax(_ b: UnsafeMutableBufferPointer<Double>) throws {
        try Self.check("allreduce", cmpi_allreduce_max_f64(b.baseAddress, Int64(b.count)))
    }
    public func allreduceMin(_ b: UnsafeMutableBufferPointer<Double>) throws {
        try Self.check("allreduce", cmpi_allreduce_min_f64(b.baseAddress, Int64(b.count)))
    }
    public func broadcast(_ b: UnsafeMutableRawBufferPointer, root: Int) throws {
        try Self.check("broadcast", cmpi_broadcast_bytes(b.baseAddress, Int64(b.count), Int32(root)))
    }
    public func gather(_ send: UnsafeRawBufferPointer, root: Int) throws -> [UInt8] {
        var receive = [UInt8](repeating: 0, count: rank == root ? send.count * size : 0)
        try receive.withUnsafeMutableBytes { r in
            try Self.check("gather", cmpi_gather_bytes(send.baseAddress, r.baseAddress, Int64(send.count), Int32(root)))
        }
        return receive
    }
    public func allgather(_ send: UnsafeRawBufferPointer, into receive: UnsafeMutableRawBufferPointer) throws {
        precondition(receive.count == send.count * size, "allgather: receive holds \(receive.count) bytes, needs \(send.count * size)")
        try Self.check("allgather", cmpi_allgather_bytes(send.baseAddress, receive.baseAddress, Int64(send.count)))
    }
    public func barrier() throws { try Self.check("barrier", cmpi_barrier()) }
    public func abort(code: Int32) -> Never {
        _ = cmpi_abort(code)
        exit(code)
    }
}
