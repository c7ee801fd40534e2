import Crypto
import Foundation
import ORWCore

/// The pretrained model a fine-tuning run starts from, identical on every rank.
///
/// Rank 0 reads the file and broadcasts architecture and weights; every rank hashes what it
/// received and the job stops if any hash differs from rank 0's. A failure on rank 0 (missing
/// file, bad format) reaches every rank as the same error, so no rank waits forever.
public struct BaseModel {
    public var architecture: Architecture
    public var parameters: [Float]     // θ_ref [P]
    /// What one sample is (for pictures): the file's `orwdist.sample_shape`, else inferred from D.
    public var sampleShape: SampleShape

    /// Built-in bases, pretrained on first use and cached: name → pretraining preset.
    public static let builtins: [String: PretrainConfig] = {
        var eightGaussians = PretrainConfig()
        eightGaussians.data = .eightGaussians
        eightGaussians.hidden = 128
        eightGaussians.depth = 3
        eightGaussians.timeEmbedding = 32
        eightGaussians.steps = 2000
        eightGaussians.logEvery = 500
        eightGaussians.optimizer.learningRate = 2e-3
        eightGaussians.optimizer.schedule = .cosine
        eightGaussians.optimizer.minimumLearningRate = 1e-4
        return ["builtin:8gaussians": eightGaussians]
    }()

    /// Where built-in bases are cached: $ORWDIST_CACHE, else $XDG_CACHE_HOME/orwdist, else
    /// ~/.cache/orwdist.
    public static var cacheDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["ORWDIST_CACHE"], !path.isEmpty { return path }
        if let path = environment["XDG_CACHE_HOME"], !path.isEmpty { return "\(path)/orwdist" }
        return "\(NSHomeDirectory())/.cache/orwdist"
    }

    /// Loads `source` (a .safetensors path or a built-in name) on rank 0 and broadcasts it.
    public static func load(_ source: String, seed: UInt64, world: any Communicator, log: Log) throws -> BaseModel {
        let path = try resolve(source, world: world, log: log)
        var file: ModelFile?    // rank 0 only
        let encoded: [UInt8] = try world.agree(root: 0) {
            file = try ModelFile.read(from: path)
            return Array(try ModelFile.json(file!.architecture).utf8)
        }
        let architecture = try JSONDecoder().decode(Architecture.self, from: Data(encoded))
        let model = architecture.makeModel()
        var parameters = file?.parameters ?? [Float](repeating: 0, count: model.layout.count)
        try world.broadcast(&parameters, root: 0)
        let recorded = try world.agree(root: 0) { Array((file!.metadata[SampleShape.metadataKey] ?? "").utf8) }
        let sampleShape = SampleShape(recorded: String(decoding: recorded, as: UTF8.self), dimension: model.dimension)

        var rootDigest = Array(SHA256.hash(data: parameters.withUnsafeBytes { Data($0) }))
        let mine = rootDigest
        try world.broadcast(&rootDigest, root: 0)
        let mismatches = try world.allreduceSum(mine == rootDigest ? 0 : 1)
        guard mismatches == 0 else {
            throw BroadcastError(message: "the base model arrived corrupted on \(Int(mismatches)) rank(s): SHA-256 of the weights differs from rank 0's")
        }
        return BaseModel(architecture: architecture, parameters: parameters, sampleShape: sampleShape)
    }

    /// The file to read: the path itself, or a built-in's cached file (pretrained first if absent).
    static func resolve(_ source: String, world: any Communicator, log: Log) throws -> String {
        guard source.hasPrefix("builtin:") else { return source }
        guard var preset = builtins[source] else {
            // Every rank reads the same config, so every rank stops here alike.
            throw StartupFailure(description: "\(ConfigError(field: "base.model", problem: "unknown built-in model \"\(source)\"", fix: "use one of \(builtins.keys.sorted().joined(separator: ", ")) or a .safetensors path"))")
        }
        preset.runDirectory = "\(cacheDirectory)/\(source.dropFirst("builtin:".count))-v1"
        let path = "\(preset.runDirectory)/model.safetensors"
        var cached = [UInt8(world.isRoot && FileManager.default.fileExists(atPath: path) ? 1 : 0)]
        try world.broadcast(&cached, root: 0)
        if cached[0] == 0 {
            log.info("\(source) is not cached yet: pretraining it once into \(preset.runDirectory)")
            try PretrainingRun(config: preset, world: world, log: log).run()
        }
        return path
    }
}

/// A collective step failed on some rank.
public struct BroadcastError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension Communicator {
    /// Runs `work` on `root` and broadcasts its bytes; if it throws there, every rank throws the
    /// same message instead of waiting for data that will never come.
    public func agree(root: Int, _ work: () throws -> [UInt8]) throws -> [UInt8] {
        var outcome: Result<[UInt8], Error> = .success([])
        if rank == root { outcome = Result { try work() } }
        var failed = [UInt8(rank == root ? (outcome.isFailure ? 1 : 0) : 0)]
        try broadcast(&failed, root: root)
        if failed[0] == 1 {
            let message = try broadcast(bytes: rank == root ? Array("\(outcome.failure!)".utf8) : [], root: root)
            if case .failure(let error) = outcome { throw error }
            throw BroadcastError(message: "rank \(root) failed: " + String(decoding: message, as: UTF8.self))
        }
        return try broadcast(bytes: (try? outcome.get()) ?? [], root: root)
    }
}

private extension Result {
    var isFailure: Bool { if case .failure = self { return true } else { return false } }
    var failure: Failure? { if case .failure(let error) = self { return error } else { return nil } }
}
