import Foundation
import ORWRewards
import TestSupport
import XCTest

/// Protocol v1 against real Python children: scripts/rewards/example_scorer.py for correct
/// rewards, and small misbehaving scorers written here, one per failure.
final class ExternalRewardTests: XCTestCase {
    static let scratch: String = {
        let path = NSTemporaryDirectory() + "orwdist-external-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// The repository's Python (numpy) and a scorer script written to the scratch directory.
    func python() throws -> String { try Python.environment() }

    func script(_ name: String, _ body: String) throws -> String {
        let path = "\(Self.scratch)/\(name).py"
        let prelude = """
            import os, struct, sys, time
            def request():
                header = sys.stdin.buffer.read(16)
                if len(header) < 16:
                    sys.exit(0)
                magic, version, n, k = struct.unpack("<4sIII", header)
                shape = struct.unpack(f"<{k}I", sys.stdin.buffer.read(4 * k))
                size = n
                for d in shape:
                    size *= d
                values = struct.unpack(f"<{size}f", sys.stdin.buffer.read(4 * size))
                return n, shape, values
            def answer(n, rewards, magic=b"ORWA"):
                sys.stdout.buffer.write(magic + struct.pack("<I", n) + struct.pack(f"<{len(rewards)}f", *rewards))
                sys.stdout.buffer.flush()

            """
        try (prelude + body).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Collects the lines a child writes to stderr.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func append(_ line: String) { lock.withLock { stored.append(line) } }
        var all: [String] { lock.withLock { stored } }
    }

    func external(_ command: [String], shape: [Int], rank: Int = 1, worldSize: Int = 2, timeout: Double = 30,
                  lines: Lines = Lines()) throws -> ExternalReward {
        try ExternalReward(command: command, sampleShape: shape, rank: rank, worldSize: worldSize, timeout: timeout) { lines.append($0) }
    }

    func score(_ reward: ExternalReward, _ x: [Float], batch: Int) throws -> [Float] {
        var rewards = [Float](repeating: .nan, count: batch)
        try reward.score(x, batch: batch, dimension: x.count / batch, into: &rewards)
        return rewards
    }

    /// The error `score` throws, as text.
    func failure(_ reward: ExternalReward, batch: Int = 4, dimension: Int = 2) -> String {
        var rewards = [Float](repeating: 0, count: batch)
        do {
            try reward.score([Float](repeating: 0.5, count: batch * dimension), batch: batch, dimension: dimension, into: &rewards)
        } catch {
            return "\(error)"
        }
        XCTFail("scoring did not fail")
        return ""
    }

    // MARK: Correct rewards

    func testTwoDimensionalPoints() throws {
        let lines = Lines()
        let scorer = Python.repositoryFile("scripts/rewards/example_scorer.py")
        let reward = try external([try python(), scorer, "--reward", "distance", "--target", "5,0"], shape: [2], rank: 3, worldSize: 4, lines: lines)
        for batch in [1, 64, 7] {
            let x = normals(batch * 2, seed: UInt64(batch), scale: 3)
            let rewards = try score(reward, x, batch: batch)
            for i in 0..<batch {
                let expected = -(pow(Double(x[2 * i]) - 5, 2) + pow(Double(x[2 * i + 1]), 2))
                XCTAssertEqual(Double(rewards[i]), expected, accuracy: 1e-4 * max(1, abs(expected)))
            }
        }
        reward.shutdown()
        XCTAssertTrue(lines.all.contains("example_scorer: rank 3 of 4, reward distance"), "stderr reaches the log: \(lines.all)")
    }

    func testBatchOfImages() throws {
        let scorer = Python.repositoryFile("scripts/rewards/example_scorer.py")
        let reward = try external([try python(), scorer, "--reward", "brightness"], shape: [1, 28, 28])
        let batch = 5
        let x = uniforms(batch * 784, seed: 3).enumerated().map { $0.element * 2 - 1 + Float($0.offset / 784) * 0.1 }
        let rewards = try score(reward, x, batch: batch)
        for i in 0..<batch {
            let mean = x[(i * 784)..<((i + 1) * 784)].reduce(0.0) { $0 + Double($1) } / 784
            XCTAssertEqual(Double(rewards[i]), mean, accuracy: 1e-5)
        }
    }

    /// The request carries n, k and the shape; the child sees ORW_RANK and ORW_WORLD_SIZE.
    func testRequestHeaderAndEnvironment() throws {
        let path = try script("echo", """
            while True:
                n, shape, values = request()
                rank, world = int(os.environ["ORW_RANK"]), int(os.environ["ORW_WORLD_SIZE"])
                answer(n, [1000 * rank + 100 * world + 10 * len(shape) + shape[-1] + i for i in range(n)])
            """)
        let reward = try external([try python(), path], shape: [1, 2, 3], rank: 2, worldSize: 5)
        XCTAssertEqual(try score(reward, [Float](repeating: 0, count: 12), batch: 2), [2533, 2534])
    }

    /// Closing stdin asks the child to exit; it does, cleanly.
    func testShutdownClosesStdin() throws {
        let marker = "\(Self.scratch)/goodbye"
        let path = try script("goodbye", """
            while True:
                header = sys.stdin.buffer.read(16)
                if len(header) < 16:
                    open(sys.argv[1], "w").write("stdin closed")
                    sys.exit(0)
            """)
        let reward = try external([try python(), path, marker], shape: [2])
        reward.shutdown()
        XCTAssertEqual(try String(contentsOfFile: marker, encoding: .utf8), "stdin closed")
    }

    // MARK: Each failure, its own error

    func testChildThatExits() throws {
        let path = try script("exits", """
            request()
            print("scorer: cannot load the model", file=sys.stderr, flush=True)
            sys.exit(3)
            """)
        let reward = try external([try python(), path], shape: [2])
        let message = failure(reward)
        for part in ["external", path, "rank 1", "exited with status 3", "cannot load the model"] {
            XCTAssertTrue(message.contains(part), "'\(part)' in: \(message)")
        }
        XCTAssertEqual(failure(reward), message, "later batches fail with the same error")
    }

    func testChildThatHangsPastTheTimeout() throws {
        let path = try script("hangs", """
            request()
            time.sleep(600)
            """)
        let reward = try external([try python(), path], shape: [2], timeout: 1.5)
        let started = Date()
        let message = failure(reward)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        for part in [path, "rank 1", "timed out after 1.5 s"] {
            XCTAssertTrue(message.contains(part), "'\(part)' in: \(message)")
        }
    }

    func testChildThatNeverReadsItsInput() throws {
        let path = try script("deaf", "time.sleep(600)\n")
        let reward = try external([try python(), path], shape: [784], timeout: 1)
        let message = failure(reward, batch: 256, dimension: 784)   // 800 kB: more than a pipe holds
        XCTAssertTrue(message.contains("timed out after 1 s"), message)
    }

    func testWrongMagic() throws {
        let path = try script("magic", """
            n, shape, values = request()
            answer(n, [0.0] * n, magic=b"OOPS")
            time.sleep(600)
            """)
        let message = failure(try external([try python(), path], shape: [2]))
        XCTAssertTrue(message.contains("bad magic \"OOPS\"") && message.contains("ORWA") && message.contains("rank 1"), message)
    }

    func testWrongCount() throws {
        let path = try script("count", """
            n, shape, values = request()
            answer(n - 1, [0.0] * (n - 1))
            time.sleep(600)
            """)
        let message = failure(try external([try python(), path], shape: [2]))
        XCTAssertTrue(message.contains("wrong count: 3 rewards for a batch of 4") && message.contains("rank 1"), message)
    }

    /// NaN rewards come back as they are: the trainer's on_invalid policy judges them.
    func testNonFiniteRewardsAreReturnedForThePolicy() throws {
        let path = try script("nan", """
            while True:
                n, shape, values = request()
                answer(n, [float("nan")] + [1.0] * (n - 1))
            """)
        let rewards = try score(try external([try python(), path], shape: [2]), [Float](repeating: 0, count: 6), batch: 3)
        XCTAssertTrue(rewards[0].isNaN)
        XCTAssertEqual(Array(rewards[1...]), [1, 1])
    }

    // MARK: Untrusted output and environment (issue 20, defect 10)

    /// A progress bar that only ever writes '\r': 50 MB of stderr without a newline, before the
    /// answer. Each '\r' ends a line, each line is cut at `ScorerStderr.maximumLine` bytes, and
    /// the flood neither stalls the answer nor piles up in memory.
    func testCarriageReturnFloodIsCutIntoBoundedLines() throws {
        let path = try script("progress", """
            n, shape, values = request()
            segment = b"#" * (1 << 20)
            for i in range(50):
                sys.stderr.buffer.write(b"\\r" + segment)
            sys.stderr.buffer.write(b"\\rscoring done\\r")
            sys.stderr.buffer.flush()
            answer(n, [7.0] * n)
            while True:
                n, shape, values = request()
                answer(n, [7.0] * n)
            """)
        let lines = Lines()
        let reward = try external([try python(), path], shape: [2], timeout: 20, lines: lines)
        XCTAssertEqual(try score(reward, [Float](repeating: 0, count: 6), batch: 3), [7, 7, 7])
        reward.shutdown()
        let deadline = Date().addingTimeInterval(10)
        while !lines.all.contains("scoring done"), Date() < deadline { usleep(10_000) }
        let all = lines.all
        XCTAssertEqual(all.last, "scoring done", "'\\r' ends a line")
        let cut = all.dropLast()
        XCTAssertEqual(cut.count, 50, "one line per '\\r'-separated segment")
        for line in cut {
            XCTAssertTrue(line.hasPrefix(String(repeating: "#", count: 4096)) && line.hasSuffix("(line cut at 4096 bytes)"),
                          "\(line.utf8.count) bytes: …\(line.suffix(60))")
            XCTAssertLessThan(line.utf8.count, 4200)
        }
    }

    /// Bytes after an answer would be read as the next batch's answer, one batch late and
    /// silently: a whole extra answer sent with the first, or junk that arrives after it.
    func testBytesAfterAnAnswerAreAProtocolError() throws {
        let doubled = try script("doubled", """
            n, shape, values = request()
            reply = b"ORWA" + struct.pack("<I", n) + struct.pack(f"<{n}f", *([1.0] * n))
            late = b"ORWA" + struct.pack("<I", n) + struct.pack(f"<{n}f", *([2.0] * n))
            sys.stdout.buffer.write(reply + late)
            sys.stdout.buffer.flush()
            while True:
                n, shape, values = request()
                answer(n, [3.0] * n)
            """)
        let first = try external([try python(), doubled], shape: [2])
        var rewards: [[Float]] = []
        var message = ""
        do {
            for _ in 0..<2 { rewards.append(try score(first, [Float](repeating: 0, count: 8), batch: 4)) }
        } catch {
            message = "\(error)"
        }
        XCTAssertEqual(rewards.count, 0, "no batch gets another's rewards: \(rewards)")
        for part in [doubled, "rank 1", "24 unexpected bytes after its answer"] {
            XCTAssertTrue(message.contains(part), "'\(part)' in: \(message)")
        }

        let trailing = try script("trailing", """
            n, shape, values = request()
            answer(n, [1.0] * n)
            time.sleep(0.2)
            sys.stdout.buffer.write(b"oops\\n")
            sys.stdout.buffer.flush()
            while True:
                n, shape, values = request()
                answer(n, [3.0] * n)
            """)
        let second = try external([try python(), trailing], shape: [2])
        XCTAssertEqual(try score(second, [Float](repeating: 0, count: 4), batch: 2), [1, 1])
        usleep(1_000_000)
        let late = failure(second, batch: 2)
        XCTAssertTrue(late.contains("5 unexpected bytes after its answer"), late)

        // After the last answer nothing is misread, but the run's log says so.
        let farewell = try script("farewell", """
            n, shape, values = request()
            answer(n, [1.0] * n)
            sys.stdin.buffer.read()
            sys.stdout.buffer.write(b"bye")
            """)
        let lines = Lines()
        let third = try external([try python(), farewell], shape: [2], lines: lines)
        XCTAssertEqual(try score(third, [0, 0], batch: 1), [1])
        third.shutdown()
        XCTAssertTrue(lines.all.contains { $0.contains("wrote 3 unexpected bytes to stdout after its last answer") }, "\(lines.all)")
    }

    /// Ending the child ends its process group: what it started (here `sleep`) does not outlive
    /// it, whether the run ends normally (stdin closed, the child exits) or the child times out.
    func testEndingTheChildEndsItsProcessGroup() throws {
        for (name, hangs) in [("exits", false), ("hangs", true)] {
            let pidFile = "\(Self.scratch)/grandchild-\(name)"
            let path = try script("starts-\(name)", """
                import subprocess
                open(sys.argv[1], "w").write(str(subprocess.Popen(["sleep", "600"]).pid))
                n, shape, values = request()
                if sys.argv[2] == "hang":
                    time.sleep(600)
                answer(n, [1.0] * n)
                while True:
                    request()
                """)
            let reward = try external([try python(), path, pidFile, hangs ? "hang" : "exit"], shape: [2], timeout: 1)
            if hangs {
                XCTAssertTrue(failure(reward, batch: 1).contains("timed out"))
            } else {
                XCTAssertEqual(try score(reward, [0, 0], batch: 1), [1])
                reward.shutdown()
            }
            let grandchild = try XCTUnwrap(Int32(String(contentsOfFile: pidFile, encoding: .utf8)))
            let deadline = Date().addingTimeInterval(2)
            while isRunning(grandchild), Date() < deadline { usleep(10_000) }
            XCTAssertFalse(isRunning(grandchild), "\(name): the child's `sleep` outlived it")
            if isRunning(grandchild) { kill(grandchild, SIGKILL) }
        }
    }

    /// OpenMPI's and PMIx's variables (and other MPI launchers') stay out of the child's
    /// environment, so a scorer using mpi4py does not join the job; the rest is passed on.
    func testChildEnvironmentHasNoMPILauncherVariables() throws {
        let launcher = ["OMPI_COMM_WORLD_RANK", "OMPI_MCA_orte_hnp_uri", "PMIX_RANK", "PMIX_SERVER_URI4", "PMI_RANK",
                        "OPAL_PREFIX", "HYDRA_CONTROL_FD", "MPI_LOCALRANKID", "PRTE_MCA_prte_tmpdir_base"]
        for name in launcher + ["ORW_TEST_KEPT"] { setenv(name, "1", 1) }
        defer { for name in launcher + ["ORW_TEST_KEPT"] { unsetenv(name) } }
        let listing = "\(Self.scratch)/environment"
        let path = try script("environment", """
            open(sys.argv[1], "w").write("\\n".join(sorted(os.environ)))
            while True:
                n, shape, values = request()
                answer(n, [0.0] * n)
            """)
        let reward = try external([try python(), path, listing], shape: [2])
        _ = try score(reward, [0, 0], batch: 1)
        let names = try String(contentsOfFile: listing, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertTrue(names.contains("ORW_TEST_KEPT") && names.contains("PATH") && names.contains("ORW_RANK"), "\(names)")
        for name in names {
            XCTAssertFalse(["OMPI_", "PMIX_", "PMI_", "OPAL_", "HYDRA_", "MPI_", "PRTE_"].contains { name.hasPrefix($0) }, name)
        }
    }

    func testMissingProgram() {
        XCTAssertThrowsError(try external(["/nonexistent/scorer"], shape: [2])) { error in
            XCTAssertTrue("\(error)".contains("cannot start `/nonexistent/scorer` on rank 1"), "\(error)")
        }
        XCTAssertThrowsError(try external([], shape: [2]))
    }
}
