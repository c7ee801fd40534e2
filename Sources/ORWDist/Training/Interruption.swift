import Foundation
import Synchronization

/// Signals received, as bits (`Interruption.Kind`). The handler only sets a bit: everything
/// else happens at the next step boundary, outside the handler.
private let receivedSignals = Atomic<Int32>(0)

/// Preemption signals (Slurm's SIGTERM, and SIGUSR1 from `sbatch --signal`): the handler records
/// the signal; each step's closing allreduce-sum carries every rank's record (`localCounts`), so
/// a signal that reached only some ranks stops all of them after the same step (the first whose
/// closing reduction follows the signal); rank 0 writes a checkpoint and every rank exits with
/// the signal's own status.
public enum Interruption {
    public enum Kind: Int32, Sendable, CustomStringConvertible {
        /// SIGUSR1: stop, checkpoint, exit 75 (requeue me).
        case requeue = 1
        /// SIGTERM: stop, checkpoint, exit 76.
        case terminate = 2

        public var signalName: String { self == .requeue ? "SIGUSR1" : "SIGTERM" }
        public var exitStatus: Int32 { self == .requeue ? ExitStatus.requeue : ExitStatus.terminated }
        public var description: String { signalName }
    }

    /// Installs the handlers for SIGUSR1 and SIGTERM (idempotent).
    public static func install() {
        _ = receivedSignals.load(ordering: .relaxed)   // initialised before any handler can run
        for signalNumber in [SIGUSR1, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                receivedSignals.bitwiseOr(number == SIGTERM ? Kind.terminate.rawValue : Kind.requeue.rawValue, ordering: .relaxed)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(signalNumber, &action, nil)
        }
    }

    /// Gives SIGUSR1 and SIGTERM their default action (terminate) back: once the run has
    /// checkpointed and is stopping, a further signal — mpirun ending the job after the first
    /// rank exits, or a second scancel — must end the process at once rather than be recorded
    /// and ignored until mpirun's SIGKILL.
    static func restoreDefaults() {
        signal(SIGUSR1, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    /// This rank's received signals as [SIGUSR1, SIGTERM], each 1 or 0, to be summed over the
    /// ranks: a sum above 0 means some rank received that signal.
    static var localCounts: [Double] {
        let bits = receivedSignals.load(ordering: .relaxed)
        return [Double(bits & 1), Double(bits >> 1 & 1)]
    }

    /// The job-wide decision from the ranks' summed `localCounts`: whether any rank received a
    /// signal (SIGTERM wins over SIGUSR1).
    static func decision(summed counts: ArraySlice<Double>) -> Kind? {
        if counts[counts.startIndex + 1] > 0 { return .terminate }
        if counts[counts.startIndex] > 0 { return .requeue }
        return nil
    }
}

/// The exit statuses of `orwdist train` (README, "Resuming and failures").
public enum ExitStatus {
    public static let success: Int32 = 0
    /// An error on any rank: the whole job is aborted.
    public static let failure: Int32 = 1
    /// A configuration or input error found before any training (nothing was written).
    public static let configuration: Int32 = 2
    /// Stopped by SIGUSR1 after a checkpoint (EX_TEMPFAIL: run again with --resume auto).
    public static let requeue: Int32 = 75
    /// Stopped by SIGTERM after a checkpoint.
    public static let terminated: Int32 = 76
}

/// Thrown on every rank once a signal stopped the run and rank 0 checkpointed; the command
/// layer turns it into the signal's exit status.
public struct TrainingInterrupted: Error, CustomStringConvertible {
    public let kind: Interruption.Kind
    public let step: Int
    public let checkpoint: String

    public var description: String {
        "stopped by \(kind.signalName) after step \(step); checkpoint \(checkpoint); continue with `orwdist train --resume auto` "
            + "(same config) — exit status \(kind.exitStatus)"
    }
}
