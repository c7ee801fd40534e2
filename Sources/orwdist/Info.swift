import ArgumentParser
import Foundation
import ORWCore
import ORWDist

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the build, MPI, BLAS and Slurm facts of every rank.",
        discussion: "Rank 0 prints; the other ranks report through rank 0, one line each, in rank order.")

    /// The job-wide Slurm variables shown when present, in this order.
    static let slurmJobKeys = [
        "SLURM_JOB_ID", "SLURM_JOB_NAME", "SLURM_JOB_PARTITION", "SLURM_JOB_NODELIST", "SLURM_NNODES",
        "SLURM_NTASKS", "SLURM_NTASKS_PER_NODE", "SLURM_CPUS_PER_TASK", "SLURM_STEP_ID",
        "SLURM_RESTART_COUNT",
    ]

    func run() throws {
        let world = try MPICommunicator()
        defer { world.finalize() }
        let environment = ProcessInfo.processInfo.environment
        // Slurm's per-task variables differ between ranks, so each rank reports its own.
        let slurmTask = ["SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID"].compactMap { key in
            environment[key].map { " \(key.dropFirst(6).lowercased()) \($0)" }
        }.joined()
        let line = "rank \(world.rank)/\(world.size) local \(world.localRank)/\(world.localSize)"
            + " host \(ProcessInfo.processInfo.hostName) pid \(getpid())"
            + " blas-threads \(BLAS.threadCount) blas-core \(BLAS.coreName)" + slurmTask
        let lines = try world.gather(string: line)
        guard world.isRoot else { return }
        print("orwdist \(OrwdistVersion.current) (\(OrwdistVersion.buildConfiguration) build)")
        print("MPI: \(MPICommunicator.libraryVersion.split(separator: "\n").first ?? "unknown")")
        print("world size: \(world.size)")
        print("OpenBLAS: \(BLAS.configuration)")
        print("OpenBLAS core: \(BLASCoreSelection.description)")
        let slurmJob = Self.slurmJobKeys.filter { environment[$0] != nil }
        if slurmJob.isEmpty {
            print("Slurm: not in a Slurm job")
        } else {
            print("Slurm:")
            for key in slurmJob { print("  \(key)=\(environment[key]!)") }
        }
        for rankLine in lines { print(rankLine) }
    }
}
