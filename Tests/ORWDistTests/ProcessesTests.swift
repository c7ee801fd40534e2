import Foundation
import TestSupport
import XCTest

/// The process helpers that the multi-rank tests (these and the trainer's) stand on: exit
/// statuses, large concurrent output, stdin, timeouts that end the whole process group.
final class ProcessesTests: XCTestCase {
    func testStatusAndOutputs() throws {
        let result = try runProcess("sh", ["-c", "echo out; echo err >&2; exit 7"], timeout: 30)
        XCTAssertEqual(result.status, 7)
        XCTAssertNil(result.signal)
        XCTAssertFalse(result.timedOut)
        XCTAssertFalse(result.succeeded)
        XCTAssertEqual(result.stdout, "out\n")
        XCTAssertEqual(result.stderr, "err\n")
        XCTAssertTrue(result.summary.contains("exited with status 7"), result.summary)
    }

    func testSignalIsReported() throws {
        let result = try runProcess("sh", ["-c", "kill -KILL $$"], timeout: 30)
        XCTAssertEqual(result.signal, SIGKILL)
        XCTAssertEqual(result.status, 128 + SIGKILL)
    }

    /// Megabytes on both pipes at once: a runner that read them one after the other, or only
    /// after the exit, would deadlock on the full pipe buffer.
    func testLargeOutputOnBothStreamsDoesNotDeadlock() throws {
        let script = "i=0; while [ $i -lt 40 ]; do head -c 131072 /dev/zero | tr '\\0' a; head -c 131072 /dev/zero | tr '\\0' b >&2; i=$((i+1)); done"
        let result = try runProcess("sh", ["-c", script], timeout: 60)
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertEqual(result.stdout.utf8.count, 40 * 131072)
        XCTAssertEqual(result.stderr.utf8.count, 40 * 131072)
        XCTAssertTrue(result.stdout.utf8.allSatisfy { $0 == UInt8(ascii: "a") })
        XCTAssertTrue(result.stderr.utf8.allSatisfy { $0 == UInt8(ascii: "b") })
    }

    func testStandardInputEnvironmentAndDirectory() throws {
        let input = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0) })
        let counted = try runProcess("wc", ["-c"], standardInput: input, timeout: 30)
        XCTAssertEqual(counted.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "200000")

        let printed = try runProcess("sh", ["-c", "echo $ORW_PROBE; pwd; cat"],
                                     environment: ["ORW_PROBE": "probe", "PATH": "/usr/bin:/bin"],
                                     currentDirectory: "/tmp", timeout: 30)
        XCTAssertEqual(printed.stdout, "probe\n/tmp\n", printed.summary)  // stdin is /dev/null
    }

    /// A timeout ends the child and what it started (here a background grandchild), so no
    /// stray rank outlives its test.
    func testTimeoutKillsTheChildAndItsChildren() throws {
        let pidFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("orw-processes-\(getpid()).pid").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let result = try runProcess("sh", ["-c", "sleep 300 & echo $! > \(pidFile); echo started; wait"], timeout: 1)
        XCTAssertTrue(result.timedOut, result.summary)
        XCTAssertFalse(result.succeeded)
        XCTAssertEqual(result.stdout, "started\n")
        let grandchild = try XCTUnwrap(Int32(String(contentsOfFile: pidFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertFalse(isRunning(grandchild), "sleep \(grandchild) outlived the timeout")
    }

    /// mpirun puts every rank in a process group of its own; a timeout must still end them all,
    /// even one that ignores SIGTERM (simulated here by a grandchild that leaves the group).
    func testTimeoutKillsDescendantsInOtherProcessGroups() throws {
        let pidFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("orw-processes-pgid-\(getpid()).pid").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let stubborn = """
            import os, signal, time
            os.setpgid(0, 0)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            open("\(pidFile)", "w").write(str(os.getpid()))
            time.sleep(300)
            """
        let result = try runProcess("sh", ["-c", "python3 -c '\(stubborn)' & sleep 300"], timeout: 2)
        XCTAssertTrue(result.timedOut, result.summary)
        let grandchild = try XCTUnwrap(Int32(String(contentsOfFile: pidFile, encoding: .utf8)), result.summary)
        XCTAssertFalse(isRunning(grandchild), "python \(grandchild) outlived the timeout")
    }

    /// The real case: a hanging mpirun job, its ranks each in their own process group.
    func testTimeoutEndsEveryRankOfAnMpirunJob() throws {
        let pidFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("orw-processes-ranks-\(getpid()).pid").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let result = try mpirun(n: 2, args: ["sh", "-c", "echo $$ >> \(pidFile); exec sleep 300"], timeout: 3)
        XCTAssertTrue(result.timedOut, result.summary)
        let ranks = try String(contentsOfFile: pidFile, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        XCTAssertEqual(ranks.count, 2, result.summary)
        for rank in ranks { XCTAssertFalse(isRunning(rank), "rank process \(rank) outlived the timeout") }
    }

    func testMissingExecutablesFailWithTheirName() {
        XCTAssertThrowsError(try runProcess("orw-no-such-tool")) { error in
            XCTAssertTrue("\(error)".contains("orw-no-such-tool not found on PATH"), "\(error)")
        }
        XCTAssertThrowsError(try productPath("orw-no-such-product")) { error in
            XCTAssertTrue("\(error)".contains("swift build --build-tests"), "\(error)")
        }
    }

    func testProductsDirectoryHoldsTheBuiltTools() throws {
        for product in ["orwdist", "orwdist-mpi-check"] {
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: try productPath(product)))
        }
    }
}
