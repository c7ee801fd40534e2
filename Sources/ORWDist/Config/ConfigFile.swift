import Foundation
import TOMLKit

/// A configuration made of documented fields (see `ConfigField`), read from TOML.
public protocol ConfigFile {
    init()
    static var fields: [ConfigField<Self>] { get }
    /// Checks values that each field cannot check alone; `worldSize` is the number of ranks.
    func validate(worldSize: Int) throws
}

extension ConfigFile {
    /// Reads `path` (nil: the built-in defaults), then applies `overrides` ("section.key=value",
    /// the value in TOML syntax; bare words are taken as strings). Unknown keys are errors.
    public static func load(path: String?, overrides: [String] = []) throws -> Self {
        var text = ""
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigError(field: "--config", problem: "cannot read \(path)", fix: "check the path, or omit --config for the built-in default")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(field: path ?? "config", problem: "not valid TOML: \(error.description) (\(error.source))", fix: "correct the TOML syntax at that position")
        }
        var config = Self()
        var values = flatten(table)
        for override in overrides {
            let (key, value) = try parseOverride(override)
            values[key] = value
        }
        let known = Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0) })
        for key in values.keys.sorted() where known[key] == nil {
            let suggestion = fields.map(\.key).min { editDistance($0, key) < editDistance($1, key) }
            throw ConfigError(field: key, problem: "unknown field", fix: "did you mean '\(suggestion ?? "")'? `orwdist \(Self.commandName) --help-config` lists every field")
        }
        for field in fields {
            if let value = values[field.key] { try field.read(&config, value) }
        }
        return config
    }

    /// The name of the subcommand that reads this config, for messages.
    static var commandName: String { String(describing: Self.self).replacingOccurrences(of: "Config", with: "").lowercased() }

    /// The effective configuration as TOML, grouped by section, each field with its help line.
    public func tomlText() -> String {
        var text = ""
        var section = ""
        for field in Self.fields {
            let parts = field.key.split(separator: ".", maxSplits: 1).map(String.init)
            if parts[0] != section {
                section = parts[0]
                text += (text.isEmpty ? "" : "\n") + "[\(section)]\n"
            }
            text += "\(parts[1]) = \(field.literal(in: self))\n"
        }
        return text
    }

    /// Every field with its default and help, for `--help-config`.
    public static func documentation() -> String {
        let defaults = Self()
        return fields.map { "\($0.key) = \($0.literal(in: defaults))\n    \($0.help)" }.joined(separator: "\n")
    }
}

/// Leaf values of a TOML table, keyed by dotted path.
private func flatten(_ table: TOMLTable, prefix: String = "") -> [String: TOMLValueConvertible] {
    var result: [String: TOMLValueConvertible] = [:]
    for key in table.keys {
        guard let value = table[key] else { continue }
        let path = prefix.isEmpty ? key : "\(prefix).\(key)"
        if let inner = value.table {
            result.merge(flatten(inner, prefix: path)) { $1 }
        } else {
            result[path] = value
        }
    }
    return result
}

private func parseOverride(_ text: String) throws -> (String, TOMLValueConvertible) {
    guard let equals = text.firstIndex(of: "="), !text[..<equals].isEmpty else {
        throw ConfigError(field: text, problem: "an override must look like section.key=value", fix: "write e.g. --set method.alpha=0.5")
    }
    let key = text[..<equals].trimmingCharacters(in: .whitespaces)
    let literal = text[text.index(after: equals)...].trimmingCharacters(in: .whitespaces)
    if let parsed = try? TOMLTable(string: "value = \(literal)"), let value = parsed["value"] {
        return (key, value)
    }
    return (key, literal)   // a bare word: a string
}

private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
