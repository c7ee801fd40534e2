import CKernels
import Foundation

/// Writes files so that a crash leaves either the old file or the new one, never half of one:
/// write to a temporary name in the same directory, fsync, rename, fsync the directory.
/// Temporaries have random names and are created exclusively without following a symbolic
/// link, so a link planted at a name one could guess cannot redirect the write (issue 20).
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cannot write \(path): \(reason)" }
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(path).tmp-\(randomSuffix())"
        try writeSynced(bytes, to: temporary)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw WriteError(path: path, reason: "rename failed: \(reason)")
        }
        syncDirectory(directory.isEmpty ? "." : directory)
    }

    /// 16 random hex digits for a temporary name: not guessable, so not prepared in advance.
    public static func randomSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        let value: UInt64 = generator.next()
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Creates `path`, writes `bytes` and fsyncs them, without a rename: for temporaries and for
    /// files inside a directory that is itself published by a rename. `path` must not exist, not
    /// even as a symbolic link (O_EXCL | O_NOFOLLOW). A failure after creating it removes it.
    public static func writeSynced(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                unlink(path)
                throw WriteError(path: path, reason: reason)
            }
            written += result
        }
        guard fsync(descriptor) == 0, close(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw WriteError(path: path, reason: "fsync failed: \(reason)")
        }
    }

    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Makes a rename inside `directory` durable.
    public static func syncDirectory(_ directory: String) {
        let descriptor = open(directory, O_RDONLY)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// Swaps `a` and `b` atomically (renameat2 RENAME_EXCHANGE), so `b` names a complete old or
    /// new directory at every moment. Where the file system cannot (NFS, old kernels), `b` is
    /// moved to `a`'s name plus "-replaced" and `a` renamed to `b`: not atomic, but the old one
    /// survives a crash between the two under the temporary's name.
    public static func exchange(_ a: String, _ b: String) throws {
        if orw_rename_exchange(a, b) == 0 { return }
        guard errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP else {
            throw WriteError(path: b, reason: "exchange with \(a) failed: \(String(cString: strerror(errno)))")
        }
        let aside = a + "-replaced"
        try move(b, to: aside)
        try move(a, to: b)
        try move(aside, to: a)
    }

    /// rename(2), as an error naming both paths.
    public static func move(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw WriteError(path: to, reason: "rename from \(from) failed: \(String(cString: strerror(errno)))")
        }
    }
}
