import Foundation

/// Fault injection for the resume and failure tests, read from the environment in this one
/// place. Not for users; documented in the README as test hooks.
///
/// - `ORWDIST_DEBUG_PERTURB_RANK=K`: rank K adds 1e-3 to θ[0] after the first step, so the
///   parameter-hash check must stop the run.
/// - `ORWDIST_DEBUG_CRASH_IN_CHECKPOINT=S`: rank 0 kills itself (SIGKILL) after writing the
///   files of the checkpoint of step S and before the rename that publishes it.
/// - `ORWDIST_DEBUG_SIGNAL=K:S:NAME`: rank K sends itself signal NAME (USR1 or TERM) as step S
///   begins, so only that rank receives it and the job stops after step S.
/// - `ORWDIST_DEBUG_STEP_DELAY_MS=N`: every rank sleeps N ms after each step, so a test can
///   signal or kill a job while it trains. It changes no arithmetic.
/// - `ORWDIST_DEBUG_NAN_SAMPLES=I,J,…`: the rollout of global samples I, J, … is NaN at every
///   step (on whichever rank computes them), as a diverging rollout would be.
/// - `ORWDIST_DEBUG_NAN_REWARDS=I,J,…`: the reward of global samples I, J, … is NaN at every step.
struct TestHooks {
    var perturbRank: Int?
    var crashInCheckpointAtStep: Int?
    var signal: (rank: Int, step: Int, number: Int32)?
    var stepDelay: Int?
    var nanSamples: [Int] = []
    var nanRewards: [Int] = []

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> TestHooks {
        var hooks = TestHooks()
        hooks.perturbRank = environment["ORWDIST_DEBUG_PERTURB_RANK"].flatMap { Int($0) }
        hooks.crashInCheckpointAtStep = environment["ORWDIST_DEBUG_CRASH_IN_CHECKPOINT"].flatMap { Int($0) }
        hooks.stepDelay = environment["ORWDIST_DEBUG_STEP_DELAY_MS"].flatMap { Int($0) }
        func indices(_ name: String) -> [Int] { environment[name].map { $0.split(separator: ",").compactMap { Int($0) } } ?? [] }
        hooks.nanSamples = indices("ORWDIST_DEBUG_NAN_SAMPLES")
        hooks.nanRewards = indices("ORWDIST_DEBUG_NAN_REWARDS")
        if let parts = environment["ORWDIST_DEBUG_SIGNAL"]?.split(separator: ":"), parts.count == 3,
           let rank = Int(parts[0]), let step = Int(parts[1]) {
            let number: Int32? = switch parts[2] { case "USR1": SIGUSR1; case "TERM": SIGTERM; default: nil }
            if let number { hooks.signal = (rank, step, number) }
        }
        return hooks
    }

    /// Before step `step` (counting from 1) on `rank`: a signal raised here is agreed in the
    /// step's closing reduction.
    func beforeStep(_ step: Int, rank: Int) {
        if let signal, signal.rank == rank, signal.step == step { raise(signal.number) }
    }

    /// After step `step` (steps taken) on `rank`.
    func afterStep(_ step: Int, rank: Int, trainer: ORWTrainer) {
        if perturbRank == rank, step == 1 { trainer.perturbForTesting(1e-3) }
        if let stepDelay, stepDelay > 0 { usleep(UInt32(stepDelay) * 1000) }
    }

    /// Between a checkpoint's files and its publication, on rank 0.
    func beforePublish(_ step: Int) {
        if crashInCheckpointAtStep == step { raise(SIGKILL) }
    }
}
