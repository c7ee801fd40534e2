import Foundation
import XCTest
@testable import ORWCore
import ORWData
import TestSupport

/// SD3's MMDiT (`MMDiTTransformer`) against diffusers' `SD3Transformer2DModel`: the fixtures of
/// scripts/fixtures/make_mmdit_fixtures.py (tiny 3-block models, qk_norm off and "rms_norm",
/// with their output and autograd gradients), and finite differences of its own backward.
final class MMDiTTests: XCTestCase {
    /// One fixture: the model built from its config, θ in that model's layout, and the tensors.
    struct Fixture {
        let file: SafetensorsFile
        let architecture: MMDiTArchitecture
        let model: MMDiTTransformer
        let parameters: FloatBuffer
        let stateDict: [(name: String, shape: [Int])]

        init(_ name: String) throws {
            let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "safetensors",
                                                      subdirectory: "Fixtures/mmdit"), "fixture \(name) missing")
            file = try Safetensors.read(path: url.path)
            let metadata = try XCTUnwrap(JSONSerialization.jsonObject(
                with: Data(try XCTUnwrap(file.metadata["fixture"]).utf8)) as? [String: Any])
            let config = try JSONSerialization.data(withJSONObject: try XCTUnwrap(metadata["config"]))
            architecture = try JSONDecoder().decode(MMDiTArchitecture.self, from: config)
            try architecture.validate()
            model = MMDiTTransformer(architecture)
            var values = [Float](repeating: .nan, count: model.layout.count)
            for spec in model.layout.tensors {
                let tensor = try XCTUnwrap(file[spec.name], "fixture lacks \(spec.name)")
                XCTAssertEqual(tensor.shape, spec.shape, spec.name)
                values.replaceSubrange(spec.range, with: tensor.values)
            }
            parameters = FloatBuffer(values)
            stateDict = try XCTUnwrap(metadata["state_dict"] as? [[Any]]).map { ($0[0] as! String, $0[1] as! [Int]) }
        }

        func tensor(_ name: String) -> [Float] { file[name]!.values }
        var batch: Int { file["input.latents"]!.shape[0] }
        var contextLength: Int { file["input.context"]!.shape[1] }
        var height: Int { file["input.latents"]!.shape[2] }
        var width: Int { file["input.latents"]!.shape[3] }

        /// Runs forward on the fixture's inputs (or the given latents) and returns the sample.
        func forward(latents: FloatBuffer? = nil) -> [Float] {
            let x = latents ?? FloatBuffer(tensor("input.latents"))
            let timestep = tensor("input.timestep"), context = tensor("input.context"), pooled = tensor("input.pooled")
            let output = FloatBuffer(zeros: file["output.sample"]!.values.count)
            model.forward(parameters: parameters.pointer, latents: x.pointer, timestep: timestep, context: context,
                          pooled: pooled, batch: batch, height: height, width: width, contextLength: contextLength,
                          output: output.pointer)
            return output.values
        }
    }

    static let fixtures = ["mmdit_qk_none", "mmdit_qk_rms"]

    /// `tensors` lists exactly diffusers' state_dict (names, shapes, order) without the fixed
    /// buffer pos_embed.pos_embed, which diffusers does save; the computed table equals it.
    func testTensorsAreDiffusersStateDictAndPositionTableMatches() throws {
        for name in Self.fixtures {
            let fixture = try Fixture(name)
            let buffer = fixture.architecture.positionEmbeddingBuffer
            XCTAssertTrue(fixture.stateDict.contains { $0.name == buffer.name && $0.shape == buffer.shape }, name)
            let expected = fixture.stateDict.filter { $0.name != buffer.name }
            XCTAssertEqual(fixture.architecture.tensors.map(\.name), expected.map(\.name), name)
            XCTAssertEqual(fixture.architecture.tensors.map(\.shape), expected.map(\.shape), name)
            let deviation = Deviation(MMDiTPositionEmbedding.table(fixture.architecture), fixture.tensor(buffer.name))
            XCTAssertLessThanOrEqual(deviation.absolute, 1e-7, "\(name) position table: \(deviation)")
        }
    }

    /// Output within 1e-4 and every gradient within 1e-3 (∞-norm, relative to the reference's
    /// largest magnitude) of diffusers' float64 forward and autograd, for L = Σ sample · g.
    func testParityWithDiffusers() throws {
        for name in Self.fixtures {
            let fixture = try Fixture(name)
            let sample = fixture.forward()
            let outputDeviation = Deviation(sample, fixture.tensor("output.sample"))
            print("MMDiT parity \(name) sample: \(outputDeviation)")
            XCTAssertLessThanOrEqual(outputDeviation.relative, 1e-4, "\(name) sample: \(outputDeviation)")

            let gradient = AccumulatingGradient(count: fixture.model.layout.count, seed: 5)
            let latentGradient = AccumulatingGradient(count: fixture.tensor("input.latents").count, seed: 6)
            fixture.model.backward(parameterGradient: gradient.pointer, latentGradient: latentGradient.pointer,
                                   outputGradient: fixture.tensor("input.output_gradient"),
                                   parameters: fixture.parameters.pointer)
            let added = gradient.added
            var worst = (name: "", relative: 0.0)
            for spec in fixture.model.layout.tensors {
                let deviation = Deviation(added[spec.range], fixture.tensor("grad.\(spec.name)"))
                if deviation.relative > worst.relative { worst = (spec.name, deviation.relative) }
                XCTAssertLessThanOrEqual(deviation.relative, 1e-3, "\(name) d\(spec.name): \(deviation)")
            }
            let latentDeviation = Deviation(latentGradient.added, fixture.tensor("grad.input.latents"))
            print("MMDiT parity \(name) worst parameter gradient \(worst.name): rel \(worst.relative); latents: \(latentDeviation)")
            XCTAssertLessThanOrEqual(latentDeviation.relative, 1e-3, "\(name) dlatents: \(latentDeviation)")
        }
    }

    /// Central differences of L = Σ sample · g at a few entries of every tensor and of the
    /// latents, against backward, on the fixtures' models.
    func testFiniteDifferences() throws {
        for name in Self.fixtures {
            let fixture = try Fixture(name)
            let g = fixture.tensor("input.output_gradient")
            let latents = FloatBuffer(fixture.tensor("input.latents"))
            func loss() -> Double {
                zip(fixture.forward(latents: latents), g).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            _ = fixture.forward(latents: latents)
            let gradient = FloatBuffer(zeros: fixture.model.layout.count)
            let latentGradient = FloatBuffer(zeros: latents.count)
            fixture.model.backward(parameterGradient: gradient.pointer, latentGradient: latentGradient.pointer,
                                   outputGradient: g, parameters: fixture.parameters.pointer)
            // Three entries of each tensor (first, a middle one, last), and 16 of the latents.
            var analytic: [Float] = [], numeric: [Double] = []
            for spec in fixture.model.layout.tensors {
                for index in Set([spec.offset, spec.offset + spec.count / 2 + 1, spec.offset + spec.count - 1])
                    where index < spec.range.upperBound {
                    analytic.append(gradient.pointer[index])
                    numeric += centralDifferences(of: loss, at: fixture.parameters.pointer + index, count: 1, step: 1e-2)
                }
            }
            for index in stride(from: 3, to: latents.count, by: latents.count / 16) {
                analytic.append(latentGradient.pointer[index])
                numeric += centralDifferences(of: loss, at: latents.pointer + index, count: 1, step: 1e-2)
            }
            assertGradient(analytic, numeric, "MMDiT \(name) θ and latents", tolerance: 1e-2)
        }
    }

    /// `infer` gives forward's output, and a backward after forward then infer (on other
    /// latents) still differentiates forward's pass.
    func testInferMatchesForwardAndKeepsSavedActivations() throws {
        let fixture = try Fixture("mmdit_qk_rms")
        let sample = fixture.forward()
        func infer(_ latents: [Float]) -> [Float] {
            let output = FloatBuffer(zeros: sample.count), x = FloatBuffer(latents)
            fixture.model.infer(parameters: fixture.parameters.pointer, latents: x.pointer,
                                timestep: fixture.tensor("input.timestep"), context: fixture.tensor("input.context"),
                                pooled: fixture.tensor("input.pooled"), batch: fixture.batch, height: fixture.height,
                                width: fixture.width, contextLength: fixture.contextLength, output: output.pointer)
            return output.values
        }
        XCTAssertEqual(infer(fixture.tensor("input.latents")), sample)
        XCTAssertNotEqual(infer(fixture.tensor("input.latents").map { $0 * 0.5 }), sample)
        let gradient = FloatBuffer(zeros: fixture.model.layout.count)
        fixture.model.backward(parameterGradient: gradient.pointer, latentGradient: nil,
                               outputGradient: fixture.tensor("input.output_gradient"),
                               parameters: fixture.parameters.pointer)
        let expected = fixture.model.layout.tensors.flatMap { fixture.tensor("grad.\($0.name)") }
        let deviation = Deviation(gradient.values, expected)
        XCTAssertLessThanOrEqual(deviation.relative, 1e-3, "gradient after infer: \(deviation)")
    }

    /// SD3-medium's config.json (stabilityai/stable-diffusion-3-medium-diffusers, which has no
    /// qk_norm or dual_attention_layers keys) decodes and validates, and its tensors add up to
    /// diffusers' count: 2 028 328 000 parameters in 682 tensors (SD3Transformer2DModel built on
    /// PyTorch's meta device with this config, diffusers 0.42.1).
    func testSD3MediumConfigDecodesWithDiffusersParameterCount() throws {
        let json = """
        {"_class_name": "SD3Transformer2DModel", "_diffusers_version": "0.29.0.dev0", "attention_head_dim": 64,
         "caption_projection_dim": 1536, "in_channels": 16, "joint_attention_dim": 4096, "num_attention_heads": 24,
         "num_layers": 24, "out_channels": 16, "patch_size": 2, "pooled_projection_dim": 2048,
         "pos_embed_max_size": 192, "sample_size": 128}
        """
        let architecture = try JSONDecoder().decode(MMDiTArchitecture.self, from: Data(json.utf8))
        XCTAssertNoThrow(try architecture.validate())
        XCTAssertNil(architecture.qkNorm)
        XCTAssertEqual(architecture.dualAttentionLayers, [])
        XCTAssertEqual(architecture.tensors.count, 682)
        XCTAssertEqual(architecture.tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }, 2_028_328_000)
    }

    /// validate() names the wrong field.
    func testValidateRejectsUnsupportedConfigs() {
        let good = MMDiTArchitecture(sampleSize: 8, patchSize: 2, inChannels: 4, numLayers: 2, attentionHeadDim: 8,
                                     numAttentionHeads: 2, jointAttentionDim: 24, captionProjectionDim: 16,
                                     pooledProjectionDim: 12, outChannels: 4, posEmbedMaxSize: 8)
        XCTAssertNoThrow(try good.validate())
        func message(_ change: (inout MMDiTArchitecture) -> Void) -> String {
            var bad = good
            change(&bad)
            do { try bad.validate(); return "" } catch { return error.description }
        }
        XCTAssertTrue(message { $0.dualAttentionLayers = [0] }.contains("not supported (SD3.5's MMDiT-X)"))
        XCTAssertTrue(message { $0.captionProjectionDim = 32 }.contains("caption_projection_dim = 32 must equal"))
        XCTAssertTrue(message { $0.numLayers = 0 }.contains("num_layers = 0"))
        XCTAssertTrue(message { $0.qkNorm = "layer_norm" }.contains("qk_norm"))
        XCTAssertTrue(message { $0.attentionHeadDim = 1 << 40 }.contains("attention_head_dim"))
        XCTAssertTrue(message { $0.numAttentionHeads = 1 << 12; $0.attentionHeadDim = 1 << 12 }.contains("num_attention_heads"))
    }
}
