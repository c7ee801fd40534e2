import Foundation
import ORWCore
import ORWRewards

/// `orwdist bench step`: times the real ORW-CFM-W2 step (`ORWTrainer.step`: rollout, reward,
/// weighting, pairing, policy forward and backward, reference forward, allreduce, optimiser)
/// phase by phase, counts its matrix-product FLOPs, measures the GEMM limit of those very
/// products in the same process, and reports memory against the theoretical bytes.
///
/// Weak scaling: every rank computes `batchPerRank` samples, so the global batch grows with
/// the ranks. Shapes: n = samples per rank, b = microbatch, D, E, H, L as in the MLP.
public struct StepBenchSettings: Sendable {
    public enum Workload: String, CaseIterable, Sendable {
        case small   // MLP(2, 256, 3): the 2-D toy tasks
        case image   // MLP(784, 1024, 3): 28×28 images (Fashion-MNIST, issue #11)

        public var architecture: MLPArchitecture {
            switch self {
            case .small: MLPArchitecture(dimension: 2, hidden: 256, depth: 3, timeEmbedding: 64)
            case .image: MLPArchitecture(dimension: 784, hidden: 1024, depth: 3, timeEmbedding: 64)
            }
        }
    }

    public var architecture = Workload.small.architecture
    public var batchPerRank = 256
    public var microbatch = 256
    public var solverSteps = 20
    public var steps = 40
    public var warmup = 5
    public var gemmBackends: [GEMMBackend]? = nil      // per Linear; nil: all OpenBLAS
    public var rolloutPrecision = Precision.fp32
    public var trainingPrecision = Precision.fp32
    public var alpha = 1.0
    public var seed = 0

    public init() {}
}

/// What one benchmark run measured (rank 0's times; memory is the maximum over ranks).
public struct StepBenchReport: Codable, Sendable {
    public struct Phase: Codable, Sendable {
        public var name: String
        public var medianSeconds: Double
        public var share: Double
        /// Every rank's median, in rank order: where a rank waits for another shows in the
        /// collectives' phases (`StepPhase.isCollective`).
        public var medianSecondsByRank: [Double]
    }
    public struct Product: Codable, Sendable {
        public var m, n, k: Int
        public var transposeA, transposeB: Bool
        public var backend: String
        public var precision: String
        public var packed: Bool            // oneDNN weights reordered once (rollout layers)
        public var callsPerStep: Int
        public var gflops: Double          // measured rate of this product alone
    }

    public var workload: String
    public var parameters: Int
    public var ranks: Int
    public var batchPerRank: Int
    public var globalBatch: Int
    public var solverSteps: Int
    public var gemm: [String]
    public var rolloutPrecision: String
    public var trainingPrecision: String
    public var blasCore: String
    public var steps: Int
    public var medianStepSeconds: Double
    public var p10StepSeconds: Double
    public var p90StepSeconds: Double
    public var stepsPerSecond: Double
    public var medianStepCPUSeconds: Double   // process CPU time: what the step costs when it has the core to itself
    public var cpuStepsPerSecond: Double
    public var phases: [Phase]
    public var flopsPerStep: Double           // matrix products orwdist actually computes
    public var nominalFlopsPerStep: Double    // the same step without the shared-t first layer (PyTorch's work)
    public var achievedGFLOPs: Double         // flopsPerStep / median step
    public var peakGFLOPs: Double             // best measured rate over the step's products
    public var fractionOfPeak: Double         // achieved / peak
    public var limitSeconds: Double           // Σ products' FLOPs / their measured rates
    public var fractionOfLimit: Double        // limitSeconds / median step (wall)
    public var fractionOfLimitCPU: Double     // limitSeconds / median step CPU time
    public var products: [Product]
    public var allreduceMedianSeconds: Double        // the step's allreduce phase (includes waiting for the slowest rank)
    /// Each rank's own work (its step outside the collectives), the median over steps, by rank.
    public var workSecondsByRank: [Double]
    /// Per step, the slowest rank's own work; the median. Above every rank's own median when
    /// the ranks are slow at different steps: each step waits for whichever is slow then.
    public var slowestRankWorkSeconds: Double
    /// Per step, how much longer the step took than its slowest rank's own work: the
    /// collectives' latency plus the waits that imbalance *between* them adds (a rank slow
    /// in the rollout and the other slow in the backward pass); the median. What the ranks'
    /// synchronisation costs, however fast or slow the cores are at the time.
    public var synchronisationSeconds: Double
    public var allreduce: AllreduceComparison       // the same allreduce alone, through the communicator and the bare shim
    public var gradientFloats: Int
    public var baselineRSSBytes: Double       // before the model exists (runtime, MPI, BLAS)
    public var peakRSSBytes: Double
    /// After the timed steps, max over ranks: RssAnon, the process's private memory (what the
    /// theoretical bytes count, plus the runtime's heap), and RssFile, the pages of mapped files
    /// (the libraries' code; shared by the ranks of a node).
    public var privateRSSBytes: Double
    public var fileRSSBytes: Double
    public var theoreticalBytes: Double       // θ copies, gradient, Adam moments, activations, buffers
    public var rewardCurve: [Double]          // reward mean of every step (warm-up included), same seed whatever the precision
    public var sampleDeviation: SampleDeviation?   // bf16 rollouts only: against fp32 from the same noise
}

/// How far bf16 rollouts land from fp32 ones from the same noise and θ.
public struct SampleDeviation: Codable, Sendable {
    public var meanAbsolute: Double     // mean over all elements of |x_bf16 − x_fp32|
    public var maxAbsolute: Double
    public var sampleStd: Double        // std of the fp32 samples, for scale
    public var meanDisplacement: Double // mean |x_fp32 − noise|: how far the rollout moved the samples
    public var rewardMeanFP32: Double
    public var rewardMeanBF16: Double
}

public enum StepBench {
    /// Runs the benchmark on every rank; returns the report on rank 0, nil elsewhere.
    public static func run(_ settings: StepBenchSettings, world: any Communicator, log: Log) throws -> StepBenchReport? {
        let baselineRSS = try world.allreduceMax(residentBytes(field: "VmRSS"))
        let spec = settings.architecture
        let model = MLPVelocityField(spec)
        if let backends = settings.gemmBackends {
            precondition(backends.count == spec.depth + 1, "give one GEMM backend per Linear (\(spec.depth + 1))")
            model.gemmBackends = backends
        }
        model.rolloutPrecision = settings.rolloutPrecision
        model.trainingPrecision = settings.trainingPrecision
        var reference = [Float](repeating: 0, count: model.layout.count)
        model.initialize(&reference, seed: UInt64(settings.seed))

        var config = TrainConfig()
        config.globalBatch = settings.batchPerRank * world.size
        config.microbatch = settings.microbatch
        config.solver = .euler
        config.solverSteps = settings.solverSteps
        config.alpha = settings.alpha
        config.seed = settings.seed
        config.stepsPerEpoch = settings.warmup + settings.steps
        config.epochs = 1
        config.reward.target = [Float](repeating: 0, count: spec.dimension)
        try world.agreeOnStartup { try config.validate(worldSize: world.size) }
        let reward = DistanceReward(target: config.reward.target)

        let trainer = ORWTrainer(config: config, world: world, model: model, reference: reference, reward: reward, log: log)
        reference = []   // the trainer holds its copies
        let clock = PhaseClock(capacity: settings.warmup + settings.steps)
        trainer.phaseClock = clock
        trainer.beginEpoch()
        var rewardCurve: [Double] = []
        for index in 0..<(settings.warmup + settings.steps) {
            if index == settings.warmup { clock.reset() }
            clock.beginStep()
            let metrics = try trainer.step(epoch: 1)
            clock.endStep()
            rewardCurve.append(metrics.rewardMean)
        }
        let peakRSS = try world.allreduceMax(residentBytes(field: "VmHWM"))
        let privateRSS = try world.allreduceMax(residentBytes(field: "RssAnon"))
        let fileRSS = try world.allreduceMax(residentBytes(field: "RssFile"))
        try world.barrier()

        // The step's matrix products, each measured alone on this rank (same backend, shape, precision).
        let n = settings.batchPerRank, b = settings.microbatch, microbatches = n / b
        let backends = model.gemmBackends
        var products: [StepBenchReport.Product] = []
        func add(_ list: [MatrixProduct], precision: Precision, times: Int, rollout: Bool = false) {
            for p in list {
                // The shared-t embedding row (m = 1) is an fp32 OpenBLAS product in every mode.
                let precision = p.m == 1 ? Precision.fp32 : precision
                let backend = p.m == 1 ? GEMMBackend.openblas : precision == .bf16 ? GEMMBackend.onednn : backends[p.layer]
                let packed = rollout && backend == .onednn && p.m > 1
                if let index = products.firstIndex(where: { $0.m == p.m && $0.n == p.n && $0.k == p.k && $0.transposeA == p.transposeA
                                                      && $0.transposeB == p.transposeB && $0.backend == backend.rawValue
                                                      && $0.precision == precision.rawValue && $0.packed == packed }) {
                    products[index].callsPerStep += times
                } else {
                    products.append(.init(m: p.m, n: p.n, k: p.k, transposeA: p.transposeA, transposeB: p.transposeB,
                                          backend: backend.rawValue, precision: precision.rawValue, packed: packed,
                                          callsPerStep: times, gflops: 0))
                }
            }
        }
        add(model.matrixProducts(batch: n, pass: .inferSharedTime), precision: settings.rolloutPrecision,
            times: settings.solverSteps, rollout: true)
        add(model.matrixProducts(batch: b, pass: .forward), precision: settings.trainingPrecision, times: microbatches)
        if settings.alpha > 0 {   // the reference's pass: fp32 always
            add(model.matrixProducts(batch: b, pass: .forward), precision: .fp32, times: microbatches)
        }
        add(model.matrixProducts(batch: b, pass: .backward), precision: settings.trainingPrecision, times: microbatches)
        var flops = 0.0, limit = 0.0, peak = 0.0
        for index in products.indices {
            let p = products[index]
            let rate = measureProduct(p)
            products[index].gflops = rate / 1e9
            let work = 2 * Double(p.m * p.n * p.k) * Double(p.callsPerStep)
            flops += work
            limit += work / rate
            peak = max(peak, rate)
        }
        let nominal = model.matrixProducts(batch: n, pass: .forward).reduce(0.0) { $0 + 2 * Double($1.m * $1.n * $1.k) }
            * Double(settings.solverSteps)
            + flops - model.matrixProducts(batch: n, pass: .inferSharedTime).reduce(0.0) { $0 + 2 * Double($1.m * $1.n * $1.k) }
            * Double(settings.solverSteps)

        let allreduce = try AllreduceComparison.measure(floats: model.layout.count, world: world)
        let deviation = settings.rolloutPrecision == .bf16
            ? try compareRollouts(model: model, parameters: trainer.policy, batch: n, solverSteps: settings.solverSteps,
                                  seed: UInt64(settings.seed), reward: reward)
            : nil

        let mine = StepPhase.allCases.map { quantile(clock.seconds($0), 0.5) }
        var byRank = [Double](repeating: 0, count: mine.count * world.size)   // [R, phases]
        try world.allgather(mine, into: &byRank)
        var work = [Double](repeating: 0, count: clock.steps * world.size)    // [R, steps]
        try world.allgather(clock.workSeconds, into: &work)
        guard world.isRoot else { return nil }
        let total = clock.seconds(nil)
        let slowestWork = (0..<clock.steps).map { step in (0..<world.size).map { work[$0 * clock.steps + step] }.max()! }
        let median = quantile(total, 0.5)
        let phases = StepPhase.allCases.map { phase -> StepBenchReport.Phase in
            let seconds = quantile(clock.seconds(phase), 0.5)
            return .init(name: phase.name, medianSeconds: seconds, share: seconds / median,
                         medianSecondsByRank: (0..<world.size).map { byRank[$0 * mine.count + phase.rawValue] })
        }
        return StepBenchReport(
            workload: "MLP(\(spec.dimension), \(spec.hidden), \(spec.depth))", parameters: model.layout.count,
            ranks: world.size, batchPerRank: n, globalBatch: config.globalBatch, solverSteps: settings.solverSteps,
            gemm: backends.map(\.rawValue), rolloutPrecision: settings.rolloutPrecision.rawValue,
            trainingPrecision: settings.trainingPrecision.rawValue, blasCore: BLAS.coreName,
            steps: settings.steps, medianStepSeconds: median, p10StepSeconds: quantile(total, 0.1),
            p90StepSeconds: quantile(total, 0.9), stepsPerSecond: 1 / median,
            medianStepCPUSeconds: quantile(clock.cpuSeconds, 0.5), cpuStepsPerSecond: 1 / quantile(clock.cpuSeconds, 0.5), phases: phases,
            flopsPerStep: flops, nominalFlopsPerStep: nominal, achievedGFLOPs: flops / median / 1e9,
            peakGFLOPs: peak / 1e9, fractionOfPeak: flops / median / peak, limitSeconds: limit,
            fractionOfLimit: limit / median, fractionOfLimitCPU: limit / quantile(clock.cpuSeconds, 0.5), products: products,
            allreduceMedianSeconds: quantile(clock.seconds(.allreduce), 0.5),
            workSecondsByRank: (0..<world.size).map { quantile(Array(work[$0 * clock.steps..<($0 + 1) * clock.steps]), 0.5) },
            slowestRankWorkSeconds: quantile(slowestWork, 0.5),
            synchronisationSeconds: quantile(zip(total, slowestWork).map { $0 - $1 }, 0.5), allreduce: allreduce,
            gradientFloats: model.layout.count,
            baselineRSSBytes: baselineRSS, peakRSSBytes: peakRSS, privateRSSBytes: privateRSS, fileRSSBytes: fileRSS,
            theoreticalBytes: theoreticalBytes(spec: spec, parameters: model.layout.count, n: n, b: b,
                                               bf16: settings.rolloutPrecision == .bf16,
                                               packedFP32: settings.rolloutPrecision == .fp32 && backends.contains(.onednn),
                                               bf16Training: settings.trainingPrecision == .bf16),
            rewardCurve: rewardCurve, sampleDeviation: deviation)
    }

    /// Rolls out the same noise with θ in fp32 and in bf16 and compares the samples.
    static func compareRollouts(model: MLPVelocityField, parameters: [Float], batch: Int, solverSteps: Int,
                                seed: UInt64, reward: any Reward) throws -> SampleDeviation {
        let d = model.dimension
        var noise = [Float](repeating: 0, count: batch * d)
        for i in 0..<batch {
            var stream = RandomStream(seed: seed, purpose: .samplingNoise, epoch: 99, step: 0, sample: i)
            noise.withUnsafeMutableBufferPointer { stream.fillNormal($0.baseAddress! + i * d, count: d) }
        }
        let integrator = ODEIntegrator(.euler(steps: solverSteps))
        let precision = model.rolloutPrecision
        defer { model.rolloutPrecision = precision }
        var single = noise, half = noise
        model.rolloutPrecision = .fp32
        _ = try integrator.sample(model: model, parameters: parameters, noise: &single, batch: batch)
        model.rolloutPrecision = .bf16
        _ = try integrator.sample(model: model, parameters: parameters, noise: &half, batch: batch)
        var sum = 0.0, largest = 0.0, mean = 0.0, squares = 0.0, displacement = 0.0
        for i in single.indices {
            displacement += Double(abs(single[i] - noise[i]))
            let difference = Double(abs(half[i] - single[i]))
            sum += difference
            largest = max(largest, difference)
            mean += Double(single[i])
            squares += Double(single[i]) * Double(single[i])
        }
        let count = Double(single.count)
        var rewards = [Float](repeating: 0, count: batch)
        func meanReward(_ x: [Float]) throws -> Double {
            try reward.score(x, batch: batch, dimension: d, into: &rewards)
            return rewards.reduce(0.0) { $0 + Double($1) } / Double(batch)
        }
        return SampleDeviation(meanAbsolute: sum / count, maxAbsolute: largest,
                               sampleStd: max(0, squares / count - (mean / count) * (mean / count)).squareRoot(),
                               meanDisplacement: displacement / count,
                               rewardMeanFP32: try meanReward(single), rewardMeanBF16: try meanReward(half))
    }

    /// Bytes the step must hold: θ three times (policy, sampler, reference), the gradient and
    /// Adam's two moments (6P floats), the rollout's packed copy of the sampler's weights (2P
    /// bytes in bf16, 4P in fp32 through oneDNN), the MLP's saved activations and their
    /// gradients, the inference scratch, the Euler integrator's three [n, D] buffers, the
    /// online samples and the microbatch's eight [b, D].
    public static func theoreticalBytes(spec: MLPArchitecture, parameters p: Int, n: Int, b: Int, bf16: Bool,
                                        packedFP32: Bool = false, bf16Training: Bool = false) -> Double {
        let (d, e, h, l) = (spec.dimension, spec.timeEmbedding, spec.hidden, spec.depth)
        let activations = b * (2 * e + d + 2 * l * h)
        let floats = 6 * p + 2 * activations + b + 2 * b * h + max(activations, 2 * n * h) + 3 * n * d + n * d + 2 * n + 8 * b * d + b
        // bf16 training: θ, every layer's input and the widest output gradient, 2 bytes each.
        let training16 = p + b * (d + e + l * h) + b * max(h, d)
        return Double(4 * floats + (bf16 ? 2 * p + 2 * n * (d + 2 * h) : 0) + (packedFP32 ? 4 * p : 0) + (bf16Training ? 2 * training16 : 0))
    }

    /// Best rate (FLOP/s) of one product over repeated runs, on fresh buffers.
    static func measureProduct(_ p: StepBenchReport.Product) -> Double {
        let aCount = p.m * p.k, bCount = p.k * p.n, cCount = p.m * p.n
        let a = UnsafeMutablePointer<Float>.allocate(capacity: aCount), bb = UnsafeMutablePointer<Float>.allocate(capacity: bCount)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: cCount)
        let a16 = UnsafeMutablePointer<UInt16>.allocate(capacity: aCount), b16 = UnsafeMutablePointer<UInt16>.allocate(capacity: bCount)
        defer { a.deallocate(); bb.deallocate(); c.deallocate(); a16.deallocate(); b16.deallocate() }
        for i in 0..<aCount { a[i] = Float(i % 7) * 0.1 - 0.3 }
        for i in 0..<bCount { bb[i] = Float(i % 5) * 0.1 - 0.2 }
        c.update(repeating: 0, count: cCount)
        Elementwise.toBFloat16(a16, a, count: aCount)
        Elementwise.toBFloat16(b16, bb, count: bCount)
        let lda = p.transposeA ? p.m : p.k, ldb = p.transposeB ? p.k : p.n
        let backend = GEMMBackend(rawValue: p.backend) ?? .openblas
        let type: OneDNN.ElementType = p.precision == Precision.bf16.rawValue ? .bf16 : .fp32
        let packed = p.packed ? PackedMatmul(m: p.m, n: p.n, k: p.k, lda: p.k, sourceType: type, weightType: type, ldw: p.k,
                                             hasBias: false, activation: .none, ldc: p.n, destinationType: .fp32) : nil
        packed?.pack(weights: bb)
        func once() {
            if let packed {
                packed.run(a: type == .bf16 ? UnsafeRawPointer(a16) : UnsafeRawPointer(a), bias: nil, c: c)
            } else if p.precision == Precision.bf16.rawValue {
                OneDNN.matmul(transposeA: p.transposeA, transposeB: p.transposeB, m: p.m, n: p.n, k: p.k,
                              a: a16, lda: lda, sourceType: .bf16, b: b16, ldb: ldb, weightType: .bf16,
                              c: c, ldc: p.n)
            } else {
                GEMM.sgemm(backend, transposeA: p.transposeA, transposeB: p.transposeB, m: p.m, n: p.n, k: p.k,
                           a: a, lda: lda, b: bb, ldb: ldb, beta: 0, c: c, ldc: p.n)
            }
        }
        once()
        let work = 2 * Double(p.m * p.n * p.k)
        // CPU time, like the step's: the product's own cost, whatever else shares the machine.
        // Groups of calls of ≥ ~1 ms each (the CPU clock is coarse), about 0.15 s in all.
        let inner = max(1, Int(1e8 / work))
        let groups = max(5, min(200, Int(1.5e10 / (work * Double(inner)))))
        var best = Double.infinity
        for _ in 0..<groups {
            let start = PhaseClock.processCPUSeconds()
            for _ in 0..<inner { once() }
            let elapsed = (PhaseClock.processCPUSeconds() - start) / Double(inner)
            if elapsed > 0 { best = min(best, elapsed) }
        }
        return work / best
    }

    /// A field of /proc/self/status in bytes (VmRSS: now, VmHWM: peak, RssAnon / RssFile: now,
    /// private / file-backed); 0 where unavailable.
    static func residentBytes(field: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let number = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first
                ?? line.dropFirst(field.count + 1)
            return (Double(number.trimmingCharacters(in: .whitespaces).split(separator: "\t").first ?? "") ?? 0) * 1024
        }
        return 0
    }

    static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
    }
}

extension StepBenchReport {
    /// The human-readable table `orwdist bench step` prints.
    public var text: String {
        func ms(_ s: Double) -> String { String(format: "%8.2f ms", s * 1e3) }
        var lines = [
            "orwdist bench step: \(workload), \(parameters) parameters, \(ranks) rank(s) × \(batchPerRank) samples (global \(globalBatch)), Euler \(solverSteps) steps",
            "GEMM: \(gemm.joined(separator: ",")) (OpenBLAS core \(blasCore)), rollout precision \(rolloutPrecision), training precision \(trainingPrecision)",
            "step: median \(ms(medianStepSeconds)), p10 \(ms(p10StepSeconds)), p90 \(ms(p90StepSeconds)) over \(steps) steps → \(String(format: "%.3f", stepsPerSecond)) steps/s",
            "step CPU time: median \(ms(medianStepCPUSeconds)) → \(String(format: "%.3f", cpuStepsPerSecond)) steps/s of CPU",
            "synchronisation (medians over steps): each rank's own work (outside the collectives) "
                + workSecondsByRank.map { String(format: "%.2f", $0 * 1e3) }.joined(separator: ", ") + " ms;",
            String(format: "  per step the slowest rank's %.2f ms, and the step beyond it (the collectives, waits between them) %.3f ms",
                   slowestRankWorkSeconds * 1e3, synchronisationSeconds * 1e3),
            "phases (median)" + (ranks > 1 ? ", then each rank's:" : ":"),
        ]
        for phase in phases {
            lines.append("  \(phase.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(ms(phase.medianSeconds))  \(String(format: "%5.1f%%", 100 * phase.share))"
                         + (ranks > 1 ? "  " + phase.medianSecondsByRank.map(ms).joined(separator: " ") : ""))
        }
        lines.append(String(format: "FLOPs/step: %.3g (nominal %.3g without the shared-t first layer); achieved %.1f GFLOP/s",
                            flopsPerStep, nominalFlopsPerStep, achievedGFLOPs))
        lines.append(String(format: "GEMM limit: peak %.1f GFLOP/s (%.0f%% achieved); sum of products at their own measured rates %.2f ms = %.0f%% of the step (%.0f%% of its CPU time)",
                            peakGFLOPs, 100 * fractionOfPeak, limitSeconds * 1e3, 100 * fractionOfLimit, 100 * fractionOfLimitCPU))
        for p in products {
            let shape = "\(p.m)×\(p.n)×\(p.k)".padding(toLength: 16, withPad: " ", startingAt: 0)
            lines.append("  \(shape) \(p.transposeA ? "T" : "N")\(p.transposeB ? "T" : "N") \(p.backend.padding(toLength: 8, withPad: " ", startingAt: 0)) \(p.precision)\(p.packed ? " packed" : "") ×\(p.callsPerStep)"
                         + String(format: "  %6.1f GFLOP/s", p.gflops))
        }
        lines.append(String(format: "allreduce of %d floats alone (after a barrier, slowest rank, median of %d interleaved): communicator %.3f ms, "
                            + "C shim %.3f ms, ratio %.3f; in the step %.3f ms (with waiting)",
                            gradientFloats, allreduce.repetitions, allreduce.communicatorSeconds * 1e3, allreduce.shimSeconds * 1e3,
                            allreduce.ratio, allreduceMedianSeconds * 1e3))
        lines.append(String(format: "memory: peak RSS %.1f MB (max over ranks), baseline %.1f MB before the model, theoretical %.1f MB; peak/theoretical %.2f, (peak − baseline)/theoretical %.2f",
                            peakRSSBytes / 1e6, baselineRSSBytes / 1e6, theoreticalBytes / 1e6, peakRSSBytes / theoreticalBytes,
                            (peakRSSBytes - baselineRSSBytes) / theoreticalBytes))
        lines.append(String(format: "  after the steps: private (RssAnon) %.1f MB = %.2f × theoretical, mapped files (RssFile: libraries' code, shared by a node's ranks) %.1f MB",
                            privateRSSBytes / 1e6, privateRSSBytes / theoreticalBytes, fileRSSBytes / 1e6))
        if let deviation = sampleDeviation {
            lines.append(String(format: "bf16 vs fp32 rollout from the same noise: mean |Δx| %.3g, max |Δx| %.3g (sample std %.3g, mean |x1 − x0| %.3g); reward %.5g vs %.5g",
                                deviation.meanAbsolute, deviation.maxAbsolute, deviation.sampleStd, deviation.meanDisplacement,
                                deviation.rewardMeanBF16, deviation.rewardMeanFP32))
        }
        return lines.joined(separator: "\n")
    }
}
