/// A black-box reward: scores a batch of samples, no gradient needed.
///
/// Shapes: B = batch, D = floats per sample. Implementations may keep state (a child process,
/// a classifier's buffers) and so are classes; one instance serves one rank.
public protocol Reward: AnyObject {
    /// Short name for logs and metrics, e.g. "distance".
    var name: String { get }
    /// r [B] for x [B, D]. Throws when the reward cannot be computed; never clamps.
    func score(_ x: UnsafePointer<Float>, batch: Int, dimension: Int, into rewards: UnsafeMutablePointer<Float>) throws
}

/// A reward that could not score a batch.
public struct RewardError: Error, CustomStringConvertible {
    public let reward: String
    public let message: String
    public init(reward: String, message: String) {
        self.reward = reward
        self.message = message
    }
    public var description: String { "reward \(reward): \(message)" }
}
