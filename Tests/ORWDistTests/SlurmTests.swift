import Foundation
import ORWCore
import TestSupport
import XCTest
@testable import ORWDist

/// The real `cluster/slurm/train.sbatch` submitted to a real single-node Slurm (munged,
/// slurmctld and slurmd on 127.0.0.1, started by `cluster/slurm/local-cluster` for this class
/// and stopped by PID afterwards, also when a test fails).
final class SlurmTests: XCTestCase {
    static let scratch = scratchDirectory("slurm-tests")
    static var cluster: String { scratch + "/cluster" }
    static let localCluster = Python.repositoryFile("cluster/slurm/local-cluster")
    nonisolated(unsafe) static var startFailure: String?

    override class func setUp() {
        super.setUp()
        do {
            // Ports of this process's own: a developer's cluster on the default ports stays untouched.
            var environment = ProcessInfo.processInfo.environment
            environment["SLURM_LOCAL_PORT"] = "\(20_000 + 2 * (Int(getpid()) % 5_000))"
            let result = try runProcess("bash", [localCluster, "start", cluster], environment: environment, timeout: 60)
            if !result.succeeded { startFailure = result.summary }
        } catch {
            startFailure = "\(error)"
        }
    }

    override class func tearDown() {
        _ = try? runProcess("bash", [localCluster, "stop", cluster], timeout: 60)
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let failure = Self.startFailure { throw ProcessLaunchError("the local Slurm cluster did not start: \(failure)") }
    }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["SLURM_CONF"] = Self.cluster + "/slurm.conf"
        environment["OPENBLAS_NUM_THREADS"] = "1"
        return environment
    }

    func slurm(_ tool: String, _ arguments: [String], environment extra: [String: String] = [:], timeout: Double = 60) throws -> ProcessResult {
        try runProcess(tool, arguments, environment: environment.merging(extra) { $1 }, currentDirectory: Self.scratch, timeout: timeout)
    }

    /// A tiny 2-D base model and a config for a short fine-tuning run on it.
    func prepareRun(name: String, steps: Int) throws -> (config: String, binary: String) {
        let binary = try productPath("orwdist")
        let base = Self.scratch + "/base/model.safetensors"
        if !FileManager.default.fileExists(atPath: base) {
            let result = try runOrwdist(["pretrain", "--run-dir", Self.scratch + "/base", "--steps", "200",
                                         "--set", "model.hidden=32", "--set", "model.depth=2", "--set", "model.time_embedding=16"])
            XCTAssertTrue(result.succeeded, result.summary)
        }
        let config = Self.scratch + "/\(name).toml"
        try """
        [base]
        model = "\(base)"
        [batch]
        global = 128
        micro = 32
        steps_per_epoch = \(steps / 2)
        epochs = 2
        [run]
        eval_samples = 64
        log_every = 1
        [checkpoint]
        every = 10
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return (config, binary)
    }

    /// Submits train.sbatch and returns the job id.
    func submit(config: String, binary: String, runDirectory: String, wait: Bool) throws -> (id: String, result: ProcessResult) {
        let script = Python.repositoryFile("cluster/slurm/train.sbatch")
        let result = try slurm("sbatch", (wait ? ["--wait"] : []) + ["--parsable", "--output", Self.scratch + "/slurm-%j.out", script, config],
                               environment: ["ORWDIST": binary, "RUN_DIR": runDirectory], timeout: 600)
        let id = result.stdout.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        return (id, result)
    }

    func jobLog(_ id: String) -> String {
        (try? String(contentsOfFile: Self.scratch + "/slurm-\(id).out", encoding: .utf8)) ?? "(no log)"
    }

    func testTrainingJobCompletesOnTwoRanksWithAVerifiedCheckpoint() throws {
        let (config, binary) = try prepareRun(name: "complete", steps: 20)
        let run = Self.scratch + "/run-complete"
        let (id, result) = try submit(config: config, binary: binary, runDirectory: run, wait: true)
        let log = jobLog(id)
        XCTAssertTrue(result.succeeded, result.summary + "\n" + log)
        XCTAssertTrue(log.contains("on 2 rank(s)"), log)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/final.safetensors"), log)
        let inspect = try runProcess(binary, ["inspect", run], timeout: 60)
        XCTAssertTrue(inspect.succeeded, inspect.summary)
        XCTAssertTrue(inspect.stdout.contains("verified"), inspect.stdout)
    }

    func testPreemptionCheckpointsRequeuesAndFinishesLikeAnUninterruptedRun() throws {
        let (config, binary) = try prepareRun(name: "preempt", steps: 400)
        // The uninterrupted run, on the same 2 ranks, outside Slurm.
        let reference = Self.scratch + "/run-uninterrupted"
        let plain = try runOrwdist(["train", "--config", config, "--run-dir", reference], ranks: 2)
        XCTAssertTrue(plain.succeeded, plain.summary)

        let run = Self.scratch + "/run-preempted"
        let (id, submitted) = try submit(config: config, binary: binary, runDirectory: run, wait: false)
        XCTAssertTrue(submitted.succeeded, submitted.summary)
        // Wait until the job is mid-run, then send the preemption signal to its ranks.
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            let lines = (try? String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8))?.split(separator: "\n").count ?? 0
            if lines >= 30 { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let cancel = try slurm("scancel", ["--signal=USR1", id])
        XCTAssertTrue(cancel.succeeded, cancel.summary)
        // The job checkpoints, requeues itself, resumes and finishes.
        while Date() < deadline {
            let queue = try slurm("squeue", ["-h", "-j", id, "-o", "%T"])
            if queue.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                && FileManager.default.fileExists(atPath: run + "/final.safetensors") { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        let log = jobLog(id)
        XCTAssertTrue(log.contains("requeueing"), log)
        XCTAssertTrue(log.contains("restart 1"), log)
        let interrupted = try ModelFile.read(from: run + "/final.safetensors").parameters
        let uninterrupted = try ModelFile.read(from: reference + "/final.safetensors").parameters
        XCTAssertEqual(interrupted, uninterrupted, "final parameters after preemption and resume differ from the uninterrupted run's\n" + log)
    }
}
