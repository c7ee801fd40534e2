import ORWData
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
        scalar(key, path, help, expected: "a number", example: "0.5", render: { "\($0)" }) { $0.double ?? $0.int.map(Double.init) }
    }

    public static func int(_ key: String, _ path: WritableKeyPath<Config, Int>, _ help: String) -> Self {
        scalar(key, path, help, expected: "a whole number", example: "64", render: { "\($0)" }) { $0.int }
    }

    public static func string(_ key: String, _ path: WritableKeyPath<Config, String>, _ help: String) -> Self {
        scalar(key, path, help, expected: "a string", example: "\"...\"", render: tomlString) { $0.string }
    }

    public static func bool(_ key: String, _ path: WritableKeyPath<Config, Bool>, _ help: String) -> Self {
        scalar(key, path, help, expected: "true or false", example: "true", render: { "\($0)" }) { $0.bool }
    }

    /// A field holding one TOML value: `extract` reads it, or the error names what was
    /// `expected` and shows `example` as the fix.
    private static func scalar<Value>(
        _ key: String, _ path: WritableKeyPath<Config, Value>, _ help: String, expected: String, example: String,
        render: @escaping (Value) -> String, extract: @escaping (TOMLValueConvertible) -> Value?
    ) -> Self {
        ConfigField(key: key, help: help, read: { config, value in
            guard let parsed = extract(value) else {
                throw ConfigError(field: key, problem: "expected \(expected), got \(value)",
                                  fix: "write e.g. \(key.split(separator: ".").last!) = \(example)")
            }
            config[keyPath: path] = parsed
        }, render: { render($0[keyPath: path]) })
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

/// A TOML basic string. TOML's escapes include JSON's, so the JSON form is one (it escapes the
/// control characters below U+0020, as TOML requires).
func tomlString(_ text: String) -> String { JSONWriter.string(text) }
