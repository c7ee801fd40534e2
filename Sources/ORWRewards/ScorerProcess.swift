import CProcess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The external reward's child process: how it is started, isolated and ended (the protocol
/// spoken over its pipes is `ExternalReward`'s): DESIGN.md, "Signals, locks and exit statuses"
/// and "External rewards"; README, "Resuming and failures".
///
/// A rank is preempted by signals sent to every process of the job (Slurm's `scancel
/// --signal=USR1`, a node's preemption) or to its process group (mpirun forwarding SIGUSR1):
/// the child must survive them so the rank can finish its step and checkpoint. So the child
/// runs in a process group of its own with SIGUSR1 and SIGTERM blocked (`cprocess_spawn`). In
/// exchange, orwdist ends it: `end` on every way out of the run (the reward's deinit, and
/// `endAll` before an abort), and the kernel's SIGKILL if its rank dies first (PR_SET_PDEATHSIG:
/// the death of the *thread* that started it counts, so start it from a thread that lives as
/// long as the rank, as orwdist's main thread does).
///
/// The child's environment is this process's, less the MPI launchers' variables
/// (`launcherPrefixes`), plus the caller's additions: a scorer that uses MPI itself (mpi4py)
/// must not find and join the job's PMIx server.
public final class ScorerProcess: @unchecked Sendable {
    /// Prefixes of the variables kept out of the child's environment: OpenMPI (OMPI_, OPAL_,
    /// and ORTE_ for 4.x's runtime, PRTE_ for 5.x's), PMIx (PMIX_), PMI-1/2 as Slurm and MPICH
    /// set them (PMI_), MPICH's Hydra (HYDRA_) and MPICH/Intel MPI (MPI_, e.g. MPI_LOCALRANKID).
    static let launcherPrefixes = ["OMPI_", "OPAL_", "ORTE_", "PRTE_", "PMIX_", "PMI_", "HYDRA_", "MPI_"]

    /// The child's pid, also its process group id.
    let pid: pid_t
    /// Our end of the child's stdin, -1 once closed.
    private(set) var input: Int32
    /// Our end of the child's stdout (non-blocking), -1 once closed.
    private(set) var output: Int32
    let stderr: ScorerStderr
    private let lock = NSLock()
    private var ended = false

    /// Children not yet ended, for `endAll`.
    nonisolated(unsafe) private static var running: [ObjectIdentifier: ScorerProcess] = [:]
    private static let runningLock = NSLock()

    /// Starts `command` with `additions` in its environment; its stderr lines go to `stderrLine`
    /// (from a background thread).
    init(command: [String], additions: [String: String], stderrLine: @escaping @Sendable (String) -> Void) throws(SpawnFailure) {
        // Pipes [read end, write end], close-on-exec: the child gets only its dup2'd copies.
        func makePipe() throws(SpawnFailure) -> [Int32] {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw SpawnFailure(reason: "cannot create pipes for", errno: errno) }
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            return ends
        }
        let stdinPipe = try makePipe(), stdoutPipe = try makePipe(), stderrPipe = try makePipe()
        var spawned: pid_t = 0
        let environment = Self.environment(ProcessInfo.processInfo.environment, adding: additions)
        let status = withCStringArray(command) { argv in
            withCStringArray(environment.map { "\($0.key)=\($0.value)" }) { envp in
                cprocess_spawn(argv[0]!, argv, envp, stdinPipe[0], stdoutPipe[1], stderrPipe[1], &spawned)
            }
        }
        close(stdinPipe[0]); close(stdoutPipe[1]); close(stderrPipe[1])
        guard status == 0 else {
            close(stdinPipe[1]); close(stdoutPipe[0]); close(stderrPipe[0])
            throw SpawnFailure(reason: "cannot start", errno: status)
        }
        pid = spawned
        input = stdinPipe[1]
        output = stdoutPipe[0]
        for descriptor in [input, output] { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        stderr = ScorerStderr(stderrPipe[0], to: stderrLine)
        Self.runningLock.withLock { Self.running[ObjectIdentifier(self)] = self }
    }

    /// Why the child could not be started: "cannot start" and the errno value, for a message
    /// that names the command.
    struct SpawnFailure: Error {
        let reason: String
        let errno: Int32
    }

    /// `base` without the launchers' variables, with `additions`.
    static func environment(_ base: [String: String], adding additions: [String: String]) -> [String: String] {
        base.filter { name, _ in !launcherPrefixes.contains { name.hasPrefix($0) } }.merging(additions) { $1 }
    }

    /// "exited with status N" or "was killed by signal N" once the child has ended, else nil.
    /// Does not reap it: only `end` does, after signalling its group.
    var exitDescription: String? {
        var status: Int32 = 0, signal: Int32 = 0
        guard cprocess_peek(pid, &status, &signal) == 1 else { return nil }
        return signal == 0 ? "exited with status \(status)" : "was killed by signal \(signal)"
    }

    /// Ends the child and its process group, once: closes its stdin and sends the group SIGTERM
    /// (blocked in the child unless it unblocked it), waits up to `grace` seconds for the child to
    /// exit, then SIGKILLs the group — whatever of it is left, grandchildren included — while the
    /// unreaped child still holds the group's id, and reaps the child. Returns the bytes the
    /// child wrote to its stdout from the call on (read while waiting, so it can exit).
    @discardableResult
    func end(grace: Double) -> Int {
        lock.lock()
        defer { lock.unlock() }
        guard !ended else { return 0 }
        ended = true
        if input >= 0 { close(input); input = -1 }
        kill(-pid, SIGTERM)
        var unread = 0
        let deadline = Date().addingTimeInterval(grace)
        while exitDescription == nil, Date() < deadline {
            unread += drainOutput()
            usleep(10_000)
        }
        unread += drainOutput()
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        close(output)
        output = -1
        Self.runningLock.withLock { _ = Self.running.removeValue(forKey: ObjectIdentifier(self)) }
        return unread
    }

    /// Ends every child not yet ended (`end`), e.g. before this process aborts the job.
    public static func endAll(grace: Double) {
        for process in runningLock.withLock({ Array(running.values) }) { process.end(grace: grace) }
    }

    /// Reads what the child's stdout holds now (at most 1 MiB, so a child that never stops
    /// writing cannot keep us here), without waiting; returns the byte count.
    func drainOutput() -> Int {
        var total = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        while output >= 0 && total < 1 << 20 {
            let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress!, $0.count) }
            if count > 0 { total += count } else if count < 0 && errno == EINTR { continue } else { break }
        }
        return total
    }
}

/// Calls `body` with a NULL-terminated C array of copies of `strings`.
private func withCStringArray<Result>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> Result) -> Result {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
