/// The spread of a set of points (samples, or a classifier's features of them).
public enum PairwiseDistance {
    /// Mean Euclidean distance over all pairs of the rows of `rows` [N, D], N ≥ 2 (each pair's
    /// squared distance summed in Float, the distances in Double).
    public static func mean(_ rows: [Float], count: Int, dimension: Int) -> Double {
        precondition(count >= 2 && rows.count >= count * dimension, "need at least 2 rows of \(dimension) floats")
        var total = 0.0
        rows.withUnsafeBufferPointer { x in
            for i in 0..<count {
                for j in (i + 1)..<count {
                    var squares: Float = 0
                    for d in 0..<dimension {
                        let difference = x[i * dimension + d] - x[j * dimension + d]
                        squares += difference * difference
                    }
                    total += Double(squares.squareRoot())
                }
            }
        }
        return total / Double(count * (count - 1) / 2)
    }
}
