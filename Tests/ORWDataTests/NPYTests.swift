import TestSupport
import XCTest
@testable import ORWData

final class NPYTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private let arrays = [
        NPYArray(shape: [3, 4], values: (0..<12).map { Float($0) * 0.5 - 2 }),
        NPYArray(shape: [5], values: [1, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 0]),
        NPYArray(shape: [], values: [42]),
        NPYArray(shape: [2, 0, 3], values: []),
    ]

    func testRoundTripAndAlignment() throws {
        for array in arrays {
            let bytes = NPY.encode(array)
            let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            XCTAssertEqual((10 + headerLength) % 64, 0, "data starts 64-byte aligned")
            XCTAssertEqual(bytes[10 + headerLength - 1], UInt8(ascii: "\n"))
            XCTAssertEqual(try NPY.decode(bytes), array)
        }
        let nan = try NPY.decode(NPY.encode(NPYArray(shape: [1], values: [.nan])))
        XCTAssertTrue(nan.values[0].isNaN)
    }

    func testNumPyReadsOurFiles() throws {
        for (k, array) in arrays.enumerated() {
            try NPY.write(array, path: path("ours\(k).npy"))
        }
        let report = try Python.run(python: Python.environment(), """
            import sys, numpy as np
            for name in sys.argv[1:]:
                a = np.load(name)
                assert a.dtype == np.dtype('<f4') and a.flags.c_contiguous, (name, a.dtype)
                print(list(a.shape), ' '.join(repr(float(v)) for v in a.ravel()))
            """, arrays.indices.map { path("ours\($0).npy") })
        let lines = report.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (k, array) in arrays.enumerated() {
            let values = array.values.map { "\(Double($0))" }.map { $0 == "-inf" ? "-inf" : $0 }
            let expected = "\(array.shape) " + values.joined(separator: " ")
            XCTAssertEqual(lines[k].trimmingCharacters(in: .whitespaces),
                           expected.trimmingCharacters(in: .whitespaces))
        }
    }

    func testWeReadNumPyFiles() throws {
        try Python.run(python: Python.environment(), """
            import sys, numpy as np
            d = sys.argv[1]
            a = np.arange(24, dtype='<f4').reshape(2, 3, 4) / 7
            np.save(d + '/f4.npy', a)
            np.save(d + '/f8.npy', a.astype('<f8'))
            np.save(d + '/vector.npy', np.array([1.5, -2.5], dtype='<f4'))
            np.save(d + '/fortran.npy', np.asfortranarray(a))
            np.save(d + '/big.npy', a.astype('>f4'))
            np.save(d + '/int.npy', np.arange(3))
            np.lib.format.write_array(open(d + '/v2.npy', 'wb'), a, version=(2, 0))
            """, [directory.path])
        let expected = (0..<24).map { Float($0) / 7 }
        for name in ["f4", "f8", "v2"] {
            let array = try NPY.read(path: path("\(name).npy"))
            XCTAssertEqual(array.shape, [2, 3, 4], name)
            for (value, reference) in zip(array.values, expected) {
                XCTAssertEqual(value, reference, accuracy: 1e-7, name)
            }
        }
        XCTAssertEqual(try NPY.read(path: path("vector.npy")), NPYArray(shape: [2], values: [1.5, -2.5]))
        for (name, what) in [("fortran", "Fortran order"), ("big", "dtype '>f4'"), ("int", "dtype '<i8'")] {
            XCTAssertThrowsError(try NPY.read(path: path("\(name).npy")), name) { error in
                XCTAssertEqual(error as? NPYError, .unsupportedLayout(what))
                XCTAssertTrue("\(error)".contains("float32"), "\(error)")
            }
        }
    }

    func testMalformedFiles() {
        let good = NPY.encode(NPYArray(shape: [2, 2], values: [1, 2, 3, 4]))
        XCTAssertThrowsError(try NPY.decode(Array("PK\u{3}\u{4}".utf8))) { error in
            guard case .notNPY? = error as? NPYError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try NPY.decode(Array(good.dropLast(3)))) { error in
            XCTAssertEqual(error as? NPYError, .sizeMismatch(expectedBytes: 16, actualBytes: 13))
        }
        XCTAssertThrowsError(try NPY.decode(Array(good.prefix(20)))) { error in
            guard case .malformedHeader? = error as? NPYError else { return XCTFail("\(error)") }
        }
        var version = good
        version[6] = 9
        XCTAssertThrowsError(try NPY.decode(version)) { error in
            XCTAssertEqual(error as? NPYError, .unsupportedVersion(major: 9, minor: 0))
        }
        // Every truncation of a valid file is an error, never a crash.
        for length in 0..<good.count {
            XCTAssertThrowsError(try NPY.decode(Array(good.prefix(length))), "\(length) bytes")
        }
    }

    func testNPYDatasetServesRows() throws {
        try NPY.write(NPYArray(shape: [3, 2, 2], values: (0..<12).map(Float.init)), path: path("data.npy"))
        let dataset = try NPYDataset(path: path("data.npy"))
        XCTAssertEqual(dataset.count, 3)
        XCTAssertEqual(dataset.sampleShape, [2, 2])
        var rows = [Float](repeating: .nan, count: 8)
        rows.withUnsafeMutableBufferPointer { dataset.copySamples([2, 0], into: $0.baseAddress!) }
        XCTAssertEqual(rows, [8, 9, 10, 11, 0, 1, 2, 3])

        try NPY.write(NPYArray(shape: [], values: [1]), path: path("scalar.npy"))
        XCTAssertThrowsError(try NPYDataset(path: path("scalar.npy")))
        // No samples, or samples of no floats (a model of dimension 0 would trap).
        for shape in [[0, 3], [3, 0], [2, 2, 0]] {
            try NPY.write(NPYArray(shape: shape, values: []), path: path("empty.npy"))
            XCTAssertThrowsError(try NPYDataset(path: path("empty.npy")), "\(shape)") { error in
                XCTAssertTrue("\(error)".contains("at least one sample"), "\(error)")
            }
        }
    }
}

/// The `.npy` reader on hostile headers (issue 20, #7): every shape made of interesting sizes,
/// with a little data or none. Each is answered with a value or an `NPYError`, never a trap; an
/// accepted array holds exactly its data, and its sizes other than zero multiply without overflow
/// (code that multiplies part of a shape, such as `NPYDataset`'s sample size, would trap).
final class NPYFuzzTests: XCTestCase {
    static let sizes = ["0", "1", "3", "4294967296", "1099511627777", "4611686018427387904", "9223372036854775807",
                        "-1", "99999999999999999999"]

    static func file(shape: [String], data: Int) -> [UInt8] {
        let tuple = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.joined(separator: ", ") + ")"
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(tuple), }".utf8)
        header += [UInt8](repeating: UInt8(ascii: " "), count: (64 - (10 + header.count + 1) % 64) % 64) + [UInt8(ascii: "\n")]
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xff), UInt8(header.count >> 8)] + header
            + [UInt8](repeating: 0, count: data)
    }

    /// Whether the non-zero sizes multiply without overflow (computed here, not by the reader).
    static func nonZeroProductFits(_ shape: [Int]) -> Bool {
        var product = 1
        for size in shape where size != 0 {
            let (next, overflow) = product.multipliedReportingOverflow(by: size)
            if overflow { return false }
            product = next
        }
        return true
    }

    func testHostileShapesAreErrorsNeverTraps() {
        var shapes: [[String]] = Self.sizes.map { [$0] }
        for a in Self.sizes { for b in Self.sizes { shapes.append([a, b]); for c in ["0", "3", "4611686018427387904"] { shapes.append([a, b, c]) } } }
        var accepted = 0, rejected = 0
        for shape in shapes {
            for data in [0, 12] {
                do {
                    let array = try NPY.decode(Self.file(shape: shape, data: data))
                    XCTAssertEqual(array.values.count * 4, data, "\(shape)")
                    XCTAssertTrue(Self.nonZeroProductFits(array.shape), "accepted \(array.shape) with \(data) bytes")
                    accepted += 1
                } catch {
                    rejected += 1
                }
            }
        }
        XCTAssertGreaterThan(accepted, 10, "valid small shapes (3, 0, 1…) are still read")
        XCTAssertGreaterThan(rejected, accepted)
        // The cases of the issue: an empty array whose other sizes overflow, named in the error.
        for shape in [["0", "4611686018427387904", "4611686018427387904"], ["0", "9223372036854775807", "3"]] {
            XCTAssertThrowsError(try NPY.decode(Self.file(shape: shape, data: 0)), "\(shape)") { error in
                guard case .malformedHeader(let reason)? = error as? NPYError else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains("too large"), reason)
            }
        }
    }
}
