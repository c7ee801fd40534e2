import Foundation
import ORWCore
import ORWRewards

/// What `orwdist train` reports at the end: base → final.
public struct TrainingSummary: Sendable {
    public var base: EpochMetrics
    public var final: EpochMetrics
    public var steps: Int
    public var seconds: Double
    public var runDirectory: String

    public var text: String {
        func format(_ value: Double) -> String { String(format: "%.4g", value) }
        return """
        summary after \(steps) steps in \(String(format: "%.1f", seconds)) s (run directory: \(runDirectory))
          reward     \(format(base.rewardMean)) → \(format(final.rewardMean))
          diversity  \(format(base.diversity)) → \(format(final.diversity))   (mean pairwise distance)
          sample std \(format(base.sampleStd)) → \(format(final.sampleStd))
          W2 bound   \(format(base.w2Bound)) → \(format(final.w2Bound))   (E‖v_θ − v_ref‖², 0 at the base)
        """
    }
}

/// `orwdist train` from a validated config: the epoch loop of DESIGN.md with rank 0 writing
/// the run directory. Every rank calls `run`; only rank 0 returns a summary with content.
public struct TrainingRun {
    public let config: TrainConfig
    public let world: any Communicator
    public let log: Log

    public init(config: TrainConfig, world: any Communicator, log: Log) {
        self.config = config
        self.world = world
        self.log = log
    }

    public func run() throws -> TrainingSummary? {
        let started = Date()
        try config.validate(worldSize: world.size)
        let base = try BaseModel.load(config.baseModel, seed: UInt64(config.seed), world: world, log: log)
        let model = base.architecture.makeModel()
        let reward = try makeReward(dimension: model.dimension)
        let directory = world.isRoot ? try RunDirectory(path: config.runDirectory) : nil
        try directory?.writeConfig(config.tomlText())
        try directory.map { try ModelFile(architecture: base.architecture, parameters: base.parameters,
                                          metadata: ["orwdist.role": "reference"]).write(to: $0.file("reference.safetensors")) }
        log.info("fine-tuning \(config.baseModel) (\(base.parameters.count) parameters) on \(world.size) rank(s): "
                 + "\(config.epochs) epochs × \(config.stepsPerEpoch) steps, batch \(config.globalBatch) "
                 + "= \(config.globalBatch / config.microbatch) microbatches of \(config.microbatch), "
                 + "α = \(config.alpha), τ = \(config.tau), \(config.weighting.rawValue) weighting")

        let trainer = ORWTrainer(config: config, world: world, model: model, reference: base.parameters, reward: reward, log: log)
        let evaluation = Evaluation(model: model, sampler: ODEIntegrator(config.odeSolver), reward: reward,
                                    count: config.evaluationSamples, seed: UInt64(config.seed))
        func evaluate(epoch: Int) throws -> EpochMetrics? {
            guard let directory else { return nil }
            let metrics = try evaluation.measure(parameters: trainer.policy, reference: trainer.reference, epoch: epoch,
                                                 step: trainer.stepsTaken, seconds: Date().timeIntervalSince(started))
            try directory.record(metrics)
            log.info(String(format: "epoch %d: reward %.4g ± %.4g, diversity %.4g, sample std %.4g, W2 bound %.4g",
                            epoch, metrics.rewardMean, metrics.rewardStd, metrics.diversity, metrics.sampleStd, metrics.w2Bound))
            return metrics
        }

        let baseMetrics = try evaluate(epoch: 0)
        var finalMetrics = baseMetrics
        for epoch in 1...config.epochs {
            trainer.beginEpoch()
            for _ in 0..<config.stepsPerEpoch {
                let metrics = try trainer.step(epoch: epoch)
                if metrics.step % config.logEvery == 0 || metrics.step == config.totalSteps {
                    try directory?.record(metrics)
                    log.info(String(format: "epoch %d step %d/%d: reward %.4g ± %.3g, loss %.4g (FM %.4g, W2 %.4g), ESS %.1f, |g| %.3g, %.0f samples/s",
                                    epoch, metrics.step, config.totalSteps, metrics.rewardMean, metrics.rewardStd,
                                    metrics.loss, metrics.weightedFlowMatching, metrics.w2Term,
                                    metrics.effectiveSampleSize, metrics.gradientNorm, metrics.samplesPerSecond))
                }
            }
            finalMetrics = try evaluate(epoch: epoch)
        }
        if let directory {
            try ModelFile(architecture: base.architecture, parameters: trainer.policy,
                          metadata: ["orwdist.role": "policy", "orwdist.step": "\(trainer.stepsTaken)",
                                     "orwdist.config": config.tomlText()])
                .write(to: directory.file("final.safetensors"))
        }
        try world.barrier()
        guard let baseMetrics, let finalMetrics, let directory else { return nil }
        return TrainingSummary(base: baseMetrics, final: finalMetrics, steps: trainer.stepsTaken,
                               seconds: Date().timeIntervalSince(started), runDirectory: directory.path)
    }

    func makeReward(dimension: Int) throws -> any Reward {
        let reward: any Reward
        let parameters: [Float]
        switch config.reward {
        case .distance:
            parameters = config.rewardTarget
            reward = DistanceReward(target: parameters)
        case .linear:
            parameters = config.rewardDirection
            reward = LinearReward(direction: parameters)
        }
        try require(parameters.count == dimension, config.reward == .distance ? "reward.target" : "reward.direction",
                    "has \(parameters.count) entries but the base model's samples have \(dimension) dimensions",
                    "give one entry per data dimension")
        return reward
    }
}
