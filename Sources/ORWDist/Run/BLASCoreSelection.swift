import Foundation
import ORWCore

/// Puts OpenBLAS on the kernels this CPU can run when its load-time detection fell back to an
/// older core (`BLAS.betterCore`). OpenBLAS reads OPENBLAS_CORETYPE once, as it loads, before
/// any of orwdist's code runs; so orwdist sets the variable and restarts itself (`execv` of
/// /proc/self/exe, same arguments, same PID) first thing in `main`, before MPI starts. A
/// user's own OPENBLAS_CORETYPE is always kept. `orwdist info` says when this happened.
public enum BLASCoreSelection {
    /// Set on the restarted process: the core OpenBLAS had detected by itself.
    static let detectedKey = "ORWDIST_OPENBLAS_DETECTED_CORE"

    /// Restarts the process with OPENBLAS_CORETYPE set if OpenBLAS chose a core slower than
    /// this CPU allows; returns otherwise (also when the restart fails: the run goes on with
    /// the detected core).
    public static func restartOnBetterCoreIfNeeded() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment[detectedKey] == nil,
              let flags = cpuFlags(), let core = BLAS.betterCore(than: BLAS.coreName, cpuFlags: flags) else { return }
        setenv(detectedKey, BLAS.coreName, 1)
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")   // execv returned: it failed; nothing changed
        unsetenv(detectedKey)
    }

    /// "SkylakeX", or "SkylakeX (set by orwdist: OpenBLAS detected Prescott on this CPU)".
    public static var description: String {
        guard let detected = ProcessInfo.processInfo.environment[detectedKey] else { return BLAS.coreName }
        return "\(BLAS.coreName) (set by orwdist: OpenBLAS detected \(detected) on this CPU; set OPENBLAS_CORETYPE to choose)"
    }

    /// The flags of the first processor in /proc/cpuinfo; nil where there is none.
    static func cpuFlags() -> Set<String>? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
}
