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
        config.configureKernels(of: model)
        let reward = try config.reward.makeReward(dimension: model.dimension, rank: world.rank, worldSize: world.size)
        let directory = world.isRoot ? try RunDirectory(path: config.runDirectory) : nil
        try directory?.writeConfig(config.tomlText())
        try directory.map { try ModelFile(architecture: base.architecture, parameters: base.parameters,
                                          metadata: ["orwdist.role": "reference"]).write(to: $0.file("reference.safetensors")) }
        let reporter = RunReporter(directory: directory, log: log, config: config)
        reporter.started(source: config.baseModel, parameterCount: base.parameters.count, worldSize: world.size)

        let trainer = ORWTrainer(config: config, world: world, model: model, reference: base.parameters, reward: reward, log: log)
        let evaluation = Evaluation(model: model, sampler: ODEIntegrator(config.odeSolver), reward: reward,
                                    count: config.evaluationSamples, seed: UInt64(config.seed))
        /// Rank 0 measures the policy; the other ranks go on to the next collective.
        func evaluate(epoch: Int) throws -> EpochMetrics? {
            guard world.isRoot else { return nil }
            let metrics = try evaluation.measure(parameters: trainer.policy, reference: trainer.reference, epoch: epoch,
                                                 step: trainer.stepsTaken, seconds: Date().timeIntervalSince(started))
            try reporter.epochEvaluated(metrics, samples: evaluation.samples, dimension: model.dimension)
            return metrics
        }

        let baseMetrics = try evaluate(epoch: 0)
        var finalMetrics = baseMetrics
        for epoch in 1...config.epochs {
            trainer.beginEpoch()
            for _ in 0..<config.stepsPerEpoch {
                try reporter.stepFinished(trainer.step(epoch: epoch))
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
}
