import Foundation
import TestSupport
import XCTest

/// The communicator under real `mpirun`: each test launches `orwdist-mpi-check SCENARIO` (or
/// `orwdist info`) on 2 ranks, and on 4 ranks oversubscribed onto the 2 cores. Every rank
/// checks its own result against a closed form and prints `rank R/N SCENARIO ok`; the test
/// requires a zero exit and that line from every rank. Missing mpirun or a missing built
/// executable fails the test with what to do; nothing is skipped.
final class MPITests: XCTestCase {
    /// Runs one scenario on `ranks` ranks and asserts that every rank reported success.
    @discardableResult
    func runScenario(_ scenario: String, ranks: Int, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let check = try productPath("orwdist-mpi-check")
        let result = try mpirun(n: ranks, oversubscribe: ranks > 2, args: [check, scenario])
        XCTAssertTrue(result.succeeded, result.summary, file: file, line: line)
        for rank in 0..<ranks {
            XCTAssertTrue(result.stdout.contains("rank \(rank)/\(ranks) \(scenario) ok\n"),
                          "rank \(rank) did not report success\n\(result.summary)", file: file, line: line)
        }
        return result
    }

    // MARK: Reductions

    func testAllreduceFloatSumOfOneMillionOn2Ranks() throws { try runScenario("allreduce-f32", ranks: 2) }
    func testAllreduceFloatSumOfOneMillionOn4Ranks() throws { try runScenario("allreduce-f32", ranks: 4) }
    func testAllreduceDoubleSumOn2Ranks() throws { try runScenario("allreduce-f64", ranks: 2) }
    func testAllreduceDoubleSumOn4Ranks() throws { try runScenario("allreduce-f64", ranks: 4) }
    func testAllreduceMaxAndMinOn2Ranks() throws { try runScenario("allreduce-max", ranks: 2) }
    func testAllreduceMaxAndMinOn4Ranks() throws { try runScenario("allreduce-max", ranks: 4) }

    // MARK: Broadcast, gather, allgather, node-local ranks

    func testBroadcastOf100MBOn2Ranks() throws { try runScenario("broadcast", ranks: 2) }
    func testBroadcastOf100MBOn4Ranks() throws { try runScenario("broadcast", ranks: 4) }
    func testGatherOfStringsOn2Ranks() throws { try runScenario("gather", ranks: 2) }
    func testGatherOfStringsOn4Ranks() throws { try runScenario("gather", ranks: 4) }
    func testAllgatherOn2Ranks() throws { try runScenario("allgather", ranks: 2) }
    func testAllgatherOn4Ranks() throws { try runScenario("allgather", ranks: 4) }
    func testNodeLocalRankAndSizeOn2Ranks() throws { try runScenario("local", ranks: 2) }
    func testNodeLocalRankAndSizeOn4Ranks() throws { try runScenario("local", ranks: 4) }

    // MARK: Failure

    /// The last rank calls abort while the others wait in a barrier it never joins: mpirun must
    /// end the job with a non-zero status instead of hanging (killed after 10 s if it does).
    func testAbortOnOneRankEndsTheJobOn2Ranks() throws { try assertAbortEndsJob(ranks: 2) }
    func testAbortOnOneRankEndsTheJobOn4Ranks() throws { try assertAbortEndsJob(ranks: 4) }

    func assertAbortEndsJob(ranks: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let check = try productPath("orwdist-mpi-check")
        let result = try mpirun(n: ranks, oversubscribe: ranks > 2, args: [check, "abort"], timeout: 10)
        XCTAssertFalse(result.timedOut, "mpirun hung after a rank aborted\n\(result.summary)", file: file, line: line)
        XCTAssertNotEqual(result.status, 0, result.summary, file: file, line: line)
        XCTAssertTrue(result.stderr.contains("rank \(ranks - 1) aborting with code 3"), result.summary, file: file, line: line)
        XCTAssertFalse(result.stdout.contains("abort ok"), result.summary, file: file, line: line)
        XCTAssertFalse(result.stderr.contains("barrier completed"), result.summary, file: file, line: line)
    }

    /// A wrong result on one rank makes that rank, and so mpirun, fail with the mismatch.
    func testCorruptedResultFailsTheJob() throws {
        let check = try productPath("orwdist-mpi-check")
        let result = try mpirun(n: 2, args: [check, "allreduce-f32", "--inject-error"])
        XCTAssertFalse(result.timedOut, result.summary)
        XCTAssertNotEqual(result.status, 0, result.summary)
        XCTAssertTrue(result.stderr.contains("rank 1/2 allreduce-f32 FAILED: f32 sum of 1048576: element 524288"),
                      result.summary)
    }

    // MARK: Without mpirun, and the command line

    /// Started directly, a program is an MPI singleton of size 1.
    func testSingletonWithoutMpirun() throws {
        let result = try runProcess(try productPath("orwdist-mpi-check"), ["gather"], timeout: 60)
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertTrue(result.stdout.contains("rank 0/1 gather ok\n"), result.summary)
    }

    /// The environment of this test run without any Slurm variable.
    var environmentOutsideSlurm: [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLURM_") }
    }

    func testInfoOn2RanksPrintsBothRanks() throws {
        let result = try mpirun(n: 2, args: [try productPath("orwdist"), "info"], environment: environmentOutsideSlurm)
        XCTAssertTrue(result.succeeded, result.summary)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertTrue(lines.contains("world size: 2"), result.summary)
        let rankLines = lines.filter { $0.hasPrefix("rank ") }
        XCTAssertEqual(rankLines.count, 2, result.summary)
        XCTAssertTrue(rankLines.first?.hasPrefix("rank 0/2 local 0/2 ") ?? false, result.summary)
        XCTAssertTrue(rankLines.last?.hasPrefix("rank 1/2 local 1/2 ") ?? false, result.summary)
        XCTAssertTrue(lines.contains { $0.hasPrefix("MPI: Open MPI v") }, result.summary)
        XCTAssertTrue(lines.contains { $0.hasPrefix("OpenBLAS core: ") && !$0.hasSuffix(" unknown") }, result.summary)
        XCTAssertTrue(lines.contains("Slurm: not in a Slurm job"), result.summary)
    }

    // MARK: OpenBLAS' core

    /// The cores this CPU's /proc/cpuinfo flags allow, read here independently of orwdist:
    /// OpenBLAS' names for AVX-512 cores, or for AVX2 + FMA ones; nil for an older CPU.
    var fittingCores: Set<String>? {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = Set(text.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
        if flags.contains("avx512f") && flags.contains("avx512bw") { return ["SkylakeX", "Cooperlake", "SapphireRapids"] }
        if flags.contains("avx2") && flags.contains("fma") { return ["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"] }
        return nil
    }

    /// Without OPENBLAS_CORETYPE, every rank runs OpenBLAS on a core this CPU allows, even where
    /// OpenBLAS' own detection falls back to an older one (Prescott on this machine kind), and
    /// info says so; a user's OPENBLAS_CORETYPE is kept.
    func testOpenBLASRunsOnACoreTheCPUAllows() throws {
        var environment = environmentOutsideSlurm
        environment["OPENBLAS_CORETYPE"] = nil
        let result = try mpirun(n: 2, args: [try productPath("orwdist"), "info"], environment: environment)
        XCTAssertTrue(result.succeeded, result.summary)
        let cores = result.stdout.split(separator: "\n").filter { $0.hasPrefix("rank ") }.compactMap { line in
            line.split(separator: " ").drop { $0 != "blas-core" }.dropFirst().first.map(String.init)
        }
        XCTAssertEqual(cores.count, 2, result.summary)
        if let fitting = fittingCores {
            for core in cores { XCTAssertTrue(fitting.contains(core), "OpenBLAS runs \(core); this CPU allows \(fitting)\n\(result.summary)") }
        }

        environment["OPENBLAS_CORETYPE"] = "Haswell"
        let chosen = try runProcess(try productPath("orwdist"), ["info"], environment: environment, timeout: 60)
        XCTAssertTrue(chosen.succeeded, chosen.summary)
        XCTAssertTrue(chosen.stdout.contains("OpenBLAS core: Haswell\n"), chosen.summary)
        XCTAssertTrue(chosen.stdout.contains(" blas-core Haswell"), chosen.summary)
    }

    /// Inside a Slurm job (simulated by its variables; run as a singleton so that mpirun's own
    /// Slurm support stays out of it), info lists the job variables and each rank's task ids.
    func testInfoShowsSlurmJobVariables() throws {
        var environment = environmentOutsideSlurm
        environment["SLURM_JOB_ID"] = "4242"
        environment["SLURM_JOB_NAME"] = "orw-test"
        environment["SLURM_NTASKS"] = "1"
        environment["SLURM_PROCID"] = "0"
        environment["SLURM_LOCALID"] = "0"
        let result = try runProcess(try productPath("orwdist"), ["info"], environment: environment, timeout: 60)
        XCTAssertTrue(result.succeeded, result.summary)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("world size: 1"), result.summary)
        let slurm = lines.drop { $0 != "Slurm:" }.dropFirst().prefix { $0.hasPrefix("  ") }
        XCTAssertEqual(Array(slurm), ["  SLURM_JOB_ID=4242", "  SLURM_JOB_NAME=orw-test", "  SLURM_NTASKS=1"], result.summary)
        XCTAssertTrue(lines.contains { $0.hasPrefix("rank 0/1 local 0/1 ") && $0.hasSuffix(" procid 0 localid 0") }, result.summary)
    }
}
