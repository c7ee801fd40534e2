import Foundation
import ORWCore
import ORWData

/// Conditional flow matching on a dataset (`orwdist pretrain`), data-parallel by the
/// microbatch invariant. Shapes: B = global batch, b = microbatch, D = dimension, P = parameters.
public struct PretrainingRun {
    public let config: PretrainConfig
    public let world: any Communicator
    public let log: Log

    public init(config: PretrainConfig, world: any Communicator, log: Log) {
        self.config = config
        self.world = world
        self.log = log
    }

    /// Trains and (rank 0) writes RUN/model.safetensors; returns its path.
    @discardableResult
    public func run() throws -> String {
        let started = Date()
        // Each rank reads data.path itself: a path missing on one node stops every rank (exit 2).
        let dataset = try world.agreeOnStartup {
            try config.validate(worldSize: world.size)
            return try makeDataset()
        }
        // One job per run directory: a second pretrain on it stops here with exit 2.
        let lock = try RunLock.acquire(directory: config.runDirectory, world: world)
        defer { lock?.release() }
        let seed = UInt64(config.seed)
        var spec = config.architecture
        spec.dimension = dataset.dimension
        let architecture = Architecture.mlp(spec)
        let model = architecture.makeModel()
        var parameters = [Float](repeating: 0, count: model.layout.count)   // θ [P]
        parameters.withUnsafeMutableBufferPointer { model.initialize($0.baseAddress!, seed: seed) }
        var average = parameters                                              // EMA of θ [P]
        var gradient = parameters                                             // [P]
        var optimizer = DistributedOptimizer(world: world, settings: config.optimizer,
                                             parameterCount: parameters.count, totalSteps: config.steps)
        let objective = MicrobatchObjective(model: model, coupling: config.coupling, path: ProbabilityPath(sigma: Float(config.sigma)),
                                            seed: seed, microbatch: config.microbatch)
        let directory = world.isRoot ? try RunDirectory(path: config.runDirectory) : nil
        try directory?.writeConfig(config.tomlText())
        log.info("pretraining an MLP (\(parameters.count) parameters) on \(config.data.rawValue) (D = \(dataset.dimension)) "
                 + "on \(world.size) rank(s): \(config.steps) steps of \(config.globalBatch) examples")

        let b = config.microbatch, dimension = dataset.dimension
        var x1 = [Float](repeating: 0, count: b * dimension)                 // [b, D]
        let microbatchCount = config.globalBatch / b
        let bar = ProgressBar(title: "pretraining", total: config.steps, log: log)
        for step in 0..<config.steps {
            for i in gradient.indices { gradient[i] = 0 }
            var terms = ORWLossTerms()
            for microbatch in stride(from: world.rank, to: microbatchCount, by: world.size) {
                let first = microbatch * b
                x1.withUnsafeMutableBufferPointer { rows in
                    for j in 0..<b {
                        dataset.copySample(dataIndex(step: step, sample: first + j, dataset: dataset, seed: seed),
                                           into: rows.baseAddress! + j * dimension)
                    }
                }
                terms += objective.accumulate(x1: x1, weights: nil, firstSample: first, epoch: 0, step: step,
                                              policy: parameters, reference: nil, alpha: 0, gradient: &gradient)
            }
            let (norm, rate) = try optimizer.step(parameters: &parameters, gradientSums: &gradient,
                                                  globalBatch: config.globalBatch, step: step)
            if config.emaDecay > 0 {
                let decay = Float(config.emaDecay)
                for i in average.indices { average[i] = decay * average[i] + (1 - decay) * parameters[i] }
            }
            let loss = try world.allreduceSum(terms.flowMatching) / Double(config.globalBatch)
            let seconds = Date().timeIntervalSince(started)
            bar.update(done: step + 1, fields: [("loss", String(format: "%.4g", loss)),
                                                ("", "\(ProgressBar.compact(Double((step + 1) * config.globalBatch) / seconds)) examples/s")])
            if (step + 1) % config.logEvery == 0 || step + 1 == config.steps {
                try directory?.record(PretrainMetrics(step: step + 1, loss: loss, gradientNorm: Double(norm),
                                                      learningRate: Double(rate), seconds: seconds))
                if log.progress == .lines {
                    log.info(String(format: "step %d/%d: loss %.5f, |g| %.3g, lr %.3g", step + 1, config.steps, loss, norm, rate))
                }
            }
        }
        bar.finish()
        let output = directory?.file("model.safetensors") ?? ""
        if directory != nil {
            try ModelFile(architecture: architecture, parameters: config.emaDecay > 0 ? average : parameters,
                          metadata: ["orwdist.role": "pretrained", "orwdist.step": "\(config.steps)",
                                     "orwdist.config": config.tomlText(),
                                     SampleShape.metadataKey: SampleShape.metadata(dataset.sampleShape)])
                .write(to: output)
            log.info("wrote \(output) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        }
        try world.barrier()
        return output
    }

    /// The dataset index global sample `sample` of `step` reads: consecutive fresh points for a
    /// generated dataset, a uniform draw with replacement for a finite one.
    func dataIndex(step: Int, sample: Int, dataset: any Dataset, seed: UInt64) -> Int {
        guard let count = dataset.count else { return step * config.globalBatch + sample }
        var stream = RandomStream(seed: seed, purpose: .dataIndex, step: step, sample: sample)
        return stream.nextIndex(below: count)
    }

    func makeDataset() throws -> any Dataset {
        let seed = UInt64(config.seed)
        switch config.data {
        case .eightGaussians: return Toy.eightGaussians.makeDataset(seed: seed)
        case .moons: return Toy.moons.makeDataset(seed: seed)
        case .checkerboard: return Toy.checkerboard.makeDataset(seed: seed)
        case .gaussian: return GaussianDataset(mean: config.gaussianMean, standardDeviation: Float(config.gaussianStd), seed: seed)
        case .fashionMNIST:
            return try FashionMNIST(split: .train, directory: config.dataPath.isEmpty ? FashionMNIST.defaultDirectory : config.dataPath)
        case .npy: return try NPYDataset(path: config.dataPath)
        }
    }
}

/// One line of a pretraining run's metrics.jsonl.
public struct PretrainMetrics: Codable, Sendable {
    public var kind = "pretrain"
    public var step: Int
    public var loss: Double            // (1/B) Σ ‖v_θ − u_t‖²/D
    public var gradientNorm: Double
    public var learningRate: Double
    public var seconds: Double
}
