/// Bounds on the config integers that size buffers (batches, evaluation samples, layer widths),
/// checked at validation so that a mistyped value is a config error, not an overflow trap in
/// `micro × ranks` or an impossible allocation later (issue 20, #7).
enum ConfigLimits {
    /// The most samples in a global batch or a microbatch.
    static let batch = 1 << 24
    /// The most evaluation samples (their pairwise distances are N² work).
    static let evaluationSamples = 1 << 20
    /// The widest hidden layer a config may ask for (θ grows with its square).
    static let hiddenWidth = 1 << 16
    /// The most hidden layers.
    static let depth = 1024

    /// `batch.global` and `batch.micro` of every training config: both in 1…2^24, the global
    /// batch a multiple of micro × ranks.
    static func validateBatch(global: Int, micro: Int, worldSize: Int) throws {
        try require((1...batch).contains(global) && (1...batch).contains(micro), "batch.global",
                    "batch sizes must lie in 1…\(batch), got global = \(global), micro = \(micro)", "use e.g. global = 256, micro = 64")
        let perStep = micro * worldSize    // ≤ 2^24 × ranks: no overflow
        try require(global % perStep == 0, "batch.global",
                    "\(global) is not a multiple of batch.micro × ranks = \(micro) × \(worldSize) = \(perStep)",
                    "choose batch.global as a multiple of \(perStep), e.g. \(max(1, global / perStep) * perStep), or change batch.micro or the number of ranks")
    }
}
