import Foundation
import ORWCore
import TestSupport
import XCTest
@testable import ORWDist

/// `orwdist pretrain` and `orwdist train` end to end, as users run them: the real binary, under
/// real mpirun for several ranks, judged by what it writes (metrics.jsonl, safetensors).
final class TrainerTests: XCTestCase {
    static let scratch = scratchDirectory("trainer-tests")

    /// Runs `orwdist ARGS` on `ranks` ranks and fails the test on a non-zero exit.
    @discardableResult
    func orwdist(_ arguments: [String], ranks: Int = 1, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try runOrwdist(arguments, ranks: ranks, environment: ["ORWDIST_CACHE": Self.scratch + "/cache"])
        XCTAssertTrue(result.succeeded, result.summary, file: file, line: line)
        return result
    }

    /// A small base model pretrained once: `data` with a narrow MLP.
    nonisolated(unsafe) static var bases: [String: String] = [:]
    func base(_ data: String, extra: [String] = [], steps: Int) throws -> String {
        let key = ([data] + extra).joined(separator: " ")
        if let path = Self.bases[key] { return path }
        let directory = Self.scratch + "/base-\(Self.bases.count)"
        try orwdist(["pretrain", "--run-dir", directory, "--data", data, "--steps", "\(steps)",
                     "--set", "model.hidden=64", "--set", "model.depth=2", "--set", "model.time_embedding=16",
                     "--set", "optimizer.schedule=cosine", "--set", "optimizer.learning_rate=3e-3",
                     "--set", "optimizer.minimum_learning_rate=1e-4"] + extra)
        Self.bases[key] = directory + "/model.safetensors"
        return directory + "/model.safetensors"
    }

    func records(_ run: String, kind: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }.filter { $0["kind"] as? String == kind }
    }

    func assertClose(_ a: Double, _ b: Double, relative: Double, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(abs(a - b), relative * max(abs(a), abs(b), 1e-12), "\(message): \(a) vs \(b)", file: file, line: line)
    }

    // MARK: The microbatch invariant

    func testSameLossesAndParametersOnOneTwoAndFourRanks() throws {
        let base = try base("8gaussians", steps: 300)
        var runs: [Int: String] = [:]
        for ranks in [1, 2, 4] {
            let run = Self.scratch + "/invariance-\(ranks)"
            try orwdist(["train", "--base", base, "--run-dir", run, "--batch", "64", "--microbatch", "16",
                         "--steps-per-epoch", "4", "--epochs", "2", "--coupling", "exact-ot", "--alpha", "0.5",
                         "--set", "run.log_every=1", "--set", "run.eval_samples=32"], ranks: ranks)
            runs[ranks] = run
        }
        let reference = try records(runs[1]!, kind: "step")
        XCTAssertEqual(reference.count, 8)
        let parameters = try ModelFile.read(from: runs[1]! + "/final.safetensors").parameters
        for ranks in [2, 4] {
            let steps = try records(runs[ranks]!, kind: "step")
            XCTAssertEqual(steps.count, reference.count)
            for (mine, theirs) in zip(steps, reference) {
                for field in ["loss", "weighted_flow_matching", "w2_term", "reward_mean", "weight_max", "effective_sample_size"] {
                    assertClose(mine[field] as! Double, theirs[field] as! Double, relative: 1e-5, "\(ranks) ranks, step \(mine["step"]!), \(field)")
                }
            }
            let other = try ModelFile.read(from: runs[ranks]! + "/final.safetensors").parameters
            let deviation = zip(parameters, other).map { abs($0 - $1) / max(abs($0), 1e-3) }.max()!
            XCTAssertLessThanOrEqual(deviation, 1e-4, "final parameters on \(ranks) ranks")
        }
    }

    /// Issue 20: the rollout's solver, the GEMM backend and the precision keep the microbatch
    /// invariant. Each case on 1, 2 and 4 ranks, 2 epochs of 2 steps:
    ///
    /// - Epoch 1 rolls out with the base on every rank count, and each microbatch's rollout
    ///   (dopri5: its own ODE state, error norm and step sizes) sees the same inputs in the same
    ///   GEMM shapes, so its rewards agree to 1e-6. Before the fix dopri5 integrated a rank's whole
    ///   local batch as one state: step 1's mean reward moved by ~1e-3.
    /// - Epoch 2 rolls out with the policy, whose parameters differ by the gradient allreduce's
    ///   summation order (~1e-7 relative). The fixed-step solvers carry that through smoothly
    ///   (1e-5). dopri5's accept/reject decisions are discontinuous in the parameters: another
    ///   step sequence can be accepted, and the samples then differ by the solver's own global
    ///   error, which scales with its tolerance (measured on this config: the mean reward moves
    ///   2e-3 relative at rtol = atol = 1e-4, 1.5e-5 at 1e-6; the loss and ESS at most 3.4e-4 at
    ///   1e-6 with bf16). So dopri5 runs at 1e-6 here and epoch 2 is held to 3e-3 (relative,
    ///   absolute below 1: reward_max can be near 0).
    func testEverySolverBackendAndPrecisionKeepsTheInvariantOnOneTwoAndFourRanks() throws {
        let base = try base("8gaussians", steps: 300)
        let cases: [(solver: String, gemm: String, precision: String)] = [
            ("euler", "openblas", "fp32"), ("heun", "onednn", "bf16"), ("rk4", "onednn", "fp32"),
            ("dopri5", "openblas", "fp32"), ("dopri5", "onednn", "bf16"),
        ]
        for (solver, gemm, precision) in cases {
            var steps: [Int: [[String: Any]]] = [:]
            for ranks in [1, 2, 4] {
                let run = Self.scratch + "/invariance-\(solver)-\(gemm)-\(precision)-\(ranks)"
                try orwdist(["train", "--base", base, "--run-dir", run, "--batch", "64", "--microbatch", "16",
                             "--steps-per-epoch", "2", "--epochs", "2", "--coupling", "exact-ot", "--alpha", "0.5",
                             "--solver", solver, "--solver-steps", "8", "--set", "sampler.rtol=1e-6", "--set", "sampler.atol=1e-6",
                             "--set", "model.gemm=\"\(gemm)\"", "--set", "sampler.precision=\"\(precision)\"",
                             "--set", "model.training_precision=\"\(precision)\"",
                             "--set", "run.log_every=1", "--set", "run.eval_samples=16"], ranks: ranks)
                steps[ranks] = try records(run, kind: "step")
            }
            XCTAssertEqual(steps[1]!.count, 4)
            for ranks in [2, 4] {
                XCTAssertEqual(steps[ranks]!.count, 4)
                for (mine, theirs) in zip(steps[ranks]!, steps[1]!) {
                    let step = mine["step"] as! Int, epoch = mine["epoch"] as! Int
                    let context = "\(solver)/\(gemm)/\(precision) on \(ranks) ranks, step \(step)"
                    for field in ["reward_mean", "reward_max", "loss", "weighted_flow_matching", "w2_term", "effective_sample_size"] {
                        let a = mine[field] as! Double, b = theirs[field] as! Double
                        if epoch == 1 {
                            // The rollouts (the base's) and so the rewards and weights: 1e-6; the
                            // loss of step 2 also sees step 1's reduction order: 1e-5.
                            let fromRollout = step == 1 || ["reward_mean", "reward_max", "effective_sample_size"].contains(field)
                            assertClose(a, b, relative: fromRollout ? 1e-6 : 1e-5, "\(context), \(field)")
                        } else if solver == "dopri5" {
                            XCTAssertLessThanOrEqual(abs(a - b), 3e-3 * max(abs(a), abs(b), 1), "\(context), \(field): \(a) vs \(b)")
                        } else {
                            assertClose(a, b, relative: 1e-5, "\(context), \(field)")
                        }
                    }
                }
            }
        }
    }

    // MARK: The paper's theory

    /// Base N(0, 1), r = x, α = 0, exp weighting, τ = 0.5: epoch N induces N(N τ, 1).
    /// The rollout uses rk4: 20 Euler steps alone shrink this flow's spread by ≈ 8%
    /// (v = (2t − 1)/(t² + (1 − t)²)·x integrated with left-point steps), which would hide the fit.
    func testLinearRewardShiftsAGaussianByTauPerEpoch() throws {
        let base = try base("gaussian", extra: ["--set", "data.mean=[0.0]", "--set", "data.std=1.0"], steps: 3000)
        let run = Self.scratch + "/theory"
        try orwdist(["train", "--base", base, "--run-dir", run, "--alpha", "0", "--tau", "0.5", "--weighting", "exp",
                     "--batch", "256", "--microbatch", "128", "--steps-per-epoch", "1000", "--epochs", "3",
                     "--lr", "1e-3", "--solver", "rk4", "--solver-steps", "10",
                     "--set", "reward.kind=linear", "--set", "reward.direction=[1.0]",
                     "--set", "run.eval_samples=4000", "--set", "run.log_every=250"], ranks: 2)
        let epochs = try records(run, kind: "epoch")
        XCTAssertEqual(epochs.count, 4)
        var report = "linear reward, τa = 0.5 — epoch: sample mean (expected Nτa), sample std (expected 1)\n"
        for record in epochs {
            let epoch = record["epoch"] as! Int
            let mean = (record["sample_mean"] as! [Double])[0], std = record["sample_std"] as! Double
            report += String(format: "  %d: %.3f (%.1f), %.3f\n", epoch, mean, 0.5 * Double(epoch), std)
            if epoch <= 2 {
                XCTAssertEqual(mean, 0.5 * Double(epoch), accuracy: 0.15, "epoch \(epoch) mean")
                XCTAssertEqual(std, 1, accuracy: 0.15, "epoch \(epoch) std")
            }
        }
        print(report)
    }

    /// 8 Gaussians pulled toward the mode at (5, 0): α = 0 collapses, α = 1 keeps diversity.
    func testAlphaZeroCollapsesAndAlphaOneKeepsDiversity() throws {
        let base = try base("8gaussians", steps: 1500)
        func finetune(alpha: Double) throws -> (base: [String: Any], final: [String: Any]) {
            let run = Self.scratch + "/collapse-\(alpha)"
            try orwdist(["train", "--base", base, "--run-dir", run, "--alpha", "\(alpha)", "--tau", "0.5",
                         "--batch", "256", "--microbatch", "64", "--steps-per-epoch", "100", "--epochs", "5",
                         "--lr", "2e-3", "--set", "run.eval_samples=1000"], ranks: 2)
            let epochs = try records(run, kind: "epoch")
            return (epochs.first!, epochs.last!)
        }
        let greedy = try finetune(alpha: 0), regularised = try finetune(alpha: 1)
        let baseStd = greedy.base["sample_std"] as! Double
        let baseReward = greedy.base["reward_mean"] as! Double
        print("base std \(baseStd), reward \(baseReward); α=0: std \(greedy.final["sample_std"]!), reward \(greedy.final["reward_mean"]!); "
              + "α=1: std \(regularised.final["sample_std"]!), reward \(regularised.final["reward_mean"]!)")
        XCTAssertLessThan(greedy.final["sample_std"] as! Double, 0.2 * baseStd, "α = 0 collapses")
        XCTAssertGreaterThanOrEqual(regularised.final["sample_std"] as! Double, 0.6 * baseStd, "α = 1 keeps the spread")
        let closed = ((regularised.final["reward_mean"] as! Double) - baseReward) / (0 - baseReward)
        XCTAssertGreaterThanOrEqual(closed, 0.4, "α = 1 still closes 40% of the reward gap")
    }

    /// The paper's trade-off, reduced: on 8 Gaussians with a point reward, more α keeps more
    /// diversity and a smaller W2 distance from the base (α ∈ {0, 0.5, 2}).
    func testAlphaSweepOrdersDiversityAndW2Distance() throws {
        let base = try base("8gaussians", steps: 1500)
        var finals: [(alpha: Double, diversity: Double, w2: Double, reward: Double)] = []
        for alpha in [0.0, 0.5, 2.0] {
            let run = Self.scratch + "/sweep-\(alpha)"
            try orwdist(["train", "--base", base, "--run-dir", run, "--alpha", "\(alpha)", "--tau", "0.5",
                         "--batch", "256", "--microbatch", "64", "--steps-per-epoch", "60", "--epochs", "4",
                         "--lr", "2e-3", "--set", "run.eval_samples=800"], ranks: 2)
            let last = try records(run, kind: "epoch").last!
            finals.append((alpha, last["diversity"] as! Double, last["w2_bound"] as! Double, last["reward_mean"] as! Double))
        }
        print("α sweep (α, diversity, W2 bound, reward): \(finals)")
        for (lower, higher) in zip(finals, finals.dropFirst()) {
            XCTAssertLessThan(lower.diversity, higher.diversity, "diversity grows with α: \(lower) vs \(higher)")
            XCTAssertGreaterThan(lower.w2, higher.w2, "W2 distance shrinks with α: \(lower) vs \(higher)")
        }
    }

    // MARK: bf16 training passes

    /// `model.training_precision = "bf16"` (the policy's forward and backward through bf16
    /// products) fine-tunes like fp32: on the α = 1 8-Gaussian run, every epoch's reward,
    /// diversity and W2 bound within 2% (rewards) and 3% (W2, diversity) of the fp32 run's, and
    /// the step losses of the first epoch within 1%.
    func testBFloat16TrainingPassesTrackFP32() throws {
        let base = try base("8gaussians", steps: 1500)
        func finetune(_ precision: String) throws -> (epochs: [[String: Any]], steps: [[String: Any]]) {
            let run = Self.scratch + "/training-precision-\(precision)"
            try orwdist(["train", "--base", base, "--run-dir", run, "--alpha", "1", "--tau", "0.5",
                         "--batch", "256", "--microbatch", "64", "--steps-per-epoch", "50", "--epochs", "3",
                         "--lr", "2e-3", "--set", "run.eval_samples=1000", "--set", "run.log_every=1",
                         "--set", "model.training_precision=\"\(precision)\""], ranks: 2)
            return (try records(run, kind: "epoch"), try records(run, kind: "step"))
        }
        let single = try finetune("fp32"), half = try finetune("bf16")
        XCTAssertEqual(single.epochs.count, half.epochs.count)
        for (a, b) in zip(single.epochs.dropFirst(), half.epochs.dropFirst()) {
            let epoch = a["epoch"] as! Int
            assertClose(a["reward_mean"] as! Double, b["reward_mean"] as! Double, relative: 0.02, "epoch \(epoch) reward")
            assertClose(a["diversity"] as! Double, b["diversity"] as! Double, relative: 0.03, "epoch \(epoch) diversity")
            assertClose(a["w2_bound"] as! Double, b["w2_bound"] as! Double, relative: 0.03, "epoch \(epoch) W2 bound")
        }
        for (a, b) in zip(single.steps.prefix(50), half.steps.prefix(50)) {
            assertClose(a["loss"] as! Double, b["loss"] as! Double, relative: 0.01, "step \(a["step"]!) loss")
        }
        XCTAssertNotEqual(single.steps.map { $0["loss"] as! Double }, half.steps.map { $0["loss"] as! Double }, "bf16 must round something")
    }

    // MARK: The default

    func testNoArgumentDefaultCompletesWithASummary() throws {
        let directory = Self.scratch + "/default"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let result = try runOrwdist(["train"], ranks: 2, environment: ["ORWDIST_CACHE": Self.scratch + "/default-cache"],
                                    mpirunOptions: ["--wdir", directory])
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertTrue(result.stdout.contains("summary after"), result.stdout)
        XCTAssertTrue(result.stdout.contains("reward"), result.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/runs/train/final.safetensors"))
        print(result.stdout.split(separator: "\n").suffix(6).joined(separator: "\n"))
    }

    // MARK: Bad input

    func testInvalidConfigFailsBeforeAnyWorkNamingTheField() throws {
        let result = try runOrwdist(["train", "--batch", "96", "--microbatch", "64", "--run-dir", Self.scratch + "/never"], ranks: 2)
        XCTAssertFalse(result.succeeded)
        XCTAssertTrue(result.stderr.contains("batch.global"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.scratch + "/never/metrics.jsonl"))
        let unknown = try runOrwdist(["train", "--set", "method.alpah=1"])
        XCTAssertFalse(unknown.succeeded)
        XCTAssertTrue(unknown.stderr.contains("method.alpha"), unknown.stderr)
    }
}
