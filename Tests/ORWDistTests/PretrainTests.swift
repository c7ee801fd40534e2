import Foundation
import ORWCore
import ORWData
import TestSupport
import XCTest
@testable import ORWDist

/// `orwdist pretrain` and `orwdist sample` end to end: the model it learns, its invariance to
/// the number of ranks, and its files as Python reads them.
final class PretrainTests: XCTestCase {
    static let scratch = scratchDirectory("pretrain-tests")

    @discardableResult
    func orwdist(_ arguments: [String], ranks: Int = 1, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try runOrwdist(arguments, ranks: ranks)
        XCTAssertTrue(result.succeeded, result.summary, file: file, line: line)
        return result
    }

    func losses(_ run: String) throws -> [Double] {
        try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["loss"] as! Double
        }
    }

    /// Exact-OT W2 between two equal-size point sets [n, D], by the assignment solver.
    func wasserstein2(_ a: [Float], _ b: [Float], dimension: Int) -> Double {
        let n = a.count / dimension
        var cost = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var squares = 0.0
                for d in 0..<dimension { squares += pow(Double(a[i * dimension + d] - b[j * dimension + d]), 2) }
                cost[i * n + j] = squares
            }
        }
        let assignment = solveLinearAssignment(cost: cost, n: n)
        return (assignment.enumerated().reduce(0.0) { $0 + cost[$1.offset * n + $1.element] } / Double(n)).squareRoot()
    }

    func testSameLossesOnOneTwoAndFourRanks() throws {
        var runs: [[Double]] = []
        for ranks in [1, 2, 4] {
            let run = Self.scratch + "/ranks-\(ranks)"
            try orwdist(["pretrain", "--run-dir", run, "--data", "moons", "--steps", "20", "--batch", "64", "--microbatch", "16",
                         "--set", "path.coupling=exact-ot", "--set", "path.sigma=0.05", "--set", "run.log_every=1",
                         "--set", "model.hidden=32"], ranks: ranks)
            runs.append(try losses(run))
        }
        XCTAssertEqual(runs[0].count, 20)
        for (ranks, other) in zip([2, 4], runs.dropFirst()) {
            for (step, (a, b)) in zip(runs[0], other).enumerated() {
                XCTAssertEqual(a, b, accuracy: 1e-5 * abs(a), "\(ranks) ranks, step \(step + 1)")
            }
        }
    }

    /// The learned model is as close to the data, in exact-OT W2, as a second data draw is
    /// (within 1.5×).
    func testEightGaussiansAreLearned() throws {
        let run = Self.scratch + "/eight"
        try orwdist(["pretrain", "--run-dir", run, "--steps", "3000", "--set", "model.hidden=128",
                     "--set", "optimizer.learning_rate=2e-3", "--set", "optimizer.schedule=cosine",
                     "--set", "optimizer.minimum_learning_rate=1e-4"], ranks: 2)
        let samples = Self.scratch + "/eight-samples.npy"
        try orwdist(["sample", "--model", run + "/model.safetensors", "--n", "2000", "--solver", "rk4",
                     "--steps", "20", "--seed", "7", "--out", samples])
        let model = try NPY.read(path: samples).values
        func draw(seed: UInt64) -> [Float] {
            var points = [Float](repeating: 0, count: 4000)
            EightGaussians(seed: seed).copySamples(0..<2000, into: &points)
            return points
        }
        let data = draw(seed: 1001), other = draw(seed: 1002)
        let modelDistance = wasserstein2(model, data, dimension: 2)
        let dataDistance = wasserstein2(other, data, dimension: 2)
        print(String(format: "W2(model, data) = %.4f, W2(data, data') = %.4f, ratio %.2f", modelDistance, dataDistance, modelDistance / dataDistance))
        XCTAssertLessThanOrEqual(modelDistance, 1.5 * dataDistance)
    }

    /// With dopri5, a sample does not depend on how many others are drawn with it: the first 64
    /// of `--n 200` are those of `--n 64` (the solver's error norm and steps are per group of 64).
    func testDopri5SamplesDoNotDependOnHowManyAreDrawn() throws {
        let run = Self.scratch + "/dopri5-sample"
        try orwdist(["pretrain", "--run-dir", run, "--data", "checkerboard", "--steps", "50",
                     "--set", "model.hidden=48", "--set", "model.depth=2", "--set", "model.time_embedding=16"])
        for n in [64, 200] {
            try orwdist(["sample", "--model", run + "/model.safetensors", "--n", "\(n)", "--solver", "dopri5",
                         "--rtol", "1e-3", "--atol", "1e-3", "--seed", "5", "--out", Self.scratch + "/dopri5-\(n).npy"])
        }
        let few = try NPY.read(path: Self.scratch + "/dopri5-64.npy").values
        let many = try NPY.read(path: Self.scratch + "/dopri5-200.npy").values
        XCTAssertEqual(few.count, 64 * 2)
        let difference = zip(few, many).map { abs($0 - $1) }.max()!
        XCTAssertEqual(difference, 0, "the first 64 samples moved by up to \(difference) when 136 more were drawn with them")
    }

    /// Python's safetensors reads the model; a numpy MLP and Euler loop from the same noise give
    /// the samples `orwdist sample` gives.
    func testPythonReproducesSamplesFromTheSameNoise() throws {
        let run = Self.scratch + "/interop"
        try orwdist(["pretrain", "--run-dir", run, "--data", "checkerboard", "--steps", "50",
                     "--set", "model.hidden=48", "--set", "model.depth=2", "--set", "model.time_embedding=16"])
        var noise = [Float](repeating: 0, count: 300 * 2)
        var stream = RandomStream(seed: 3, purpose: .evaluation)
        stream.fillNormal(&noise, count: noise.count)
        try NPY.write(NPYArray(shape: [300, 2], values: noise), path: Self.scratch + "/noise.npy")
        try orwdist(["sample", "--model", run + "/model.safetensors", "--noise", Self.scratch + "/noise.npy",
                     "--solver", "euler", "--steps", "20", "--out", Self.scratch + "/swift.npy"])
        try Python.run(python: Python.environment(), file: "scripts/checks/numpy_sample.py",
                       [run + "/model.safetensors", Self.scratch + "/noise.npy", "20", Self.scratch + "/numpy.npy"])
        let swift = try NPY.read(path: Self.scratch + "/swift.npy"), numpy = try NPY.read(path: Self.scratch + "/numpy.npy")
        XCTAssertEqual(swift.shape, [300, 2])
        XCTAssertEqual(numpy.shape, [300, 2])
        let deviation = zip(swift.values, numpy.values).map { abs($0 - $1) / max(1, abs($1)) }.max()!
        print("largest deviation orwdist sample vs numpy: \(deviation)")
        XCTAssertLessThanOrEqual(deviation, 1e-4)
    }

}
