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
        var text = """
        summary after \(steps) steps in \(String(format: "%.1f", seconds)) s (run directory: \(runDirectory))
          reward     \(format(base.rewardMean)) → \(format(final.rewardMean))
          diversity  \(format(base.diversity)) → \(format(final.diversity))   (mean pairwise distance)
          sample std \(format(base.sampleStd)) → \(format(final.sampleStd))
          W2 bound   \(format(base.w2Bound)) → \(format(final.w2Bound))   (E‖v_θ − v_ref‖², 0 at the base)
        """
        if let before = base.fid, let after = final.fid, let floor = final.fidFloor {
            text += "\n  FID        \(format(before)) → \(format(after))   (classifier features; as many training images: \(format(floor)))"
        }
        return text
    }
}

/// `orwdist train` from a validated config: the paper's outer loop (DESIGN.md, "The method in
/// one page") with rank 0 writing the run directory and the checkpoints. Every rank calls
/// `run`; only rank 0 returns a summary with content.
///
/// After every step comes a step boundary, where all ranks act on whether a signal arrived
/// (agreed in the step's closing reduction; SIGUSR1/SIGTERM: rank 0 checkpoints, every rank
/// throws `TrainingInterrupted`), compare a hash of their parameters every
/// `run.hash_check_every` steps, and rank 0 writes a checkpoint every `checkpoint.every` steps.
/// See README, "Resuming and failures".
public struct TrainingRun {
    public let config: TrainConfig
    public let world: any Communicator
    public let log: Log
    public let resume: ResumeMode

    public init(config: TrainConfig, world: any Communicator, log: Log, resume: ResumeMode = .never) {
        self.config = config
        self.world = world
        self.log = log
        self.resume = resume
    }

    public func run() throws -> TrainingSummary? {
        let started = Date()
        Interruption.install()
        // Validation reads the file system (run.eval_classifier), which may differ between nodes.
        try world.agreeOnStartup { try config.validate(worldSize: world.size) }
        let hooks = TestHooks.fromEnvironment()
        let start = try RunStart.prepare(config: config, resume: resume, world: world, log: log)
        defer { start.lock?.release() }   // held to the end: the lock must outlive every write
        let reporter = RunReporter(directory: start.directory, log: log, config: config, reward: start.reward,
                                   sampleShape: start.base.sampleShape)
        reporter.started(source: config.baseModel, parameterCount: start.base.parameters.count, worldSize: world.size)
        let trainer = try start.makeTrainer(config: config, world: world, log: log)
        trainer.nanForTesting = (hooks.nanSamples, hooks.nanRewards)
        let checkpoints = RunCheckpointer(config: config, world: world, log: log, architecture: start.base.architecture,
                                          referenceHash: start.referenceHash, hooks: hooks,
                                          resumedFrom: start.resumed.map { (trainer.stepsTaken, $0.point.checkpointPath) })
        let evaluate = try RunEvaluator(config: config, world: world, log: log, start: start, reporter: reporter,
                                        trainer: trainer, started: started)

        // Epoch 0 is the base (on resume, measured without recording: the run already has it).
        let baseMetrics = try evaluate(epoch: 0, parameters: start.resumed == nil ? nil : trainer.reference)
        var finalMetrics: EpochMetrics?
        let perEpoch = config.stepsPerEpoch
        for epoch in (trainer.stepsTaken / perEpoch + 1)..<(config.epochs + 1) {
            // 1. The sampler becomes the policy (a run resumed mid-epoch keeps its checkpoint's).
            let stepsDone = trainer.stepsTaken % perEpoch
            if stepsDone == 0 { trainer.beginEpoch() }
            for stepInEpoch in stepsDone..<perEpoch {
                // 2. One ORW-CFM-W2 step: rollout, reward, weights, loss, gradient, Adam.
                hooks.beforeStep(trainer.stepsTaken + 1, rank: world.rank)
                let metrics = try trainer.step(epoch: epoch)
                guard metrics.loss.isFinite, metrics.gradientNorm.isFinite else {
                    throw NonFiniteTraining(step: trainer.stepsTaken, loss: metrics.loss, gradientNorm: metrics.gradientNorm,
                                            lastCheckpoint: checkpoints.last?.path)
                }
                try reporter.stepFinished(metrics)
                // 3. After the epoch's last step, its evaluation (before the boundary, so a run
                //    stopped there has it).
                if stepInEpoch == perEpoch - 1 { finalMetrics = try evaluate(epoch: epoch) }
                hooks.afterStep(trainer.stepsTaken, rank: world.rank, trainer: trainer)
                try stepBoundary(trainer: trainer, checkpoints: checkpoints)
            }
        }

        _ = try checkpoints.write(trainer, reason: "final")
        if let directory = start.directory {
            var metadata = ["orwdist.role": "policy", "orwdist.step": "\(trainer.stepsTaken)", "orwdist.config": config.tomlText()]
            metadata[SampleShape.metadataKey] = start.base.sampleShape.metadata
            try ModelFile(architecture: start.base.architecture, parameters: trainer.policy, metadata: metadata)
                .write(to: directory.file("final.safetensors"))
        }
        try world.barrier()
        if finalMetrics == nil { finalMetrics = try evaluate(epoch: config.epochs, parameters: trainer.policy) }
        guard let baseMetrics, let finalMetrics, let directory = start.directory else { return nil }
        return TrainingSummary(base: baseMetrics, final: finalMetrics, steps: trainer.stepsTaken,
                               seconds: Date().timeIntervalSince(started), runDirectory: directory.path)
    }

    /// Collective, after every step: stop on an agreed signal (checkpoint, then throw), the
    /// periodic parameter-hash check, the periodic checkpoint.
    private func stepBoundary(trainer: ORWTrainer, checkpoints: RunCheckpointer) throws {
        let steps = trainer.stepsTaken
        if let signal = trainer.agreedSignal {
            log.info("\(signal.signalName) received: checkpointing after step \(steps) and stopping")
            let path = try checkpoints.write(trainer, reason: signal.signalName)
            try world.barrier()
            Interruption.restoreDefaults()
            throw TrainingInterrupted(kind: signal, step: steps, checkpoint: path)
        }
        if config.hashCheckEvery > 0, steps % config.hashCheckEvery == 0 {
            try ParameterHashCheck.run(trainer.policy, step: steps, world: world)
        }
        if config.checkpointEvery > 0, steps % config.checkpointEvery == 0 {
            _ = try checkpoints.write(trainer, reason: "periodic")
        }
    }
}

/// The evaluation after each epoch: rank 0 measures the policy (or given parameters) on fixed
/// evaluation noise, and records the policy's; the other ranks return nil at once.
struct RunEvaluator {
    private let world: any Communicator
    private let evaluation: Evaluation
    private let reporter: RunReporter
    private let trainer: ORWTrainer
    private let dimension: Int
    private let started: Date

    init(config: TrainConfig, world: any Communicator, log: Log, start: RunStart, reporter: RunReporter,
         trainer: ORWTrainer, started: Date) throws {
        var features: FeatureEvaluation?
        if world.isRoot, let file = start.evaluationClassifier {
            features = try FeatureEvaluation(file: file, sampleCount: config.evaluationSamples)
            log.info("FID floor at N=\(config.evaluationSamples): \(String(format: "%.4g", features!.floor)) "
                     + "(the first N Fashion-MNIST training images against the test set, in the features of \(config.evaluationClassifier))")
        }
        evaluation = Evaluation(model: start.model, sampler: ODEIntegrator(config.odeSolver), reward: start.reward, features: features,
                                count: config.evaluationSamples, seed: UInt64(config.seed))
        self.world = world
        self.reporter = reporter
        self.trainer = trainer
        self.started = started
        dimension = start.model.dimension
    }

    /// Rank 0 measures `parameters` (nil: the policy, recorded in metrics.jsonl and pictured).
    func callAsFunction(epoch: Int, parameters: [Float]? = nil) throws -> EpochMetrics? {
        guard world.isRoot else { return nil }
        let metrics = try evaluation.measure(parameters: parameters ?? trainer.policy, reference: trainer.reference, epoch: epoch,
                                             step: epoch == 0 ? 0 : trainer.stepsTaken, seconds: Date().timeIntervalSince(started))
        if parameters == nil { try reporter.epochEvaluated(metrics, samples: evaluation.samples, dimension: dimension) }
        return metrics
    }
}

/// The loss or the gradient became NaN or infinite: the run stops (the last checkpoint is intact).
public struct NonFiniteTraining: Error, CustomStringConvertible {
    public let step: Int
    public let loss: Double
    public let gradientNorm: Double
    public let lastCheckpoint: String?

    public var description: String {
        "non-finite training at step \(step): loss \(loss), gradient norm \(gradientNorm); "
            + (lastCheckpoint.map { "the last checkpoint, \($0), is intact" } ?? "no checkpoint was written yet")
            + ". Lower optimizer.learning_rate or method.tau, or use softmax weighting"
    }
}
