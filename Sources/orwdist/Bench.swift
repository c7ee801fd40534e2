import ArgumentParser
import Foundation
import ORWCore
import ORWDist

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (scripts/bench runs them against PyTorch and prints ratios).",
        subcommands: [BenchStep.self])
}

struct BenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Time one full ORW-CFM-W2 step phase by phase, against the GEMM limit measured in the same process.",
        discussion: """
        Runs the real trainer step on a randomly initialised model (no pretraining needed): \
        `--warmup` steps, then `--steps` timed ones; prints the median and spread, each phase's \
        median, the step's matrix-product FLOPs, the rate of every product measured alone, the \
        gradient's allreduce through orwdist's communicator against the bare MPI_Allreduce \
        (interleaved), and peak RSS (private and mapped-file) against the theoretical bytes. \
        Under `mpirun -n R` every rank computes --batch samples (weak scaling), and the report \
        adds each rank's phases, each rank's own work and what synchronisation adds to the \
        slowest rank's. Threads: set OPENBLAS_NUM_THREADS and OMP_NUM_THREADS (oneDNN) to 1 per \
        rank for the comparisons of scripts/bench.
        """)

    @Option(help: "small = MLP(2, 256, 3), image = MLP(784, 1024, 3).") var workload: StepBenchSettings.Workload = .small
    @Option(help: "Data dimension (overrides the workload).") var dimension: Int?
    @Option(help: "Hidden width (overrides the workload).") var hidden: Int?
    @Option(help: "Depth (overrides the workload).") var depth: Int?
    @Option(help: "Samples per rank per step.") var batch = 256
    @Option(help: "Microbatch (default: the whole per-rank batch).") var microbatch: Int?
    @Option(help: "Euler steps of the rollout.") var solverSteps = 20
    @Option(help: "Timed steps.") var steps = 40
    @Option(help: "Untimed steps first.") var warmup = 5
    @Option(help: "α (0 skips the reference's forward pass).") var alpha = 1.0
    @Option(help: "GEMM backend: openblas or onednn, one for every Linear or a comma-separated list, one per Linear.")
    var gemm = "openblas"
    @Option(help: "Rollout precision: fp32, or bf16 (through oneDNN, fp32 accumulation and master weights).")
    var rolloutPrecision: Precision = .fp32
    @Option(help: "Precision of the policy's forward and backward passes: fp32, or bf16 (through oneDNN, fp32 accumulation, master weights and gradients).")
    var trainingPrecision: Precision = .fp32
    @Option(help: "Also write the report as JSON to this file (rank 0).") var json: String?

    func run() throws {
        var settings = StepBenchSettings()
        var architecture = workload.architecture
        if let dimension { architecture.dimension = dimension }
        if let hidden { architecture.hidden = hidden }
        if let depth { architecture.depth = depth }
        settings.architecture = architecture
        settings.batchPerRank = batch
        settings.microbatch = microbatch ?? batch
        settings.solverSteps = solverSteps
        settings.steps = steps
        settings.warmup = warmup
        settings.alpha = alpha
        settings.rolloutPrecision = rolloutPrecision
        settings.trainingPrecision = trainingPrecision
        let names = gemm.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        let backends = try names.map { name -> GEMMBackend in
            guard let backend = GEMMBackend(rawValue: name) else {
                throw ValidationError("unknown GEMM backend '\(name)'; use openblas or onednn")
            }
            return backend
        }
        guard backends.count == 1 || backends.count == architecture.depth + 1 else {
            throw ValidationError("--gemm needs 1 or \(architecture.depth + 1) backends (one per Linear), got \(backends.count)")
        }
        settings.gemmBackends = backends.count == 1 ? Array(repeating: backends[0], count: architecture.depth + 1) : backends
        guard settings.batchPerRank % settings.microbatch == 0 else {
            throw ValidationError("--batch \(batch) must be a multiple of --microbatch \(settings.microbatch)")
        }
        try launch(logLevel: "warning") { world, log in
            guard let report = try StepBench.run(settings, world: world, log: log) else { return }
            print(report.text)
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(report).write(to: URL(fileURLWithPath: json))
            }
        }
    }
}

extension StepBenchSettings.Workload: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
