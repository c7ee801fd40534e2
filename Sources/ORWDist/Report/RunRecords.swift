import Foundation

/// One run directory as the report reads it: metrics.jsonl (by field name, so lines written by
/// newer or older versions with more or fewer fields still read), config.toml, and the sample
/// pictures RUN/samples/epoch_NNNN.png.
public struct RunRecords {
    public typealias Record = [String: Double]

    public let path: String
    public var steps: [Record] = []          // "kind": "step"
    public var epochs: [Record] = []         // "kind": "epoch"
    public var pretraining: [Record] = []    // "kind": "pretrain"
    /// config.toml as "section.key" → TOML literal ("0.5", "\"softmax\"", "[5.0, 0.0]").
    public var config: [String: String] = [:]
    /// (epoch, PNG bytes) in epoch order.
    public var pictures: [(epoch: Int, png: [UInt8])] = []

    public struct ReadError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(path: String) throws {
        self.path = path
        let metricsPath = "\(path)/metrics.jsonl"
        guard let data = FileManager.default.contents(atPath: metricsPath) else {
            throw ReadError(description: "\(metricsPath): cannot read it; is \(path) a run directory of orwdist train or pretrain?")
        }
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw ReadError(description: "\(metricsPath):\(number + 1): not a JSON object")
            }
            var record: Record = [:]
            for (key, value) in object {
                if let number = value as? NSNumber { record[key] = number.doubleValue }
                if let text = value as? String, let number = Double(text) { record[key] = number }   // "nan", "inf"
            }
            switch object["kind"] as? String {
            case "step": steps.append(record)
            case "epoch": epochs.append(record)
            case "pretrain": pretraining.append(record)
            default: continue
            }
        }
        if let text = try? String(contentsOfFile: "\(path)/config.toml", encoding: .utf8) {
            config = Self.parseConfig(text)
        }
        let folder = "\(path)/samples"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names.sorted() where name.hasPrefix("epoch_") && name.hasSuffix(".png") {
            guard let epoch = Int(name.dropFirst("epoch_".count).dropLast(".png".count)),
                  let bytes = FileManager.default.contents(atPath: "\(folder)/\(name)") else { continue }
            pictures.append((epoch, [UInt8](bytes)))
        }
    }

    /// The flat "section.key" → literal map of a config.toml as orwdist writes it
    /// (`[section]` headers, then `key = literal` lines).
    static func parseConfig(_ text: String) -> [String: String] {
        var section = "", values: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
            } else if let equals = line.firstIndex(of: "=") {
                let key = line[..<equals].trimmingCharacters(in: .whitespaces)
                values[section.isEmpty ? key : "\(section).\(key)"] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return values
    }

    /// Labels that tell runs apart: the config fields whose values differ among them
    /// ("method.alpha = 0.5, method.tau = 2"), or the directory's name when none differ.
    /// run.directory never counts; a label shared by two runs gets the directory appended.
    public static func labels(_ runs: [RunRecords]) -> [String] {
        let keys = Set(runs.flatMap(\.config.keys)).subtracting(["run.directory"]).sorted()
        let differing = runs.count < 2 ? [] : keys.filter { key in Set(runs.map { $0.config[key] ?? "(unset)" }).count > 1 }
        let labels = runs.map { run in
            differing.isEmpty ? (run.path as NSString).lastPathComponent
                : differing.map { "\($0) = \(run.config[$0] ?? "(unset)")" }.joined(separator: ", ")
        }
        let uses = Dictionary(labels.map { ($0, 1) }, uniquingKeysWith: +)
        return zip(labels, runs).map { label, run in
            uses[label]! > 1 ? "\(label) (\((run.path as NSString).lastPathComponent))" : label
        }
    }
}
