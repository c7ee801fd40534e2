import ORWRewards

/// The `[reward]` block of `orwdist train`: which reward and its parameters.
public struct RewardSettings: Equatable, Sendable {
    public enum Kind: String, CaseIterable, Sendable { case distance, linear }

    public var kind = Kind.distance
    public var target: [Float] = [5, 0]
    public var direction: [Float] = []

    public init() {}

    public static func fields<Config>(_ path: WritableKeyPath<Config, RewardSettings>) -> [ConfigField<Config>] {
        [
            .choice("reward.kind", path.appending(path: \.kind), "The reward: distance = −‖x − target‖², linear = direction · x."),
            .floats("reward.target", path.appending(path: \.target), "Target point of the distance reward (one entry per data dimension)."),
            .floats("reward.direction", path.appending(path: \.direction), "Direction a of the linear reward (one entry per data dimension)."),
        ]
    }

    /// Whether every reward this can make is ≥ 0 (what `linear` weighting needs).
    public var isNonNegative: Bool { false }

    public func validate() throws {
        switch kind {
        case .distance:
            try require(!target.isEmpty && target.allSatisfy(\.isFinite), "reward.target", "the distance reward needs a finite target point", "write target = [x, y, …] with one entry per data dimension")
        case .linear:
            try require(!direction.isEmpty && direction.allSatisfy(\.isFinite), "reward.direction", "the linear reward needs a finite direction", "write direction = [a1, a2, …] with one entry per data dimension")
        }
    }

    /// The reward for samples of `dimension` floats, set up once per rank.
    public func makeReward(dimension: Int, rank: Int, worldSize: Int) throws -> any Reward {
        switch kind {
        case .distance:
            try require(target.count == dimension, "reward.target", "has \(target.count) entries but the base model's samples have \(dimension) dimensions", "give one entry per data dimension")
            return DistanceReward(target: target)
        case .linear:
            try require(direction.count == dimension, "reward.direction", "has \(direction.count) entries but the base model's samples have \(dimension) dimensions", "give one entry per data dimension")
            return LinearReward(direction: direction)
        }
    }
}
