import Foundation
import ORWCore

/// A heap Float buffer [N] for tests, so closures and pointers can share it without tripping
/// Swift's exclusivity checks on arrays.
public final class FloatBuffer {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(from: values, count: count)
    }

    public convenience init(zeros count: Int) { self.init([Float](repeating: 0, count: count)) }

    deinit { pointer.deallocate() }

    public var values: [Float] { Array(buffer) }
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
}

/// How far `actual` is from `expected`: the largest absolute difference, and that difference
/// relative to the largest magnitude in `expected` (an ∞-norm relative error, which does not
/// blow up on the elements that happen to be near zero).
public struct Deviation: CustomStringConvertible, Sendable {
    public var absolute: Double
    public var relative: Double

    public init<A: Collection, E: Collection>(_ actual: A, _ expected: E)
    where A.Element: BinaryFloatingPoint, E.Element: BinaryFloatingPoint {
        precondition(actual.count == expected.count, "sizes differ: \(actual.count) vs \(expected.count)")
        var largestDifference = 0.0, largestExpected = 0.0
        for (a, e) in zip(actual, expected) {
            largestDifference = max(largestDifference, abs(Double(a) - Double(e)))
            largestExpected = max(largestExpected, abs(Double(e)))
        }
        absolute = largestDifference
        relative = largestExpected > 0 ? largestDifference / largestExpected : largestDifference
    }

    public var description: String {
        String(format: "max abs %.3e, rel %.3e", absolute, relative)
    }
}

/// Central differences (f(v + h) − f(v − h)) / (v₊ − v₋) of a scalar function for every element
/// of `values` [N], dividing by the step actually taken after rounding to Float. `loss` should
/// accumulate in Double; `values` is restored after each element.
public func centralDifferences(of loss: () -> Double, at values: UnsafeMutablePointer<Float>,
                               count: Int, step: Float) -> [Double] {
    (0..<count).map { i in
        let original = values[i]
        let plus = original + step, minus = original - step
        values[i] = plus
        let lossPlus = loss()
        values[i] = minus
        let lossMinus = loss()
        values[i] = original
        return (lossPlus - lossMinus) / (Double(plus) - Double(minus))
    }
}

/// Σ_i a_i · b_i in Double.
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
    (0..<count).reduce(0.0) { $0 + Double(a[$1]) * Double(b[$1]) }
}

/// `count` standard normal Floats from a fixed seed, for test inputs.
public func normals(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var stream = RandomStream(seed: seed, purpose: .evaluation)
    return (0..<count).map { _ in scale * stream.nextNormal() }
}

/// `count` uniform Floats on [0, 1) from a fixed seed, for test inputs.
public func uniforms(_ count: Int, seed: UInt64) -> [Float] {
    var stream = RandomStream(seed: seed, purpose: .evaluation)
    return (0..<count).map { _ in stream.nextUniform() }
}
