import TestSupport
import XCTest
import ORWCore
@testable import ORWData

final class SafetensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private let sample = SafetensorsFile(
        tensors: [
            SafetensorsTensor(name: "net.0.weight", shape: [3, 2], values: [1, 2, 3, 4, 5, -6.5]),
            SafetensorsTensor(name: "net.0.bias", shape: [3], values: [0.25, -0, 1e-3]),
            SafetensorsTensor(name: "scalar", shape: [], values: [7]),
            SafetensorsTensor(name: "empty", shape: [0, 4], values: []),
            SafetensorsTensor(name: "quote\"back\\slash\u{1}é", shape: [1], values: [.infinity]),
        ],
        metadata: ["format": "pt", "step": "12", "config": "{\"nested\": \"json\"}\n"])

    /// A file from a header given as text and raw data bytes.
    private func file(_ header: String, data: [UInt8] = []) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(headerBytes.count) >> (8 * $0)) } + headerBytes + data
    }

    private func assertError(_ bytes: [UInt8], _ expected: SafetensorsError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Safetensors.decode(bytes), file: file, line: line) { error in
            XCTAssertEqual(error as? SafetensorsError, expected, file: file, line: line)
        }
    }

    // MARK: Valid files

    func testRoundTripKeepsOrderMetadataAndAlignment() throws {
        let bytes = try Safetensors.encode(sample)
        let headerLength = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        XCTAssertEqual((8 + headerLength) % 8, 0, "data section is 8-byte aligned")
        XCTAssertEqual(try Safetensors.decode(bytes), sample)
        XCTAssertEqual(try Safetensors.encode(sample), bytes, "encoding is deterministic")
        try Safetensors.write(sample, path: path("a.safetensors"))
        XCTAssertEqual(try Safetensors.read(path: path("a.safetensors")), sample)
        XCTAssertEqual(try Safetensors.decode(Safetensors.encode(SafetensorsFile(tensors: []))).tensors, [])
    }

    func testPythonSafetensorsReadsOurFile() throws {
        try Safetensors.write(sample, path: path("ours.safetensors"))
        let report = try Python.run(python: Python.environment(), """
            import json, sys
            import numpy as np
            from safetensors import safe_open
            from safetensors.numpy import load_file
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="np") as f:
                metadata = f.metadata()
            print(json.dumps({"metadata": metadata,
                              "tensors": {k: [list(v.shape), str(v.dtype), v.ravel().view(np.uint32).tolist()]
                                          for k, v in tensors.items()}}))
            """, [path("ours.safetensors")])
        let decoded = try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any]
        XCTAssertEqual(decoded?["metadata"] as? [String: String], sample.metadata)
        let tensors = try XCTUnwrap(decoded?["tensors"] as? [String: [Any]])
        XCTAssertEqual(Set(tensors.keys), Set(sample.tensors.map(\.name)))
        for tensor in sample.tensors {
            let entry = try XCTUnwrap(tensors[tensor.name])
            XCTAssertEqual(entry[0] as? [Int], tensor.shape, tensor.name)
            XCTAssertEqual(entry[1] as? String, "float32")
            XCTAssertEqual(entry[2] as? [UInt32], tensor.values.map(\.bitPattern), tensor.name)
        }
    }

    func testWeReadPythonSafetensorsFiles() throws {
        try Python.run(python: Python.environment(), """
            import sys, numpy as np
            from safetensors.numpy import save_file
            a = (np.arange(12, dtype=np.float32) / 3).reshape(3, 4)
            save_file({"layer.weight": a, "half": a[0].astype(np.float16),
                       "double": a[1].astype(np.float64), "z": np.zeros((0,), np.float32)},
                      sys.argv[1], metadata={"arch": "mlp"})
            """, [path("python.safetensors")])
        let file = try Safetensors.read(path: path("python.safetensors"))
        XCTAssertEqual(file.metadata, ["arch": "mlp"])
        let values = (0..<12).map { Float($0) / 3 }
        XCTAssertEqual(file["layer.weight"], SafetensorsTensor(name: "layer.weight", shape: [3, 4], values: values))
        XCTAssertEqual(file["double"]?.values, Array(values[4..<8]))
        XCTAssertEqual(file["z"]?.shape, [0])
        for (half, value) in zip(try XCTUnwrap(file["half"]).values, values[0..<4]) {
            XCTAssertEqual(half, value, accuracy: 1e-3)
        }
    }

    func testBFloat16IsWidened() throws {
        let data: [UInt8] = [0x80, 0x3F, 0x00, 0xC0]          // 1.0, −2.0 as little-endian bf16
        let decoded = try Safetensors.decode(file(#"{"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#, data: data))
        XCTAssertEqual(decoded.tensors, [SafetensorsTensor(name: "b", shape: [2], values: [1, -2])])
    }

    // MARK: Malformed files

    func testTruncatedFiles() throws {
        let bytes = try Safetensors.encode(sample)
        let headerLength = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        assertError(Array(bytes.prefix(5)), .fileTooSmall(size: 5))
        assertError(Array(bytes.prefix(40)), .headerExceedsFile(length: UInt64(headerLength), available: 32))
        XCTAssertThrowsError(try Safetensors.decode(Array(bytes.dropLast(2)))) { error in
            guard case .offsetsOutOfBounds? = error as? SafetensorsError else {
                return XCTFail("data cut short must put a tensor out of bounds, got \(error)")
            }
        }
        // Every prefix of a valid file is rejected, never a crash.
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try Safetensors.decode(Array(bytes.prefix(length))), "\(length) bytes")
        }
    }

    func testHeaderTooLongOrNotText() {
        var huge = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(100_000_001) >> (8 * $0)) }
        huge += Array("{}".utf8)
        assertError(huge, .headerTooLarge(length: 100_000_001, limit: Safetensors.maximumHeaderSize))
        assertError([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B],
                    .headerTooLarge(length: .max, limit: Safetensors.maximumHeaderSize))
        let notUTF8: [UInt8] = [2, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0xFF]
        assertError(notUTF8, .headerNotUTF8)
    }

    func testBadJSON() {
        for header in [#"{"a": "#, #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},}"#, "{} trailing"] {
            XCTAssertThrowsError(try Safetensors.decode(file(header))) { error in
                guard case .invalidJSON? = error as? SafetensorsError else { return XCTFail("\(header): \(error)") }
            }
        }
        assertError(file("[1, 2]"), .invalidJSON(reason: "the header does not start with '{'"))
        // Deep nesting is rejected by the JSON reader's depth limit, not by a stack overflow.
        let deep = #"{"a":"# + String(repeating: "[", count: 200_000)
        XCTAssertThrowsError(try Safetensors.decode(file(deep)))
    }

    func testBadMetadataAndEntries() {
        assertError(file(#"{"__metadata__":{"step":12}}"#), .invalidMetadata(reason: "value of 'step' is not a string"))
        assertError(file(#"{"__metadata__":[]}"#), .invalidMetadata(reason: "is not an object"))
        assertError(file(#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                    .invalidEntry(tensor: "w", reason: "shape is missing or not a list of non-negative integers"))
        assertError(file(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                    .invalidEntry(tensor: "w", reason: "shape is missing or not a list of non-negative integers"))
        assertError(file(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4]}}"#, data: [0, 0, 0, 0]),
                    .invalidEntry(tensor: "w", reason: "data_offsets is missing or not two non-negative integers"))
        assertError(file(#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                    .invalidEntry(tensor: "w", reason: "dtype is missing or not a string"))
        assertError(file(#"{"w":3}"#), .invalidEntry(tensor: "w", reason: "the entry is not an object"))
    }

    func testUnsupportedDtype() {
        assertError(file(#"{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)),
                    .unsupportedDtype(tensor: "w", dtype: "I64"))
    }

    func testOffsetsOutsideReversedOrWrongSize() {
        let data = [UInt8](repeating: 0, count: 16)
        assertError(file(#"{"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}"#, data: data),
                    .offsetsOutOfBounds(tensor: "w", begin: 0, end: 32, dataSize: 16))
        assertError(file(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551615,4]}}"#, data: data),
                    .invalidEntry(tensor: "w", reason: "data_offsets is missing or not two non-negative integers"))
        assertError(file(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, data: data),
                    .invalidOffsets(tensor: "w", begin: 8, end: 4))
        assertError(file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, data: data),
                    .sizeMismatch(tensor: "w", expected: 12, actual: 16))
        assertError(file(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}"#, data: data),
                    .shapeTooLarge(tensor: "w", shape: [4_294_967_296, 4_294_967_296]))
    }

    func testOverlapsAndGaps() {
        let data = [UInt8](repeating: 0, count: 12)
        assertError(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: data),
                    .overlappingTensors(first: "a", second: "b"))
        assertError(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, data: data),
                    .unindexedBytes(begin: 4, end: 8))
        assertError(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(data.prefix(8))),
                    .unindexedBytes(begin: 0, end: 4))
        assertError(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: data),
                    .unindexedBytes(begin: 4, end: 12))
    }

    func testWriterRejectsInvalidTensors() {
        let cases: [(SafetensorsTensor, SafetensorsTensor?)] = [
            (SafetensorsTensor(name: "w", shape: [2], values: [1]), nil),
            (SafetensorsTensor(name: "__metadata__", shape: [1], values: [1]), nil),
            (SafetensorsTensor(name: "w", shape: [1], values: [1]), SafetensorsTensor(name: "w", shape: [1], values: [2])),
        ]
        for (first, second) in cases {
            XCTAssertThrowsError(try Safetensors.encode(SafetensorsFile(tensors: [first] + (second.map { [$0] } ?? [])))) { error in
                guard case .invalidTensor? = error as? SafetensorsError else { return XCTFail("\(error)") }
            }
        }
    }

    func testRandomCorruptionNeverCrashes() throws {
        let bytes = try Safetensors.encode(sample)
        var random = RandomStream(seed: 5, purpose: .evaluation)
        var rejected = 0
        for _ in 0..<3000 {
            var mutated = bytes
            for _ in 0..<(1 + random.nextIndex(below: 4)) {
                mutated[random.nextIndex(below: mutated.count)] = UInt8(random.nextIndex(below: 256))
            }
            if (try? Safetensors.decode(mutated)) == nil { rejected += 1 }
        }
        XCTAssertGreaterThan(rejected, 0)
    }
}
