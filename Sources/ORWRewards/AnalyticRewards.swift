/// r(x) = a · x, the linear reward of the paper's closed-form check: with base N(μ, σ²I), α = 0
/// and exact fitting, epoch N induces N(μ + N τ σ² a, σ² I).
public final class LinearReward: Reward {
    public let direction: [Float]   // a [D]
    public var name: String { "linear" }

    public init(direction: [Float]) { self.direction = direction }

    public func score(_ x: UnsafePointer<Float>, batch: Int, dimension: Int, into rewards: UnsafeMutablePointer<Float>) throws {
        guard dimension == direction.count else {
            throw RewardError(reward: name, message: "direction has \(direction.count) entries but samples have \(dimension)")
        }
        for i in 0..<batch {
            var dot: Float = 0
            for d in 0..<dimension { dot += direction[d] * x[i * dimension + d] }
            rewards[i] = dot
        }
    }
}

/// r(x) = −‖x − c‖², pulling samples toward the point c.
public final class DistanceReward: Reward {
    public let target: [Float]   // c [D]
    public var name: String { "distance" }

    public init(target: [Float]) { self.target = target }

    public func score(_ x: UnsafePointer<Float>, batch: Int, dimension: Int, into rewards: UnsafeMutablePointer<Float>) throws {
        guard dimension == target.count else {
            throw RewardError(reward: name, message: "target has \(target.count) entries but samples have \(dimension)")
        }
        for i in 0..<batch {
            var squares: Float = 0
            for d in 0..<dimension {
                let difference = x[i * dimension + d] - target[d]
                squares += difference * difference
            }
            rewards[i] = -squares
        }
    }
}
