import Foundation
import ORWCore
import ORWRewards

/// Everything a training run needs before its first step, on every rank: where it starts
/// (fresh or a verified checkpoint), the base model, the model object, the reward, the
/// evaluation classifier, and the trainer with its state restored. Rank 0 also locks the run
/// directory first (`RunLock`), then prepares it: the effective config, the reference written
/// once, stale temporaries removed.
struct RunStart {
    let resumed: (point: ResumePoint, checkpoint: Checkpoint?)?
    let base: BaseModel
    let model: any VelocityField
    let reward: any Reward
    let evaluationClassifier: ClassifierFile?
    /// Rank 0 only.
    let directory: RunDirectory?
    /// SHA-256 of RUN/reference.safetensors, recorded in every checkpoint.
    let referenceHash: String
    /// Rank 0 only: the run directory's lock, to hold until the run ends.
    let lock: RunLock?

    /// Collective: every rank calls it with the same config.
    static func prepare(config: TrainConfig, resume: ResumeMode, world: any Communicator, log: Log) throws -> RunStart {
        // The run directory becomes this job's before anything reads or writes it: rank 0 locks
        // it and refuses links leading out of it; a failure ends every rank with exit 2.
        let lock = try RunLock.acquire(directory: config.runDirectory, world: world) {
            try RunDirectory.refuseLinksOut(of: config.runDirectory)
        }
        // Where to start: rank 0 picks and verifies a checkpoint, every rank learns the choice.
        let resumed = try ResumeDecision.agree(resume, config: config, world: world, log: log)
        let base = try BaseModel.load(resumed?.point.referencePath ?? config.baseModel, seed: UInt64(config.seed), world: world, log: log)
        if let resumed, resumed.point.state.parameterCount != base.parameters.count {
            throw CheckpointError(path: resumed.point.checkpointPath, reason: .invalidContent(
                file: "state.json", problem: "\(resumed.point.state.parameterCount) parameters, the reference has \(base.parameters.count)"))
        }
        let model = base.architecture.makeModel()
        config.configureKernels(of: model)
        // Each rank makes its own reward (files, programs) and reads run.eval_classifier (rank 0
        // alone measures with it), which can fail on some ranks only: every rank agrees on the
        // outcome before going on.
        let (reward, evaluationClassifier) = try world.agreeOnStartup {
            (try config.reward.makeReward(dimension: model.dimension, rank: world.rank, worldSize: world.size, log: log),
             try config.evaluationClassifier.isEmpty ? nil
                : FeatureEvaluation.classifier(at: config.evaluationClassifier, dimension: model.dimension))
        }

        var directory: RunDirectory?
        var referenceHash = resumed?.point.state.referenceSHA256 ?? ""
        if world.isRoot {
            (directory, referenceHash) = try prepareDirectory(config: config, resume: resume, resumed: resumed?.point,
                                                              base: base, referenceHash: referenceHash, log: log)
        }
        return RunStart(resumed: resumed, base: base, model: model, reward: reward,
                        evaluationClassifier: evaluationClassifier, directory: directory, referenceHash: referenceHash, lock: lock)
    }

    /// Rank 0: creates the run directory, cuts metrics.jsonl back to the resumed step, writes the
    /// effective config and the reference (once; on resume, restored from the resumed run's
    /// when they differ), and removes what an unfinished checkpoint write left. Returns the
    /// directory and the reference's hash.
    private static func prepareDirectory(config: TrainConfig, resume: ResumeMode, resumed: ResumePoint?, base: BaseModel,
                                         referenceHash: String, log: Log) throws -> (RunDirectory, String) {
        try FileManager.default.createDirectory(atPath: config.runDirectory, withIntermediateDirectories: true)
        if resume != .never {
            try ResumeDecision.trimMetrics(runDirectory: config.runDirectory, keepingThrough: resumed?.state.stepsTaken)
        }
        let directory = try RunDirectory(path: config.runDirectory)
        try directory.writeConfig(config.tomlText())
        let referencePath = directory.file("reference.safetensors")
        var referenceHash = referenceHash
        if let resumed {
            if resumed.referencePath != referencePath,
               FileManager.default.contents(atPath: referencePath).map({ Manifest.sha256([UInt8]($0)) }) != referenceHash {
                try AtomicFile.write([UInt8](FileManager.default.contents(atPath: resumed.referencePath) ?? Data()), to: referencePath)
            }
        } else {
            let bytes = try ModelFile(architecture: base.architecture, parameters: base.parameters,
                                      metadata: ["orwdist.role": "reference"]).encode()
            try AtomicFile.write(bytes, to: referencePath)
            referenceHash = Manifest.sha256(bytes)
        }
        let store = CheckpointStore(run: config.runDirectory)
        for stale in store.removeTemporaries() {
            log.warning("removed \(store.directory)/\(stale), left by a checkpoint write that did not finish")
        }
        return (directory, referenceHash)
    }

    /// The trainer, its state restored from the checkpoint when resuming (rank 0 read it; the
    /// others receive it by broadcast).
    func makeTrainer(config: TrainConfig, world: any Communicator, log: Log) throws -> ORWTrainer {
        let trainer = ORWTrainer(config: config, world: world, model: model, reference: base.parameters, reward: reward, log: log)
        guard let resumed else { return trainer }
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
        return trainer
    }
}
