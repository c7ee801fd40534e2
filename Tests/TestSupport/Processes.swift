// Processes.swift — run commands from tests: built products, mpirun jobs, anything on PATH.
//
// Foundation only. Children are started with posix_spawn in a session of their own, so a
// timeout ends the whole tree — mpirun and its ranks, which mpirun puts in process groups of
// their own — and never leaves a stray rank spinning on the two shared cores. stdout and stderr are read concurrently while the child runs, so an
// output larger than a pipe buffer cannot deadlock it.
// Written for Linux (glibc), where the project runs.
import Foundation

/// How a finished (or killed) child ended and what it printed.
public struct ProcessResult: Sendable {
    /// The argv that ran, executable first.
    public let command: [String]
    /// The exit code, or 128 + signal number if a signal ended the process.
    public let status: Int32
    /// The signal that ended the process, if one did.
    public let signal: Int32?
    /// True if the timeout elapsed and the process group was killed.
    public let timedOut: Bool
    public let stdout: String
    public let stderr: String
    /// Wall-clock seconds from spawn until the child was reaped.
    public let duration: Double

    public var succeeded: Bool { status == 0 && signal == nil && !timedOut }

    /// A multi-line account for assertion messages: the command, how it ended, and the last
    /// lines of both streams.
    public var summary: String {
        let ending = timedOut ? "timed out after \(format(duration)) s and was killed"
            : signal.map { "was killed by signal \($0) after \(format(duration)) s" }
            ?? "exited with status \(status) after \(format(duration)) s"
        return """
            `\(command.joined(separator: " "))` \(ending)
            --- stdout (last lines) ---
            \(Self.tail(stdout))
            --- stderr (last lines) ---
            \(Self.tail(stderr))
            """
    }

    private func format(_ seconds: Double) -> String { String(format: "%.2f", seconds) }

    private static func tail(_ text: String, lines: Int = 40) -> String {
        let all = text.split(separator: "\n", omittingEmptySubsequences: false)
        return all.suffix(lines).joined(separator: "\n")
    }
}

/// Why a command could not be started.
public struct ProcessLaunchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

// MARK: - Running a command

/// Runs `executable` with `arguments`, waits at most `timeout` seconds, and returns its exit
/// status and output. On timeout every process of the child's session (the child and all it
/// started) gets SIGTERM, then SIGKILL two seconds later. `executable` is a path or a name looked up on PATH. `environment`
/// replaces the inherited environment when given; `standardInput` is written to the child's
/// stdin (otherwise stdin is /dev/null).
public func runProcess(
    _ executable: String, _ arguments: [String] = [],
    environment: [String: String]? = nil, currentDirectory: String? = nil,
    standardInput: Data? = nil, timeout: Double = 120
) throws -> ProcessResult {
    let path = try resolveExecutable(executable)
    let command = [path] + arguments
    // Glibc's posix_spawn_file_actions_addchdir_np is not visible to Swift: let coreutils' env
    // change directory and exec the command (same pid, same process group).
    let argv = currentDirectory.map { ["/usr/bin/env", "--chdir=\($0)", "--"] + command } ?? command
    let start = Date()

    // Pipes: [read end, write end]; the parent keeps stdout/stderr's read ends and stdin's write end.
    let output = try makePipe(), errors = try makePipe()
    let input = standardInput == nil ? nil : try makePipe()
    if input != nil { ignoreSIGPIPE }  // a child that stops reading must not kill the test runner

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let input {
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
    } else {
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    }
    posix_spawn_file_actions_adddup2(&actions, output[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errors[1], 2)

    // Own session (sid = pgid = child pid), default signal handling, nothing blocked.
    // POSIX_SPAWN_SETSID (glibc ≥ 2.26) is a GNU macro that Swift does not see.
    let setsid: Int32 = 0x80
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t(), none = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
    sigemptyset(&none)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setflags(&attributes, Int16(setsid | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    let environmentLines = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
    var spawnedPID: pid_t = 0
    let spawnError = withCStrings(argv) { argv in
        withCStrings(environmentLines) { envp in
            posix_spawn(&spawnedPID, argv[0]!, &actions, &attributes, argv, envp)
        }
    }
    // The child holds its own copies; close ours so EOF arrives when the child (tree) exits.
    close(output[1]); close(errors[1])
    if let input { close(input[0]) }
    guard spawnError == 0 else {
        close(output[0]); close(errors[0])
        if let input { close(input[1]) }
        throw ProcessLaunchError("cannot start \(path): \(String(cString: strerror(spawnError)))")
    }
    let pid = spawnedPID

    let readers = DispatchGroup()
    let stdoutBuffer = DrainedPipe(output[0], group: readers)
    let stderrBuffer = DrainedPipe(errors[0], group: readers)
    if let input, let standardInput { feed(standardInput, to: input[1], group: readers) }

    // Reap on a helper thread so the timeout is a plain semaphore wait.
    let exited = DispatchSemaphore(value: 0)
    let waitStatus = LockedBox<Int32>(0)
    Thread.detachNewThread {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        waitStatus.value = status
        exited.signal()
    }

    var timedOut = false
    if exited.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        signalSession(pid, SIGTERM)
        if exited.wait(timeout: .now() + 2) == .timedOut {
            signalSession(pid, SIGKILL)
            kill(pid, SIGKILL)  // not reaped yet, so still this child's pid
            exited.wait()
        }
        // What outlived the child's own clean-up (mpirun forwards SIGTERM to its ranks).
        signalSession(pid, SIGKILL)
        awaitSessionEnd(pid, seconds: 5)
    }
    let duration = Date().timeIntervalSince(start)
    // Session members that outlive the child would keep the pipes open: give them a moment,
    // then end them. Past that, return what was read rather than hang.
    if readers.wait(timeout: .now() + 5) == .timedOut {
        signalSession(pid, SIGKILL)
        _ = readers.wait(timeout: .now() + 5)
    }

    let raw = waitStatus.value
    let signalled = (raw & 0x7f) != 0 && (raw & 0x7f) != 0x7f
    return ProcessResult(
        command: command,
        status: signalled ? 128 + (raw & 0x7f) : (raw >> 8) & 0xff,
        signal: signalled ? raw & 0x7f : nil,
        timedOut: timedOut,
        stdout: String(decoding: stdoutBuffer.data, as: UTF8.self),
        stderr: String(decoding: stderrBuffer.data, as: UTF8.self),
        duration: duration)
}

/// The absolute path of `name`: itself if it contains a slash, else the first executable match
/// on PATH.
public func resolveExecutable(_ name: String) throws -> String {
    if name.contains("/") {
        guard FileManager.default.isExecutableFile(atPath: name) else {
            throw ProcessLaunchError("\(name) does not exist or is not executable")
        }
        return name
    }
    if let found = findOnPath(name) { return found }
    throw ProcessLaunchError("\(name) not found on PATH (\(ProcessInfo.processInfo.environment["PATH"] ?? ""))")
}

/// The first executable called `name` in the directories of PATH, or nil.
public func findOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Whether `pid` is alive and not a zombie.
public func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
}

// MARK: - Built products

/// The build products directory (e.g. `.build/debug`): where SwiftPM puts the test bundle and,
/// next to it, the package's executables.
public func productsDirectory() -> URL {
    #if os(Linux)
    // The xctest runner is itself an executable in the products directory.
    let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return runner.deletingLastPathComponent()
    #else
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        return bundle.bundleURL.deletingLastPathComponent()
    }
    return Bundle.main.bundleURL
    #endif
}

/// The path of the package's executable `name`, built next to the tests. Throws an error that
/// says how to build it when it is missing.
public func productPath(_ name: String) throws -> String {
    let directory = productsDirectory()
    let path = directory.appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw ProcessLaunchError("""
            executable '\(name)' is not in \(directory.path). Build the package's executables \
            before the tests: `swift build --build-tests && swift test` (scripts/test does both).
            """)
    }
    return path
}

// MARK: - mpirun

/// Runs `mpirun -n N [options] args…` with a timeout. Adds `--allow-run-as-root` when running
/// as root and `--oversubscribe` when asked (needed for more ranks than cores). `args` is the
/// program and its arguments, e.g. `[try productPath("orwdist"), "info"]`. Throws, rather than
/// skipping, when mpirun is not installed.
public func mpirun(
    n: Int, oversubscribe: Bool = false, options: [String] = [], args: [String],
    environment: [String: String]? = nil, timeout: Double = 180
) throws -> ProcessResult {
    try mpirun(contexts: [["-n", String(n)] + (oversubscribe ? ["--oversubscribe"] : []) + options + args],
               environment: environment, timeout: timeout)
}

/// Runs `mpirun` in its MPMD form, `mpirun CONTEXT : CONTEXT …`, each app context its own
/// `-n N [-wdir DIR] program args…` (e.g. ranks started in different working directories).
/// Adds `--allow-run-as-root` when running as root; throws when mpirun is not installed.
public func mpirun(contexts: [[String]], environment: [String: String]? = nil, timeout: Double = 180) throws -> ProcessResult {
    guard let launcher = findOnPath("mpirun") else {
        throw ProcessLaunchError("""
            mpirun not found on PATH; the multi-rank tests need OpenMPI: run `bash scripts/install-deps` \
            (apt package openmpi-bin)
            """)
    }
    let arguments = (geteuid() == 0 ? ["--allow-run-as-root"] : []) + Array(contexts.joined(separator: [":"]))
    return try runProcess(launcher, arguments, environment: environment, timeout: timeout)
}

/// A shell snippet that sends SIGKILL to rank `rank` of the mpirun job whose pid is in `$pid`
/// (the child of mpirun whose environment says OMPI_COMM_WORLD_RANK=`rank`).
public func killRankScript(_ rank: Int) -> String {
    findRankScript(rank) + "\nif [ -n \"$rank_pid\" ]; then kill -9 $rank_pid; fi"
}

/// Shell lines setting $rank_pid to the pid of rank `rank` among mpirun's ($pid's) children
/// ("" when there is none).
public func findRankScript(_ rank: Int) -> String {
    """
    rank_pid=""
    for child in $(ps -o pid= --ppid $pid); do
      if tr '\\0' '\\n' < /proc/$child/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=\(rank); then rank_pid=$child; fi
    done
    """
}

// MARK: - Plumbing

/// A new pipe, [read end, write end], both close-on-exec so that other children started at the
/// same time never inherit them (posix_spawn's dup2 clears the flag on the copies it makes).
private func makePipe() throws -> [Int32] {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else {
        throw ProcessLaunchError("pipe() failed: \(String(cString: strerror(errno)))")
    }
    for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    return ends
}

/// Sends `signal` to every process of the session that `leader` started (the leader included),
/// wherever it sits in the tree: orphans re-parented to init keep their session, and the kernel
/// does not reuse the leader's pid while the session has members.
private func signalSession(_ leader: pid_t, _ signal: Int32) {
    for pid in sessionMembers(leader) { kill(pid, signal) }
}

/// The live (not zombie) processes of the session `leader` started.
private func sessionMembers(_ leader: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry in
        guard let pid = pid_t(entry),
              let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)": state ppid pgrp session …
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 3 && fields[0] != "Z" && pid_t(fields[3]) == leader ? pid : nil
    }
}

/// SIGKILL is delivered asynchronously: waits (at most `seconds`) until the session's
/// processes are gone, so that a timed-out call returns with its descendants ended.
private func awaitSessionEnd(_ leader: pid_t, seconds: Double) {
    let deadline = Date().addingTimeInterval(seconds)
    while !sessionMembers(leader).isEmpty && Date() < deadline { usleep(10_000) }
}

/// Set once: writes to a closed pipe fail with EPIPE instead of killing the process.
private let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

/// Reads a file descriptor to EOF on a background thread, then closes it.
private final class DrainedPipe: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = Data()

    init(_ descriptor: Int32, group: DispatchGroup) {
        group.enter()
        Thread.detachNewThread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    lock.lock(); buffer.append(contentsOf: chunk[0..<count]); lock.unlock()
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            close(descriptor)
            group.leave()
        }
    }

    var data: Data { lock.lock(); defer { lock.unlock() }; return buffer }
}

/// Writes `data` to `descriptor` on a background thread, then closes it (the child sees EOF).
private func feed(_ data: Data, to descriptor: Int32, group: DispatchGroup) {
    group.enter()
    Thread.detachNewThread {
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { break }
            }
        }
        close(descriptor)
        group.leave()
    }
}

private final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

/// Calls `body` with a NULL-terminated argv-style array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return body(pointers + [nil])
}
