import Foundation
import TestSupport
import XCTest
@testable import ORWDist

/// The external reward's child under real `mpirun -n 2`, when the job is preempted or a rank
/// dies: it must neither die of the job's signals nor outlive its rank (issue 20, defect 2), and
/// it must not see the MPI launcher's environment (defect 10).
final class ScorerProcessTests: XCTestCase {
    static let scratch = scratchDirectory("scorer-process-tests")

    func fresh(_ name: String) -> String {
        let path = Self.scratch + "/" + name
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A distance scorer that records, in `directory`, its pid (`scorer-K.pid`) and its
    /// environment's names (`scorer-K.env`), and `scorer-K.exit` when orwdist closes its stdin
    /// (the clean end); with `hang`, rank 1's copy writes `scorer-1.busy`
    /// and sleeps on its third batch, as a slow scorer would while its rank is killed.
    func scorer(_ directory: String, hang: Bool = false) throws -> [String] {
        let path = Self.scratch + "/recording_scorer.py"
        try """
            import os, struct, sys, time
            directory, hang, rank = sys.argv[1], sys.argv[2] == "hang", os.environ["ORW_RANK"]
            open(f"{directory}/scorer-{rank}.pid", "w").write(str(os.getpid()))
            open(f"{directory}/scorer-{rank}.env", "w").write("\\n".join(sorted(os.environ)))
            batches = 0
            while True:
                header = sys.stdin.buffer.read(16)
                if len(header) < 16:
                    open(f"{directory}/scorer-{rank}.exit", "w").write("stdin closed")
                    sys.exit(0)
                magic, version, n, k = struct.unpack("<4sIII", header)
                sys.stdin.buffer.read(4 * k)
                x = struct.unpack(f"<{2 * n}f", sys.stdin.buffer.read(8 * n))
                batches += 1
                if hang and rank == "1" and batches == 3:
                    open(f"{directory}/scorer-1.busy", "w").write("scoring")
                    time.sleep(600)
                rewards = [-((x[2 * i] - 5) ** 2 + x[2 * i + 1] ** 2) for i in range(n)]
                sys.stdout.buffer.write(b"ORWA" + struct.pack("<I", n) + struct.pack(f"<{n}f", *rewards))
                sys.stdout.buffer.flush()
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return [try Python.environment(), path, directory, hang ? "hang" : "serve"]
    }

    /// Runs `mpirun -n 2 orwdist train` with `scorer` from a bash script that waits until
    /// `ready` (a shell condition) holds, runs `action` ($pid = mpirun's pid, $$ = the script,
    /// the leader of the test's session), and exits with the job's status.
    func runJob(_ run: String, scorer: [String], ready: String, action: String) throws -> ProcessResult {
        let script = """
            "$@" &
            pid=$!
            until \(ready); do
              kill -0 $pid 2>/dev/null || { echo "job ended before the action"; wait $pid; exit 99; }
              sleep 0.02
            done
            \(action)
            wait $pid
            """
        let command = "[" + scorer.map { tomlString($0) }.joined(separator: ", ") + "]"
        let train = ["train", "--base", try ResumeTests.base(), "--run-dir", run, "--batch", "64", "--microbatch", "16",
                     "--steps-per-epoch", "8", "--epochs", "3", "--set", "run.log_every=1", "--set", "run.eval_samples=16",
                     "--set", "reward.kind=\"external\"", "--set", "reward.command=\(command)"]
        let arguments = ["-c", script, "script", findOnPath("mpirun")!, "-n", "2", "--allow-run-as-root", try productPath("orwdist")] + train
        return try runProcess("/bin/bash", arguments, environment: ResumeTests.environment(["ORWDIST_DEBUG_STEP_DELAY_MS": "60"]),
                              timeout: 120)
    }

    /// The scorers' pids, from the files they wrote.
    func scorerPIDs(_ directory: String) throws -> [Int32] {
        try (0..<2).map { rank in
            try XCTUnwrap(Int32(String(contentsOfFile: "\(directory)/scorer-\(rank).pid", encoding: .utf8)), "rank \(rank)'s scorer started")
        }
    }

    /// Fails for each of `pids` still running `seconds` after the call (and ends it).
    func assertGone(_ pids: [Int32], within seconds: Double, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(seconds)
        while pids.contains(where: isRunning), Date() < deadline { usleep(20_000) }
        for pid in pids where isRunning(pid) {
            XCTFail("scorer \(pid) outlived its rank: \(message)", file: file, line: line)
            kill(pid, SIGKILL)
        }
    }

    /// Slurm's preemption (`scancel --signal=USR1`, a node's preemption) signals every process of
    /// the job step: here every process of the test's session but the script, scorers included.
    /// The scorers ignore it (blocked), the ranks checkpoint and exit 75, orwdist ends the
    /// scorers (stdin closed), and none survives the job. The scorers saw no OMPI_/PMIX_ variables.
    func testSIGUSR1ToEveryProcessOfTheJobCheckpointsExits75AndEndsTheScorers() throws {
        let run = fresh("usr1-everyone")
        let result = try runJob(run, scorer: try scorer(run),
                                ready: "[ \"$(grep -c '\"kind\":\"step\"' \(run)/metrics.jsonl 2>/dev/null)\" -ge 2 ]",
                                action: "for p in $(ps -o pid= -s $$); do [ $p -ne $$ ] && kill -USR1 $p 2>/dev/null; done")
        XCTAssertEqual(result.status, 75, result.summary)
        XCTAssertTrue(result.stderr.contains("stopped by SIGUSR1 after step"), result.summary)
        let latest = try XCTUnwrap(CheckpointStore(run: run).latest(), result.summary)
        XCTAssertEqual(try Checkpoint.read(from: latest).state.reason, "SIGUSR1")
        assertGone(try scorerPIDs(run), within: 5, "exit 75")
        for rank in 0..<2 {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(run)/scorer-\(rank).exit"),
                          "rank \(rank)'s scorer outlived the signal and ended when orwdist closed its stdin: \(result.summary)")
        }

        for rank in 0..<2 {
            let names = try String(contentsOfFile: "\(run)/scorer-\(rank).env", encoding: .utf8).split(separator: "\n")
            XCTAssertTrue(names.contains("ORW_RANK") && names.contains("PATH"), "\(names)")
            let launcher = names.filter { $0.hasPrefix("OMPI_") || $0.hasPrefix("PMIX_") || $0.hasPrefix("OPAL_") }
            XCTAssertEqual(launcher, [], "rank \(rank)'s scorer sees the MPI launcher's variables")
        }
    }

    /// `kill -9` of rank 1 while its scorer is busy: mpirun ends the job, and neither scorer
    /// (rank 1's, busy; rank 0's, waiting for its next batch) outlives its rank by more than a
    /// few seconds.
    func testScorersDieWithTheirRanks() throws {
        let run = fresh("kill9")
        let result = try runJob(run, scorer: try scorer(run, hang: true), ready: "[ -e \(run)/scorer-1.busy ]", action: killRankScript(1))
        XCTAssertFalse(result.succeeded, result.summary)
        XCTAssertNotEqual(result.status, 99, result.summary)
        XCTAssertFalse(result.timedOut, result.summary)
        assertGone(try scorerPIDs(run), within: 5, "kill -9 of rank 1")
    }
}
