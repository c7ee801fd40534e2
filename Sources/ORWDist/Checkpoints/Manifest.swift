import Crypto
import Foundation

/// A checkpoint's `manifest.sha256`: one line per file, `<64 hex digits>  <name>`, in the
/// format of coreutils' `sha256sum`, so `cd CKPT && sha256sum -c manifest.sha256` checks it
/// too. It covers every other file of the checkpoint directory and is written last.
public struct Manifest: Equatable, Sendable {
    public static let fileName = "manifest.sha256"

    /// File name → SHA-256 in lowercase hex.
    public var digests: [String: String]

    public init(digests: [String: String]) { self.digests = digests }

    /// The manifest of in-memory files (name → bytes).
    public init(files: [(name: String, bytes: [UInt8])]) {
        digests = Dictionary(uniqueKeysWithValues: files.map { ($0.name, Self.sha256($0.bytes)) })
    }

    public static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// `sha256sum` text, sorted by name.
    public var text: String {
        digests.keys.sorted().map { "\(digests[$0]!)  \($0)\n" }.joined()
    }

    /// Parses `sha256sum` text; a failure names the first malformed line.
    public static func parse(_ text: String) -> Result<Manifest, CheckpointError.Reason> {
        var digests: [String: String] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 64, parts[0].allSatisfy({ $0.isHexDigit && !$0.isUppercase }),
                  parts[1].hasPrefix(" "), case let name = String(parts[1].dropFirst()),
                  !name.isEmpty, !name.contains("/"), digests[name] == nil else {
                return .failure(.malformedManifest(line: number + 1))
            }
            digests[name] = String(parts[0])
        }
        return .success(Manifest(digests: digests))
    }

    /// Checks the directory against the manifest: every listed file present with its digest,
    /// every `required` file listed, and no file the manifest does not cover. Returns each
    /// file's bytes, read once.
    public static func verify(directory: String, required: [String]) throws(CheckpointError) -> [String: [UInt8]] {
        let manifestPath = "\(directory)/\(fileName)"
        guard let manifestData = FileManager.default.contents(atPath: manifestPath) else {
            let exists = FileManager.default.fileExists(atPath: directory)
            throw CheckpointError(path: directory, reason: exists ? .missingManifest : .notFound)
        }
        let manifest: Manifest
        switch parse(String(decoding: manifestData, as: UTF8.self)) {
        case .success(let parsed): manifest = parsed
        case .failure(let reason): throw CheckpointError(path: directory, reason: reason)
        }
        for name in required where manifest.digests[name] == nil {
            throw CheckpointError(path: directory, reason: .notInManifest(file: name))
        }
        let present = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        if let stray = present.sorted().first(where: { $0 != fileName && manifest.digests[$0] == nil }) {
            throw CheckpointError(path: directory, reason: .uncoveredFile(file: stray))
        }
        var contents: [String: [UInt8]] = [:]
        for name in manifest.digests.keys.sorted() {
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(name)") else {
                throw CheckpointError(path: directory, reason: .missingFile(file: name))
            }
            let bytes = [UInt8](data)
            let actual = sha256(bytes)
            guard actual == manifest.digests[name] else {
                throw CheckpointError(path: directory, reason: .digestMismatch(file: name, expected: manifest.digests[name]!,
                                                                               actual: actual, size: bytes.count))
            }
            contents[name] = bytes
        }
        return contents
    }
}

/// Why a checkpoint cannot be used: which one, and what is wrong with it.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    public enum Reason: Error, Equatable, Sendable, CustomStringConvertible {
        case notFound
        case missingManifest
        case malformedManifest(line: Int)
        case notInManifest(file: String)
        case uncoveredFile(file: String)
        case missingFile(file: String)
        case digestMismatch(file: String, expected: String, actual: String, size: Int)
        case invalidContent(file: String, problem: String)

        public var description: String {
            switch self {
            case .notFound: return "no such checkpoint directory"
            case .missingManifest: return "no \(Manifest.fileName): the checkpoint was never completed, or the manifest was deleted"
            case .malformedManifest(let line): return "\(Manifest.fileName) line \(line) is not `<sha256>  <file>`"
            case .notInManifest(let file): return "\(Manifest.fileName) does not list \(file)"
            case .uncoveredFile(let file): return "\(file) is not covered by \(Manifest.fileName)"
            case .missingFile(let file): return "\(file) is listed in \(Manifest.fileName) but missing"
            case let .digestMismatch(file, expected, actual, size):
                return "\(file) is corrupted (truncated or modified): SHA-256 \(actual.prefix(16))… of its \(size) bytes, "
                    + "the manifest says \(expected.prefix(16))…"
            case let .invalidContent(file, problem): return "\(file): \(problem)"
            }
        }
    }

    public let path: String
    public let reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "checkpoint \(path): \(reason)" }
}
