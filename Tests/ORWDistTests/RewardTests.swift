import Foundation
import ORWCore
import ORWData
import ORWRewards
import TestSupport
import XCTest
@testable import ORWDist

/// The rewards end to end: their config, the Fashion-MNIST classifier, and fine-tuning under
/// real `mpirun -n 2` with external Python rewards — improving, misbehaving, invalid.
final class RewardTests: XCTestCase {
    static let scratch = scratchDirectory("reward-tests")

    /// Runs `orwdist ARGS` on `ranks` ranks (a plain process for 1).
    func orwdist(_ arguments: [String], ranks: Int = 1, environment extra: [String: String] = [:], timeout: Double = 600) throws -> ProcessResult {
        let binary = try productPath("orwdist")
        var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        environment["ORWDIST_CACHE"] = Self.scratch + "/cache"
        environment["OPENBLAS_NUM_THREADS"] = "1"
        return ranks == 1
            ? try runProcess(binary, arguments, environment: environment, timeout: timeout)
            : try mpirun(n: ranks, args: [binary] + arguments, environment: environment, timeout: timeout)
    }

    /// A small 8-Gaussian base, pretrained once for this class.
    nonisolated(unsafe) static var basePath: String?
    func base() throws -> String {
        if let path = Self.basePath { return path }
        let directory = Self.scratch + "/base"
        let result = try orwdist(["pretrain", "--run-dir", directory, "--data", "8gaussians", "--steps", "300",
                                  "--set", "model.hidden=64", "--set", "model.depth=2", "--set", "model.time_embedding=16",
                                  "--set", "optimizer.learning_rate=3e-3"])
        XCTAssertTrue(result.succeeded, result.summary)
        Self.basePath = directory + "/model.safetensors"
        return Self.basePath!
    }

    func records(_ run: String, kind: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }.filter { $0["kind"] as? String == kind }
    }

    func python() throws -> String { try Python.environment() }

    /// A TOML array literal of strings.
    func toml(_ strings: [String]) -> String { "[" + strings.map { tomlString($0) }.joined(separator: ", ") + "]" }

    // MARK: Configuration

    func testEveryKindParsesValidatesAndRoundTrips() throws {
        let cases: [(String, [String], Bool)] = [
            ("distance", ["reward.target=[1.0, 2.0]"], false),
            ("linear", ["reward.direction=[1.0]"], false),
            ("classifier", ["reward.classifier=\"c.safetensors\"", "reward.classes=[\"sneaker\", 5]"], true),
            ("jpeg", ["reward.quality=80"], false),
            ("jpeg-incompressibility", [], true),
            ("external", ["reward.command=[\"python3\", \"score.py\"]", "reward.timeout=5.0", "reward.sample_shape=[1, 28, 28]"], false),
            ("composite", ["reward.components=[\"jpeg-incompressibility\", \"classifier\"]", "reward.weights=[0.5, 2.0]",
                           "reward.classifier=\"c.safetensors\"", "reward.classes=[7]", "reward.on_invalid=\"drop\""], true),
        ]
        for (kind, settings, nonNegative) in cases {
            let config = try TrainConfig.load(path: nil, overrides: ["reward.kind=\"\(kind)\""] + settings)
            XCTAssertNoThrow(try config.validate(worldSize: 1), kind)
            XCTAssertEqual(config.reward.isNonNegative, nonNegative, kind)
            let file = Self.scratch + "/\(kind).toml"
            try config.tomlText().write(toFile: file, atomically: true, encoding: .utf8)
            XCTAssertEqual(try TrainConfig.load(path: file), config, "\(kind) survives config.toml")
        }
        let labels = try TrainConfig.load(path: nil, overrides: ["reward.classes=[\"sneaker\", 5]"])
        XCTAssertEqual(labels.reward.classes, ["sneaker", "5"])
        let logProbability = try TrainConfig.load(path: nil, overrides: ["reward.kind=\"classifier\"", "reward.log_probability=true"])
        XCTAssertFalse(logProbability.reward.isNonNegative)
        XCTAssertTrue(TrainConfig.documentation().contains("reward.on_invalid"))
    }

    func testConfigMistakesNameTheField() throws {
        let mistakes: [([String], String)] = [
            (["reward.kind=\"external\""], "reward.command"),
            (["reward.kind=\"external\"", "reward.command=[\"x\"]", "reward.timeout=0.0"], "reward.timeout"),
            (["reward.kind=\"classifier\"", "reward.classes=[1]"], "reward.classifier"),
            (["reward.kind=\"jpeg\"", "reward.quality=101"], "reward.quality"),
            (["reward.kind=\"composite\"", "reward.components=[\"jpeg\", \"nope\"]", "reward.weights=[1.0, 1.0]"], "reward.components"),
            (["reward.kind=\"composite\"", "reward.components=[\"jpeg\", \"distance\"]", "reward.weights=[1.0]"], "reward.weights"),
            (["reward.kind=\"composite\"", "reward.components=[\"jpeg\", \"jpeg\"]", "reward.weights=[1.0, 1.0]"], "reward.components"),
            (["reward.kind=\"jpeg-incompressibility\"", "method.weighting=\"linear\"", "reward.kind=\"jpeg\""], "method.weighting"),
        ]
        for (settings, field) in mistakes {
            XCTAssertThrowsError(try TrainConfig.load(path: nil, overrides: settings).validate(worldSize: 1), "\(settings)") { error in
                XCTAssertEqual((error as? ConfigError)?.field, field, "\(settings): \(error)")
            }
        }
        var settings = RewardSettings()
        settings.kind = .jpeg
        XCTAssertThrowsError(try settings.makeReward(dimension: 10, rank: 0, worldSize: 1)) { error in
            XCTAssertEqual((error as? ConfigError)?.field, "reward.sample_shape", "\(error)")
        }
        settings.sampleShape = [1, 2, 5]
        XCTAssertEqual((try settings.makeReward(dimension: 10, rank: 0, worldSize: 1) as? JPEGReward)?.width, 5)
    }

    // MARK: The classifier

    /// A short `orwdist classifier train` on 2 ranks (one epoch of a narrow MLP, ~10 s) learns:
    /// above 80% test accuracy, written to the file and the metrics.
    func testClassifierTrainingLearnsOnTwoRanks() throws {
        let run = Self.scratch + "/classifier-short"
        let trained = try orwdist(["classifier", "train", "--run-dir", run, "--epochs", "1", "--set", "model.hidden=[128]",
                                   "--set", "run.log_every=100"], ranks: 2, timeout: 600)
        XCTAssertTrue(trained.succeeded, trained.summary)
        print(trained.stdout.split(separator: "\n").suffix(2).joined(separator: "\n"))
        let file = try ClassifierFile.read(from: run + "/classifier.safetensors")
        XCTAssertEqual(file.architecture, ClassifierArchitecture(inputShape: [1, 28, 28], hidden: [128], classes: 10))
        let accuracy = try XCTUnwrap(Double(file.metadata["orwdist.test_accuracy"] ?? ""))
        XCTAssertGreaterThan(accuracy, 0.8)
        XCTAssertEqual(try records(run, kind: "test").last?["test_accuracy"] as? Double, accuracy)
        XCTAssertEqual(try records(run, kind: "classifier").count, 5)   // steps 100 … 400, 469
    }

    /// The default `orwdist classifier train` on 2 ranks reaches ≥ 88% test accuracy. Training it
    /// takes minutes, so scripts/rewards/train-classifier trains it once into the cache (shared
    /// across test runs) and this test loads it. `classifier eval` reports the same accuracy; the
    /// classifier reward finds sneakers.
    func testClassifierReachesEightyEightPercentAndScoresSneakers() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["ORWDIST"] = try productPath("orwdist")
        let trained = try runProcess("bash", [Python.repositoryFile("scripts/rewards/train-classifier")], environment: environment, timeout: 1800)
        XCTAssertTrue(trained.succeeded, trained.summary)
        let path = trained.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let file = try ClassifierFile.read(from: path)
        XCTAssertEqual(file.architecture, ClassifierArchitecture(inputShape: [1, 28, 28], hidden: [512, 256], classes: 10))
        let accuracy = Double(file.metadata["orwdist.test_accuracy"] ?? "") ?? 0
        XCTAssertGreaterThanOrEqual(accuracy, 0.88, "test accuracy")
        XCTAssertEqual(file.classNames, FashionMNIST.classNames)

        let evaluated = try orwdist(["classifier", "eval", "--model", path])
        XCTAssertTrue(evaluated.succeeded, evaluated.summary)
        XCTAssertTrue(evaluated.stdout.contains(String(format: "test accuracy %.4f", accuracy)), evaluated.stdout)
        print(evaluated.stdout)

        // Python reads it as PyTorch names it.
        let shapes = try Python.run(python: python(), """
            import sys; from safetensors.numpy import load_file
            print(sorted((k, v.shape) for k, v in load_file(sys.argv[1]).items()))
            """, [path])
        XCTAssertTrue(shapes.contains("('net.0.weight', (512, 784))") && shapes.contains("('net.4.weight', (10, 256))"), shapes)

        var settings = RewardSettings()
        settings.kind = .classifier
        settings.classifier = path
        settings.classes = ["Sneaker"]
        let reward = try settings.makeReward(dimension: 784, rank: 0, worldSize: 1)
        let test = try FashionMNIST(split: .test)
        let sneakers = (0..<2000).filter { test.label($0) == 7 }.prefix(100), others = (0..<2000).filter { test.label($0) != 7 }.prefix(100)
        func meanReward(_ indices: some Collection<Int>) throws -> Double {
            var x = [Float](repeating: 0, count: indices.count * 784), r = [Float](repeating: 0, count: indices.count)
            x.withUnsafeMutableBufferPointer { test.copySamples(indices, into: $0.baseAddress!) }
            try reward.score(x, batch: indices.count, dimension: 784, into: &r)
            return r.reduce(0.0) { $0 + Double($1) } / Double(r.count)
        }
        XCTAssertGreaterThan(try meanReward(sneakers), 0.8)
        XCTAssertLessThan(try meanReward(others), 0.2)
        settings.classes = ["7", "sandal"]
        XCTAssertEqual((try settings.makeReward(dimension: 784, rank: 0, worldSize: 1) as? ClassifierReward)?.targets, [7, 5])
        settings.classes = ["sneakers"]
        XCTAssertThrowsError(try settings.makeReward(dimension: 784, rank: 0, worldSize: 1)) { error in
            XCTAssertTrue("\(error)".contains("\"sneaker\""), "lists the names: \(error)")
        }
    }

    // MARK: External rewards under mpirun

    func fineTune(_ run: String, reward: [String], ranks: Int = 2, steps: Int = 20, epochs: Int = 3) throws -> ProcessResult {
        try orwdist(["train", "--base", try base(), "--run-dir", run, "--batch", "128", "--microbatch", "32",
                     "--steps-per-epoch", "\(steps)", "--epochs", "\(epochs)", "--tau", "0.5", "--lr", "2e-3",
                     "--set", "run.log_every=5", "--set", "run.eval_samples=256"] + reward.flatMap { ["--set", $0] },
                    ranks: ranks, timeout: 300)
    }

    /// The example scorer's −‖x − (5, 0)‖², one Python child per rank, raises the mean reward.
    func testExternalRewardRaisesTheMeanRewardOnTwoRanks() throws {
        let run = Self.scratch + "/external"
        let command = [try python(), Python.repositoryFile("scripts/rewards/example_scorer.py"), "--reward", "distance", "--target", "5,0"]
        let result = try fineTune(run, reward: ["reward.kind=\"external\"", "reward.command=\(toml(command))"])
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertTrue(result.stdout.contains("example_scorer: rank 1 of 2"), "rank 1's child's stderr reaches the log")
        let epochs = try records(run, kind: "epoch")
        let before = epochs.first!["reward_mean"] as! Double, after = epochs.last!["reward_mean"] as! Double
        print("external reward: \(before) → \(after)")
        XCTAssertGreaterThan(after, before + 0.2 * abs(before), "the mean reward rises")
        XCTAssertTrue(try records(run, kind: "step").allSatisfy { $0["invalid_rewards"] as? Int == 0 })
    }

    /// A scorer that behaves for two batches, then (on rank 1 only) misbehaves as `failure` says.
    func misbehavingScorer(_ failure: String) throws -> [String] {
        let path = Self.scratch + "/misbehave.py"
        try """
            import os, struct, sys, time
            failure, rank, batches = sys.argv[1], os.environ["ORW_RANK"], 0
            while True:
                header = sys.stdin.buffer.read(16)
                if len(header) < 16:
                    sys.exit(0)
                magic, version, n, k = struct.unpack("<4sIII", header)
                shape = struct.unpack(f"<{k}I", sys.stdin.buffer.read(4 * k))
                x = struct.unpack(f"<{2 * n}f", sys.stdin.buffer.read(8 * n))
                rewards = [-((x[2 * i] - 5) ** 2 + x[2 * i + 1] ** 2) for i in range(n)]
                batches += 1
                magic, count = b"ORWA", n
                if rank == "1" and batches > 2:
                    if failure == "exit":
                        print("misbehave: giving up", file=sys.stderr, flush=True)
                        sys.exit(7)
                    if failure == "hang":
                        time.sleep(600)
                    if failure == "magic":
                        magic = b"ORWB"
                    if failure == "count":
                        count = n + 1
                    if failure == "nan":
                        rewards[3] = float("nan")
                sys.stdout.buffer.write(magic + struct.pack("<I", count) + struct.pack(f"<{n}f", *rewards))
                sys.stdout.buffer.flush()
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return [try python(), path, failure]
    }

    /// Each failure stops the 2-rank job within seconds with an error naming the rank and the
    /// cause, and leaves what the run wrote before (reference.safetensors, config.toml, and the
    /// last checkpoint, which still verifies) intact. Rank 1's child fails on its third batch.
    func testEachExternalFailureStopsTheJobWithItsOwnErrorAndKeepsTheRunDirectory() throws {
        let causes = [
            ("exit", ["exited with status 7", "misbehave: giving up"]),
            ("hang", ["timed out after 2 s"]),
            ("magic", ["bad magic \"ORWB\""]),
            ("count", ["wrong count: 65 rewards for a batch of 64"]),
            ("nan", ["1 of 64 samples on rank 1 got a non-finite reward", "reward.on_invalid"]),
        ]
        let reference = try ModelFile.read(from: try base())
        for (failure, expected) in causes {
            let run = Self.scratch + "/failure-\(failure)"
            let started = Date()
            let result = try fineTune(run, reward: ["reward.kind=\"external\"", "reward.command=\(toml(try misbehavingScorer(failure)))",
                                                    "reward.timeout=2.0", "checkpoint.every=1"])
            let seconds = Date().timeIntervalSince(started)
            print("\(failure): exit \(result.status) after \(String(format: "%.1f", seconds)) s: "
                  + (result.stderr.split(separator: "\n").first { $0.contains("error:") } ?? "no error line"))
            XCTAssertFalse(result.succeeded, "\(failure): \(result.summary)")
            XCTAssertFalse(result.timedOut, "\(failure): \(result.summary)")
            XCTAssertLessThan(seconds, 60, failure)
            for part in ["rank 1", "misbehave.py"] + expected {
                XCTAssertTrue(result.stderr.contains(part), "\(failure): '\(part)' in \(result.summary)")
            }
            let written = try ModelFile.read(from: run + "/reference.safetensors")
            XCTAssertEqual(written.parameters, reference.parameters, "\(failure): reference.safetensors intact")
            let config = try TrainConfig.load(path: run + "/config.toml")
            XCTAssertEqual(config.reward.kind, .external, "\(failure): config.toml intact")
            XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/final.safetensors"), failure)
            let latest = try XCTUnwrap(CheckpointStore(run: run).latest(), "\(failure): a checkpoint before the failure")
            // Step 2's checkpoint, or step 1's if the abort caught rank 0 writing step 2's.
            XCTAssertTrue([1, 2].contains(try Checkpoint.read(from: latest).state.stepsTaken), "\(failure): the last checkpoint verifies")
        }
    }

    /// With on_invalid = "drop", NaN rewards weigh 0 and are counted; a composite logs each component.
    func testDroppedRewardsAreCountedAndCompositeComponentsLogged() throws {
        let path = Self.scratch + "/sometimes-nan.py"
        try """
            import struct, sys
            import numpy as np
            while True:
                header = sys.stdin.buffer.read(16)
                if len(header) < 16:
                    sys.exit(0)
                magic, version, n, k = struct.unpack("<4sIII", header)
                shape = struct.unpack(f"<{k}I", sys.stdin.buffer.read(4 * k))
                x = np.frombuffer(sys.stdin.buffer.read(4 * n * 2), dtype="<f4").reshape(n, 2)
                r = x[:, 0].astype(np.float64)
                r[x[:, 1] > 1.5] = np.nan
                sys.stdout.buffer.write(b"ORWA" + struct.pack("<I", n) + r.astype("<f4").tobytes())
                sys.stdout.buffer.flush()
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let run = Self.scratch + "/drop"
        let result = try fineTune(run, reward: ["reward.kind=\"composite\"", "reward.components=[\"external\", \"distance\"]",
                                                "reward.weights=[1.0, 0.1]", "reward.command=\(toml([try python(), path]))",
                                                "reward.on_invalid=\"drop\""], steps: 10, epochs: 2)
        XCTAssertTrue(result.succeeded, result.summary)
        let steps = try records(run, kind: "step")
        XCTAssertFalse(steps.isEmpty)
        var dropped = 0
        for step in steps {
            dropped += step["invalid_rewards"] as! Int
            XCTAssertTrue((step["reward_mean"] as! Double).isFinite)
            XCTAssertTrue((step["loss"] as! Double).isFinite)
            let components = step["reward_components"] as! [String: Double]
            XCTAssertEqual(Set(components.keys), ["external", "distance"])
            XCTAssertEqual(step["reward_mean"] as! Double, components["external"]! + 0.1 * components["distance"]!, accuracy: 1e-3)
        }
        XCTAssertGreaterThan(dropped, 0, "samples above y = 1.5 were dropped and counted")
        print("dropped \(dropped) samples over \(steps.count) logged steps")
    }

    // MARK: Invalid samples and extreme weights (issue 20)

    /// A short run of the small base: 64 samples in microbatches of 16, exact-OT coupling, α = 0.5.
    func shortRun(_ run: String, ranks: Int = 1, steps: Int = 3, environment: [String: String] = [:], _ extra: [String]) throws -> ProcessResult {
        try orwdist(["train", "--base", try base(), "--run-dir", run, "--batch", "64", "--microbatch", "16",
                     "--steps-per-epoch", "\(steps)", "--epochs", "1", "--coupling", "exact-ot", "--alpha", "0.5",
                     "--set", "run.log_every=1", "--set", "run.eval_samples=16"] + extra,
                    ranks: ranks, environment: environment, timeout: 120)
    }

    /// With on_invalid = "drop", a dropped sample contributes nothing: a run whose rollouts of
    /// samples 3, 17 and 40 are NaN (the coupling, loss and W2 term must never see them) and a
    /// run whose reward is NaN for those samples (finite samples, which an unmasked W2 term
    /// would still count) give the same metrics and parameters, on 1 and on 2 ranks. Before the
    /// fix the NaN rollouts stopped the run (NaN loss) and the NaN rewards' W2 terms were counted.
    func testDroppedSamplesContributeNothingWhetherTheSampleOrTheRewardIsNaN() throws {
        var runs: [String: String] = [:]
        for ranks in [1, 2] {
            for hook in ["ORWDIST_DEBUG_NAN_SAMPLES", "ORWDIST_DEBUG_NAN_REWARDS"] {
                let run = Self.scratch + "/dropped-\(hook)-\(ranks)"
                let result = try shortRun(run, ranks: ranks, environment: [hook: "3,17,40"], ["--set", "reward.on_invalid=\"drop\""])
                XCTAssertTrue(result.succeeded, "\(hook), \(ranks) rank(s): \(result.summary)")
                runs["\(hook) \(ranks)"] = run
            }
        }
        let reference = try records(runs["ORWDIST_DEBUG_NAN_REWARDS 1"]!, kind: "step")
        XCTAssertEqual(reference.count, 3)
        let parameters = try ModelFile.read(from: runs["ORWDIST_DEBUG_NAN_REWARDS 1"]! + "/final.safetensors").parameters
        for (name, run) in runs {
            let steps = try records(run, kind: "step")
            XCTAssertEqual(steps.count, reference.count, name)
            for (mine, theirs) in zip(steps, reference) {
                XCTAssertEqual(mine["invalid_rewards"] as? Int, 3, name)
                for field in ["loss", "weighted_flow_matching", "flow_matching", "w2_term", "reward_mean", "effective_sample_size"] {
                    let a = mine[field] as! Double, b = theirs[field] as! Double
                    XCTAssertTrue(a.isFinite, "\(name): \(field)")
                    XCTAssertEqual(a, b, accuracy: 1e-5 * max(abs(b), 1e-6), "\(name), step \(mine["step"]!): \(field)")
                }
            }
            let other = try ModelFile.read(from: run + "/final.safetensors").parameters
            let deviation = zip(parameters, other).map { abs($0 - $1) / max(abs($0), 1e-3) }.max()!
            XCTAssertLessThanOrEqual(deviation, 1e-4, "\(name): final parameters")
        }
    }

    /// With on_invalid = "fail" the decision is taken after the rewards' allgather, so every rank
    /// throws the same message (naming the rank that computed the sample), rather than rank 1
    /// alone while rank 0 waits in a collective. Sample 20 is in microbatch 1, rank 1's.
    func testFailPolicyStopsEveryRankWithTheSameMessage() throws {
        let result = try shortRun(Self.scratch + "/fail-everywhere", ranks: 2, environment: ["ORWDIST_DEBUG_NAN_REWARDS": "20"], [])
        XCTAssertFalse(result.succeeded, result.summary)
        XCTAssertFalse(result.timedOut, result.summary)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: rank ") }
        XCTAssertFalse(errors.isEmpty, result.summary)
        let messages = Set(errors.map { $0.components(separatedBy: ": ").dropFirst(2).joined(separator: ": ") })
        XCTAssertEqual(messages.count, 1, "one message whichever rank printed it: \(errors)")
        for part in ["1 of 32 samples on rank 1 got a non-finite reward", "at step 0", "reward.on_invalid"] {
            XCTAssertTrue(result.stderr.contains(part), "'\(part)' in \(result.summary)")
        }
    }

    /// exp weighting with every τ·r below −103 gives every sample weight 0: the run used to
    /// "train" without moving. Now it stops at once with the cause and the fix; and with the
    /// largest τ·r below −60 it warns first.
    func testExpWeightingThatUnderflowsStopsWithTheFix() throws {
        let result = try shortRun(Self.scratch + "/underflow", steps: 1, [
            "--weighting", "exp", "--set", "reward.target=[100.0, 0.0]"])   // r ≈ −1e4
        XCTAssertFalse(result.succeeded, result.summary)
        for part in ["exp weighting underflowed", "softmax", "offset"] {
            XCTAssertTrue(result.stderr.contains(part), "'\(part)' in \(result.summary)")
        }
        let warned = try shortRun(Self.scratch + "/small-weights", steps: 1, [
            "--weighting", "exp", "--set", "reward.target=[14.0, 0.0]", "--tau", "1.0"])   // r ≈ −(14 − 4)² ≈ −100 at best
        XCTAssertTrue(warned.succeeded, warned.summary)
        XCTAssertTrue(warned.stdout.contains("every weight below e^"), warned.summary)
    }

    /// exp weights up to e^88 (Float's limit is e^88.7) train: the largest τ·r of step 1 is set
    /// to 88.5 from a softmax run's largest reward (the same rollout: the sampler is the base).
    /// Before the fix w·(v_θ − u_t) overflowed Float and the run stopped with a NaN-loss error.
    func testExpWeightsUpToTheOverflowLimitTrain() throws {
        let linear = ["--set", "reward.kind=\"linear\"", "--set", "reward.direction=[1.0, 0.0]"]
        let probe = Self.scratch + "/probe-largest-reward"
        let probed = try shortRun(probe, steps: 1, linear)
        XCTAssertTrue(probed.succeeded, probed.summary)
        let largest = try XCTUnwrap(records(probe, kind: "step").first?["reward_max"] as? Double)
        let tau = 88.5 / largest
        let run = Self.scratch + "/huge-weights"
        let result = try shortRun(run, steps: 1, linear + ["--weighting", "exp", "--tau", "\(tau)"])
        XCTAssertTrue(result.succeeded, result.summary)
        let step = try XCTUnwrap(records(run, kind: "step").first)
        XCTAssertEqual(log(step["weight_max"] as! Double), 88.5, accuracy: 1e-3)
        XCTAssertTrue((step["loss"] as! Double).isFinite && (step["gradient_norm"] as! Double).isFinite, "\(step)")
    }
}
