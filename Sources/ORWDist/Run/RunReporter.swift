import Foundation
import ORWRewards

/// Everything a fine-tuning run tells its user: progress (a bar on a terminal, timestamped lines
/// in a log file), metrics.jsonl, one summary line and one picture of the evaluation samples
/// per epoch (RUN/samples/epoch_NNNN.png). Every rank holds one; only rank 0's has a run
/// directory and writes, and only rank 0's log prints.
final class RunReporter {
    let directory: RunDirectory?
    let log: Log
    let config: TrainConfig
    let reward: (any Reward)?
    let sampleShape: SampleShape?
    /// Draws the evaluation samples; made at the first evaluation (rank 0 only).
    var picture: SamplePicture?
    var bar: ProgressBar?

    /// `reward` shades the landscape behind 2-D samples; `sampleShape` says how to draw a
    /// sample (nil: inferred from the dimension).
    init(directory: RunDirectory?, log: Log, config: TrainConfig, reward: (any Reward)? = nil, sampleShape: SampleShape? = nil) {
        self.directory = directory
        self.log = log
        self.config = config
        self.reward = reward
        self.sampleShape = sampleShape
    }

    func started(source: String, parameterCount: Int, worldSize: Int) {
        log.info("fine-tuning \(source) (\(parameterCount) parameters) on \(worldSize) rank(s): "
                 + "\(config.epochs) epochs × \(config.stepsPerEpoch) steps, batch \(config.globalBatch) "
                 + "= \(config.globalBatch / config.microbatch) microbatches of \(config.microbatch), "
                 + "α = \(config.alpha), τ = \(config.tau), \(config.weighting.rawValue) weighting")
    }

    func stepFinished(_ metrics: StepMetrics) throws {
        let logged = metrics.step % config.logEvery == 0 || metrics.step == config.totalSteps
        if logged { try directory?.record(metrics) }
        switch log.progress {
        case .bar:
            if bar == nil { bar = ProgressBar(title: "epoch \(metrics.epoch)/\(config.epochs)", total: config.stepsPerEpoch, log: log) }
            bar?.update(done: metrics.step - (metrics.epoch - 1) * config.stepsPerEpoch, fields: [
                ("", "\(ProgressBar.compact(metrics.samplesPerSecond)) samples/s"),
                ("reward", String(format: "%.4g", metrics.rewardMean)),
                ("W2", String(format: "%.3g", metrics.w2Term)),
            ])
        case .lines where logged:
            log.info(String(format: "epoch %d step %d/%d: reward %.4g ± %.3g, loss %.4g (FM %.4g, W2 %.4g), ESS %.1f, |g| %.3g, %.0f samples/s",
                            metrics.epoch, metrics.step, config.totalSteps, metrics.rewardMean, metrics.rewardStd,
                            metrics.loss, metrics.weightedFlowMatching, metrics.w2Term,
                            metrics.effectiveSampleSize, metrics.gradientNorm, metrics.samplesPerSecond))
        case .lines, .quiet:
            break
        }
    }

    /// An evaluation: `samples` [N, D] are the evaluation samples it measured.
    func epochEvaluated(_ metrics: EpochMetrics, samples: [Float], dimension: Int) throws {
        bar?.finish()
        bar = nil
        try directory?.record(metrics)
        var line = String(format: "epoch %d: reward %.4g ± %.4g, diversity %.4g, sample std %.4g, W2 bound %.4g",
                          metrics.epoch, metrics.rewardMean, metrics.rewardStd, metrics.diversity, metrics.sampleStd, metrics.w2Bound)
        if let fid = metrics.fid, let diversity = metrics.featureDiversity, let entropy = metrics.classEntropy {
            line += String(format: ", FID %.4g, feature diversity %.4g, class entropy %.3g bits", fid, diversity, entropy)
        }
        log.info(line)
        if let directory { drawSamples(samples, dimension: dimension, epoch: metrics.epoch, in: directory) }
    }

    /// RUN/samples/epoch_NNNN.png. A picture that cannot be drawn or written costs a warning,
    /// never the run.
    func drawSamples(_ samples: [Float], dimension: Int, epoch: Int, in directory: RunDirectory) {
        if picture == nil {
            picture = SamplePicture(shape: sampleShape ?? SampleShape(dimension: dimension), dimension: dimension, reward: reward)
        }
        let path = directory.file(String(format: "samples/epoch_%04d.png", epoch))
        do {
            try FileManager.default.createDirectory(atPath: directory.file("samples"), withIntermediateDirectories: true)
            try AtomicFile.write(picture!.draw(samples).png(), to: path)
        } catch {
            log.warning("cannot write \(path): \(error)")
        }
    }
}
