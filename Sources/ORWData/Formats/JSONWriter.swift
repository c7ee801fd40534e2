/// JSON text from `JSONValue`s: object keys sorted, so equal values give equal bytes (safetensors
/// headers, diffusers' config.json). `pretty` indents by two spaces as Python's
/// `json.dumps(indent=2, sort_keys=True)` does, the form diffusers writes its configs in.
public enum JSONWriter {
    public static func text(_ value: JSONValue, pretty: Bool = false) -> String {
        var out = ""
        append(value, to: &out, indent: pretty ? 0 : nil)
        return out
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    public static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) +
                    String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A number as Swift's shortest round-trip form ("0.5", "1e-06", "3.0"), which JSON readers
    /// take back exactly. A negative whole number is written without ".0": JSONReader keeps
    /// plain non-negative integers apart (`.integer`) but not negative ones, and "-1" read as a
    /// config's int must not come back as Python's float -1.0. The reader turns "1e999" into
    /// infinity; it is written back the same way.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }                  // never read by JSONReader; Python accepts it
        if value.isInfinite { return value < 0 ? "-1e999" : "1e999" }
        if value < 0, value == value.rounded(), value > -0x1p53 { return String(Int64(value)) }
        return value.description
    }

    /// `indent`: the current depth when pretty-printing, nil for compact output.
    private static func append(_ value: JSONValue, to out: inout String, indent: Int?) {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .integer(let integer): out += String(integer)
        case .number(let number): out += Self.number(number)
        case .string(let text): out += string(text)
        case .array(let items):
            appendContainer(items.map { (nil, $0) }, open: "[", close: "]", to: &out, indent: indent)
        case .object(let members):
            appendContainer(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                            open: "{", close: "}", to: &out, indent: indent)
        }
    }

    private static func appendContainer(_ entries: [(key: String?, value: JSONValue)], open: String, close: String,
                                        to out: inout String, indent: Int?) {
        out += open
        guard !entries.isEmpty else {
            out += close
            return
        }
        let inner = indent.map { $0 + 1 }
        for (index, entry) in entries.enumerated() {
            if index > 0 { out += "," }
            if let inner { out += "\n" + String(repeating: "  ", count: inner) }
            if let key = entry.key { out += string(key) + (indent == nil ? ":" : ": ") }
            append(entry.value, to: &out, indent: inner)
        }
        if let indent { out += "\n" + String(repeating: "  ", count: indent) }
        out += close
    }
}

extension JSONValue {
    /// The value as an Int when it is a non-negative integer literal that fits.
    public var intValue: Int? {
        if case .integer(let value) = self, value <= UInt64(Int.max) { return Int(value) }
        return nil
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    /// Any number (integer literals included) as a Double.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .number(let value): return value
        default: return nil
        }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }
}
