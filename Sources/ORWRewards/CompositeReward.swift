/// A weighted sum of named rewards, r(x) = Σ_c w_c · r_c(x). After each `score`, the last
/// batch's rewards of every component are kept (`componentRewards`) so each can be logged on
/// its own. A non-finite component makes the sum non-finite; nothing is clamped.
public final class CompositeReward: Reward {
    public struct Component {
        public let reward: any Reward
        public let weight: Float
        public init(_ reward: any Reward, weight: Float) {
            self.reward = reward
            self.weight = weight
        }
    }

    public let components: [Component]
    /// r_c [B] of each component for the last scored batch, in `components` order.
    public private(set) var componentRewards: [[Float]]
    public var componentNames: [String] { components.map(\.reward.name) }
    public var name: String { "composite(" + components.map { "\($0.weight)·\($0.reward.name)" }.joined(separator: " + ") + ")" }

    public init(_ components: [Component]) {
        precondition(!components.isEmpty, "a composite reward needs at least one component")
        self.components = components
        componentRewards = components.map { _ in [] }
    }

    public func score(_ x: UnsafePointer<Float>, batch: Int, dimension: Int, into rewards: UnsafeMutablePointer<Float>) throws {
        for i in 0..<batch { rewards[i] = 0 }
        for (c, component) in components.enumerated() {
            var part = [Float](repeating: 0, count: batch)
            try part.withUnsafeMutableBufferPointer {
                try component.reward.score(x, batch: batch, dimension: dimension, into: $0.baseAddress!)
            }
            for i in 0..<batch { rewards[i] += component.weight * part[i] }
            componentRewards[c] = part
        }
    }
}
