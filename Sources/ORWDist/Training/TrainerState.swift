/// Everything of an `ORWTrainer` that changes from step to step, so a run can stop and continue
/// bit for bit: θ, the sampler, Adam's moments and step count, and the steps taken. The random
/// streams need nothing more: they are keyed by (seed, epoch, step, sample).
/// Shapes: P = parameters.
public struct TrainerState: Equatable, Sendable {
    public var policy: [Float]              // θ [P]
    public var sampler: [Float]             // [P], the policy as of the epoch's start
    public var adamFirstMoment: [Float]     // m [P]
    public var adamSecondMoment: [Float]    // v [P]
    public var optimizerSteps: Int          // Adam's t
    public var stepsTaken: Int

    public init(policy: [Float], sampler: [Float], adamFirstMoment: [Float], adamSecondMoment: [Float],
                optimizerSteps: Int, stepsTaken: Int) {
        self.policy = policy
        self.sampler = sampler
        self.adamFirstMoment = adamFirstMoment
        self.adamSecondMoment = adamSecondMoment
        self.optimizerSteps = optimizerSteps
        self.stepsTaken = stepsTaken
    }
}

extension ORWTrainer {
    /// A copy of the state a checkpoint holds.
    public func exportState() -> TrainerState {
        TrainerState(policy: policy, sampler: samplerParameters, adamFirstMoment: optimizer.adam.m,
                     adamSecondMoment: optimizer.adam.v, optimizerSteps: optimizer.adam.stepCount, stepsTaken: stepsTaken)
    }

    /// Continues from `state`, as if this trainer had taken its steps. The counts must match
    /// this trainer's model.
    public func importState(_ state: TrainerState) {
        precondition([state.policy.count, state.sampler.count, state.adamFirstMoment.count, state.adamSecondMoment.count]
            .allSatisfy { $0 == policy.count }, "trainer state for \(state.policy.count) parameters, the model has \(policy.count)")
        policy = state.policy
        samplerParameters = state.sampler
        optimizer.adam.m = state.adamFirstMoment
        optimizer.adam.v = state.adamSecondMoment
        optimizer.adam.stepCount = state.optimizerSteps
        stepsTaken = state.stepsTaken
    }

    /// Adds `amount` to θ[0] on this rank only: the parameter-hash check's test hook
    /// (`ORWDIST_DEBUG_PERTURB_RANK`, see `TestHooks`).
    func perturbForTesting(_ amount: Float) {
        policy[0] += amount
    }
}
