import XCTest
@testable import ORWDist

/// The single-process communicator: a world of one where every collective is the identity, and
/// the protocol's conveniences (scalars, arrays, variable-length bytes, strings) built on it.
final class LocalCommunicatorTests: XCTestCase {
    let world = LocalCommunicator()

    func testWorldOfOne() {
        XCTAssertEqual(world.rank, 0)
        XCTAssertEqual(world.size, 1)
        XCTAssertEqual(world.localRank, 0)
        XCTAssertEqual(world.localSize, 1)
        XCTAssertTrue(world.isRoot)
    }

    func testAllreducesLeaveBuffersUnchanged() throws {
        let floats: [Float] = [1.5, -2, .greatestFiniteMagnitude, 0, -0.0, .infinity]
        var f32 = floats
        try world.allreduceSum(&f32)
        XCTAssertEqual(f32, floats)
        try f32.withUnsafeMutableBufferPointer { try world.allreduceMax($0) }
        XCTAssertEqual(f32, floats)

        let doubles: [Double] = [3, -1e300, 1e-300, 7.25]
        var f64 = doubles
        try world.allreduceSum(&f64)
        XCTAssertEqual(f64, doubles)
        try world.allreduceMax(&f64)
        XCTAssertEqual(f64, doubles)
        try world.allreduceMin(&f64)
        XCTAssertEqual(f64, doubles)

        var empty: [Double] = []
        try world.allreduceSum(&empty)
        XCTAssertEqual(empty, [])
    }

    func testScalarReductions() throws {
        XCTAssertEqual(try world.allreduceSum(2.5), 2.5)
        XCTAssertEqual(try world.allreduceMax(-4), -4)
    }

    func testBroadcasts() throws {
        var values: [Int64] = [1, -2, .max]
        try world.broadcast(&values)
        XCTAssertEqual(values, [1, -2, .max])

        let bytes = Array("ORW-CFM-W2".utf8)
        XCTAssertEqual(try world.broadcast(bytes: bytes), bytes)
        XCTAssertEqual(try world.broadcast(bytes: []), [])
    }

    func testGathers() throws {
        let raw: [UInt8] = [9, 8, 7]
        XCTAssertEqual(try raw.withUnsafeBytes { try world.gather($0, root: 0) }, raw)

        for text in ["", "rank 0", "ünïcødé € 𝛉", String(repeating: "x", count: 10_000)] {
            XCTAssertEqual(try world.gather(string: text), [text])
        }
    }

    func testAllgatherCopiesTheOneBlock() throws {
        let mine: [Float] = [1, -2.5, .infinity]
        var all = [Float](repeating: 0, count: 3)
        try world.allgather(mine, into: &all)
        XCTAssertEqual(all, mine)
    }

    func testBarrier() throws {
        try world.barrier()
    }
}
