import CMPI
import Foundation

/// What orwdist's communicator adds to an allreduce: `Communicator.allreduceSum` against a
/// direct call of the C shim's in-place `MPI_Allreduce` (what `bench/allreduce.c` times in a
/// process of its own), on the same buffer, in the same process, alternating one and the other.
/// Timed in two processes seconds apart on a shared machine, their ratio came out 1.16 and 1.45
/// for one buffer and 0.82 for another; interleaved, both see the same load.
public struct AllreduceComparison: Codable, Sendable {
    public var floats: Int
    public var repetitions: Int
    public var communicatorSeconds: Double   // median over repetitions of the slowest rank's time
    public var shimSeconds: Double           // the same for the shim's call
    public var ratio: Double                 // communicator / shim

    /// Collective. Each repetition times one call of each, every call after a barrier (so all
    /// ranks start together); the slowest rank's time per call, the median over repetitions.
    /// Needs MPI initialised (`MPICommunicator`).
    static func measure(floats: Int, world: any Communicator, repetitions: Int = 200) throws -> AllreduceComparison {
        var buffer = [Float](repeating: 0, count: floats)   // zeros: the sums stay finite and constant
        var seconds = [Double](repeating: 0, count: 2 * repetitions)   // [communicator | shim]
        func timed(_ call: () throws -> Void) throws -> Double {
            try world.barrier()
            let start = DispatchTime.now().uptimeNanoseconds
            try call()
            return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        }
        func viaCommunicator() throws -> Double { try timed { try world.allreduceSum(&buffer) } }
        func viaShim() throws -> Double {
            try timed {
                try MPICommunicator.check("allreduce", buffer.withUnsafeMutableBufferPointer {
                    cmpi_allreduce_sum_f32($0.baseAddress, Int64($0.count))
                })
            }
        }
        for r in -5..<repetitions {
            // Which goes first alternates, so neither always finds the buffer just touched.
            let communicator: Double, shim: Double
            if r % 2 == 0 {
                communicator = try viaCommunicator()
                shim = try viaShim()
            } else {
                shim = try viaShim()
                communicator = try viaCommunicator()
            }
            if r >= 0 { (seconds[r], seconds[repetitions + r]) = (communicator, shim) }
        }
        try world.allreduceMax(&seconds)
        let communicator = StepBench.quantile(Array(seconds[..<repetitions]), 0.5)
        let shim = StepBench.quantile(Array(seconds[repetitions...]), 0.5)
        return AllreduceComparison(floats: floats, repetitions: repetitions, communicatorSeconds: communicator,
                                   shimSeconds: shim, ratio: communicator / shim)
    }
}
