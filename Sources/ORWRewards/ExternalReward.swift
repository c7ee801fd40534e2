import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A reward computed by another program: external reward protocol v1 (DESIGN.md, "External rewards").
///
/// One long-lived child per rank, started from an argv list (`posix_spawnp`, never a shell) with
/// `ORW_RANK` and `ORW_WORLD_SIZE` added to the environment. Per batch, all integers u32
/// little-endian, floats f32 little-endian:
///
///     request (to the child's stdin):    "ORWQ" 1 n k d_1 … d_k  then n·d_1·…·d_k floats
///     response (from the child's stdout): "ORWA" n                then n floats
///
/// The child's stderr is passed line by line to `stderrLine`. Each batch must be answered within
/// `timeout` seconds. A child that exits, times out, or answers with a wrong magic or count ends
/// the reward with a `RewardError` naming the command, the rank and the cause (the child is
/// killed, and every later call throws the same error). Non-finite rewards are returned as they
/// are: the trainer's invalid-reward policy judges them. Closing (deinit) closes the child's
/// stdin, waits up to 5 s for it to exit, then kills it.
///
/// Letters: B = batch, D = floats per sample = d_1 · … · d_k.
public final class ExternalReward: Reward {
    public let command: [String]
    /// (d_1, …, d_k), the shape of one sample sent to the child.
    public let sampleShape: [Int]
    public let timeout: Double
    public let rank: Int
    public let worldSize: Int
    public var name: String { "external" }

    private let pid: pid_t
    private var input: Int32            // our end of the child's stdin, -1 once closed
    private var output: Int32           // our end of the child's stdout, -1 once closed
    private let stderrTail: StderrTail
    private var failure: RewardError?
    private var exited = false

    /// Starts the child. `stderrLine` receives each line the child writes to stderr (from a
    /// background thread).
    public init(command: [String], sampleShape: [Int], rank: Int, worldSize: Int, timeout: Double = 120,
                stderrLine: @escaping @Sendable (String) -> Void) throws {
        guard let program = command.first, !program.isEmpty else {
            throw RewardError(reward: "external", message: "the command is empty; give an argv list such as [\"python3\", \"score.py\"]")
        }
        precondition(!sampleShape.isEmpty && sampleShape.allSatisfy { $0 > 0 }, "invalid sample shape \(sampleShape)")
        precondition(timeout > 0, "the timeout must be positive")
        self.command = command
        self.sampleShape = sampleShape
        self.timeout = timeout
        self.rank = rank
        self.worldSize = worldSize
        _ = Self.ignoreBrokenPipes

        // Pipes [read end, write end], close-on-exec: the child gets only its dup2'd copies.
        func makePipe() throws -> [Int32] {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else {
                throw RewardError(reward: "external", message: "cannot create pipes for `\(command.joined(separator: " "))` on rank \(rank): \(String(cString: strerror(errno)))")
            }
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            return ends
        }
        let stdinPipe = try makePipe(), stdoutPipe = try makePipe(), stderrPipe = try makePipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        // The child starts with default signal handling (this process ignores SIGPIPE).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        var environment = ProcessInfo.processInfo.environment
        environment["ORW_RANK"] = "\(rank)"
        environment["ORW_WORLD_SIZE"] = "\(worldSize)"
        var spawned: pid_t = 0
        let status = withCStringArray(command) { argv in
            withCStringArray(environment.map { "\($0.key)=\($0.value)" }) { envp in
                posix_spawnp(&spawned, argv[0]!, &actions, &attributes, argv, envp)
            }
        }
        close(stdinPipe[0]); close(stdoutPipe[1]); close(stderrPipe[1])
        guard status == 0 else {
            close(stdinPipe[1]); close(stdoutPipe[0]); close(stderrPipe[0])
            throw RewardError(reward: "external", message: "cannot start `\(command.joined(separator: " "))` on rank \(rank): \(String(cString: strerror(status)))")
        }
        pid = spawned
        input = stdinPipe[1]
        output = stdoutPipe[0]
        for descriptor in [input, output] { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        stderrTail = StderrTail()
        let tail = stderrTail, errors = stderrPipe[0]
        Thread.detachNewThread { tail.forward(errors, to: stderrLine) }
    }

    deinit {
        shutdown()
    }

    /// Closes the child's stdin (its signal to exit), waits up to `grace` seconds, then kills it.
    public func shutdown(grace: Double = 5) {
        if input >= 0 { close(input); input = -1 }
        if !exited {
            let deadline = Date().addingTimeInterval(grace)
            while reap() == nil, Date() < deadline { usleep(10_000) }
            if !exited {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                exited = true
            }
        }
        if output >= 0 { close(output); output = -1 }
    }

    public func score(_ x: UnsafePointer<Float>, batch: Int, dimension: Int, into rewards: UnsafeMutablePointer<Float>) throws {
        if let failure { throw failure }
        let shapeSize = sampleShape.reduce(1, *)
        guard dimension == shapeSize else {
            throw RewardError(reward: name, message: "samples have \(dimension) floats but the sample shape \(sampleShape) holds \(shapeSize)")
        }
        var request = [UInt8]()
        request.reserveCapacity(16 + 4 * sampleShape.count + 4 * batch * dimension)
        request += Array("ORWQ".utf8)
        for value in [1, batch, sampleShape.count] + sampleShape { appendLittleEndian(UInt32(value), to: &request) }
        for k in 0..<(batch * dimension) { appendLittleEndian(x[k].bitPattern, to: &request) }
        do {
            let answer = try exchange(request, batch: batch)
            for i in 0..<batch { rewards[i] = answer[i] }
        } catch let error as RewardError {
            failure = error
            shutdown(grace: 0)
            throw error
        }
    }

    // MARK: One request and its response

    /// Writes `request` and reads the response of `batch` rewards, both within the timeout.
    private func exchange(_ request: [UInt8], batch: Int) throws -> [Float] {
        let deadline = Date().addingTimeInterval(timeout)
        var written = 0
        var response = [UInt8](repeating: 0, count: 8 + 4 * batch)
        var received = 0, needed = 8
        while written < request.count || received < needed {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else {
                throw fail("timed out after \(format(timeout)) s waiting for the rewards of a batch of \(batch) (reward.timeout = \(format(timeout)))")
            }
            var descriptors = [pollfd(fd: output, events: Int16(POLLIN), revents: 0)]
            if written < request.count { descriptors.append(pollfd(fd: input, events: Int16(POLLOUT), revents: 0)) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(min(remaining * 1000 + 1, 1_000_000)))
            if ready < 0 {
                if errno == EINTR { continue }
                throw fail("poll failed: \(String(cString: strerror(errno)))")
            }
            if descriptors.count > 1, descriptors[1].revents != 0 {
                let count = request.withUnsafeBytes { write(input, $0.baseAddress! + written, request.count - written) }
                if count > 0 {
                    written += count
                } else if count < 0 && errno != EAGAIN && errno != EINTR {
                    throw fail(childGone(errno == EPIPE ? "stopped reading its stdin" : "cannot be written to (\(String(cString: strerror(errno))))", batch: batch))
                }
            }
            if descriptors[0].revents != 0 {
                let count = response.withUnsafeMutableBytes { read(output, $0.baseAddress! + received, needed - received) }
                if count == 0 {
                    throw fail(childGone("closed its stdout", batch: batch))
                } else if count < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    throw fail("cannot read its stdout: \(String(cString: strerror(errno)))")
                }
                received += count
                if received == 8 && needed == 8 {
                    let magic = Array(response[0..<4])
                    guard magic == Array("ORWA".utf8) else {
                        throw fail("answered with bad magic \(describe(magic)) where protocol v1 expects \"ORWA\"")
                    }
                    let count = Int(readLittleEndianUInt32(response, at: 4))
                    guard count == batch else {
                        throw fail("answered with the wrong count: \(count) rewards for a batch of \(batch)")
                    }
                    needed = 8 + 4 * batch
                }
            }
        }
        return (0..<batch).map { Float(bitPattern: readLittleEndianUInt32(response, at: 8 + 4 * $0)) }
    }

    /// The error for `cause`, naming the command and the rank, with the child's last stderr lines.
    private func fail(_ cause: String) -> RewardError {
        var message = "`\(command.joined(separator: " "))` on rank \(rank): \(cause)"
        let lines = stderrTail.lines
        if !lines.isEmpty { message += "; its last stderr: " + lines.joined(separator: " | ") }
        return RewardError(reward: name, message: message)
    }

    /// What became of a child that stopped talking: its exit status if it exited (waiting up to 2 s).
    private func childGone(_ symptom: String, batch: Int) -> String {
        let deadline = Date().addingTimeInterval(2)
        var status = reap()
        while status == nil, Date() < deadline {
            usleep(10_000)
            status = reap()
        }
        guard let status else { return "\(symptom) without exiting, during a batch of \(batch)" }
        stderrTail.waitForEnd(seconds: 1)   // the child's last words, for the message
        return "\(status) while scoring a batch of \(batch) (it \(symptom))"
    }

    /// "exited with status N" or "was killed by signal N" once the child has ended, else nil.
    private func reap() -> String? {
        guard !exited else { return "had already exited" }
        var status: Int32 = 0
        var result = waitpid(pid, &status, WNOHANG)
        while result == -1 && errno == EINTR { result = waitpid(pid, &status, WNOHANG) }
        guard result == pid else { return nil }
        exited = true
        let signal = status & 0x7f
        return signal == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(signal)"
    }

    private func describe(_ bytes: [UInt8]) -> String {
        let printable = bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
        return printable ? "\"\(String(decoding: bytes, as: UTF8.self))\"" : "0x" + bytes.map { String(format: "%02x", $0) }.joined()
    }

    private func format(_ seconds: Double) -> String { String(format: "%g", seconds) }

    /// A child that dies mid-write must raise EPIPE here, never kill this process with SIGPIPE.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()
}

/// The child's stderr, forwarded line by line; the last few lines are kept for error messages.
private final class StderrTail: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [String] = []
    private let ended = DispatchSemaphore(value: 0)
    static let keep = 5

    /// Waits until the child's stderr has reached EOF, at most `seconds`.
    func waitForEnd(seconds: Double) {
        if ended.wait(timeout: .now() + seconds) == .success { ended.signal() }
    }

    var lines: [String] { lock.withLock { kept } }

    /// Reads `descriptor` until EOF, handing each line to `handler`; closes it at the end.
    func forward(_ descriptor: Int32, to handler: (String) -> Void) {
        var pending = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        func emit(_ bytes: ArraySlice<UInt8>) {
            let line = String(decoding: bytes, as: UTF8.self)
            lock.withLock {
                kept.append(line)
                if kept.count > Self.keep { kept.removeFirst() }
            }
            handler(line)
        }
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            pending += chunk[0..<count]
            while let newline = pending.firstIndex(of: 10) {
                emit(pending[..<newline])
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { emit(pending[...]) }
        close(descriptor)
        ended.signal()
    }
}

private func appendLittleEndian(_ value: UInt32, to bytes: inout [UInt8]) {
    let little = value.littleEndian
    withUnsafeBytes(of: little) { bytes += $0 }
}

private func readLittleEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
}

/// Calls `body` with a NULL-terminated C array of copies of `strings`.
private func withCStringArray<Result>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> Result) -> Result {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
