import Foundation
import ORWCore
import ORWData
import TestSupport
import XCTest
@testable import ORWDist

/// Sizes from files and configs on hostile values (issue 20, #7): a classifier's and a model's
/// architecture metadata, `reward.sample_shape`, and the config integers that size buffers. Each
/// must be a thrown error, never a trap (a trap ends the whole test process) or an allocation
/// the file cannot back.
final class UntrustedSizeTests: XCTestCase {
    static let scratch = scratchDirectory("untrusted-size-tests")

    /// A valid classifier file (input [2], hidden [4], 2 classes) whose architecture metadata is
    /// replaced by `architecture` (JSON), its tensors kept.
    func classifierFile(architecture: String) throws -> String {
        let spec = ClassifierArchitecture(inputShape: [2], hidden: [4], classes: 2)
        let parameters = (0..<MLPClassifier(spec).layout.count).map { Float($0) / 10 }
        var file = try Safetensors.decode(ClassifierFile(architecture: spec, parameters: parameters, classNames: ["a", "b"]).encode())
        file.metadata[ModelFile.architectureKey] = architecture
        let path = Self.scratch + "/classifier-\(UUID().uuidString).safetensors"
        try Safetensors.write(file, path: path)
        return path
    }

    func testHostileClassifierArchitecturesAreErrors() throws {
        let valid = #"{"type":"mlp-classifier","input_shape":[2],"hidden":[4],"classes":2}"#
        XCTAssertEqual(try ClassifierFile.read(from: try classifierFile(architecture: valid)).architecture.hidden, [4])
        let hostile = [
            #"{"type":"mlp-classifier","input_shape":[2],"hidden":[1099511627776],"classes":2}"#,        // 2^40: an 8 TB θ
            #"{"type":"mlp-classifier","input_shape":[2],"hidden":[4294967296,4294967296],"classes":2}"#,  // 2^64 weights
            #"{"type":"mlp-classifier","input_shape":[4294967296,4294967296,4294967296],"hidden":[4],"classes":2}"#,
            #"{"type":"mlp-classifier","input_shape":[0],"hidden":[4],"classes":2}"#,
            #"{"type":"mlp-classifier","input_shape":[2],"hidden":[-4],"classes":2}"#,
            #"{"type":"mlp-classifier","input_shape":[2],"hidden":[4],"classes":-2}"#,
            #"{"type":"mlp-classifier","input_shape":[-2,-3],"hidden":[4],"classes":2}"#,
        ]
        for architecture in hostile {
            XCTAssertThrowsError(try ClassifierFile.read(from: try classifierFile(architecture: architecture)), architecture) { error in
                XCTAssertTrue("\(error)".contains("architecture") || "\(error)".contains("class names"), "\(architecture): \(error)")
            }
        }
        // Thousands of layers: refused before laying them out.
        let deep = #"{"type":"mlp-classifier","input_shape":[2],"hidden":["# + Array(repeating: "4", count: 5000).joined(separator: ",") + #"],"classes":2}"#
        XCTAssertThrowsError(try ClassifierFile.read(from: try classifierFile(architecture: deep)))
    }

    /// A model file's architecture metadata likewise (read through `ModelFile.decode`).
    func testHostileModelArchitecturesAreErrors() throws {
        let spec = MLPArchitecture(dimension: 2, hidden: 4, depth: 1, timeEmbedding: 4)
        let count = Architecture.mlp(spec).makeModel().layout.count
        var file = try Safetensors.decode(ModelFile(architecture: .mlp(spec), parameters: (0..<count).map { Float($0) / 10 }).encode())
        for architecture in [
            #"{"type":"mlp","dimension":16777216,"hidden":16777216,"depth":1024,"time_embedding":16777216}"#,
            #"{"type":"mlp","dimension":9223372036854775807,"hidden":4,"depth":1,"time_embedding":4}"#,
            #"{"type":"mlp","dimension":2,"hidden":4611686018427387904,"depth":1,"time_embedding":4}"#,
            #"{"type":"mlp","dimension":2,"hidden":4,"depth":9223372036854775807,"time_embedding":4}"#,
            #"{"type":"mlp","dimension":2,"hidden":4,"depth":1,"time_embedding":-4}"#,
        ] {
            file.metadata[ModelFile.architectureKey] = architecture
            XCTAssertThrowsError(try ModelFile.decode(try Safetensors.encode(file)), architecture)
        }
    }

    /// A model file's `orwdist.sample_shape` metadata whose sizes overflow or are negative is
    /// ignored (the shape inferred from D instead), not multiplied into a trap.
    func testHostileRecordedSampleShapesAreIgnored() {
        for recorded in ["[4294967296,4294967296,4294967296]", "[1,-28,-28]", "[9223372036854775807,9223372036854775807,0]"] {
            XCTAssertEqual(SampleShape(recorded: recorded, dimension: 784), .image(channels: 1, height: 28, width: 28), recorded)
        }
        XCTAssertEqual(SampleShape(recorded: "[1,28,28]", dimension: 784), .image(channels: 1, height: 28, width: 28))
        XCTAssertEqual(SampleShape(recorded: "[2,392]", dimension: 784), .image(channels: 1, height: 2, width: 392))
    }

    /// `orwdist sample --noise` with an empty array whose first size times D overflows: an error
    /// naming the option, not a trap.
    func testSampleNoiseOfAHostileShapeIsAnError() throws {
        let spec = MLPArchitecture(dimension: 2, hidden: 4, depth: 1, timeEmbedding: 4)
        let count = Architecture.mlp(spec).makeModel().layout.count
        let model = Self.scratch + "/sample-model.safetensors", noise = Self.scratch + "/sample-noise.npy"
        try ModelFile(architecture: .mlp(spec), parameters: (0..<count).map { Float($0) / 10 }).write(to: model)
        for shape in [[1 << 40, 0], [0, 2]] {
            try NPY.write(NPYArray(shape: shape, values: []), path: noise)
            let result = try runOrwdist(["sample", "--model", model, "--noise", noise, "--out", Self.scratch + "/samples.npy"], timeout: 60)
            XCTAssertNil(result.signal, "\(shape): \(result.summary)")
            XCTAssertNotEqual(result.status, 0, "\(shape): \(result.summary)")
            XCTAssertTrue(result.stderr.contains("--noise \(noise) has shape \(shape)"), "\(shape): \(result.summary)")
        }
    }

    /// `reward.sample_shape` whose product overflows, or exceeds 2^24 floats, fails validation
    /// instead of trapping where the reward multiplies it.
    func testSampleShapeProductsAreBounded() throws {
        for shape in [[4294967296, 4294967296, 4294967296], [Int.max, 2], [1 << 13, 1 << 13, 1 << 13]] {
            var reward = RewardSettings()
            reward.kind = .external
            reward.command = ["true"]
            reward.sampleShape = shape
            XCTAssertThrowsError(try reward.validate(), "\(shape)") { error in
                XCTAssertEqual((error as? ConfigError)?.field, "reward.sample_shape", "\(error)")
            }
        }
        var reward = RewardSettings()
        reward.sampleShape = [1, 28, 28]
        XCTAssertNoThrow(try reward.validate())
    }

    /// Config integers that size buffers are bounded at validation: an error naming the field,
    /// never an overflow in batch.micro × ranks.
    func testConfigSizesAreBounded() throws {
        var train = TrainConfig()
        train.globalBatch = 1 << 62
        train.microbatch = 1 << 62
        XCTAssertThrowsError(try train.validate(worldSize: 4)) { XCTAssertEqual(($0 as? ConfigError)?.field, "batch.global") }
        train = TrainConfig()
        train.evaluationSamples = 1 << 40
        XCTAssertThrowsError(try train.validate(worldSize: 1)) { XCTAssertEqual(($0 as? ConfigError)?.field, "run.eval_samples") }
        var pretrain = PretrainConfig()
        pretrain.hidden = 1 << 40
        XCTAssertThrowsError(try pretrain.validate(worldSize: 1)) { XCTAssertEqual(($0 as? ConfigError)?.field, "model.hidden") }
        pretrain = PretrainConfig()
        pretrain.microbatch = Int.max / 2
        pretrain.globalBatch = Int.max / 2
        XCTAssertThrowsError(try pretrain.validate(worldSize: 3)) { XCTAssertEqual(($0 as? ConfigError)?.field, "batch.global") }
        var classifier = ClassifierConfig()
        classifier.hidden = [1 << 40]
        XCTAssertThrowsError(try classifier.validate(worldSize: 1)) { XCTAssertEqual(($0 as? ConfigError)?.field, "model.hidden") }
    }
}
