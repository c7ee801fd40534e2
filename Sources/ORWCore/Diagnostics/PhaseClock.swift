import Foundation

/// The phases of one ORW-CFM-W2 step, as `orwdist bench step` reports them.
public enum StepPhase: Int, CaseIterable, Sendable {
    case rollout            // 1. the sampler's ODE rollout from fresh noise
    case reward             // 2. r(x1)
    case gather             // 3. the allgather of every rank's rewards
    case weighting          // 3. w and the reward statistics over the global batch
    case pairing            // 4. fresh x0, t, coupling, x_t and u_t
    case policyForward      // 5. v_θ(t, x_t), saving activations
    case referenceForward   // 5. v_ref(t, x_t)
    case loss               // 5. loss sums and dL/dv_θ
    case backward           // 5. dL/dθ
    case allreduce          // 6. the flat gradient's allreduce-sum
    case optimizer          // 6. scaling, clipping, Adam
    case metrics            // the step's closing allreduce (loss sums, signals)

    public var name: String {
        switch self {
        case .rollout: "rollout"
        case .reward: "reward"
        case .gather: "reward gather"
        case .weighting: "weighting"
        case .pairing: "pairing"
        case .policyForward: "policy fwd"
        case .referenceForward: "reference fwd"
        case .loss: "loss"
        case .backward: "backward"
        case .allreduce: "allreduce"
        case .optimizer: "optimizer"
        case .metrics: "metrics"
        }
    }

    /// The phases that are collectives: a rank's time in them is the collective's own latency
    /// plus its wait for the slowest rank.
    public var isCollective: Bool { self == .gather || self == .allreduce || self == .metrics }
}

/// Wall-clock time per `StepPhase`, for benchmarks: `lap(phase)` charges the time since the
/// previous lap (or `beginStep`) to `phase`. Records every step into preallocated storage, so
/// timing allocates nothing after `init`. Each step's process CPU time is recorded too: for a
/// single-threaded rank it is the time the step actually ran, which a machine shared with other
/// work does not inflate the way it inflates wall-clock time. Not thread-safe.
public final class PhaseClock {
    public private(set) var steps = 0
    private let capacity: Int
    private var last: UInt64 = 0
    private var stepStart: UInt64 = 0
    private var current: [Double]                 // [phases] seconds in the running step
    private var history: [Double]                 // [capacity, phases + 1] per step, total last
    private var cpuStart = 0.0
    private var cpuHistory: [Double]              // [capacity] process CPU seconds per step

    public init(capacity: Int) {
        self.capacity = capacity
        current = [Double](repeating: 0, count: StepPhase.allCases.count)
        history = [Double](repeating: 0, count: capacity * (StepPhase.allCases.count + 1))
        cpuHistory = [Double](repeating: 0, count: capacity)
    }

    /// CPU seconds this process has used (all threads).
    public static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + 1e-9 * Double(time.tv_nsec)
    }

    @inline(__always) static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    public func beginStep() {
        for i in current.indices { current[i] = 0 }
        cpuStart = Self.processCPUSeconds()
        last = Self.now()
        stepStart = last
    }

    @inline(__always)
    public func lap(_ phase: StepPhase) {
        let time = Self.now()
        current[phase.rawValue] += Double(time - last) * 1e-9
        last = time
    }

    /// Ends the step: stores its phases and its total (from `beginStep`).
    public func endStep() {
        precondition(steps < capacity, "PhaseClock holds \(capacity) steps")
        let width = StepPhase.allCases.count + 1
        for i in current.indices { history[steps * width + i] = current[i] }
        history[steps * width + width - 1] = Double(Self.now() - stepStart) * 1e-9
        cpuHistory[steps] = Self.processCPUSeconds() - cpuStart
        steps += 1
    }

    /// Seconds of `phase` (nil: the whole step) in each recorded step.
    public func seconds(_ phase: StepPhase?) -> [Double] {
        let width = StepPhase.allCases.count + 1
        let column = phase?.rawValue ?? width - 1
        return (0..<steps).map { history[$0 * width + column] }
    }

    /// Seconds of each recorded step outside the collectives: this rank's own work.
    public var workSeconds: [Double] {
        let collectives = StepPhase.allCases.filter(\.isCollective).map { seconds($0) }
        return seconds(nil).enumerated().map { step, total in collectives.reduce(total) { $0 - $1[step] } }
    }

    /// Process CPU seconds of each recorded step.
    public var cpuSeconds: [Double] { Array(cpuHistory.prefix(steps)) }

    public func reset() { steps = 0 }
}
