import ORWCore

extension TrainConfig {
    /// Applies `model.gemm`, `model.training_precision` and `sampler.precision` to a model object (MLPs; other
    /// architectures keep their defaults).
    public func configureKernels(of model: any VelocityField) {
        guard let mlp = model as? MLPVelocityField else { return }
        mlp.gemmBackends = Array(repeating: gemm, count: mlp.gemmBackends.count)
        mlp.rolloutPrecision = rolloutPrecision
        mlp.trainingPrecision = trainingPrecision
    }
}
