import Foundation
import ORWData
import TestSupport
import XCTest
@testable import ORWDist

/// Diffusers model directories against the real libraries: PyTorch + diffusers 0.42.1 save a
/// tiny `SD3Transformer2DModel` (fp32, fp16, bf16, fp32 sharded) and dump its state_dict as
/// float32 (torch's own conversion); orwdist must read every tensor bit for bit. What orwdist
/// writes, `from_pretrained` must load without missing or unexpected keys. Python (with torch,
/// 2–5 s to start) runs once for the fixtures and once for the load check.
final class DiffusersDirectoryTests: XCTestCase {
    static let className = "SD3Transformer2DModel"

    /// The directories and dumps Python made, shared by the tests of this class.
    struct Fixture {
        let root: String
        /// `SD3Transformer2DModel.config` as Python's json printed it.
        let config: [String: JSONValue]
        /// The files of the sharded directory.
        let shardedFiles: [String]
    }

    struct UnexpectedReport: Error { let text: String }

    nonisolated(unsafe) static var fixture: Result<Fixture, Error>?

    override class func tearDown() {
        if case .success(let fixture)? = fixture { try? FileManager.default.removeItem(atPath: fixture.root) }
        super.tearDown()
    }

    /// Saves the model four ways plus float32 dumps of its state_dict, and every F16 and BF16 bit
    /// pattern with torch's float32 conversion of each. Random normal weights (nothing left at
    /// its zero initialisation) and, in proj_out.bias, values that test the conversions' edges:
    /// an fp16 subnormal, a bf16 subnormal, ±inf, NaN, −0.
    static let fixtureScript = """
        import copy, json, os, sys
        import numpy as np, torch
        from diffusers import SD3Transformer2DModel
        from safetensors.torch import save_file
        out = sys.argv[1]
        torch.manual_seed(0)
        m = SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=4, num_layers=2, attention_head_dim=16,
                                  num_attention_heads=2, joint_attention_dim=24, caption_projection_dim=32,
                                  pooled_projection_dim=12, out_channels=4, pos_embed_max_size=8)
        with torch.no_grad():
            for p in m.parameters():
                p.normal_()
            m.proj_out.bias[:6] = torch.tensor([1e-7, 1e-40, float("inf"), float("-inf"), float("nan"), -0.0])
        def dump(model, name):
            save_file({k: v.float().contiguous() for k, v in model.state_dict().items()}, f"{out}/{name}.dump.safetensors")
        m.save_pretrained(f"{out}/fp32")
        dump(m, "fp32")
        m.save_pretrained(f"{out}/sharded", max_shard_size="50KB")
        for name, dtype in [("fp16", torch.float16), ("bf16", torch.bfloat16)]:
            half = copy.deepcopy(m).to(dtype)
            half.save_pretrained(f"{out}/{name}")
            dump(half, name)
        bits = torch.from_numpy(np.arange(65536, dtype=np.uint16).view(np.int16))
        f16, bf16 = bits.view(torch.float16).clone(), bits.view(torch.bfloat16).clone()
        save_file({"f16": f16, "bf16": bf16}, f"{out}/all16.safetensors")
        save_file({"f16": f16.float(), "bf16": bf16.float()}, f"{out}/all16.dump.safetensors")
        print(json.dumps({"config": dict(m.config), "sharded": sorted(os.listdir(f"{out}/sharded"))}))
        """

    func fixture() throws -> Fixture {
        if Self.fixture == nil {
            Self.fixture = Result {
                let root = FileManager.default.temporaryDirectory.appendingPathComponent("diffusers-\(UUID())").path
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                let report = try Python.run(python: Python.environment(extra: "diffusers"), Self.fixtureScript, [root])
                guard case .object(let fields) = try JSONReader.parse(Array(report.utf8)),
                      let config = fields["config"]?.objectValue, let files = fields["sharded"]?.arrayValue?.compactMap(\.stringValue) else {
                    throw UnexpectedReport(text: report)
                }
                return Fixture(root: root, config: config, shardedFiles: files)
            }
        }
        return try Self.fixture!.get()
    }

    private var scratch: String!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("diffusers-scratch-\(UUID())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Every tensor of `directory` equals the dump's, bit for bit, and no tensor is missing or extra.
    private func assertSameTensors(_ tensors: [SafetensorsTensor], dump path: String, _ label: String,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let dump = try Safetensors.read(path: path)
        XCTAssertEqual(Set(tensors.map(\.name)), Set(dump.tensors.map(\.name)), label, file: file, line: line)
        XCTAssertEqual(tensors.count, dump.tensors.count, "\(label): a tensor appears twice", file: file, line: line)
        for expected in dump.tensors {
            guard let tensor = tensors.first(where: { $0.name == expected.name }) else { continue }
            XCTAssertEqual(tensor.shape, expected.shape, "\(label) \(expected.name)", file: file, line: line)
            XCTAssertEqual(tensor.values.map(\.bitPattern), expected.values.map(\.bitPattern),
                           "\(label) \(expected.name)", file: file, line: line)
        }
    }

    // MARK: Reading what diffusers saves

    func testReadsFP32FP16BF16AndShardedDirectoriesExactly() throws {
        let fixture = try fixture()
        XCTAssertGreaterThanOrEqual(fixture.shardedFiles.filter { $0.hasSuffix(".safetensors") }.count, 3,
                                    "the sharded fixture must have several shards: \(fixture.shardedFiles)")
        XCTAssertTrue(fixture.shardedFiles.contains(DiffusersDirectory.indexName))
        for (name, dump) in [("fp32", "fp32"), ("sharded", "fp32"), ("fp16", "fp16"), ("bf16", "bf16")] {
            let directory = try DiffusersDirectory.read(from: "\(fixture.root)/\(name)", expectedClass: Self.className)
            try assertSameTensors(directory.tensors, dump: "\(fixture.root)/\(dump).dump.safetensors", name)
            XCTAssertEqual(directory.config["_class_name"], .string(Self.className), name)
            XCTAssertNotNil(directory.config["_diffusers_version"]?.stringValue, name)
            for (key, value) in fixture.config where !key.hasPrefix("_") {
                XCTAssertEqual(directory.config[key], value, "\(name) config.\(key)")
            }
            XCTAssertEqual(directory.config["num_layers"]?.intValue, 2)
            XCTAssertEqual(directory.config["joint_attention_dim"]?.intValue, 24)
        }
        // The half-precision directories really hold F16 / BF16 tensors, with the edge values.
        let fp16 = try DiffusersDirectory.read(from: "\(fixture.root)/fp16")
        let bias = try XCTUnwrap(fp16["proj_out.bias"]).values
        XCTAssertEqual(bias[0], Float(Float16(bitPattern: 2)), "1e-7 as fp16 is the subnormal 2·2^-24")
        XCTAssertEqual(Array(bias[2...3]), [.infinity, -.infinity])
        XCTAssertTrue(bias[4].isNaN)
        XCTAssertEqual(bias[5].bitPattern, (-0.0 as Float).bitPattern)
    }

    func testEveryFP16AndBF16BitPatternConvertsAsTorchDoes() throws {
        let fixture = try fixture()
        let all = try Safetensors.read(path: "\(fixture.root)/all16.safetensors")
        XCTAssertEqual(all["f16"]?.values.count, 65536)
        try assertSameTensors(all.tensors, dump: "\(fixture.root)/all16.dump.safetensors", "all 16-bit patterns")
    }

    // MARK: Writing what diffusers loads

    func testDiffusersLoadsWhatWeWriteWithoutMissingOrUnexpectedKeys() throws {
        let fixture = try fixture()
        var model = try DiffusersDirectory.read(from: "\(fixture.root)/sharded", expectedClass: Self.className)
        for index in model.tensors.indices {
            model.tensors[index].values = model.tensors[index].values.map { $0 * 0.5 + 0.25 }
        }
        let out = "\(scratch!)/written"
        try model.write(to: out, className: Self.className)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(),
                       [DiffusersDirectory.configName, DiffusersDirectory.weightsName])
        let readBack = try DiffusersDirectory.read(from: out, expectedClass: Self.className).tensors
        XCTAssertEqual(readBack.map(\.name), model.tensors.map(\.name), "read back in the order written")
        XCTAssertTrue(zip(readBack, model.tensors).allSatisfy { $0.shape == $1.shape && $0.values.map(\.bitPattern) == $1.values.map(\.bitPattern) },
                      "read back bit for bit")

        // Python loads it, reports missing/unexpected keys and dtypes, checks the perturbation
        // against its own arithmetic on the original, and dumps what it loaded.
        let report = try Python.run(python: Python.environment(extra: "diffusers"), """
            import json, sys, torch
            from diffusers import SD3Transformer2DModel
            from safetensors.torch import save_file
            written, original, dump = sys.argv[1:4]
            m, info = SD3Transformer2DModel.from_pretrained(written, output_loading_info=True)
            ref = SD3Transformer2DModel.from_pretrained(original)
            ours, theirs = m.state_dict(), ref.state_dict()
            wrong = [k for k in theirs if not torch.equal(ours[k], theirs[k] * 0.5 + 0.25)
                     and not torch.allclose(ours[k], theirs[k] * 0.5 + 0.25, rtol=0, atol=0, equal_nan=True)]
            save_file({k: v.contiguous() for k, v in ours.items()}, dump)
            print(json.dumps({"missing": info["missing_keys"], "unexpected": info["unexpected_keys"],
                              "mismatched": info["mismatched_keys"], "errors": info["error_msgs"],
                              "dtypes": sorted({str(v.dtype) for v in ours.values()}), "wrong": wrong}))
            """, [out, "\(fixture.root)/fp32", "\(scratch!)/loaded.safetensors"])
        guard case .object(let info) = try JSONReader.parse(Array(report.utf8)) else { return XCTFail(report) }
        for key in ["missing", "unexpected", "mismatched", "errors", "wrong"] {
            XCTAssertEqual(info[key], .array([]), "\(key): \(report)")
        }
        XCTAssertEqual(info["dtypes"], .array([.string("torch.float32")]))
        try assertSameTensors(model.tensors, dump: "\(scratch!)/loaded.safetensors", "loaded by diffusers")

        guard case .object(let config) = try JSONReader.parse(Array(try Data(contentsOf: URL(fileURLWithPath: "\(out)/config.json")))) else {
            return XCTFail("config.json is not an object")
        }
        XCTAssertEqual(config["_class_name"], .string(Self.className))
        XCTAssertNotNil(config["_diffusers_version"]?.stringValue)
    }

    /// A failed write changes nothing; a write replaces an existing model directory whole; a
    /// directory that is not a model is never replaced.
    func testWritesAreAllOrNothing() throws {
        let out = "\(scratch!)/model"
        let first = DiffusersDirectory(config: ["width": .integer(3), "ratio": .number(0.5), "name": .null],
                                       tensors: [SafetensorsTensor(name: "b", shape: [2], values: [1, 2]),
                                                 SafetensorsTensor(name: "a", shape: [1, 1], values: [3])])
        try first.write(to: out, className: "Toy")
        let written = try DiffusersDirectory.read(from: out, expectedClass: "Toy")
        XCTAssertEqual(written.tensors, first.tensors)
        XCTAssertEqual(written.config["ratio"], .number(0.5))
        XCTAssertEqual(written.config["name"], .null)

        var broken = first
        broken.tensors.append(SafetensorsTensor(name: "bad", shape: [3], values: [1]))
        XCTAssertThrowsError(try broken.write(to: out, className: "Toy"))
        XCTAssertEqual(try DiffusersDirectory.read(from: out), written, "a failed write leaves the old directory")
        XCTAssertThrowsError(try broken.write(to: "\(scratch!)/new", className: "Toy"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(scratch!)/new"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch).sorted(), ["model"], "no temporaries left")

        var second = first
        second.tensors = [SafetensorsTensor(name: "c", shape: [], values: [9])]
        try second.write(to: out + "/", className: "Toy")
        XCTAssertEqual(try DiffusersDirectory.read(from: out).tensors, second.tensors)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch).sorted(), ["model"])

        let precious = "\(scratch!)/precious"
        try FileManager.default.createDirectory(atPath: precious, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: "\(precious)/notes.txt"))
        XCTAssertThrowsError(try first.write(to: precious, className: "Toy")) { error in
            XCTAssertTrue("\(error)".contains("not a diffusers model directory"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: precious), ["notes.txt"])
    }

    // MARK: Hostile or incomplete directories

    /// A copy of the fixture directory `name` to damage.
    private func copy(_ name: String) throws -> String {
        let path = "\(scratch!)/\(name)-\(UUID())"
        try FileManager.default.copyItem(atPath: "\(try fixture().root)/\(name)", toPath: path)
        return path
    }

    private func assertReadFails(_ path: String, expectedClass: String? = className, _ fragments: [String],
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try DiffusersDirectory.read(from: path, expectedClass: expectedClass), file: file, line: line) { error in
            for fragment in fragments {
                XCTAssertTrue("\(error)".contains(fragment), "«\(error)» lacks «\(fragment)»", file: file, line: line)
            }
        }
    }

    /// Rewrites the index of a sharded copy with `edit` applied to its weight_map.
    private func editIndex(_ directory: String, _ edit: (inout [String: Any]) -> Void) throws {
        let url = URL(fileURLWithPath: "\(directory)/\(DiffusersDirectory.indexName)")
        var index = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var weightMap = try XCTUnwrap(index["weight_map"] as? [String: Any])
        edit(&weightMap)
        index["weight_map"] = weightMap
        try JSONSerialization.data(withJSONObject: index).write(to: url)
    }

    private func weightMap(_ directory: String) throws -> [String: String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(DiffusersDirectory.indexName)"))
        return try XCTUnwrap((JSONSerialization.jsonObject(with: data) as? [String: Any])?["weight_map"] as? [String: String])
    }

    func testHostileOrIncompleteDirectoriesGiveClearErrors() throws {
        let shards = try fixture().shardedFiles.filter { $0.hasSuffix(".safetensors") }
        let firstShard = try XCTUnwrap(shards.first), secondShard = shards[1]

        assertReadFails("\(scratch!)/nowhere", ["nowhere", "no such directory"])

        let noConfig = try copy("fp32")
        try FileManager.default.removeItem(atPath: "\(noConfig)/config.json")
        assertReadFails(noConfig, ["config.json", "missing"])

        let noWeights = try copy("fp32")
        try FileManager.default.removeItem(atPath: "\(noWeights)/\(DiffusersDirectory.weightsName)")
        assertReadFails(noWeights, ["no weights", DiffusersDirectory.indexName])

        assertReadFails(try copy("fp32"), expectedClass: "FluxTransformer2DModel",
                        ["config.json", "\"\(Self.className)\"", "expected \"FluxTransformer2DModel\""])

        let missingShard = try copy("sharded")
        try FileManager.default.removeItem(atPath: "\(missingShard)/\(secondShard)")
        assertReadFails(missingShard, [secondShard, "missing"])

        let escaping = try copy("sharded")
        let victim = try XCTUnwrap(try weightMap(escaping).keys.sorted().first)
        try editIndex(escaping) { $0[victim] = "../fp32/\(DiffusersDirectory.weightsName)" }
        assertReadFails(escaping, [victim, "../fp32", "no '/' or '..'"])

        let truncated = try copy("sharded")
        let shardPath = "\(truncated)/\(secondShard)"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: shardPath))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: shardPath))
        assertReadFails(truncated, [secondShard, "truncated"])

        // A tensor of the first shard copied into a further shard the index also names.
        let twice = try copy("sharded")
        let first = try Safetensors.read(path: "\(twice)/\(firstShard)")
        let copied = try XCTUnwrap(first.tensors.first)
        try Safetensors.write(SafetensorsFile(tensors: [SafetensorsTensor(name: "extra", shape: [1], values: [1]), copied]),
                              path: "\(twice)/extra.safetensors")
        try editIndex(twice) { $0["extra"] = "extra.safetensors" }
        assertReadFails(twice, [copied.name, firstShard, "exactly one shard"])

        let ghost = try copy("sharded")
        try editIndex(ghost) { $0["ghost.weight"] = firstShard }
        assertReadFails(ghost, ["ghost.weight", firstShard, "lacks"])

        let unlisted = try copy("sharded")
        let dropped = try XCTUnwrap(first.tensors.last?.name)
        try editIndex(unlisted) { $0[dropped] = nil }
        assertReadFails(unlisted, [dropped, "does not list it"])

        let duplicateKey = try copy("sharded")
        let indexPath = "\(duplicateKey)/\(DiffusersDirectory.indexName)"
        let text = try String(contentsOfFile: indexPath, encoding: .utf8)
        try text.replacingOccurrences(of: "\"weight_map\": {", with: "\"weight_map\": {\"\(copied.name)\": \"\(secondShard)\",")
            .write(toFile: indexPath, atomically: true, encoding: .utf8)
        assertReadFails(duplicateKey, [DiffusersDirectory.indexName, "duplicate key", copied.name])

        let both = try copy("sharded")
        try FileManager.default.copyItem(atPath: "\(try fixture().root)/fp32/\(DiffusersDirectory.weightsName)",
                                         toPath: "\(both)/\(DiffusersDirectory.weightsName)")
        assertReadFails(both, ["both"])
    }
}
