import XCTest
@testable import ORWCore

/// Problems solved by SciPy's `linear_sum_assignment` (scripts/fixtures/make_ot_fixtures.py).
private struct AssignmentFixture: Decodable {
    let name: String
    let n: Int
    let cost: [Double]
    let assignment: [Int]
    let total_cost: Double
}

private struct PointFixture: Decodable {
    let name: String
    let batch: Int
    let dimension: Int
    let x0: [Float]
    let x1: [Float]
    let total_cost: Double
}

final class FlowCouplingTests: XCTestCase {
    private func fixture<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
                                "fixture \(name).json missing: run scripts/fixtures/make_ot_fixtures.py")
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }

    private func totalCost(_ cost: [Double], n: Int, _ assignment: [Int]) -> Double {
        (0..<n).reduce(0) { $0 + cost[$1 * n + assignment[$1]] }
    }

    /// Σ_i ‖x0_i − x1_i‖², rows paired by position, in Double.
    private func pairedCost(_ x0: [Float], _ x1: [Float], dimension: Int) -> Double {
        zip(x0, x1).reduce(0) { sum, pair in
            let difference = Double(pair.0) - Double(pair.1)
            return sum + difference * difference
        }
    }

    private func isPermutation(_ assignment: [Int]) -> Bool {
        assignment.sorted() == Array(0..<assignment.count)
    }

    func testAssignmentMatchesSciPy() throws {
        for problem in try fixture("ot_assignment", as: [AssignmentFixture].self) {
            let assignment = solveLinearAssignment(cost: problem.cost, n: problem.n)
            XCTAssertTrue(isPermutation(assignment), problem.name)
            XCTAssertEqual(totalCost(problem.cost, n: problem.n, assignment), problem.total_cost,
                           accuracy: 1e-9 * max(1, abs(problem.total_cost)), problem.name)
            XCTAssertEqual(totalCost(problem.cost, n: problem.n, problem.assignment), problem.total_cost,
                           accuracy: 1e-9 * max(1, abs(problem.total_cost)), "fixture \(problem.name) is consistent")
        }
    }

    func testExactOTCouplingMatchesSciPy() throws {
        let workspace = CouplingWorkspace()          // shared across sizes: grows and is reused
        for problem in try fixture("ot_points", as: [PointFixture].self) {
            var x0 = problem.x0
            Coupling.exactOT.pair(x0: &x0, x1: problem.x1, batch: problem.batch,
                                  dimension: problem.dimension, workspace: workspace)
            XCTAssertEqual(pairedCost(x0, problem.x1, dimension: problem.dimension), problem.total_cost,
                           accuracy: 1e-6 * problem.total_cost, problem.name)
            XCTAssertEqual(rows(x0, problem.dimension).sorted(by: lexicographic),
                           rows(problem.x0, problem.dimension).sorted(by: lexicographic),
                           "\(problem.name): x0's rows are only reordered")
        }
    }

    func testOTNeverCostsMoreThanTheIdentityPairing() {
        let workspace = CouplingWorkspace()
        for trial in 0..<20 {
            var random = RandomStream(seed: 99, purpose: .sourceNoise, step: trial)
            let batch = 1 + random.nextIndex(below: 40), dimension = 1 + random.nextIndex(below: 6)
            let x1 = (0..<(batch * dimension)).map { _ in 2 * random.nextNormal() + 1 }
            let original = (0..<(batch * dimension)).map { _ in random.nextNormal() }
            var x0 = original
            Coupling.exactOT.pair(x0: &x0, x1: x1, batch: batch, dimension: dimension, workspace: workspace)
            let identity = pairedCost(original, x1, dimension: dimension)
            let coupled = pairedCost(x0, x1, dimension: dimension)
            XCTAssertLessThanOrEqual(coupled, identity * (1 + 1e-12), "trial \(trial)")
            // Pairing again changes nothing: the optimal pairing is a fixed point.
            var again = x0
            Coupling.exactOT.pair(x0: &again, x1: x1, batch: batch, dimension: dimension, workspace: workspace)
            XCTAssertEqual(pairedCost(again, x1, dimension: dimension), coupled, accuracy: 1e-9 * max(1, coupled))
        }
    }

    func testOTUncrossesTwoPairs() {
        var x0: [Float] = [10, 0]         // [2, 1]
        let x1: [Float] = [0, 10]
        Coupling.exactOT.pair(x0: &x0, x1: x1, batch: 2, dimension: 1)
        XCTAssertEqual(x0, [0, 10])
    }

    func testIndependentCouplingKeepsOrder() {
        var x0: [Float] = [10, 0, 5, 5]
        Coupling.independent.pair(x0: &x0, x1: [0, 10, 3, 4], batch: 2, dimension: 2)
        XCTAssertEqual(x0, [10, 0, 5, 5])
        XCTAssertEqual(Coupling(rawValue: "exact-ot"), .exactOT)
        XCTAssertEqual(Coupling.allCases.map(\.rawValue), ["independent", "exact-ot"])
    }

    private func rows(_ values: [Float], _ dimension: Int) -> [[Float]] {
        stride(from: 0, to: values.count, by: dimension).map { Array(values[$0..<($0 + dimension)]) }
    }

    private func lexicographic(_ a: [Float], _ b: [Float]) -> Bool {
        a.lexicographicallyPrecedes(b)
    }
}
