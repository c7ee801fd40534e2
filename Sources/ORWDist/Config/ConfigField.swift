import TOMLKit

/// A configuration mistake: which field, what is wrong, and how to fix it.
public struct ConfigError: Error, CustomStringConvertible {
    public let field: String
    public let problem: String
    public let fix: String

    public init(field: String, problem: String, fix: String) {
        self.field = field
        self.problem = problem
        self.fix = fix
    }

    public var description: String { "config field '\(field)': \(problem). Fix: \(fix)" }
}

/// One documented field of a TOML configuration, bound to a property of `Config`.
///
/// A config type lists its fields once; reading a file, applying `--set` overrides, rejecting
/// unknown keys, writing the effective config and printing the documentation all walk that list.
public struct ConfigField<Config> {
    /// Dotted TOML path, e.g. "method.alpha".
    public let key: String
    public let help: String
    let read: (inout Config, TOMLValueConvertible) throws -> Void
    /// The current value as a TOML literal.
    let render: (Config) -> String

    public func literal(in config: Config) -> String { render(config) }
}

extension ConfigField {
    public static func double(_ key: String, _ path: WritableKeyPath<Config, Double>, _ help: String) -> Self {
        ConfigField(key: key, help: help, read: { config, value in
            guard let number = value.double ?? value.int.map(Double.init) else {
                throw ConfigError(field: key, problem: "expected a number, got \(value)", fix: "write e.g. \(key.split(separator: ".").last!) = 0.5")
            }
            config[keyPath: path] = number
        }, render: { "\($0[keyPath: path])" })
    }

    public static func int(_ key: String, _ path: WritableKeyPath<Config, Int>, _ help: String) -> Self {
        ConfigField(key: key, help: help, read: { config, value in
            guard let number = value.int else {
                throw ConfigError(field: key, problem: "expected a whole number, got \(value)", fix: "write e.g. \(key.split(separator: ".").last!) = 64")
            }
            config[keyPath: path] = number
        }, render: { "\($0[keyPath: path])" })
    }

    public static func string(_ key: String, _ path: WritableKeyPath<Config, String>, _ help: String) -> Self {
        ConfigField(key: key, help: help, read: { config, value in
            guard let text = value.string else {
                throw ConfigError(field: key, problem: "expected a string, got \(value)", fix: "quote the value: \(key.split(separator: ".").last!) = \"...\"")
            }
            config[keyPath: path] = text
        }, render: { tomlString($0[keyPath: path]) })
    }

    public static func bool(_ key: String, _ path: WritableKeyPath<Config, Bool>, _ help: String) -> Self {
        ConfigField(key: key, help: help, read: { config, value in
            guard let flag = value.bool else {
                throw ConfigError(field: key, problem: "expected true or false, got \(value)", fix: "write \(key.split(separator: ".").last!) = true")
            }
            config[keyPath: path] = flag
        }, render: { "\($0[keyPath: path])" })
    }

    public static func floats(_ key: String, _ path: WritableKeyPath<Config, [Float]>, _ help: String) -> Self {
        ConfigField(key: key, help: help, read: { config, value in
            guard let array = value.array,
                  case let numbers = array.compactMap({ $0.double ?? $0.int.map(Double.init) }),
                  numbers.count == array.count else {
                throw ConfigError(field: key, problem: "expected an array of numbers, got \(value)", fix: "write e.g. \(key.split(separator: ".").last!) = [1.0, 0.0]")
            }
            config[keyPath: path] = numbers.map(Float.init)
        }, render: { "[" + $0[keyPath: path].map { "\($0)" }.joined(separator: ", ") + "]" })
    }

    public static func ints(_ key: String, _ path: WritableKeyPath<Config, [Int]>, _ help: String) -> Self {
        ConfigField(key: key, help: help, read: { config, value in
            guard let array = value.array, case let numbers = array.compactMap({ $0.int }), numbers.count == array.count else {
                throw ConfigError(field: key, problem: "expected an array of whole numbers, got \(value)", fix: "write e.g. \(key.split(separator: ".").last!) = [1, 28, 28]")
            }
            config[keyPath: path] = numbers
        }, render: { "[" + $0[keyPath: path].map(String.init).joined(separator: ", ") + "]" })
    }

    public static func strings(_ key: String, _ path: WritableKeyPath<Config, [String]>, _ help: String) -> Self {
        ConfigField(key: key, help: help, read: { config, value in
            guard let array = value.array, case let texts = array.compactMap({ $0.string }), texts.count == array.count else {
                throw ConfigError(field: key, problem: "expected an array of strings, got \(value)", fix: "write e.g. \(key.split(separator: ".").last!) = [\"a\", \"b\"]")
            }
            config[keyPath: path] = texts
        }, render: { "[" + $0[keyPath: path].map(tomlString).joined(separator: ", ") + "]" })
    }

    public static func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, _ path: WritableKeyPath<Config, Choice>, _ help: String
    ) -> Self where Choice.RawValue == String {
        let names = Choice.allCases.map(\.rawValue)
        return ConfigField(key: key, help: help + " One of: " + names.joined(separator: ", ") + ".", read: { config, value in
            guard let text = value.string, let choice = Choice(rawValue: text) else {
                throw ConfigError(field: key, problem: "unknown value \(value)", fix: "use one of \(names.map { "\"\($0)\"" }.joined(separator: ", "))")
            }
            config[keyPath: path] = choice
        }, render: { tomlString($0[keyPath: path].rawValue) })
    }
}

func tomlString(_ text: String) -> String {
    var escaped = ""
    for character in text.unicodeScalars {
        switch character {
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        case "\n": escaped += "\\n"
        case "\t": escaped += "\\t"
        default: escaped.unicodeScalars.append(character)
        }
    }
    return "\"\(escaped)\""
}
