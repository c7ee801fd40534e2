import XCTest
import TestSupport

/// Asserts the ∞-norm relative error max|analytic − numeric| / max|numeric| ≤ `tolerance` of a
/// backward's gradient against central differences, and prints it. Shared by the layer tests.
func assertGradient(_ analytic: [Float], _ numeric: [Double], _ name: String,
                    tolerance: Double = 1e-3, file: StaticString = #filePath, line: UInt = #line) {
    let deviation = Deviation(analytic, numeric)
    print("finite differences \(name): \(deviation)")
    XCTAssertLessThanOrEqual(deviation.relative, tolerance, "\(name): \(deviation)", file: file, line: line)
}

/// A gradient buffer that starts from nonzero values, so that checking `added` (what backward
/// added to them) also checks that backward accumulates rather than overwrites.
final class AccumulatingGradient {
    let buffer: FloatBuffer
    let start: [Float]

    init(count: Int, seed: UInt64) {
        start = normals(count, seed: seed)
        buffer = FloatBuffer(start)
    }

    var pointer: UnsafeMutablePointer<Float> { buffer.pointer }
    var added: [Float] { zip(buffer.values, start).map { $0 - $1 } }
}
