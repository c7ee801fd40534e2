/// Exact solver of the linear assignment problem: given a square cost matrix C [n, n], the
/// permutation σ minimising Σ_i C[i, σ(i)].
///
/// The Hungarian method in its shortest-augmenting-path form with row and column potentials
/// (Kuhn 1955; Munkres 1957; the O(n³) form of Jonker & Volgenant 1987 without their
/// initialisation heuristics): rows enter one at a time, and each is placed by a Dijkstra-like
/// search over reduced costs C[i, j] − u[i] − v[j] ≥ 0, after which the potentials are updated so
/// that every assigned pair keeps a reduced cost of zero. Costs are Doubles and must be finite.
///
/// The solver keeps its buffers between calls: solving a problem no larger than the largest seen
/// allocates nothing. Not thread-safe.
public final class LinearAssignmentSolver {
    // Index 0 is a virtual column that holds the row being placed; real columns are 1...n.
    private var capacity = 0                                            // largest n + 1 so far
    private var rowPotential = UnsafeMutablePointer<Double>.allocate(capacity: 0)    // [n + 1] u
    private var columnPotential = UnsafeMutablePointer<Double>.allocate(capacity: 0) // [n + 1] v
    private var minimumSlack = UnsafeMutablePointer<Double>.allocate(capacity: 0)    // [n + 1] least reduced cost into column j
    private var rowOfColumn = UnsafeMutablePointer<Int>.allocate(capacity: 0)        // [n + 1] row (1-based) on column j, 0 = none
    private var previousColumn = UnsafeMutablePointer<Int>.allocate(capacity: 0)     // [n + 1] column before j on the search path
    private var visited = UnsafeMutablePointer<Bool>.allocate(capacity: 0)           // [n + 1] column j is in the search tree

    public init() {}

    deinit { release() }

    /// Writes into `assignment` [n] the column assigned to each row of `cost` [n, n] (row-major)
    /// so that the total cost is minimal.
    public func solve(cost: UnsafePointer<Double>,              // [n, n]
                      n: Int,
                      assignment: UnsafeMutablePointer<Int>) {  // [n]
        precondition(n >= 0, "assignment size must be ≥ 0, got \(n)")
        for k in 0..<(n * n) {
            precondition(cost[k].isFinite, "assignment cost [\(k / n), \(k % n)] is not finite: \(cost[k])")
        }
        guard n > 0 else { return }
        reserve(n + 1)
        let u = rowPotential, v = columnPotential, slack = minimumSlack
        let p = rowOfColumn, way = previousColumn, used = visited
        u.update(repeating: 0, count: n + 1)
        v.update(repeating: 0, count: n + 1)
        p.update(repeating: 0, count: n + 1)
        way.update(repeating: 0, count: n + 1)

        for row in 1...n {
            // Grow a tree of alternating paths from `row` until it reaches a free column.
            p[0] = row
            var column = 0
            slack.update(repeating: .infinity, count: n + 1)
            used.update(repeating: false, count: n + 1)
            repeat {
                used[column] = true
                let i = p[column]
                let costRow = cost + (i - 1) * n
                var delta = Double.infinity
                var next = 0
                for j in 1...n where !used[j] {
                    let reduced = costRow[j - 1] - u[i] - v[j]
                    if reduced < slack[j] {
                        slack[j] = reduced
                        way[j] = column
                    }
                    if slack[j] < delta {
                        delta = slack[j]
                        next = j
                    }
                }
                for j in 0...n {
                    if used[j] {
                        u[p[j]] += delta
                        v[j] -= delta
                    } else {
                        slack[j] -= delta
                    }
                }
                column = next
            } while p[column] != 0
            // Flip the assignments along the augmenting path back to the virtual column.
            repeat {
                let before = way[column]
                p[column] = p[before]
                column = before
            } while column != 0
        }
        for j in 1...n {
            assignment[p[j] - 1] = j - 1
        }
    }

    private func reserve(_ size: Int) {
        guard size > capacity else { return }
        release()
        capacity = size
        rowPotential = .allocate(capacity: size)
        columnPotential = .allocate(capacity: size)
        minimumSlack = .allocate(capacity: size)
        rowOfColumn = .allocate(capacity: size)
        previousColumn = .allocate(capacity: size)
        visited = .allocate(capacity: size)
    }

    private func release() {
        rowPotential.deallocate()
        columnPotential.deallocate()
        minimumSlack.deallocate()
        rowOfColumn.deallocate()
        previousColumn.deallocate()
        visited.deallocate()
    }
}

/// The minimal-cost assignment of an n × n problem: element i is the column assigned to row i.
/// `cost` is row-major [n, n]; see `LinearAssignmentSolver`.
public func solveLinearAssignment(cost: [Double], n: Int) -> [Int] {
    precondition(cost.count == n * n, "cost has \(cost.count) entries, expected \(n) × \(n)")
    var assignment = [Int](repeating: 0, count: n)
    guard n > 0 else { return assignment }
    cost.withUnsafeBufferPointer { c in
        assignment.withUnsafeMutableBufferPointer { a in
            LinearAssignmentSolver().solve(cost: c.baseAddress!, n: n, assignment: a.baseAddress!)
        }
    }
    return assignment
}
