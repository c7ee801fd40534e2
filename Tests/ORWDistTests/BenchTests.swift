import Foundation
import TestSupport
import XCTest

/// `orwdist bench step`, as `scripts/bench` and `bench/report.py` run and read it: on one rank
/// (MPI as a singleton) and under real `mpirun -n 2`, with the JSON fields the report reads.
/// Timings are only checked for consistency with each other, never against a wall-clock bound.
final class BenchTests: XCTestCase {
    static let scratch = scratchDirectory("bench-tests")

    /// Runs `orwdist bench step` on the small workload; returns its JSON report.
    func bench(ranks: Int, _ extra: [String]) throws -> [String: Any] {
        let json = Self.scratch + "/report-\(ranks)-\(extra.joined(separator: "-")).json"
        let result = try runOrwdist(["bench", "step", "--workload", "small", "--steps", "6", "--warmup", "1", "--json", json] + extra,
                                    ranks: ranks, environment: ["OMP_NUM_THREADS": "1"], timeout: 300)
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertTrue(result.stdout.contains("phases (median)"), result.summary)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))
        return try XCTUnwrap(object as? [String: Any])
    }

    func number(_ report: [String: Any], _ key: String) throws -> Double {
        try XCTUnwrap(report[key] as? Double ?? (report[key] as? Int).map(Double.init), "field \(key)")
    }

    /// The report's figures agree with each other and with the architecture.
    func checkConsistency(_ report: [String: Any], ranks: Int) throws {
        XCTAssertEqual(report["ranks"] as? Int, ranks)
        // MLP(2, 256, 3) with a 64-wide time embedding: Linears 66→256, 256→256 twice, 256→2.
        let linears = [(66, 256), (256, 256), (256, 256), (256, 2)]
        let parameters = linears.reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
        XCTAssertEqual(report["parameters"] as? Int, parameters)
        XCTAssertEqual(report["gradientFloats"] as? Int, parameters)
        XCTAssertEqual(report["globalBatch"] as? Int, 256 * ranks)

        let step = try number(report, "medianStepSeconds")
        XCTAssertGreaterThan(step, 0)
        XCTAssertLessThanOrEqual(try number(report, "p10StepSeconds"), step)
        XCTAssertGreaterThanOrEqual(try number(report, "p90StepSeconds"), step)
        let phases = try XCTUnwrap(report["phases"] as? [[String: Any]])
        let names = phases.compactMap { $0["name"] as? String }
        for expected in ["rollout", "reward", "reward gather", "weighting", "pairing", "policy fwd", "reference fwd", "loss",
                         "backward", "allreduce", "optimizer", "metrics"] {
            XCTAssertTrue(names.contains(expected), "phase \(expected) missing from \(names)")
        }
        // Medians of parts need not add up to the median of the whole, but not far off.
        let phaseSum = phases.compactMap { $0["medianSeconds"] as? Double }.reduce(0, +)
        XCTAssertGreaterThan(phaseSum, 0.7 * step)
        XCTAssertLessThan(phaseSum, 1.3 * step)
        for phase in phases { XCTAssertEqual((phase["medianSecondsByRank"] as? [Double])?.count, ranks, "\(phase)") }
        let rollout = try XCTUnwrap(phases.first { $0["name"] as? String == "rollout" }?["medianSeconds"] as? Double)
        XCTAssertGreaterThan(rollout, 0.2 * step, "the rollout (20 Euler steps of the MLP) dominates the step")

        let work = try XCTUnwrap(report["workSecondsByRank"] as? [Double])
        XCTAssertEqual(work.count, ranks)
        for seconds in work { XCTAssertTrue(seconds > 0 && seconds <= 1.3 * step, "work \(seconds) s vs step \(step) s") }
        XCTAssertLessThan(abs(try number(report, "synchronisationSeconds")), step)

        let allreduce = try XCTUnwrap(report["allreduce"] as? [String: Any])
        let viaCommunicator = try number(allreduce, "communicatorSeconds"), viaShim = try number(allreduce, "shimSeconds")
        XCTAssertTrue(viaCommunicator > 0 && viaShim > 0, "\(allreduce)")
        XCTAssertEqual(try number(allreduce, "ratio"), viaCommunicator / viaShim, accuracy: 1e-9)

        let fraction = try number(report, "fractionOfLimit")
        XCTAssertTrue(fraction > 0 && fraction < 1.5, "fraction of the GEMM limit \(fraction)")
        let peak = try number(report, "peakRSSBytes"), baseline = try number(report, "baselineRSSBytes")
        let privateBytes = try number(report, "privateRSSBytes"), fileBytes = try number(report, "fileRSSBytes")
        XCTAssertTrue(baseline > 0 && baseline < peak, "baseline \(baseline), peak \(peak)")
        XCTAssertTrue(privateBytes > 0 && fileBytes > 0 && privateBytes + fileBytes <= peak * 1.01,
                      "private \(privateBytes) + file \(fileBytes) vs peak \(peak)")
        // θ alone, three copies of it (policy, sampler, reference), is a floor for the private memory.
        XCTAssertGreaterThan(privateBytes, Double(3 * 4 * parameters))
        XCTAssertEqual((report["rewardCurve"] as? [Double])?.count, 7)
    }

    func testOneRankOpenBLAS() throws {
        let report = try bench(ranks: 1, ["--gemm", "openblas"])
        try checkConsistency(report, ranks: 1)
        XCTAssertNil(report["sampleDeviation"], "fp32 rollouts have nothing to compare")
    }

    /// Two ranks with bf16 rollouts and training passes: the comparison with fp32 rollouts from
    /// the same noise stays within the bound of the bf16 kernel tests (1e-2 relative over an
    /// Euler rollout), and the training products are counted at bf16 rates.
    func testTwoRanksBF16() throws {
        let report = try bench(ranks: 2, ["--gemm", "onednn", "--rollout-precision", "bf16", "--training-precision", "bf16"])
        try checkConsistency(report, ranks: 2)
        XCTAssertEqual(report["trainingPrecision"] as? String, "bf16")
        let products = try XCTUnwrap(report["products"] as? [[String: Any]])
        // The weight gradients (dW = dyᵀ x, transposed A) are the policy's alone: all bf16.
        let weightGradients = products.filter { $0["transposeA"] as? Bool == true }
        XCTAssertFalse(weightGradients.isEmpty)
        XCTAssertTrue(weightGradients.allSatisfy { $0["precision"] as? String == "bf16" }, "\(weightGradients)")
        let deviation = try XCTUnwrap(report["sampleDeviation"] as? [String: Any])
        let std = try number(deviation, "sampleStd")
        XCTAssertGreaterThan(std, 0.1)
        XCTAssertLessThan(try number(deviation, "maxAbsolute"), 1e-2 * max(std, 1))
        XCTAssertEqual(try number(deviation, "rewardMeanBF16"), try number(deviation, "rewardMeanFP32"),
                       accuracy: 1e-3 * abs(try number(deviation, "rewardMeanFP32")))
    }
}
