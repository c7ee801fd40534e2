import Foundation
import ORWData

/// A diffusers model directory, as `ModelMixin.save_pretrained` writes it and
/// `from_pretrained` reads it: `config.json` (the constructor's arguments, `_class_name`,
/// `_diffusers_version`) and the weights under their PyTorch names, either in one
/// `diffusion_pytorch_model.safetensors` or sharded, `diffusion_pytorch_model.safetensors.index.json`
/// mapping each tensor name to its shard ("weight_map"). This is how weights move between
/// orwdist and diffusers (DESIGN.md, "Conditioning and SD3"); what the config
/// and tensors mean is the model's business, so the config stays a JSON object and the tensors
/// stay named.
///
/// Reading accepts F32, F16, BF16 and F64 tensors (converted to Float exactly, F64 rounded) and
/// treats the directory as untrusted: shard names cannot leave it, every tensor sits in exactly
/// the shard the index names, and the first problem is a `DiffusersDirectory.Failure` naming the
/// file. Writing makes one F32 file and publishes the whole directory with one rename.
public struct DiffusersDirectory: Equatable, Sendable {
    /// config.json's members (`_class_name` included when read).
    public var config: [String: JSONValue]
    /// The weights, shard by shard in file-name order, each shard in its data order.
    public var tensors: [SafetensorsTensor]

    public static let configName = "config.json"
    public static let weightsName = "diffusion_pytorch_model.safetensors"
    public static let indexName = "diffusion_pytorch_model.safetensors.index.json"
    /// Written as `_diffusers_version` when the config has none: the version the tests load with.
    public static let diffusersVersion = "0.42.1"

    public init(config: [String: JSONValue], tensors: [SafetensorsTensor]) {
        self.config = config
        self.tensors = tensors
    }

    /// The tensor called `name`, if any.
    public subscript(name: String) -> SafetensorsTensor? { tensors.first { $0.name == name } }

    /// What is wrong with a directory (reading) or why it could not be written.
    public struct Failure: Error, CustomStringConvertible {
        /// The directory, or the file inside it, at fault.
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    // MARK: Reading

    /// Reads the directory at `path`. With `expectedClass`, a config whose `_class_name` is
    /// another class is refused (one without `_class_name` is accepted).
    public static func read(from path: String, expectedClass: String? = nil) throws(Failure) -> DiffusersDirectory {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Failure(path: path, reason: "no such directory (a diffusers model directory holds \(configName) and \(weightsName))")
        }
        let config = try readConfig(directory: path, expectedClass: expectedClass)
        let single = "\(path)/\(weightsName)", index = "\(path)/\(indexName)"
        let hasSingle = FileManager.default.fileExists(atPath: single), hasIndex = FileManager.default.fileExists(atPath: index)
        switch (hasSingle, hasIndex) {
        case (true, false):
            return DiffusersDirectory(config: config, tensors: try readShard(single).tensors)
        case (false, true):
            return DiffusersDirectory(config: config, tensors: try readSharded(directory: path, index: index))
        case (true, true):
            throw Failure(path: path, reason: "holds both \(weightsName) and \(indexName); remove the one that is stale")
        case (false, false):
            throw Failure(path: path, reason: "no weights: neither \(weightsName) nor \(indexName) (sharded) is there")
        }
    }

    private static func readConfig(directory: String, expectedClass: String?) throws(Failure) -> [String: JSONValue] {
        let path = "\(directory)/\(configName)"
        guard case .object(let config) = try readJSON(path) else {
            throw Failure(path: path, reason: "is not a JSON object")
        }
        if let found = config["_class_name"] {
            guard let name = found.stringValue else { throw Failure(path: path, reason: "_class_name is not a string") }
            if let expectedClass, name != expectedClass {
                throw Failure(path: path, reason: "_class_name is \"\(name)\", expected \"\(expectedClass)\": this directory holds another kind of model")
            }
        }
        return config
    }

    /// The file at `path` decoded by `decode`; a missing file or a decoding error becomes a
    /// `Failure` naming the file (`explain` words the decoding error).
    private static func decodeFile<Value>(_ path: String, _ decode: ([UInt8]) throws -> Value,
                                          explain: (any Error) -> String) throws(Failure) -> Value {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(path: path, reason: "missing or unreadable")
        }
        do {
            return try decode([UInt8](data))
        } catch {
            throw Failure(path: path, reason: explain(error))
        }
    }

    private static func readJSON(_ path: String) throws(Failure) -> JSONValue {
        try decodeFile(path, { try JSONReader.parse($0) }) { "not valid JSON: \($0)" }
    }

    private static func readShard(_ path: String) throws(Failure) -> SafetensorsFile {
        try decodeFile(path, { try Safetensors.decode($0) }) { "\($0) (a truncated or damaged file: save the model again)" }
    }

    /// The tensors of a sharded directory: every shard the index names, checked against it.
    private static func readSharded(directory: String, index: String) throws(Failure) -> [SafetensorsTensor] {
        let weightMap = try readWeightMap(index)
        var tensors: [SafetensorsTensor] = []
        var seen: [String: String] = [:]    // tensor name → shard it was found in
        for shard in Set(weightMap.values).sorted() {
            let path = "\(directory)/\(shard)"
            for tensor in try readShard(path).tensors {
                if let first = seen[tensor.name] {
                    throw Failure(path: path, reason: "tensor \(tensor.name) is also in \(first); each tensor must be in exactly one shard")
                }
                guard weightMap[tensor.name] == shard else {
                    let listed = weightMap[tensor.name].map { "puts it in \($0)" } ?? "does not list it"
                    throw Failure(path: path, reason: "holds tensor \(tensor.name), but \(indexName) \(listed)")
                }
                seen[tensor.name] = shard
                tensors.append(tensor)
            }
        }
        if let missing = weightMap.keys.sorted().first(where: { seen[$0] == nil }) {
            throw Failure(path: "\(directory)/\(weightMap[missing]!)", reason: "lacks tensor \(missing), which \(indexName) puts there")
        }
        return tensors
    }

    /// The index's "weight_map": tensor name → shard file name, a plain name inside the directory.
    private static func readWeightMap(_ path: String) throws(Failure) -> [String: String] {
        guard case .object(let weightMap)? = try readJSON(path).objectValue?["weight_map"] else {
            throw Failure(path: path, reason: "has no \"weight_map\" object (tensor name → shard file)")
        }
        var result: [String: String] = [:]
        for (name, value) in weightMap {
            guard let shard = value.stringValue else {
                throw Failure(path: path, reason: "weight_map entry of \(name) is not a file name")
            }
            guard !shard.isEmpty, !shard.contains("/"), !shard.contains(".."), !shard.contains("\0") else {
                throw Failure(path: path, reason: "weight_map puts \(name) in \"\(shard)\": shard names must be plain file names inside the directory (no '/' or '..')")
            }
            result[name] = shard
        }
        return result
    }

    // MARK: Writing

    /// Writes the directory at `path` as `className`: config.json (the config with `_class_name`
    /// set and `_diffusers_version` added if absent) and one F32 weights file, tensors in their
    /// order. The files are made in a temporary directory next to `path`, fsynced, and published
    /// by one rename; an existing model directory there is exchanged for the new one and
    /// removed. On any error nothing at `path` changes. A `path` that holds something other
    /// than a model directory (no config.json) is refused rather than replaced.
    public func write(to path: String, className: String) throws {
        // "out/" names the directory out: the temporary must go next to it, not inside.
        var path = path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        var status = stat()
        let exists = lstat(path, &status) == 0
        if exists {
            guard status.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR), FileManager.default.fileExists(atPath: "\(path)/\(Self.configName)") else {
                throw Failure(path: path, reason: "exists and is not a diffusers model directory (no \(Self.configName)); refusing to replace it")
            }
        }
        var config = config
        config["_class_name"] = .string(className)
        if config["_diffusers_version"] == nil { config["_diffusers_version"] = .string(Self.diffusersVersion) }
        let weights = try Safetensors.encode(SafetensorsFile(tensors: tensors, metadata: ["format": "pt"]))
        let configText = JSONWriter.text(.object(config), pretty: true) + "\n"

        let temporary = "\(path).tmp-\(AtomicFile.randomSuffix())"
        // mkdir, not createDirectory: it fails on anything already there, a symbolic link too.
        guard mkdir(temporary, 0o755) == 0 else {
            throw AtomicFile.WriteError(path: temporary, reason: "cannot create the directory (\(String(cString: strerror(errno))))")
        }
        do {
            try AtomicFile.writeSynced(Array(configText.utf8), to: "\(temporary)/\(Self.configName)")
            try AtomicFile.writeSynced(weights, to: "\(temporary)/\(Self.weightsName)")
            AtomicFile.syncDirectory(temporary)
            if exists {
                try AtomicFile.exchange(temporary, path)
            } else {
                try AtomicFile.move(temporary, to: path)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        let parent = (path as NSString).deletingLastPathComponent
        AtomicFile.syncDirectory(parent.isEmpty ? "." : parent)
        if exists { try? FileManager.default.removeItem(atPath: temporary) }   // the old directory
    }
}
