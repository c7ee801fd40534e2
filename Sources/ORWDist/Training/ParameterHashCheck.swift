/// The ranks' copies of θ must stay bit-identical (the same Adam step on the same allreduced
/// gradient). Every N steps each rank hashes its parameters (64-bit FNV-1a over the float bits)
/// and the ranks compare: one allreduce-max of (hi, lo, −hi, −lo), the hash split into two
/// 32-bit halves, each exact as a Double. A silent gradient-sync bug is the classic failure of
/// distributed RL fine-tuning; this turns it into an error naming the ranks.
enum ParameterHashCheck {
    static func hash(_ parameters: [Float]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for value in parameters {
            var bits = value.bitPattern
            for _ in 0..<4 {
                hash = (hash ^ UInt64(bits & 0xff)) &* 0x100_0000_01b3
                bits >>= 8
            }
        }
        return hash
    }

    /// Collective: throws `ParameterMismatch` on every rank if any two ranks' parameters differ.
    static func run(_ parameters: [Float], step: Int, world: any Communicator) throws {
        guard world.size > 1 else { return }
        let mine = hash(parameters)
        let high = Double(mine >> 32), low = Double(mine & 0xffff_ffff)
        var extremes = [high, low, -high, -low]
        try world.allreduceMax(&extremes)
        guard extremes[0] != -extremes[2] || extremes[1] != -extremes[3] else { return }
        // A mismatch: collect every rank's hash (each fills its own slots of a zero buffer).
        var all = [Double](repeating: 0, count: 2 * world.size)
        all[2 * world.rank] = high
        all[2 * world.rank + 1] = low
        try world.allreduceSum(&all)
        let hashes = (0..<world.size).map { UInt64(all[2 * $0]) << 32 | UInt64(all[2 * $0 + 1]) }
        throw ParameterMismatch(step: step, hashes: hashes)
    }
}

/// The ranks' parameters differ after `step`.
public struct ParameterMismatch: Error, CustomStringConvertible {
    public let step: Int
    public let hashes: [UInt64]   // by rank

    public var description: String {
        let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
        let list = hashes.enumerated().map { "rank \($0.offset) \(String($0.element, radix: 16))" }.joined(separator: ", ")
        return "parameter hash check failed after step \(step): rank(s) \(differing.map(String.init).joined(separator: ", ")) "
            + "hold parameters different from rank 0's (\(list)). The ranks' copies of θ diverged — a gradient "
            + "synchronisation bug or memory corruption; the run stops so no checkpoint records it"
    }
}
