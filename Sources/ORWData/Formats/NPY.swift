import Foundation
import ORWCore

/// An n-dimensional Float array as stored in a `.npy` file.
public struct NPYArray: Equatable, Sendable {
    public var shape: [Int]
    /// The elements in C (row-major) order, shape.reduce(1, *) of them.
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative size in shape \(shape)")
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }
}

/// Why bytes are not a `.npy` file this reader accepts.
public enum NPYError: Error, Equatable, CustomStringConvertible {
    case notNPY(reason: String)
    case unsupportedVersion(major: UInt8, minor: UInt8)
    case malformedHeader(reason: String)
    /// The dtype is not float32 ('<f4') or float64 ('<f8', converted), or the array is in
    /// Fortran order.
    case unsupportedLayout(String)
    case sizeMismatch(expectedBytes: Int, actualBytes: Int)

    public var description: String {
        switch self {
        case .notNPY(let reason): return "not a .npy file: \(reason)"
        case let .unsupportedVersion(major, minor): return ".npy format version \(major).\(minor) is not supported (1.0, 2.0, 3.0 are)"
        case .malformedHeader(let reason): return "malformed .npy header: \(reason)"
        case .unsupportedLayout(let what):
            return "unsupported .npy array: \(what); save little-endian float32 in C order, " +
                "e.g. np.save(path, np.ascontiguousarray(a, dtype='<f4'))"
        case let .sizeMismatch(expected, actual):
            return ".npy data has \(actual) bytes, the header's shape and dtype need \(expected)"
        }
    }
}

/// NumPy's `.npy` format (numpy.lib.format, versions 1.0–3.0): the magic "\x93NUMPY", a version,
/// a little-endian header length (UInt16 in 1.0, UInt32 later), an ASCII Python dict literal
/// {'descr': …, 'fortran_order': …, 'shape': (…), } padded with spaces and a newline to a
/// multiple of 64 bytes, then the raw data.
///
/// Writing produces float32 little-endian C order, version 1.0 unless the header needs 2.0.
/// Reading accepts '<f4' and '<f8' (converted to Float) in C order and rejects anything else.
public enum NPY {
    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    public static func encode(_ array: NPYArray) -> [UInt8] {
        let shape = array.shape.count == 1 ? "(\(array.shape[0]),)"
                                           : "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        let header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }".utf8)
        // Pad with spaces and a newline so that the data starts at a multiple of 64 bytes.
        func padded(prefix: Int) -> [UInt8] {
            let padding = (64 - (prefix + header.count + 1) % 64) % 64
            return header + [UInt8](repeating: UInt8(ascii: " "), count: padding) + [UInt8(ascii: "\n")]
        }
        let short = padded(prefix: magic.count + 2 + 2)
        let version1 = short.count <= Int(UInt16.max)
        let text = version1 ? short : padded(prefix: magic.count + 2 + 4)
        let length = UInt32(text.count)
        var bytes = magic + [version1 ? 1 : 2, 0]
        bytes += LittleEndian.bytes(of: UInt64(length), size: version1 ? 2 : 4)
        bytes += text
        LittleEndian.append(array.values, to: &bytes)
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(NPYError) -> NPYArray {
        guard bytes.count >= magic.count + 2, Array(bytes[0..<magic.count]) == magic else {
            throw .notNPY(reason: "the magic string \\x93NUMPY is missing")
        }
        let major = bytes[6], minor = bytes[7]
        guard (1...3).contains(major), minor == 0 else { throw .unsupportedVersion(major: major, minor: minor) }
        let lengthSize = major == 1 ? 2 : 4
        let headerStart = 8 + lengthSize
        guard bytes.count >= headerStart else { throw .notNPY(reason: "the file ends inside the header length") }
        let headerLength = Int(LittleEndian.integer(bytes, at: 8, size: lengthSize))
        guard headerLength <= bytes.count - headerStart else {
            throw .malformedHeader(reason: "header length \(headerLength) runs past the end of the file")
        }
        guard let header = String(validating: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self) else {
            throw .malformedHeader(reason: "the header is not text")
        }
        let descr = try value(of: "descr", in: header)
        let fortranOrder = try value(of: "fortran_order", in: header)
        let shapeText = try value(of: "shape", in: header)

        let elementSize: Int
        switch descr {
        case "'<f4'": elementSize = 4
        case "'<f8'": elementSize = 8
        default: throw .unsupportedLayout("dtype \(descr)")
        }
        switch fortranOrder {
        case "False": break
        case "True": throw .unsupportedLayout("Fortran order")
        default: throw .malformedHeader(reason: "fortran_order is \(fortranOrder)")
        }
        let shape = try parseShape(shapeText)

        // Overflow-safe even with a zero size among huge ones (SizeLimits.elementCount).
        guard let count = SizeLimits.elementCount(shape, limit: SizeLimits.fileElements) else {
            throw .malformedHeader(reason: "shape \(shapeText) is too large: its non-zero sizes multiply to more than 2^40 elements")
        }
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        let needed = count * elementSize    // ≤ 2^43: no overflow
        guard needed == available else {
            throw .sizeMismatch(expectedBytes: needed, actualBytes: available)
        }
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let word = LittleEndian.integer(bytes, at: dataStart + i * elementSize, size: elementSize)
            values[i] = elementSize == 4 ? Float(bitPattern: UInt32(truncatingIfNeeded: word))
                                         : Float(Double(bitPattern: word))
        }
        return NPYArray(shape: shape, values: values)
    }

    public static func read(path: String) throws -> NPYArray {
        try decode(Files.read(path))
    }

    public static func write(_ array: NPYArray, path: String) throws {
        try Files.write(encode(array), to: path)
    }

    /// The text of the value after `'key':` in the header dict, up to the next top-level comma
    /// or closing brace (a shape tuple counts as one value).
    private static func value(of key: String, in header: String) throws(NPYError) -> String {
        guard let keyRange = header.range(of: "'\(key)':") else {
            throw .malformedHeader(reason: "no '\(key)' entry")
        }
        var depth = 0
        var text = ""
        for character in header[keyRange.upperBound...] {
            if depth == 0 && (character == "," || character == "}") { break }
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            text.append(character)
        }
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// "(3, 4)", "(5,)" or "()" → the sizes.
    private static func parseShape(_ text: String) throws(NPYError) -> [Int] {
        guard text.hasPrefix("("), text.hasSuffix(")") else { throw .malformedHeader(reason: "shape \(text) is not a tuple") }
        let inside = text.dropFirst().dropLast()
        var shape: [Int] = []
        for part in inside.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let size = Int(trimmed), size >= 0 else { throw .malformedHeader(reason: "shape \(text) has a bad size") }
            shape.append(size)
        }
        return shape
    }
}
