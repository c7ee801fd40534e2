import Foundation
import ORWCore
import ORWData

/// A model's weights as a safetensors file: tensors under their PyTorch names and shapes, and
/// `__metadata__` with the architecture ("orwdist.architecture", JSON) and free-form entries
/// (role, step, config). A file without the architecture entry is still read when its tensor
/// names and shapes identify a supported architecture (an `nn.Sequential` MLP saved from
/// PyTorch, say).
public struct ModelFile {
    public var architecture: Architecture
    public var parameters: [Float]           // θ [P] in the architecture's layout
    public var metadata: [String: String]

    public static let architectureKey = "orwdist.architecture"

    public init(architecture: Architecture, parameters: [Float], metadata: [String: String] = [:]) {
        self.architecture = architecture
        self.parameters = parameters
        self.metadata = metadata
    }

    public struct FormatError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    // MARK: Writing

    public func encode() throws -> [UInt8] {
        let layout = architecture.makeModel().layout
        precondition(layout.count == parameters.count, "parameters do not match the architecture")
        var entries = metadata
        entries[Self.architectureKey] = try Self.json(architecture)
        entries["orwdist.version"] = OrwdistVersion.current
        let tensors = layout.tensors.map {
            SafetensorsTensor(name: $0.name, shape: $0.shape, values: Array(parameters[$0.range]))
        }
        return try Safetensors.encode(SafetensorsFile(tensors: tensors, metadata: entries))
    }

    /// Writes atomically (temporary file, fsync, rename).
    public func write(to path: String) throws {
        try AtomicFile.write(encode(), to: path)
    }

    // MARK: Reading

    public static func read(from path: String) throws -> ModelFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError(path: path, reason: "cannot read the file (missing or unreadable)")
        }
        return try decode([UInt8](data), path: path)
    }

    public static func decode(_ bytes: [UInt8], path: String = "<memory>") throws -> ModelFile {
        let file: SafetensorsFile
        do {
            file = try Safetensors.decode(bytes)
        } catch {
            throw FormatError(path: path, reason: "not a valid safetensors file: \(error)")
        }
        let architecture: Architecture
        if let text = file.metadata[architectureKey] {
            do {
                architecture = try JSONDecoder().decode(Architecture.self, from: Data(text.utf8))
            } catch {
                throw FormatError(path: path, reason: "unreadable \(architectureKey) metadata \(text): \(error)")
            }
        } else if let inferred = inferMLP(file) {
            architecture = .mlp(inferred)
        } else {
            throw FormatError(path: path, reason: "no \(architectureKey) metadata, and the tensors are not an MLP velocity field "
                              + "(expected net.0.weight, net.0.bias, net.2.weight, … as nn.Sequential names them)")
        }
        try checkReadable(architecture, path: path)
        let layout = architecture.makeModel().layout
        for spec in layout.tensors {
            guard let tensor = file[spec.name] else {
                throw FormatError(path: path, reason: "tensor \(spec.name) of shape \(spec.shape) is missing")
            }
            guard tensor.shape == spec.shape else {
                throw FormatError(path: path, reason: "tensor \(spec.name) has shape \(tensor.shape), the architecture needs \(spec.shape)")
            }
        }
        var parameters = [Float](repeating: 0, count: layout.count)
        for spec in layout.tensors { parameters.replaceSubrange(spec.range, with: file[spec.name]!.values) }
        let expected = Set(layout.tensors.map(\.name))
        if let extra = file.tensors.first(where: { !expected.contains($0.name) }) {
            throw FormatError(path: path, reason: "unexpected tensor \(extra.name) for architecture \(try json(architecture))")
        }
        return ModelFile(architecture: architecture, parameters: parameters, metadata: file.metadata)
    }

    /// Rejects architectures the model types would trap on or could not even lay out. Together
    /// with the shape checks that precede the allocation in `decode`, the metadata of an
    /// untrusted file decides no allocation larger than the file.
    static func checkReadable(_ architecture: Architecture, path: String) throws {
        switch architecture {
        case .mlp(let spec):
            let limit = 1 << 24
            guard (1...limit).contains(spec.dimension), (1...limit).contains(spec.hidden), (0...1024).contains(spec.depth),
                  (1...limit).contains(spec.timeEmbedding), spec.timeEmbedding % 2 == 0 else {
                throw FormatError(path: path, reason: "implausible MLP architecture \(spec) (dimension, hidden and an even "
                                  + "time_embedding in 1...\(limit), depth in 0...1024)")
            }
        }
    }

    /// The MLP whose `nn.Sequential` state_dict these tensors are, if any.
    static func inferMLP(_ file: SafetensorsFile) -> MLPArchitecture? {
        var linears: [[Int]] = []
        while let weight = file["net.\(2 * linears.count).weight"], weight.shape.count == 2 { linears.append(weight.shape) }
        guard linears.count >= 2, let first = linears.first, let last = linears.last else { return nil }
        let hidden = first[0], dimension = last[0], embedding = first[1] - dimension
        guard embedding > 0, embedding % 2 == 0 else { return nil }
        return MLPArchitecture(dimension: dimension, hidden: hidden, depth: linears.count - 1, timeEmbedding: embedding)
    }

    static func json(_ architecture: Architecture) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(architecture), as: UTF8.self)
    }
}
