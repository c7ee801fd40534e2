import Foundation
import ORWCore
import ORWData

/// A classifier's weights as a safetensors file: tensors under their PyTorch names and shapes
/// (`MLPClassifier`), and `__metadata__` with the architecture ("orwdist.architecture", JSON of
/// `ClassifierArchitecture`), the class names ("orwdist.class_names", a JSON array indexed by
/// label) and free-form entries (test accuracy, config).
public struct ClassifierFile {
    public var architecture: ClassifierArchitecture
    public var parameters: [Float]           // θ [P] in `MLPClassifier`'s layout
    public var classNames: [String]          // [K]
    public var metadata: [String: String]

    public static let classNamesKey = "orwdist.class_names"

    public init(architecture: ClassifierArchitecture, parameters: [Float], classNames: [String], metadata: [String: String] = [:]) {
        precondition(classNames.count == architecture.classes, "\(classNames.count) class names for \(architecture.classes) classes")
        self.architecture = architecture
        self.parameters = parameters
        self.classNames = classNames
        self.metadata = metadata
    }

    public func encode() throws -> [UInt8] {
        let layout = MLPClassifier(architecture).layout
        precondition(layout.count == parameters.count, "parameters do not match the architecture")
        var entries = metadata
        entries[ModelFile.architectureKey] = try Self.json(architecture)
        entries[Self.classNamesKey] = try Self.json(classNames)
        entries["orwdist.version"] = OrwdistVersion.current
        let tensors = layout.tensors.map { SafetensorsTensor(name: $0.name, shape: $0.shape, values: Array(parameters[$0.range])) }
        return try Safetensors.encode(SafetensorsFile(tensors: tensors, metadata: entries))
    }

    /// Writes atomically (temporary file, fsync, rename).
    public func write(to path: String) throws {
        try AtomicFile.write(encode(), to: path)
    }

    public static func read(from path: String) throws -> ClassifierFile {
        let file: SafetensorsFile
        do {
            file = try Safetensors.read(path: path)
        } catch {
            throw ModelFile.FormatError(path: path, reason: "not a readable safetensors file: \(error)")
        }
        func decode<Value: Decodable>(_ key: String, as type: Value.Type) throws -> Value {
            guard let text = file.metadata[key] else {
                throw ModelFile.FormatError(path: path, reason: "no \(key) metadata: not a classifier written by `orwdist classifier train`")
            }
            do {
                return try JSONDecoder().decode(type, from: Data(text.utf8))
            } catch {
                throw ModelFile.FormatError(path: path, reason: "unreadable \(key) metadata \(text): \(error)")
            }
        }
        let architecture = try decode(ModelFile.architectureKey, as: ClassifierArchitecture.self)
        let classNames = try decode(classNamesKey, as: [String].self)
        guard classNames.count == architecture.classes else {
            throw ModelFile.FormatError(path: path, reason: "\(classNames.count) class names for \(architecture.classes) classes")
        }
        try checkReadable(architecture, path: path)
        let layout = MLPClassifier(architecture).layout
        // Every tensor is checked against the file before θ is allocated, so the metadata can
        // ask for no more floats than the file holds.
        for spec in layout.tensors {
            guard let tensor = file[spec.name], tensor.shape == spec.shape else {
                throw ModelFile.FormatError(path: path, reason: "tensor \(spec.name) of shape \(spec.shape) is missing or has another shape")
            }
        }
        guard file.tensors.count == layout.tensors.count else {
            throw ModelFile.FormatError(path: path, reason: "\(file.tensors.count) tensors where the architecture has \(layout.tensors.count)")
        }
        var parameters = [Float](repeating: 0, count: layout.count)
        for spec in layout.tensors { parameters.replaceSubrange(spec.range, with: file[spec.name]!.values) }
        return ClassifierFile(architecture: architecture, parameters: parameters, classNames: classNames, metadata: file.metadata)
    }

    /// Rejects architectures `MLPClassifier` would trap on or could not lay out without
    /// overflow: input sizes, widths and classes in 1…2^24 (≥ 2 classes), at most 64 hidden layers.
    static func checkReadable(_ architecture: ClassifierArchitecture, path: String) throws {
        let limit = SizeLimits.sampleElements
        guard architecture.inputShape.count <= 8, !architecture.inputShape.contains(0),
              SizeLimits.elementCount(architecture.inputShape, limit: limit) != nil,
              architecture.hidden.count <= 64, architecture.hidden.allSatisfy({ (1...limit).contains($0) }),
              (2...limit).contains(architecture.classes) else {
            throw ModelFile.FormatError(path: path, reason: "implausible classifier architecture \(architecture) (input_shape: at most 8 "
                                        + "sizes ≥ 1 whose product is at most \(limit); at most 64 hidden widths and classes in 1...\(limit), ≥ 2 classes)")
        }
    }

    /// Class indices for labels given by name (case-insensitive, e.g. "sneaker") or index ("7").
    public func classIndices(_ labels: [String]) throws -> [Int] {
        try labels.map { label in
            if let index = Int(label) {
                try require((0..<classNames.count).contains(index), "reward.classes", "class index \(index) is outside 0…\(classNames.count - 1)",
                            "use an index below \(classNames.count) or a name: \(classNames.joined(separator: ", "))")
                return index
            }
            guard let index = classNames.firstIndex(where: { $0.caseInsensitiveCompare(label) == .orderedSame }) else {
                throw ConfigError(field: "reward.classes", problem: "unknown class \"\(label)\"",
                                  fix: "use one of \(classNames.map { "\"\($0)\"" }.joined(separator: ", ")) or an index 0…\(classNames.count - 1)")
            }
            return index
        }
    }

    static func json<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
