/// The 2-D toy distributions by their configuration names.
public enum Toy: String, Codable, CaseIterable, Sendable {
    case eightGaussians = "8gaussians"
    case moons
    case checkerboard

    public func makeDataset(seed: UInt64) -> any GeneratedDataset {
        switch self {
        case .eightGaussians: return EightGaussians(seed: seed)
        case .moons: return TwoMoons(seed: seed)
        case .checkerboard: return Checkerboard(seed: seed)
        }
    }
}
