/// The rewards of the whole global batch on every rank, in global sample order, from one
/// allgather of each rank's rewards (and, for a composite reward, of its components' rewards).
///
/// With them every rank weights the batch and computes the reward statistics itself, in the
/// same order and so identically: one collective where the weighting's maxima and sums and the
/// metrics' sums and extremes took six, each a point where one rank waits for the other.
/// Summing in global order also makes these figures independent of the number of ranks.
///
/// Rank k of R computes microbatches k, k+R, k+2R, … (`ORWTrainer`), so the allgather's blocks,
/// in rank order, are reordered here. Shapes: n = B / R, b = microbatch, F = 1 + components.
struct GlobalRewards {
    let world: any Communicator
    let microbatch: Int
    /// B, the global batch.
    let count: Int
    /// F: the reward, then each component of a composite reward.
    let fields: Int
    private var local: [Float]       // [F, n] this rank's rows
    private var gathered: [Float]    // [R, F, n] every rank's, in rank order
    /// [F, B]: row 0 the rewards r, row 1 + c component c's rewards, in global sample order.
    private(set) var values: [Float]

    init(world: any Communicator, globalBatch: Int, microbatch: Int, components: Int) {
        self.world = world
        self.microbatch = microbatch
        count = globalBatch
        fields = 1 + components
        local = [Float](repeating: 0, count: fields * globalBatch / world.size)
        gathered = [Float](repeating: 0, count: fields * globalBatch)
        values = gathered
    }

    /// Collective: gathers this rank's rewards r [n] and its composite components' [C][n].
    mutating func gather(_ rewards: [Float], components: [[Float]]) throws {
        let n = rewards.count, b = microbatch, ranks = world.size
        precondition(n * ranks == count && components.count == fields - 1, "GlobalRewards: \(n) rewards and \(components.count) components")
        local.replaceSubrange(0..<n, with: rewards)
        for (c, row) in components.enumerated() {
            local.replaceSubrange((1 + c) * n..<(2 + c) * n, with: row)
        }
        try world.allgather(local, into: &gathered)
        for rank in 0..<ranks {
            for slot in 0..<(n / b) {
                let first = (slot * ranks + rank) * b   // the microbatch's first global sample
                for f in 0..<fields {
                    let source = (rank * fields + f) * n + slot * b
                    values.replaceSubrange(f * count + first..<f * count + first + b, with: gathered[source..<source + b])
                }
            }
        }
    }

    /// The rank that computes global sample `sample` (rank k of R: microbatches k, k+R, …).
    func rank(of sample: Int) -> Int { (sample / microbatch) % world.size }

    /// Where global sample `sample` lies in the rows of the rank that computes it.
    func localRow(of sample: Int) -> Int { sample / microbatch / world.size * microbatch + sample % microbatch }

    /// Calls `body` with row `field` [B] of `values`.
    func withRow<T>(_ field: Int, _ body: (UnsafeBufferPointer<Float>) throws -> T) rethrows -> T {
        try values.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[field * count..<(field + 1) * count])) }
    }
}
