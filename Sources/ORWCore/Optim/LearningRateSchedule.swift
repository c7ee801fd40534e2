import Foundation

/// The learning rate as a function of the step, s = the number of optimiser steps already taken
/// (0 for the first step). W = `warmupSteps`, η = `base`.
///
///     warm-up (s < W):     η · (s + 1) / W             (the first step uses η / W, step W − 1 uses η)
///     constant (s ≥ W):    η
///     cosine (s ≥ W):      η_min + (η − η_min) · (1 + cos(π p)) / 2,  p = min(1, (s − W) / (T − W))
///
/// For cosine, T = `totalSteps` counts all steps of the run including the warm-up, so the decay
/// spans the T − W steps after it and reaches η_min at s = T (the last step, s = T − 1, is one
/// decrement short of it, as in `transformers`' cosine schedule); from s = T on it stays at η_min.
/// Evaluated in Double, rounded to Float once.
public struct LearningRateSchedule: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case constant
        case cosine(totalSteps: Int, minimum: Float)
    }

    public var base: Float
    public var warmupSteps: Int
    public var kind: Kind

    public init(base: Float, warmupSteps: Int = 0, kind: Kind = .constant) {
        precondition(warmupSteps >= 0, "warm-up steps \(warmupSteps) must not be negative")
        self.base = base
        self.warmupSteps = warmupSteps
        self.kind = kind
    }

    public func rate(at step: Int) -> Float {
        precondition(step >= 0, "step \(step) must not be negative")
        let base = Double(self.base)
        if step < warmupSteps { return Float(base * Double(step + 1) / Double(warmupSteps)) }
        switch kind {
        case .constant:
            return Float(base)
        case .cosine(let totalSteps, let minimum):
            let progress = min(1, Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps)))
            let minimum = Double(minimum)
            return Float(minimum + (base - minimum) * (1 + cos(Double.pi * progress)) / 2)
        }
    }
}
