import Foundation
import ORWCore

/// Writes the run's checkpoints: every rank compares its parameter hash first (a collective),
/// then rank 0 writes the trainer's state through the store. Asking twice at the same step
/// writes once.
final class RunCheckpointer {
    private let config: TrainConfig
    private let world: any Communicator
    private let log: Log
    private let store: CheckpointStore
    private let architecture: Architecture
    private let referenceHash: String
    private let hooks: TestHooks
    /// The last checkpoint written or resumed from: its step and path ("" on ranks other than 0).
    private(set) var last: (step: Int, path: String)?

    init(config: TrainConfig, world: any Communicator, log: Log, architecture: Architecture, referenceHash: String,
         hooks: TestHooks, resumedFrom: (step: Int, path: String)?) {
        self.config = config
        self.world = world
        self.log = log
        self.architecture = architecture
        self.referenceHash = referenceHash
        self.hooks = hooks
        store = CheckpointStore(run: config.runDirectory)
        last = resumedFrom
    }

    /// Collective. Rank 0 writes a checkpoint of `trainer`'s current state and returns its path
    /// ("" elsewhere).
    func write(_ trainer: ORWTrainer, reason: String) throws -> String {
        if let last, last.step == trainer.stepsTaken { return last.path }
        try ParameterHashCheck.run(trainer.policy, step: trainer.stepsTaken, world: world)
        var path = ""
        if world.isRoot {
            let state = trainer.exportState()
            let checkpoint = Checkpoint(
                state: CheckpointState(stepsTaken: state.stepsTaken, optimizerSteps: state.optimizerSteps, config: config,
                                       worldSize: world.size, referenceSHA256: referenceHash,
                                       parameterCount: state.policy.count, reason: reason),
                architecture: architecture, trainer: state, configText: config.tomlText())
            path = try store.write(checkpoint, keep: config.checkpointKeep, beforePublish: hooks.beforePublish)
            log.info("checkpoint \(path) (\(reason))")
        }
        last = (trainer.stepsTaken, path)
        return path
    }
}
