import ORWRewards

/// Step 2's invalid-reward policy and the step's reward statistics over the global batch.
///
/// A reward is invalid when it is NaN or ±Inf, or its sample is (the trainer marks those NaN).
/// With `reward.on_invalid = "fail"` the step stops on every rank with an error naming the
/// reward, the ranks and how many samples; with `"drop"` the samples are left out of the step
/// (weight 0, no coupling, loss or gradient), and the statistics below leave them out and count them.
struct RewardStatistics {
    var mean: Double
    var standardDeviation: Double
    var minimum: Double
    var maximum: Double
    /// Samples of the global batch whose reward was NaN or ±Inf.
    var invalid: Int
    /// Mean of each component over the valid samples, for a composite reward.
    var components: [String: Double]?

    /// Throws under `fail` if any reward of the global batch [B] (gathered, so every rank decides
    /// alike and throws the same message: no rank is left waiting in a collective) is NaN or ±Inf,
    /// naming the ranks that computed them.
    static func check(_ batch: GlobalRewards, reward: any Reward, policy: RewardSettings.InvalidPolicy, step: Int) throws {
        guard policy == .fail else { return }
        let ranks = batch.world.size
        var perRank = [Int](repeating: 0, count: ranks)
        batch.withRow(0) { rewards in
            for (i, r) in rewards.enumerated() where !r.isFinite { perRank[batch.rank(of: i)] += 1 }
        }
        guard perRank.contains(where: { $0 > 0 }) else { return }
        let perRankCount = batch.count / ranks
        var message = perRank.enumerated().filter { $0.element > 0 }.map { rank, invalid in
            "\(invalid) of \(perRankCount) samples on rank \(rank)"
        }.joined(separator: ", ") + " got a non-finite reward (NaN or ±Inf; a non-finite sample counts as one) at step \(step)"
        if let composite = reward as? CompositeReward {
            let parts = composite.componentNames.enumerated().compactMap { c, name in
                let count = batch.withRow(1 + c) { $0.filter { !$0.isFinite }.count }
                return count > 0 ? "\(name): \(count)" : nil
            }
            message += " (\(parts.joined(separator: ", ")))"
        }
        message += ". Fix the reward, or set reward.on_invalid = \"drop\" to leave such samples out of the step"
        throw RewardError(reward: describe(reward), message: message)
    }

    /// The reward's name, with the command for an external one.
    static func describe(_ reward: any Reward) -> String {
        guard let external = reward as? ExternalReward else { return reward.name }
        return "\(external.name) `\(external.command.joined(separator: " "))`"
    }

    /// Over the global batch's rewards (`GlobalRewards`, the same on every rank), summed in
    /// global sample order.
    init(_ batch: GlobalRewards, reward: any Reward) {
        var valid = 0.0, invalid = 0, sum = 0.0, squares = 0.0
        var largest = -Double.infinity, smallest = Double.infinity
        batch.withRow(0) { rewards in
            for r in rewards {
                guard r.isFinite else {
                    invalid += 1
                    continue
                }
                valid += 1
                sum += Double(r)
                squares += Double(r) * Double(r)
                largest = max(largest, Double(r))
                smallest = min(smallest, Double(r))
            }
        }
        let count = max(valid, 1)
        mean = sum / count
        standardDeviation = max(0, squares / count - mean * mean).squareRoot()
        maximum = largest
        minimum = smallest
        self.invalid = invalid
        if let composite = reward as? CompositeReward {
            let means = composite.componentNames.indices.map { c in
                batch.withRow(0) { rewards in
                    batch.withRow(1 + c) { values in
                        zip(rewards, values).reduce(0.0) { $0 + ($1.0.isFinite ? Double($1.1) : 0) } / count
                    }
                }
            }
            components = Dictionary(uniqueKeysWithValues: zip(composite.componentNames, means))
        }
    }
}
