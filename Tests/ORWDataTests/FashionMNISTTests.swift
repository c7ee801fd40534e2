import Foundation
import TestSupport
import XCTest
@testable import ORWData

final class FashionMNISTTests: XCTestCase {
    func testSplitsCountsLabelsAndPixelRange() throws {
        for (split, count) in [(FashionMNIST.Split.train, 60_000), (.test, 10_000)] {
            let dataset = try FashionMNIST(split: split)
            XCTAssertEqual(dataset.count, count)
            XCTAssertEqual(dataset.sampleShape, [1, 28, 28])
            XCTAssertEqual(dataset.dimension, 784)
            var histogram = [Int](repeating: 0, count: 10)
            for index in 0..<count { histogram[dataset.label(index)] += 1 }
            XCTAssertEqual(histogram, [Int](repeating: count / 10, count: 10), "\(split)")

            var image = [Float](repeating: .nan, count: 784)
            var low: Float = .infinity, high: Float = -.infinity
            for index in stride(from: 0, to: count, by: 97) {
                image.withUnsafeMutableBufferPointer { dataset.copySample(index, into: $0.baseAddress!) }
                low = min(low, image.min()!)
                high = max(high, image.max()!)
            }
            XCTAssertEqual(low, -1)
            XCTAssertEqual(high, 1)
        }
    }

    func testFirstTrainingImageIsAnAnkleBoot() throws {
        let dataset = try FashionMNIST(split: .train)
        XCTAssertEqual(dataset.classNames[dataset.label(0)], "ankle boot")
        XCTAssertEqual(FashionMNIST.classNames.count, 10)
        XCTAssertEqual(FashionMNIST.classNames[7], "sneaker")
        // A byte p maps to p/127.5 − 1.
        var image = [Float](repeating: .nan, count: 784)
        image.withUnsafeMutableBufferPointer { dataset.copySample(0, into: $0.baseAddress!) }
        for k in 0..<784 { XCTAssertEqual(image[k], Float(dataset.pixels[k]) / 127.5 - 1) }
    }

    func testMissingFilesNameThePackage() {
        XCTAssertThrowsError(try FashionMNIST(split: .test, directory: "/nonexistent/fashion")) { error in
            XCTAssertEqual(error as? DatasetError,
                           .fashionMNISTMissing(path: "/nonexistent/fashion/t10k-images-idx3-ubyte.gz"))
            XCTAssertTrue("\(error)".contains("apt-get install dataset-fashion-mnist"), "\(error)")
        }
    }

    func testCorruptFileIsReported() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fmnist-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = URL(fileURLWithPath: FashionMNIST.defaultDirectory)
        for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            var bytes = try Data(contentsOf: source.appendingPathComponent(name))
            if name.contains("images") { bytes = bytes.prefix(bytes.count / 2) }      // truncated gzip
            try bytes.write(to: directory.appendingPathComponent(name))
        }
        XCTAssertThrowsError(try FashionMNIST(split: .test, directory: directory.path)) { error in
            guard case .malformedFile(let path, let reason)? = error as? DatasetError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(path.hasSuffix("t10k-images-idx3-ubyte.gz"))
            XCTAssertTrue(reason.contains("gzip"), reason)
        }
    }

    /// A gzip bomb in place of the test images (issue 20, #7): 64 MB of zeros in ~64 kB, more than
    /// the largest Fashion-MNIST file. Inflating must stop at the stated maximum with an error
    /// that says so, rather than inflate whatever the file claims.
    func testAGzipBombIsAnErrorAtTheSizeLimit() throws {
        let directory = scratchDirectory("gzip-bomb")
        for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            let made = try runProcess("/bin/sh", ["-c", "head -c 67108864 /dev/zero | gzip -9 > '\(directory)/\(name)'"], timeout: 60)
            XCTAssertTrue(made.succeeded, made.summary)
        }
        let peakBefore = SafetensorsFuzzTests.peakResidentMegabytes()
        XCTAssertThrowsError(try FashionMNIST(split: .test, directory: directory)) { error in
            guard case .malformedFile(let path, let reason)? = error as? DatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("t10k-images-idx3-ubyte.gz"), path)
            XCTAssertTrue(reason.contains("inflates to more than \(16 + 60_000 * 784) bytes"), reason)
        }
        XCTAssertLessThan(SafetensorsFuzzTests.peakResidentMegabytes() - peakBefore, 60, "inflating stops at the limit")
    }
}
