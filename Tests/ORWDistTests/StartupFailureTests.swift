import Foundation
import ORWCore
import ORWData
import TestSupport
import XCTest
@testable import ORWDist

/// A start-up error on one rank only (issue 20, #8), under real mpirun: rank 0 starts in a
/// directory that holds `classifier.safetensors`, rank 1 in one that does not, and the config
/// names the file by that relative path. The whole job must end within seconds (a 30 s timeout
/// bounds a hang) with exit status 2 and rank 1's message naming the missing file.
final class StartupFailureTests: XCTestCase {
    static let scratch = scratchDirectory("startup-failure-tests")

    /// Runs `orwdist train` on 2 ranks, rank 0 in `scratch/with`, rank 1 in `scratch/without`,
    /// with `settings` (`--set` overrides) on a tiny run of a 2-D base.
    func trainWithClassifierOnRankZeroOnly(_ name: String, settings: [String]) throws -> ProcessResult {
        let directory = Self.scratch + "/" + name
        let with = directory + "/with", without = directory + "/without"
        for path in [with, without] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        // A base with random weights (nothing needs training: the run must stop before step 1).
        let architecture = Architecture.mlp(MLPArchitecture(dimension: 2, hidden: 8, depth: 1, timeEmbedding: 4))
        let count = architecture.makeModel().layout.count
        try ModelFile(architecture: architecture, parameters: (0..<count).map { Float($0 % 7) / 10 }).write(to: directory + "/base.safetensors")
        // A 2-D classifier with classes "left" and "right", in rank 0's directory only.
        let classifier = ClassifierArchitecture(inputShape: [2], hidden: [4], classes: 2)
        let parameters = (0..<MLPClassifier(classifier).layout.count).map { Float($0 % 5) / 10 }
        try ClassifierFile(architecture: classifier, parameters: parameters, classNames: ["left", "right"])
            .write(to: with + "/classifier.safetensors")
        let config = directory + "/run.toml"
        try [
            "[base]", "model = \"\(directory)/base.safetensors\"",
            "[run]", "directory = \"\(directory)/run\"", "eval_samples = 8",
            "[batch]", "global = 16", "micro = 8", "steps_per_epoch = 2", "epochs = 1",
        ].joined(separator: "\n").write(toFile: config, atomically: true, encoding: .utf8)
        return try runOrwdist(["train", "--config", config] + settings.flatMap { ["--set", $0] }, workingDirectories: [with, without], timeout: 30)
    }

    func assertEndsWithRankOneError(_ result: ProcessResult, naming message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(result.timedOut, "the job hung after rank 1 failed at start-up\n\(result.summary)", file: file, line: line)
        XCTAssertEqual(result.status, 2, result.summary, file: file, line: line)
        XCTAssertTrue(result.stderr.contains("error: rank 1: " + message), result.summary, file: file, line: line)
    }

    /// run.eval_classifier exists for rank 0 only: rank 1's config validation fails.
    func testEvalClassifierMissingOnOneRankEndsTheJob() throws {
        let result = try trainWithClassifierOnRankZeroOnly("eval", settings: ["run.eval_classifier=\"classifier.safetensors\""])
        assertEndsWithRankOneError(result, naming: "config field 'run.eval_classifier': classifier.safetensors does not exist (relative to \(Self.scratch)/eval/without)")
    }

    /// `orwdist pretrain` with data.path = "data.npy" present for rank 0 only: rank 1 cannot
    /// read its dataset.
    func testPretrainDataMissingOnOneRankEndsTheJob() throws {
        let directory = Self.scratch + "/pretrain"
        let with = directory + "/with", without = directory + "/without"
        for path in [with, without] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        try NPY.write(NPYArray(shape: [8, 2], values: (0..<16).map { Float($0) }), path: with + "/data.npy")
        let result = try runOrwdist(["pretrain", "--run-dir", directory + "/run", "--data", "npy", "--steps", "2", "--batch", "8", "--microbatch", "4",
                                     "--set", "data.path=\"data.npy\""], workingDirectories: [with, without], timeout: 30)
        assertEndsWithRankOneError(result, naming: "cannot read data.npy: missing or unreadable (relative to \(without))")
    }

    /// reward.classifier exists for rank 0 only: rank 1 cannot make its reward.
    func testRewardClassifierMissingOnOneRankEndsTheJob() throws {
        let result = try trainWithClassifierOnRankZeroOnly("reward", settings: [
            "reward.kind=\"classifier\"", "reward.classifier=\"classifier.safetensors\"", "reward.classes=[\"left\"]",
        ])
        assertEndsWithRankOneError(result, naming: "classifier.safetensors: not a readable safetensors file: cannot read classifier.safetensors")
    }
}
