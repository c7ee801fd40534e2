import Foundation

/// The exclusive lock on a run directory that rank 0 of `orwdist train` holds for the job's
/// life, so that a second job on the same directory stops before touching it (issue 20: two
/// jobs interleaved metrics.jsonl and removed each other's checkpoint writes).
///
/// It is a `flock` on RUN/.lock, which belongs to the open file: the kernel releases it when
/// the process ends, however it ends, so a crashed or killed job never blocks its resume. The
/// file stays; it holds "HOST PID START" of the last holder, for the message the next job
/// prints when the lock is taken.
public final class RunLock {
    public static let fileName = ".lock"

    /// The open RUN/.lock, -1 once released.
    private var descriptor: Int32

    /// Creates `directory` if needed and locks it, or throws a config error naming the job that
    /// holds it.
    public init(directory: String) throws {
        let path = "\(directory)/\(Self.fileName)"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw AtomicFile.WriteError(path: directory, reason: "cannot create the run directory (\(error.localizedDescription))")
        }
        descriptor = open(path, O_CREAT | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AtomicFile.WriteError(path: path, reason: String(cString: strerror(errno))) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno   // EAGAIN (= EWOULDBLOCK): another open file holds it
            let holder = Self.holder(descriptor)
            release()
            guard code == EAGAIN else { throw AtomicFile.WriteError(path: path, reason: "cannot lock: \(String(cString: strerror(code)))") }
            throw ConfigError(field: "run.directory", problem: "\(directory) is in use by another orwdist job (\(holder))",
                              fix: "wait for that job to end, or give this one another run directory (--run-dir)")
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let started = ISO8601DateFormatter().string(from: Date())
        let record = Array("\(String(cString: host)) \(getpid()) \(started)\n".utf8)
        // Best effort: the record only makes the next job's message precise.
        if ftruncate(descriptor, 0) == 0 { _ = record.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) } }
    }

    deinit { release() }

    /// Collective: rank 0 locks `directory` and runs `check` (e.g. refuse links out of it); every
    /// rank returns (rank 0 with the lock, to hold until the job's writes are done, nil
    /// elsewhere) or throws the same error. Every command that writes a run directory starts
    /// with it, before reading or writing anything there.
    public static func acquire(directory: String, world: any Communicator,
                               check: () throws -> Void = {}) throws -> RunLock? {
        var lock: RunLock?
        _ = try RootDecision.agree(world: world) { () throws -> Bool in
            lock = try RunLock(directory: directory)
            try check()
            return true
        }
        return lock
    }

    /// Releases the lock (the end of the process does too).
    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    /// The holder's record read from the lock file, as a phrase.
    private static func holder(_ descriptor: Int32) -> String {
        var bytes = [UInt8](repeating: 0, count: 512)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        let fields = String(decoding: bytes.prefix(max(0, count)), as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard fields.count == 3 else { return "it has not recorded itself yet" }
        return "host \(fields[0]), PID \(fields[1]), started \(fields[2])"
    }
}
