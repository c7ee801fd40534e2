import ORWCore

/// Step 6 of DESIGN.md: one allreduce-sum of the flat gradient buffer, division by the global
/// batch, global-norm clipping and an Adam step — the same arithmetic on every rank, so the
/// parameters stay identical without being broadcast.
struct DistributedOptimizer {
    let world: any Communicator
    var adam: Adam
    let schedule: LearningRateSchedule
    let clipNorm: Float
    var clock: PhaseClock?   // set by benchmarks: times the allreduce apart from the update

    init(world: any Communicator, settings: OptimizerSettings, parameterCount: Int, totalSteps: Int) {
        self.world = world
        adam = Adam(parameterCount: parameterCount, beta1: Float(settings.beta1), beta2: Float(settings.beta2),
                    epsilon: Float(settings.epsilon), weightDecay: Float(settings.weightDecay),
                    decoupled: settings.decoupledWeightDecay)
        let kind: LearningRateSchedule.Kind = switch settings.schedule {
        case .constant: .constant
        case .cosine: .cosine(totalSteps: totalSteps, minimum: Float(settings.minimumLearningRate))
        }
        schedule = LearningRateSchedule(base: Float(settings.learningRate), warmupSteps: settings.warmupSteps, kind: kind)
        clipNorm = Float(settings.clipNorm)
    }

    /// `gradientSums` [P] holds this rank's sum of per-sample gradients, times `gradientScale`;
    /// on return it holds the global mean gradient (after clipping) and `parameters` [P] have
    /// taken one Adam step. `globalBatch` is the number of samples summed over all ranks (the
    /// global batch less any dropped samples); `step` the number of steps already taken (0 for the
    /// first). The mean, the norm and the clipping factor are formed in Double and applied in one
    /// multiplication, so a `gradientScale` that keeps huge `exp` weights inside Float
    /// (`orwLoss`) is undone without overflow.
    mutating func step(parameters: inout [Float], gradientSums: inout [Float], globalBatch: Int, gradientScale: Double = 1,
                       step: Int) throws -> (gradientNorm: Double, learningRate: Float) {
        try world.allreduceSum(&gradientSums)
        clock?.lap(.allreduce)
        let mean = 1 / (Double(globalBatch) * gradientScale)
        let norm = gradientSums.withUnsafeBufferPointer { Elementwise.sumOfSquares($0.baseAddress!, count: $0.count) }
            .squareRoot() * mean
        // torch.nn.utils.clip_grad_norm_'s factor (`clipGradientNorm`), folded into the mean's.
        let clip = Double(clipNorm) / (norm + 1e-6)
        let factor = clipNorm > 0 && norm.isFinite && clip < 1 ? mean * clip : mean
        gradientSums.withUnsafeMutableBufferPointer { Elementwise.scale($0.baseAddress!, by: Float(factor), count: $0.count) }
        let rate = schedule.rate(at: step)
        adam.step(parameters: &parameters, gradients: gradientSums, learningRate: rate)
        return (norm, rate)
    }
}
