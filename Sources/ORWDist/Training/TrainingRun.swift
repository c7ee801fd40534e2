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

/// `orwdist train` from a validated config: the epoch loop of DESIGN.md with rank 0 writing
/// the run directory and the checkpoints. Every rank calls `run`; only rank 0 returns a summary
/// with content.
///
/// After every step comes a step boundary, where all ranks act on whether a signal arrived
/// (agreed in the step's closing reduction; SIGUSR1/SIGTERM: rank 0 checkpoints, every rank
/// throws `TrainingInterrupted`), compare a
/// hash of their parameters every `run.hash_check_every` steps, and rank 0 writes a checkpoint
/// every `checkpoint.every` steps. See README, "Resuming and failures".
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
        try config.validate(worldSize: world.size)
        let hooks = TestHooks.fromEnvironment()

        // Where to start: rank 0 picks and verifies a checkpoint, every rank learns the choice.
        let resumed = try ResumeDecision.agree(resume, config: config, world: world, log: log)
        let base = try BaseModel.load(resumed?.point.referencePath ?? config.baseModel, seed: UInt64(config.seed), world: world, log: log)
        if let state = resumed?.point.state, state.parameterCount != base.parameters.count {
            throw CheckpointError(path: resumed!.point.checkpointPath, reason: .invalidContent(
                file: "state.json", problem: "\(state.parameterCount) parameters, the reference has \(base.parameters.count)"))
        }
        let model = base.architecture.makeModel()
        config.configureKernels(of: model)
        let reward = try config.reward.makeReward(dimension: model.dimension, rank: world.rank, worldSize: world.size, log: log)
        // Every rank reads run.eval_classifier, so a mismatch is the same config error everywhere;
        // rank 0 alone measures with it (below).
        let evaluationClassifier = try config.evaluationClassifier.isEmpty ? nil
            : FeatureEvaluation.classifier(at: config.evaluationClassifier, dimension: model.dimension)

        // Rank 0: the run directory, the reference written once, the store.
        var referenceHash = resumed?.point.state.referenceSHA256 ?? ""
        var directory: RunDirectory?
        let store = CheckpointStore(run: config.runDirectory)
        if world.isRoot {
            try FileManager.default.createDirectory(atPath: config.runDirectory, withIntermediateDirectories: true)
            if resume != .never {
                try ResumeDecision.trimMetrics(runDirectory: config.runDirectory, keepingThrough: resumed?.point.state.stepsTaken)
            }
            directory = try RunDirectory(path: config.runDirectory)
            try directory!.writeConfig(config.tomlText())
            let referencePath = directory!.file("reference.safetensors")
            if let resumed {
                if resumed.point.referencePath != referencePath,
                   FileManager.default.contents(atPath: referencePath).map({ Manifest.sha256([UInt8]($0)) }) != referenceHash {
                    try AtomicFile.write([UInt8](FileManager.default.contents(atPath: resumed.point.referencePath) ?? Data()), to: referencePath)
                }
            } else {
                let bytes = try ModelFile(architecture: base.architecture, parameters: base.parameters,
                                          metadata: ["orwdist.role": "reference"]).encode()
                try AtomicFile.write(bytes, to: referencePath)
                referenceHash = Manifest.sha256(bytes)
            }
            for stale in store.removeTemporaries() {
                log.warning("removed \(store.directory)/\(stale), left by a checkpoint write that did not finish")
            }
        }
        let reporter = RunReporter(directory: directory, log: log, config: config, reward: reward, sampleShape: base.sampleShape)
        reporter.started(source: config.baseModel, parameterCount: base.parameters.count, worldSize: world.size)

        let trainer = ORWTrainer(config: config, world: world, model: model, reference: base.parameters, reward: reward, log: log)
        if let resumed {
            var state = resumed.checkpoint?.trainer
                ?? TrainerState(policy: base.parameters, sampler: base.parameters, adamFirstMoment: base.parameters,
                                adamSecondMoment: base.parameters, optimizerSteps: 0, stepsTaken: 0)
            try world.broadcast(&state.policy)
            try world.broadcast(&state.sampler)
            try world.broadcast(&state.adamFirstMoment)
            try world.broadcast(&state.adamSecondMoment)
            state.optimizerSteps = resumed.point.state.optimizerSteps
            state.stepsTaken = resumed.point.state.stepsTaken
            trainer.importState(state)
            if resumed.point.state.worldSize != world.size {
                let layout = resumed.point.state.microbatchLayout
                log.info("the checkpoint was written by \(resumed.point.state.worldSize) rank(s), this job has \(world.size): the same "
                         + "\(layout.microbatches) microbatches of \(layout.microbatch), now \(layout.microbatches / world.size) per rank; "
                         + "results agree up to floating-point reduction order")
            }
        }
        var features: FeatureEvaluation?
        if world.isRoot, let file = evaluationClassifier {
            features = try FeatureEvaluation(file: file, sampleCount: config.evaluationSamples)
            log.info("FID floor at N=\(config.evaluationSamples): \(String(format: "%.4g", features!.floor)) "
                     + "(the first N Fashion-MNIST training images against the test set, in the features of \(config.evaluationClassifier))")
        }
        let evaluation = Evaluation(model: model, sampler: ODEIntegrator(config.odeSolver), reward: reward, features: features,
                                    count: config.evaluationSamples, seed: UInt64(config.seed))
        /// Rank 0 measures `parameters` (nil: the policy, recorded in metrics.jsonl); the other
        /// ranks go on to the next collective.
        func evaluate(epoch: Int, parameters: [Float]? = nil) throws -> EpochMetrics? {
            guard world.isRoot else { return nil }
            let metrics = try evaluation.measure(parameters: parameters ?? trainer.policy, reference: trainer.reference, epoch: epoch,
                                                 step: epoch == 0 ? 0 : trainer.stepsTaken, seconds: Date().timeIntervalSince(started))
            if parameters == nil { try reporter.epochEvaluated(metrics, samples: evaluation.samples, dimension: model.dimension) }
            return metrics
        }

        /// Rank 0 writes a checkpoint of the current state; returns its path ("" elsewhere).
        var lastCheckpoint: (step: Int, path: String)?
        func checkpoint(reason: String) throws -> String {
            if let lastCheckpoint, lastCheckpoint.step == trainer.stepsTaken { return lastCheckpoint.path }
            try ParameterHashCheck.run(trainer.policy, step: trainer.stepsTaken, world: world)
            var path = ""
            if world.isRoot {
                let state = trainer.exportState()
                let checkpoint = Checkpoint(
                    state: CheckpointState(stepsTaken: state.stepsTaken, optimizerSteps: state.optimizerSteps, config: config,
                                           worldSize: world.size, referenceSHA256: referenceHash,
                                           parameterCount: state.policy.count, reason: reason),
                    architecture: base.architecture, trainer: state, configText: config.tomlText())
                path = try store.write(checkpoint, keep: config.checkpointKeep, beforePublish: hooks.beforePublish)
                log.info("checkpoint \(path) (\(reason))")
            }
            lastCheckpoint = (trainer.stepsTaken, path)
            return path
        }

        let perEpoch = config.stepsPerEpoch
        let resumedSteps = trainer.stepsTaken
        let baseMetrics = try evaluate(epoch: 0, parameters: resumed == nil ? nil : trainer.reference)
        if resumed != nil { lastCheckpoint = (resumedSteps, resumed!.point.checkpointPath) }
        var finalMetrics: EpochMetrics?
        for epoch in (resumedSteps / perEpoch + 1)..<(config.epochs + 1) {
            let done = epoch == resumedSteps / perEpoch + 1 ? resumedSteps % perEpoch : 0
            // A run resumed mid-epoch keeps the sampler of its checkpoint.
            if done == 0 { trainer.beginEpoch() }
            for _ in done..<perEpoch {
                hooks.beforeStep(trainer.stepsTaken + 1, rank: world.rank)
                let metrics = try trainer.step(epoch: epoch)
                guard metrics.loss.isFinite, metrics.gradientNorm.isFinite else {
                    throw NonFiniteTraining(step: trainer.stepsTaken, loss: metrics.loss, gradientNorm: metrics.gradientNorm,
                                            lastCheckpoint: lastCheckpoint?.path)
                }
                try reporter.stepFinished(metrics)
                if trainer.stepsTaken % perEpoch == 0 { finalMetrics = try evaluate(epoch: epoch) }
                hooks.afterStep(trainer.stepsTaken, rank: world.rank, trainer: trainer)

                // The step boundary.
                let steps = trainer.stepsTaken
                if let signal = trainer.agreedSignal {
                    log.info("\(signal.signalName) received: checkpointing after step \(steps) and stopping")
                    let path = try checkpoint(reason: signal.signalName)
                    try world.barrier()
                    Interruption.restoreDefaults()
                    throw TrainingInterrupted(kind: signal, step: steps, checkpoint: path)
                }
                if config.hashCheckEvery > 0, steps % config.hashCheckEvery == 0 {
                    try ParameterHashCheck.run(trainer.policy, step: steps, world: world)
                }
                if config.checkpointEvery > 0, steps % config.checkpointEvery == 0 {
                    _ = try checkpoint(reason: "periodic")
                }
            }
        }
        _ = try checkpoint(reason: "final")
        if let directory {
            var metadata = ["orwdist.role": "policy", "orwdist.step": "\(trainer.stepsTaken)", "orwdist.config": config.tomlText()]
            metadata[SampleShape.metadataKey] = base.sampleShape.metadata
            try ModelFile(architecture: base.architecture, parameters: trainer.policy, metadata: metadata)
                .write(to: directory.file("final.safetensors"))
        }
        try world.barrier()
        if finalMetrics == nil { finalMetrics = try evaluate(epoch: config.epochs, parameters: trainer.policy) }
        guard let baseMetrics, let finalMetrics, let directory else { return nil }
        return TrainingSummary(base: baseMetrics, final: finalMetrics, steps: trainer.stepsTaken,
                               seconds: Date().timeIntervalSince(started), runDirectory: directory.path)
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
