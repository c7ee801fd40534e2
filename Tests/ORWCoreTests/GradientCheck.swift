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

/// `assertGradient` for each (name, gradient, argument): what backward added to the gradient
/// against central differences of `loss` in that argument, with one step for all.
func assertGradients(of loss: () -> Double, step: Float,
                     _ checks: [(name: String, gradient: AccumulatingGradient, argument: FloatBuffer)],
                     file: StaticString = #filePath, line: UInt = #line) {
    for check in checks {
        let numeric = centralDifferences(of: loss, at: check.argument.pointer, count: check.argument.count, step: step)
        assertGradient(check.gradient.added, numeric, check.name, file: file, line: line)
    }
}
