import Foundation

/// Everything a fine-tuning run tells its user: log lines, metrics.jsonl and the final summary.
/// Every rank holds one; only rank 0's has a run directory and writes.
final class RunReporter {
    let directory: RunDirectory?
    let log: Log
    let config: TrainConfig

    init(directory: RunDirectory?, log: Log, config: TrainConfig) {
        self.directory = directory
        self.log = log
        self.config = config
    }

    func started(source: String, parameterCount: Int, worldSize: Int) {
        log.info("fine-tuning \(source) (\(parameterCount) parameters) on \(worldSize) rank(s): "
                 + "\(config.epochs) epochs × \(config.stepsPerEpoch) steps, batch \(config.globalBatch) "
                 + "= \(config.globalBatch / config.microbatch) microbatches of \(config.microbatch), "
                 + "α = \(config.alpha), τ = \(config.tau), \(config.weighting.rawValue) weighting")
    }

    func stepFinished(_ metrics: StepMetrics) throws {
        guard metrics.step % config.logEvery == 0 || metrics.step == config.totalSteps else { return }
        try directory?.record(metrics)
        log.info(String(format: "epoch %d step %d/%d: reward %.4g ± %.3g, loss %.4g (FM %.4g, W2 %.4g), ESS %.1f, |g| %.3g, %.0f samples/s",
                        metrics.epoch, metrics.step, config.totalSteps, metrics.rewardMean, metrics.rewardStd,
                        metrics.loss, metrics.weightedFlowMatching, metrics.w2Term,
                        metrics.effectiveSampleSize, metrics.gradientNorm, metrics.samplesPerSecond))
    }

    /// An evaluation: `samples` [N, D] are the evaluation samples it measured.
    func epochEvaluated(_ metrics: EpochMetrics, samples: [Float], dimension: Int) throws {
        try directory?.record(metrics)
        log.info(String(format: "epoch %d: reward %.4g ± %.4g, diversity %.4g, sample std %.4g, W2 bound %.4g",
                        metrics.epoch, metrics.rewardMean, metrics.rewardStd, metrics.diversity, metrics.sampleStd, metrics.w2Bound))
    }
}
