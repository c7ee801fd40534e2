import Foundation
import TestSupport
import XCTest
@testable import ORWDist

/// Every command that writes a run directory takes its lock first: `orwdist pretrain` and
/// `orwdist classifier train` on a directory another job holds stop with exit 2, naming the
/// holder, before writing anything (`orwdist train`'s case, under mpirun, is in ResumeTests).
final class RunLockTests: XCTestCase {
    private static let scratch = NSTemporaryDirectory() + "orwdist-run-lock-tests-\(getpid())"

    override class func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Holds the lock of `run` in this process (as a running job would) while `arguments` run on
    /// 2 ranks: they must stop with status 2 naming this process, leave the directory as it
    /// was, and succeed once the lock is released.
    private func assertRefusedWhileHeld(_ arguments: [String], run: String, writes file: String) throws {
        let lock = try RunLock(directory: run)
        let refused = try runOrwdist(arguments, ranks: 2, timeout: 120)
        XCTAssertEqual(refused.status, 2, refused.summary)
        let output = refused.stdout + refused.stderr
        XCTAssertTrue(output.contains("\(run) is in use by another orwdist job (host "), output)
        XCTAssertTrue(output.contains(", PID \(getpid()), started "), output)
        let entries = try FileManager.default.contentsOfDirectory(atPath: run)
        XCTAssertEqual(entries, [RunLock.fileName], "the refused job wrote into the run directory: \(entries)")

        lock.release()
        let finished = try runOrwdist(arguments, ranks: 2, timeout: 300)
        XCTAssertTrue(finished.succeeded, finished.summary)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(run)/\(file)"), finished.summary)
    }

    func testPretrainRefusesARunDirectoryInUse() throws {
        let run = Self.scratch + "/pretrain"
        try assertRefusedWhileHeld(["pretrain", "--run-dir", run, "--steps", "20", "--set", "model.hidden=32"],
                                   run: run, writes: "model.safetensors")
    }

    func testClassifierTrainingRefusesARunDirectoryInUse() throws {
        let run = Self.scratch + "/classifier"
        try assertRefusedWhileHeld(["classifier", "train", "--run-dir", run, "--set", "model.hidden=[16]",
                                    "--epochs", "1"], run: run, writes: "classifier.safetensors")
    }
}
