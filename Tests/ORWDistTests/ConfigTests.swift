import ORWCore
import TestSupport
import XCTest
@testable import ORWDist

final class ConfigTests: XCTestCase {
    func temporaryFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "orwdist-config-\(UUID().uuidString).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testDefaultsAreValid() throws {
        try TrainConfig().validate(worldSize: 1)
        try TrainConfig().validate(worldSize: 2)
        try PretrainConfig().validate(worldSize: 4)
    }

    func testFileAndOverridesApplyInOrder() throws {
        let path = try temporaryFile("""
        [method]
        alpha = 0.25
        weighting = "exp"
        [batch]
        global = 128
        """)
        let config = try TrainConfig.load(path: path, overrides: ["method.alpha=2", "reward.target=[1.0, 2]", "run.directory=somewhere"])
        XCTAssertEqual(config.alpha, 2)
        XCTAssertEqual(config.weighting, .exp)
        XCTAssertEqual(config.globalBatch, 128)
        XCTAssertEqual(config.reward.target, [1, 2])
        XCTAssertEqual(config.runDirectory, "somewhere")
    }

    func testEffectiveConfigRoundTrips() throws {
        var config = TrainConfig()
        config.alpha = 0.125
        config.coupling = .exactOT
        config.reward.target = [1.5, -2]
        config.optimizer.schedule = .cosine
        config.runDirectory = "a \"quoted\" dir"
        let path = try temporaryFile(config.tomlText())
        XCTAssertEqual(try TrainConfig.load(path: path), config)
    }

    func testUnknownFieldSuggestsTheClosest() {
        XCTAssertThrowsError(try TrainConfig.load(path: nil, overrides: ["method.alfa=1"])) { error in
            let error = error as! ConfigError
            XCTAssertEqual(error.field, "method.alfa")
            XCTAssertTrue(error.fix.contains("method.alpha"), error.description)
        }
    }

    func testWrongTypesNameTheField() {
        XCTAssertThrowsError(try TrainConfig.load(path: nil, overrides: ["method.alpha=\"much\""])) {
            XCTAssertEqual(($0 as! ConfigError).field, "method.alpha")
        }
        XCTAssertThrowsError(try TrainConfig.load(path: nil, overrides: ["method.weighting=boltzmann"])) {
            let error = $0 as! ConfigError
            XCTAssertEqual(error.field, "method.weighting")
            XCTAssertTrue(error.fix.contains("softmax"))
        }
    }

    func testSyntaxErrorsAreReported() throws {
        let path = try temporaryFile("[method\nalpha = ")
        XCTAssertThrowsError(try TrainConfig.load(path: path)) {
            XCTAssertTrue(($0 as! ConfigError).problem.contains("not valid TOML"))
        }
        XCTAssertThrowsError(try TrainConfig.load(path: "/nonexistent/config.toml")) {
            XCTAssertEqual(($0 as! ConfigError).field, "--config")
        }
    }

    func testInvalidValuesFailWithTheFieldAndTheFix() {
        func failure(_ change: (inout TrainConfig) -> Void, worldSize: Int = 1) -> ConfigError? {
            var config = TrainConfig()
            change(&config)
            do {
                try config.validate(worldSize: worldSize)
                return nil
            } catch { return error as? ConfigError }
        }
        XCTAssertEqual(failure { $0.alpha = -0.5 }?.field, "method.alpha")
        XCTAssertEqual(failure { $0.tau = .nan }?.field, "method.tau")
        XCTAssertEqual(failure { $0.reward.target = [] }?.field, "reward.target")
        XCTAssertEqual(failure { $0.optimizer.learningRate = 0 }?.field, "optimizer.learning_rate")
        let batch = failure({ $0.globalBatch = 192; $0.microbatch = 64 }, worldSize: 2)
        XCTAssertEqual(batch?.field, "batch.global")
        XCTAssertTrue(batch?.problem.contains("64 × 2") ?? false, batch?.description ?? "")
        XCTAssertNil(failure({ $0.globalBatch = 256; $0.microbatch = 64 }, worldSize: 4))
    }

    /// Every preset under examples/ reads without unknown fields and validates on 1 and 2 ranks.
    func testEveryPresetLoadsAndValidates() throws {
        let directory = Python.repositoryFile("examples")
        let presets = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".toml") }
        XCTAssertGreaterThanOrEqual(presets.count, 3, "presets in \(directory)")
        for preset in presets {
            let config = try TrainConfig.load(path: directory + "/" + preset)
            try config.validate(worldSize: 1)
            try config.validate(worldSize: 2)
        }
    }

    func testDocumentationListsEveryField() {
        let text = TrainConfig.documentation()
        for field in TrainConfig.fields { XCTAssertTrue(text.contains(field.key + " = "), field.key) }
    }

    /// Issue 20: the help said warm-up starts from 0 and cosine reaches its minimum at the last
    /// step. Each claim the help makes is checked against the schedule the optimiser runs.
    func testLearningRateHelpSaysWhatTheScheduleDoes() throws {
        func help(_ key: String) throws -> String { try XCTUnwrap(TrainConfig.fields.first { $0.key == key }).help }
        let base: Float = 1e-3, warmup = 4, total = 20, minimum: Float = 1e-5
        let schedule = LearningRateSchedule(base: base, warmupSteps: warmup, kind: .cosine(totalSteps: total, minimum: minimum))

        XCTAssertTrue(try help("optimizer.warmup_steps").contains("the first step uses learning_rate/warmup_steps"))
        XCTAssertEqual(schedule.rate(at: 0), base / Float(warmup), accuracy: 1e-9, "step 1")
        XCTAssertTrue(try help("optimizer.warmup_steps").contains("step warmup_steps the full rate"))
        XCTAssertEqual(schedule.rate(at: warmup - 1), base, accuracy: 1e-9, "step W")

        for key in ["optimizer.schedule", "optimizer.minimum_learning_rate"] {
            XCTAssertTrue(try help(key).contains("one step after the last"), key)
        }
        XCTAssertGreaterThan(schedule.rate(at: total - 1), minimum * 1.01, "the last step is above the floor")
        XCTAssertEqual(schedule.rate(at: total), minimum, accuracy: 1e-9, "the floor, one step after the last")
    }
}
