import Foundation
import ORWCore
import TestSupport
import XCTest
@testable import ORWDist

/// Interruptions and resumption end to end, under real mpirun: signals (on one rank, and sent to
/// mpirun), `kill -9` of one rank, a crash inside a checkpoint write, corrupted checkpoints, a
/// forced parameter mismatch. The yardstick is one uninterrupted 2-rank run: a resumed run on 2
/// ranks must end with bitwise the same parameters, on 1 or 4 ranks within 1e-5.
final class ResumeTests: XCTestCase {
    static let scratch = scratchDirectory("resume-tests")

    /// 3 epochs × 8 steps; checkpoints every 4 steps, the newest 2 kept; hash check every 2.
    static let totalSteps = 24

    /// `orwdist train` on the shared tiny base with the shared config, in `run`.
    func trainArguments(_ run: String, extra: [String] = []) throws -> [String] {
        ["train", "--base", try Self.base(), "--run-dir", run, "--batch", "64", "--microbatch", "16",
         "--steps-per-epoch", "8", "--epochs", "3", "--alpha", "0.5", "--solver-steps", "8", "--lr", "3e-3",
         "--set", "run.log_every=1", "--set", "run.eval_samples=16", "--set", "checkpoint.every=4",
         "--set", "checkpoint.keep=2", "--set", "run.hash_check_every=2"] + extra
    }

    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["ORWDIST_CACHE"] = scratch + "/cache"
        environment["OPENBLAS_NUM_THREADS"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        return environment.merging(extra) { $1 }
    }

    /// Runs `orwdist ARGS` on `ranks` ranks (mpirun for 2 and 4, a plain process for 1).
    func orwdist(_ arguments: [String], ranks: Int, environment: [String: String] = [:], timeout: Double = 300) throws -> ProcessResult {
        let binary = try productPath("orwdist")
        return ranks == 1
            ? try runProcess(binary, arguments, environment: Self.environment(environment), timeout: timeout)
            : try mpirun(n: ranks, oversubscribe: ranks > 2, args: [binary] + arguments, environment: Self.environment(environment), timeout: timeout)
    }

    /// A tiny 2-D base: 8 Gaussians, 200 steps, hidden width 32.
    nonisolated(unsafe) static var basePath: String?
    static func base() throws -> String {
        if let basePath { return basePath }
        let directory = scratch + "/base"
        let result = try runProcess(try productPath("orwdist"),
                                    ["pretrain", "--run-dir", directory, "--data", "8gaussians", "--steps", "200",
                                     "--set", "model.hidden=32", "--set", "model.depth=2", "--set", "model.time_embedding=8"],
                                    environment: environment(), timeout: 300)
        guard result.succeeded else { throw ProcessLaunchError(result.summary) }
        basePath = directory + "/model.safetensors"
        return basePath!
    }

    /// The uninterrupted 2-rank run every resumed run is compared with.
    nonisolated(unsafe) static var uninterrupted: [Float]?
    func uninterruptedParameters() throws -> [Float] {
        if let parameters = Self.uninterrupted { return parameters }
        let run = Self.scratch + "/uninterrupted"
        let result = try orwdist(try trainArguments(run), ranks: 2)
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertEqual(CheckpointStore(run: run).checkpoints().map(\.step), [24, 20], "keep 2")
        Self.uninterrupted = try ModelFile.read(from: run + "/final.safetensors").parameters
        return Self.uninterrupted!
    }

    func finalParameters(_ run: String) throws -> [Float] {
        try ModelFile.read(from: run + "/final.safetensors").parameters
    }

    func assertBitwiseEqual(_ run: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try uninterruptedParameters(), actual = try finalParameters(run)
        XCTAssertEqual(actual.map(\.bitPattern), expected.map(\.bitPattern), "\(message): \(Deviation(actual, expected))", file: file, line: line)
    }

    func assertClose(_ run: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try uninterruptedParameters(), actual = try finalParameters(run)
        let deviation = Deviation(actual, expected)
        print("\(message): \(deviation)")
        XCTAssertLessThanOrEqual(deviation.relative, 1e-5, "\(message): \(deviation)", file: file, line: line)
    }

    /// Steps recorded in metrics.jsonl, in order.
    func recordedSteps(_ run: String) throws -> [Int] {
        try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            let object = try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            return object["kind"] as? String == "step" ? object["step"] as? Int : nil
        }
    }

    func copy(_ run: String, to destination: String) throws {
        try? FileManager.default.removeItem(atPath: destination)
        try FileManager.default.copyItem(atPath: run, toPath: destination)
    }

    /// A copy of the uninterrupted run named `name`, without its final.safetensors: a run whose
    /// checkpoints 20 and 24 a test can damage or point `latest` at.
    func unfinishedCopy(_ name: String) throws -> String {
        _ = try uninterruptedParameters()
        let run = fresh(name)
        try copy(Self.scratch + "/uninterrupted", to: run)
        try FileManager.default.removeItem(atPath: run + "/final.safetensors")
        return run
    }

    func fresh(_ name: String) -> String {
        let path = Self.scratch + "/" + name
        try? FileManager.default.removeItem(atPath: path)
        return path
    }

    /// Resumes `run` with `--resume auto` (or `from`) on `ranks` ranks; fails the test unless
    /// it completes.
    @discardableResult
    func resume(_ run: String, ranks: Int, from: String = "auto", file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try orwdist(try trainArguments(run, extra: ["--resume", from]), ranks: ranks)
        XCTAssertTrue(result.succeeded, result.summary, file: file, line: line)
        XCTAssertEqual(try recordedSteps(run), Array(1...Self.totalSteps), "each step logged once", file: file, line: line)
        return result
    }

    // MARK: Signals

    /// SIGUSR1 reaching only rank 1 after step 10 stops both ranks after that step; rank 0
    /// checkpoints; every rank exits 75. Resuming on 2 ranks is bitwise exact, on 1 or 4 within 1e-5.
    func testSIGUSR1OnOneRankStopsAllRanksWithStatus75AndResumesExactly() throws {
        let run = fresh("usr1")
        let stopped = try orwdist(try trainArguments(run), ranks: 2, environment: ["ORWDIST_DEBUG_SIGNAL": "1:10:USR1"])
        XCTAssertEqual(stopped.status, 75, stopped.summary)
        XCTAssertLessThan(stopped.duration, 30)
        XCTAssertTrue(stopped.stderr.contains("stopped by SIGUSR1 after step 10"), stopped.stderr)
        let store = CheckpointStore(run: run)
        XCTAssertEqual(store.latest(), store.path(step: 10))
        XCTAssertEqual(try Checkpoint.read(from: store.path(step: 10)).state.reason, "SIGUSR1")
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/final.safetensors"))

        try copy(run, to: run + "-n1")
        try copy(run, to: run + "-n4")
        let resumed = try resume(run, ranks: 2)
        XCTAssertTrue(resumed.stdout.contains("resuming from \(store.path(step: 10)): step 10 (epoch 2, step 2 of 8)"), resumed.stdout)
        try assertBitwiseEqual(run, "resumed on 2 ranks")
        try resume(run + "-n1", ranks: 1, from: run + "-n1/checkpoints/latest")
        try assertClose(run + "-n1", "resumed on 1 rank")
        try resume(run + "-n4", ranks: 4)
        try assertClose(run + "-n4", "resumed on 4 ranks")
    }

    /// SIGTERM on rank 0 after step 13 (mid-epoch, between periodic checkpoints): status 76.
    func testSIGTERMStopsWithStatus76AndResumesBitwise() throws {
        let run = fresh("term")
        let stopped = try orwdist(try trainArguments(run), ranks: 2, environment: ["ORWDIST_DEBUG_SIGNAL": "0:13:TERM"])
        XCTAssertEqual(stopped.status, 76, stopped.summary)
        XCTAssertTrue(stopped.stderr.contains("stopped by SIGTERM after step 13"), stopped.stderr)
        XCTAssertEqual(CheckpointStore(run: run).latest(), CheckpointStore(run: run).path(step: 13))
        try resume(run, ranks: 2, from: run)   // --resume RUN: the run's newest valid checkpoint
        try assertBitwiseEqual(run, "resumed after SIGTERM")
    }

    /// A shell script that starts `command`, waits until `run`'s metrics.jsonl records `step`
    /// steps, then runs `action` (with $pid = mpirun's pid) and waits; it prints the seconds
    /// from the action to the job's end, and exits with the job's status.
    func script(run: String, step: Int, action: String) -> String {
        """
        "$@" &
        pid=$!
        while steps=$(grep -c '"kind":"step"' '\(run)/metrics.jsonl' 2>/dev/null); [ "${steps:-0}" -lt \(step) ]; do
          kill -0 $pid 2>/dev/null || { echo "job ended before step \(step)"; wait $pid; exit 99; }
          sleep 0.02
        done
        \(action)
        start=$(date +%s.%N)
        wait $pid
        status=$?
        echo "job ended $(awk "BEGIN { print $(date +%s.%N) - $start }") s after the action, status $status"
        exit $status
        """
    }

    func runScript(_ text: String, run: String, ranks: Int = 2, environment: [String: String]) throws -> (ProcessResult, seconds: Double) {
        let binary = try productPath("orwdist")
        let mpirun = findOnPath("mpirun")!
        let arguments = ["-c", text, "script", mpirun, "-n", "\(ranks)", "--allow-run-as-root", binary] + (try trainArguments(run))
        let result = try runProcess("/bin/bash", arguments, environment: Self.environment(environment), timeout: 300)
        let line = result.stdout.split(separator: "\n").last { $0.hasPrefix("job ended ") } ?? ""
        let seconds = Double(line.split(separator: " ")[safe: 2] ?? "") ?? .infinity
        return (result, seconds)
    }

    /// SIGUSR1 sent to mpirun (as `scancel --signal=USR1` or `sbatch --signal` does): OpenMPI
    /// forwards it to the ranks, which checkpoint and exit 75.
    func testSIGUSR1SentToMpirunIsForwardedAndTheJobExits75() throws {
        let run = fresh("mpirun-usr1")
        let (result, seconds) = try runScript(script(run: run, step: 3, action: "kill -USR1 $pid"), run: run,
                                              environment: ["ORWDIST_DEBUG_STEP_DELAY_MS": "60"])
        XCTAssertEqual(result.status, 75, result.summary)
        XCTAssertLessThan(seconds, 30, result.summary)
        let latest = try XCTUnwrap(CheckpointStore(run: run).latest(), result.summary)
        XCTAssertEqual(try Checkpoint.read(from: latest).state.reason, "SIGUSR1")
        try resume(run, ranks: 2)
        try assertBitwiseEqual(run, "resumed after SIGUSR1 to mpirun")
    }

    // MARK: Failures

    /// `kill -9` of rank 1 mid-run: mpirun ends the job, non-zero, within 30 s; the run resumes
    /// from the last periodic checkpoint, bitwise on 2 ranks and within 1e-5 on 4.
    func testKillNineOfOneRankEndsTheJobAndTheRunResumes() throws {
        let run = fresh("kill9")
        let (result, seconds) = try runScript(script(run: run, step: 6, action: killRankScript(1)), run: run,
                                              environment: ["ORWDIST_DEBUG_STEP_DELAY_MS": "60"])
        XCTAssertFalse(result.succeeded, result.summary)
        XCTAssertNotEqual(result.status, 99, "the job must still be running at step 6: \(result.summary)")
        XCTAssertLessThan(seconds, 30, result.summary)
        print("kill -9 of rank 1: \(result.stdout.split(separator: "\n").last ?? "")")
        let store = CheckpointStore(run: run)
        let latest = try XCTUnwrap(store.latest())
        XCTAssertNotNil(try? Checkpoint.read(from: latest), "the last checkpoint verifies")
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/final.safetensors"))
        try copy(run, to: run + "-n4")
        try resume(run, ranks: 2)
        try assertBitwiseEqual(run, "resumed after kill -9")
        try resume(run + "-n4", ranks: 4)
        try assertClose(run + "-n4", "resumed after kill -9 on 4 ranks")
    }

    /// Rank 0 killed between writing checkpoint 8's files and renaming them into place: the job
    /// fails, checkpoint 4 and `latest` stay valid, and the run resumes from them exactly.
    func testCrashDuringACheckpointWriteLeavesThePreviousOneValid() throws {
        let run = fresh("crash-in-write")
        let crashed = try orwdist(try trainArguments(run), ranks: 2, environment: ["ORWDIST_DEBUG_CRASH_IN_CHECKPOINT": "8"])
        XCTAssertFalse(crashed.succeeded, crashed.summary)
        XCTAssertLessThan(crashed.duration, 30)
        let store = CheckpointStore(run: run)
        XCTAssertEqual(store.latest(), store.path(step: 4))
        XCTAssertEqual(store.checkpoints().map(\.step), [4])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: store.directory).filter { $0.hasPrefix(".tmp-step_00000008") }
        XCTAssertEqual(leftovers.count, 1, "the unpublished write is still there")
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/.lock"), "the killed job leaves its lock file, not its lock")

        let inspect = try runProcess(try productPath("orwdist"), ["inspect", run], timeout: 60)
        XCTAssertEqual(inspect.status, 0, inspect.summary)
        XCTAssertTrue(inspect.stdout.contains("would continue from step_00000004"), inspect.stdout)
        XCTAssertTrue(inspect.stdout.contains("unfinished write"), inspect.stdout)
        XCTAssertTrue(inspect.stdout.contains("reference.safetensors matches"), inspect.stdout)

        let resumed = try resume(run, ranks: 2)
        XCTAssertTrue(resumed.stdout.contains("left by a checkpoint write that did not finish"), resumed.stdout)
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: store.directory).allSatisfy { !$0.hasPrefix(".tmp-") })
        try assertBitwiseEqual(run, "resumed after a crash in a checkpoint write")
    }

    /// Truncated, bit-flipped and manifest-less newest checkpoints: `--resume auto` warns, falls
    /// back to the previous one and still ends bitwise equal; `--resume PATH` refuses with exit 2.
    func testCorruptCheckpointsFallBackToThePreviousGoodOne() throws {
        _ = try uninterruptedParameters()
        let finished = Self.scratch + "/uninterrupted"
        let corruptions: [(String, (String) throws -> Void, String)] = [
            ("truncated", { path in
                let file = path + "/policy.safetensors"
                let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
                try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: file))
            }, "policy.safetensors is corrupted"),
            ("bit-flipped", { path in
                let file = path + "/optimizer.safetensors"
                var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
                bytes[bytes.count / 2] ^= 0x04
                try bytes.write(to: URL(fileURLWithPath: file))
            }, "optimizer.safetensors is corrupted"),
            ("manifest-less", { path in try FileManager.default.removeItem(atPath: path + "/" + Manifest.fileName) },
             "no manifest.sha256"),
        ]
        for (name, corrupt, reason) in corruptions {
            let run = fresh("corrupt-\(name)")
            try copy(finished, to: run)
            try FileManager.default.removeItem(atPath: run + "/final.safetensors")
            let store = CheckpointStore(run: run)
            try corrupt(store.path(step: 24))

            let explicit = try orwdist(try trainArguments(run, extra: ["--resume", store.path(step: 24)]), ranks: 2, timeout: 120)
            XCTAssertEqual(explicit.status, 2, "\(name): \(explicit.summary)")
            XCTAssertTrue(explicit.stderr.contains("config field '--resume': checkpoint \(store.path(step: 24)): \(reason)"), "\(name): \(explicit.stderr)")

            let inspect = try runProcess(try productPath("orwdist"), ["inspect", store.path(step: 24)], timeout: 60)
            XCTAssertEqual(inspect.status, 1, inspect.summary)
            XCTAssertTrue(inspect.stdout.contains("FAILED — \(reason)"), inspect.stdout)

            let resumed = try orwdist(try trainArguments(run, extra: ["--resume", "auto"]), ranks: 2)
            XCTAssertTrue(resumed.succeeded, resumed.summary)
            XCTAssertTrue(resumed.stdout.contains("skipping checkpoint \(store.path(step: 24)): \(reason)"), "\(name): \(resumed.stdout)")
            XCTAssertTrue(resumed.stdout.contains("resuming from \(store.path(step: 20))"), "\(name): \(resumed.stdout)")
            try assertBitwiseEqual(run, "\(name) step 24, resumed from step 20")
        }
    }

    /// The Slurm contract: `--resume auto` with nothing to resume starts fresh (and equals the
    /// plain run); a changed config refuses to resume with exit 2, naming the field.
    func testResumeAutoWithoutCheckpointsStartsFreshAndAChangedConfigIsRefused() throws {
        let run = fresh("auto-fresh")
        let result = try orwdist(try trainArguments(run, extra: ["--resume", "auto"]), ranks: 2)
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertTrue(result.stdout.contains("starting fresh"), result.stdout)
        try assertBitwiseEqual(run, "--resume auto from nothing")

        let changed = try orwdist(try trainArguments(run, extra: ["--resume", "auto", "--alpha", "0.7"]), ranks: 2, timeout: 120)
        XCTAssertEqual(changed.status, 2, changed.summary)
        XCTAssertTrue(changed.stderr.contains("method.alpha = 0.7 (checkpoint: 0.5)"), changed.stderr)
    }

    /// Checkpoints exist but none verifies (an NFS hiccup, a bad disk): `--resume auto` refuses
    /// with exit 2 listing each one, and leaves metrics.jsonl as it was, rather than start over.
    func testResumeAutoRefusesWhenNoCheckpointVerifies() throws {
        let run = try unfinishedCopy("none-verifies")
        let store = CheckpointStore(run: run)
        for step in [24, 20] { try FileManager.default.removeItem(atPath: store.path(step: step) + "/" + Manifest.fileName) }
        let metrics = try Data(contentsOf: URL(fileURLWithPath: run + "/metrics.jsonl"))

        let result = try orwdist(try trainArguments(run, extra: ["--resume", "auto"]), ranks: 2, timeout: 120)
        XCTAssertEqual(result.status, 2, result.summary)
        XCTAssertTrue(result.stderr.contains("config field '--resume': \(store.directory) has checkpoints but none verifies"), result.stderr)
        for step in [24, 20] {
            XCTAssertTrue(result.stderr.contains("checkpoint \(store.path(step: step)): no manifest.sha256"), result.stderr)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/metrics.jsonl")), metrics, "metrics.jsonl untouched")
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/final.safetensors"), "no training")
        let inspect = try runProcess(try productPath("orwdist"), ["inspect", run], timeout: 60)
        XCTAssertTrue(inspect.stdout.contains("would refuse (exit 2)"), inspect.stdout)
    }

    /// `latest` naming an earlier checkpoint than the newest (a deliberate rollback): `--resume
    /// auto` continues from it, rewrites the later steps (step 24 replaced in place) and still
    /// ends bitwise equal to the uninterrupted run.
    func testResumeAutoPrefersLatestOverANewerCheckpoint() throws {
        let run = try unfinishedCopy("rollback")
        let store = CheckpointStore(run: run)
        try "step_00000020\n".write(toFile: store.directory + "/latest", atomically: true, encoding: .utf8)
        func inode(_ path: String) throws -> Int? { try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int }
        let before = try inode(store.path(step: 24))
        let resumed = try resume(run, ranks: 2)
        XCTAssertTrue(resumed.stdout.contains("resuming from \(store.path(step: 20)): step 20"), resumed.stdout)
        try assertBitwiseEqual(run, "resumed from latest = step 20")
        XCTAssertEqual(store.latest(), store.path(step: 24))
        XCTAssertNotEqual(try inode(store.path(step: 24)), before, "step 24 rewritten")
        XCTAssertNoThrow(try Checkpoint.read(from: store.path(step: 24)))
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: store.directory).allSatisfy { !$0.hasPrefix(".tmp-") })
    }

    // MARK: The run directory

    /// A second job on a run directory in use (the first slowed down) stops before any work with
    /// exit 2 on every rank, naming the first's rank 0 PID; the first finishes undisturbed, with
    /// one parseable record per step.
    func testASecondJobOnARunDirectoryInUseStopsWithStatus2NamingTheHolder() throws {
        let run = fresh("two-jobs")
        let second = run + "-second.txt"
        let action = findRankScript(0) + """

            echo "holder $rank_pid"
            "$@" > '\(second)' 2>&1
            echo "second job status $?"
            """
        let (result, _) = try runScript(script(run: run, step: 1, action: action), run: run,
                                        environment: ["ORWDIST_DEBUG_STEP_DELAY_MS": "200"])
        XCTAssertEqual(result.status, 0, result.summary)
        XCTAssertTrue(result.stdout.contains("second job status 2"), result.summary)
        let holder = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("holder ") }?.dropFirst(7))
        XCTAssertFalse(holder.isEmpty, result.stdout)
        let output = try String(contentsOfFile: second, encoding: .utf8)
        XCTAssertTrue(output.contains("config field 'run.directory': \(run) is in use by another orwdist job (host "), output)
        XCTAssertTrue(output.contains(", PID \(holder), started "), "holder \(holder): \(output)")
        XCTAssertEqual(try recordedSteps(run), Array(1...Self.totalSteps), "each step logged once, every line parses")
        XCTAssertEqual(CheckpointStore(run: run).checkpoints().map(\.step), [24, 20])
        try assertBitwiseEqual(run, "the first job, undisturbed")
    }

    /// metrics.jsonl, checkpoints/ or reference.safetensors as a symbolic link out of the run
    /// directory: the job refuses with exit 2 on every rank and the link's target is untouched.
    func testSymbolicLinksOutOfTheRunDirectoryAreRefused() throws {
        let outside = fresh("outside")
        try FileManager.default.createDirectory(atPath: outside + "/checkpoints/step_00000004", withIntermediateDirectories: true)
        for name in ["metrics.jsonl", "reference.safetensors"] { try "outside\n".write(toFile: outside + "/" + name, atomically: true, encoding: .utf8) }
        for name in ["metrics.jsonl", "checkpoints", "reference.safetensors"] {
            let run = fresh("link-\(name)")
            try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: run + "/" + name, withDestinationPath: outside + "/" + name)
            let result = try orwdist(try trainArguments(run), ranks: 2, timeout: 120)
            XCTAssertEqual(result.status, 2, "\(name): \(result.summary)")
            XCTAssertTrue(result.stderr.contains("\(run)/\(name) is a symbolic link to \(outside)/\(name), outside the run directory"),
                          "\(name): \(result.stderr)")
        }
        for name in ["metrics.jsonl", "reference.safetensors"] {
            XCTAssertEqual(try String(contentsOfFile: outside + "/" + name, encoding: .utf8), "outside\n", name)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside + "/checkpoints"), ["step_00000004"])
    }

    /// An I/O error on rank 0 alone (its checkpoint directory cannot be created) aborts the whole
    /// job at once, naming the rank and the cause.
    func testAnIOErrorOnRankZeroAbortsTheJob() throws {
        let run = fresh("io-error")
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: run + "/checkpoints"))
        let result = try orwdist(try trainArguments(run), ranks: 2, timeout: 120)
        XCTAssertEqual(result.status, 1, result.summary)
        XCTAssertLessThan(result.duration, 30)
        XCTAssertTrue(result.stderr.contains("error: rank 0: cannot write \(run)/checkpoints"), result.stderr)
    }

    /// A learning rate that blows the parameters up: a NaN or infinity stops every rank with an
    /// error rather than training on garbage or hanging.
    func testNonFiniteTrainingAbortsTheJob() throws {
        let run = fresh("nan")
        let result = try orwdist(try trainArguments(run, extra: ["--lr", "1e30", "--clip", "0"]), ranks: 2, timeout: 120)
        XCTAssertEqual(result.status, 1, result.summary)
        XCTAssertLessThan(result.duration, 30)
        XCTAssertTrue(result.stderr.contains("error: rank "), result.stderr)
        XCTAssertTrue(result.stderr.contains("non-finite"), result.stderr)
    }

    /// One rank's parameters nudged after step 1: the hash check at step 2 stops the job with a
    /// message naming the rank.
    func testAParameterMismatchOnOneRankIsDetected() throws {
        let run = fresh("mismatch")
        let result = try orwdist(try trainArguments(run), ranks: 2, environment: ["ORWDIST_DEBUG_PERTURB_RANK": "1"], timeout: 120)
        XCTAssertEqual(result.status, 1, result.summary)
        XCTAssertLessThan(result.duration, 30)
        XCTAssertTrue(result.stderr.contains("parameter hash check failed after step 2: rank(s) 1 hold parameters different from rank 0's"),
                      result.stderr)
        XCTAssertNil(CheckpointStore(run: run).latest(), "no checkpoint records diverged parameters")
    }
}

private extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
