import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A reward computed by another program: external reward protocol v1 (DESIGN.md, "External rewards").
///
/// One long-lived child per rank, started from an argv list (never a shell) with `ORW_RANK` and
/// `ORW_WORLD_SIZE` added to the environment (`ScorerProcess`: its own process group, preemption
/// signals blocked, killed with its rank, no MPI launcher variables). Per batch, all integers u32
/// little-endian, floats f32 little-endian:
///
///     request (to the child's stdin):    "ORWQ" 1 n k d_1 … d_k  then n·d_1·…·d_k floats
///     response (from the child's stdout): "ORWA" n                then n floats
///
/// and nothing else: a byte on the child's stdout beyond the answer (found right after it, or
/// before the next request) is a protocol error, since it would be read as the next answer. The
/// child's stderr is passed line by line to `stderrLine` (`ScorerStderr`: bounded lines). Each
/// batch must be answered within `timeout` seconds. A child that exits, times out, or answers
/// with a wrong magic or count ends the reward with a `RewardError` naming the command, the rank
/// and the cause (the child is killed, and every later call throws the same error). Non-finite
/// rewards are returned as they are: the trainer's invalid-reward policy judges them. Closing
/// (deinit) closes the child's stdin, waits up to 5 s for it to exit, then kills its group.
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

    private let child: ScorerProcess
    private let stderrLine: @Sendable (String) -> Void
    private var failure: RewardError?

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
        self.stderrLine = stderrLine
        _ = Self.ignoreBrokenPipes
        do {
            child = try ScorerProcess(command: command, additions: ["ORW_RANK": "\(rank)", "ORW_WORLD_SIZE": "\(worldSize)"],
                                      stderrLine: stderrLine)
        } catch {
            throw RewardError(reward: "external", message: "\(error.reason) `\(command.joined(separator: " "))` on rank \(rank): \(String(cString: strerror(error.errno)))")
        }
    }

    deinit {
        shutdown()
    }

    /// Closes the child's stdin (its signal to exit), waits up to `grace` seconds, then kills its
    /// process group. Bytes the child wrote after its last answer are reported as a stderr line.
    public func shutdown(grace: Double = 5) {
        let unexpected = child.drainOutput() + child.end(grace: grace)
        if unexpected > 0 && failure == nil {
            stderrLine("orwdist: protocol error: `\(command.joined(separator: " "))` wrote \(unexpected) unexpected bytes to stdout after its last answer (ignored)")
        }
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
        try expectNothingMore()
        let input = child.input, output = child.output
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
        try expectNothingMore()
        return (0..<batch).map { Float(bitPattern: readLittleEndianUInt32(response, at: 8 + 4 * $0)) }
    }

    /// Throws if the child's stdout holds bytes now, between an answer and the next request:
    /// they would be taken for (the start of) the next answer.
    private func expectNothingMore() throws {
        let unexpected = child.drainOutput()
        guard unexpected == 0 else {
            throw fail("wrote \(unexpected) unexpected bytes after its answer; protocol v1 allows exactly one answer "
                       + "(\"ORWA\", n, n floats) per request and nothing else on stdout (write logs to stderr)")
        }
    }

    /// The error for `cause`, naming the command and the rank, with the child's last stderr lines.
    private func fail(_ cause: String) -> RewardError {
        var message = "`\(command.joined(separator: " "))` on rank \(rank): \(cause)"
        let lines = child.stderr.lines
        if !lines.isEmpty { message += "; its last stderr: " + lines.joined(separator: " | ") }
        return RewardError(reward: name, message: message)
    }

    /// What became of a child that stopped talking: its exit status if it exited (waiting up to 2 s).
    private func childGone(_ symptom: String, batch: Int) -> String {
        let deadline = Date().addingTimeInterval(2)
        var status = child.exitDescription
        while status == nil, Date() < deadline {
            usleep(10_000)
            status = child.exitDescription
        }
        guard let status else { return "\(symptom) without exiting, during a batch of \(batch)" }
        child.stderr.waitForEnd(seconds: 1)   // the child's last words, for the message
        return "\(status) while scoring a batch of \(batch) (it \(symptom))"
    }

    private func describe(_ bytes: [UInt8]) -> String {
        let printable = bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
        return printable ? "\"\(String(decoding: bytes, as: UTF8.self))\"" : "0x" + bytes.map { String(format: "%02x", $0) }.joined()
    }

    private func format(_ seconds: Double) -> String { String(format: "%g", seconds) }

    /// A child that dies mid-write must raise EPIPE here, never kill this process with SIGPIPE.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()
}

private func appendLittleEndian(_ value: UInt32, to bytes: inout [UInt8]) {
    let little = value.littleEndian
    withUnsafeBytes(of: little) { bytes += $0 }
}

private func readLittleEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
}
