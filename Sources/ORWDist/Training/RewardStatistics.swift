import ORWRewards

/// Step 2's invalid-reward policy and the step's reward statistics over the global batch.
///
/// A reward is invalid when it is NaN or ±Inf. With `reward.on_invalid = "fail"` the step stops
/// with an error naming the reward, the rank and how many samples; with `"drop"` the weighting
/// gives those samples weight 0 and the statistics below leave them out and count them.
struct RewardStatistics {
    var mean: Double
    var standardDeviation: Double
    var minimum: Double
    var maximum: Double
    /// Samples of the global batch whose reward was NaN or ±Inf.
    var invalid: Int
    /// Mean of each component over the valid samples, for a composite reward.
    var components: [String: Double]?

    /// Throws under `fail` if any of this rank's rewards r [n] is NaN or ±Inf.
    static func check(_ rewards: [Float], reward: any Reward, policy: RewardSettings.InvalidPolicy, rank: Int, step: Int) throws {
        guard policy == .fail else { return }
        let invalid = rewards.filter { !$0.isFinite }.count
        guard invalid > 0 else { return }
        var message = "\(invalid) of \(rewards.count) samples on rank \(rank) got a non-finite reward (NaN or ±Inf) at step \(step)"
        if let composite = reward as? CompositeReward {
            let parts = zip(composite.componentNames, composite.componentRewards).compactMap { name, values in
                let count = values.filter { !$0.isFinite }.count
                return count > 0 ? "\(name): \(count)" : nil
            }
            message += " (\(parts.joined(separator: ", ")))"
        }
        message += ". Fix the reward, or set reward.on_invalid = \"drop\" to give such samples weight 0"
        throw RewardError(reward: describe(reward), message: message)
    }

    /// The reward's name, with the command for an external one.
    static func describe(_ reward: any Reward) -> String {
        guard let external = reward as? ExternalReward else { return reward.name }
        return "\(external.name) `\(external.command.joined(separator: " "))`"
    }

    /// This rank's sums, to be allreduced: [valid count, invalid count, Σr, Σr², Σr_c per component],
    /// over the valid samples.
    static func localSums(_ rewards: [Float], reward: any Reward) -> [Double] {
        var sums = [0.0, 0.0, 0.0, 0.0]
        for r in rewards {
            guard r.isFinite else {
                sums[1] += 1
                continue
            }
            sums[0] += 1
            sums[2] += Double(r)
            sums[3] += Double(r) * Double(r)
        }
        if let composite = reward as? CompositeReward {
            for values in composite.componentRewards {
                sums.append(zip(rewards, values).reduce(0.0) { $0 + ($1.0.isFinite ? Double($1.1) : 0) })
            }
        }
        return sums
    }

    /// This rank's [max r, −min r] over the valid samples, to be allreduced with max.
    static func localExtremes(_ rewards: [Float]) -> [Double] {
        let valid = rewards.filter(\.isFinite)
        return [Double(valid.max() ?? -.infinity), -Double(valid.min() ?? .infinity)]
    }

    /// From the global `sums` (of `localSums`) and `extremes` (of `localExtremes`).
    init(sums: [Double], extremes: [Double], reward: any Reward) {
        let count = max(sums[0], 1)
        mean = sums[2] / count
        standardDeviation = max(0, sums[3] / count - mean * mean).squareRoot()
        maximum = extremes[0]
        minimum = -extremes[1]
        invalid = Int(sums[1])
        if let composite = reward as? CompositeReward {
            components = Dictionary(uniqueKeysWithValues: zip(composite.componentNames, sums[4...].map { $0 / count }))
        }
    }
}
