import ORWCore

/// One named tensor of a safetensors file, as Floats in C order.
public struct SafetensorsTensor: Equatable, Sendable {
    public var name: String
    public var shape: [Int]       // PyTorch convention, e.g. Linear.weight is [out, in]
    public var values: [Float]    // shape.reduce(1, *) values, row-major

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// The contents of a safetensors file: tensors in data order and the `__metadata__` strings.
public struct SafetensorsFile: Equatable, Sendable {
    public var tensors: [SafetensorsTensor]
    public var metadata: [String: String]

    public init(tensors: [SafetensorsTensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public subscript(name: String) -> SafetensorsTensor? { tensors.first { $0.name == name } }
}

/// Why bytes are not a valid safetensors file (reading), or tensors cannot be written.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    /// Fewer than the 8 bytes of the header length.
    case fileTooSmall(size: Int)
    /// The header length exceeds `Safetensors.maximumHeaderSize`.
    case headerTooLarge(length: UInt64, limit: Int)
    /// The header length runs past the end of the file.
    case headerExceedsFile(length: UInt64, available: Int)
    case headerNotUTF8
    /// The header is not a JSON object.
    case invalidJSON(reason: String)
    /// `__metadata__` is not an object of strings.
    case invalidMetadata(reason: String)
    /// A tensor entry lacks dtype, shape or data_offsets, or one of them has the wrong type.
    case invalidEntry(tensor: String, reason: String)
    case unsupportedDtype(tensor: String, dtype: String)
    /// The shape's non-zero sizes multiply to more than `SizeLimits.fileElements` (2^40).
    case shapeTooLarge(tensor: String, shape: [Int])
    /// data_offsets [begin, end) with begin > end.
    case invalidOffsets(tensor: String, begin: Int, end: Int)
    /// data_offsets reach past the data section.
    case offsetsOutOfBounds(tensor: String, begin: Int, end: Int, dataSize: Int)
    /// end − begin differs from the bytes shape and dtype need.
    case sizeMismatch(tensor: String, expected: Int, actual: Int)
    case overlappingTensors(first: String, second: String)
    /// Bytes of the data section no tensor covers (the format requires the buffer fully indexed).
    case unindexedBytes(begin: Int, end: Int)
    /// Writing: a tensor that cannot be stored as given.
    case invalidTensor(name: String, reason: String)

    public var description: String {
        let prefix = "invalid safetensors: "
        switch self {
        case .fileTooSmall(let size):
            return prefix + "\(size) bytes, shorter than the 8-byte header length"
        case let .headerTooLarge(length, limit):
            return prefix + "header length \(length) exceeds the limit of \(limit) bytes"
        case let .headerExceedsFile(length, available):
            return prefix + "header length \(length) runs past the end of the file (\(available) bytes after the length)"
        case .headerNotUTF8:
            return prefix + "the header is not valid UTF-8"
        case .invalidJSON(let reason):
            return prefix + "the header is not a JSON object: \(reason)"
        case .invalidMetadata(let reason):
            return prefix + "__metadata__ \(reason)"
        case let .invalidEntry(tensor, reason):
            return prefix + "tensor '\(tensor)': \(reason)"
        case let .unsupportedDtype(tensor, dtype):
            return prefix + "tensor '\(tensor)' has dtype \(dtype); supported: \(Safetensors.DType.allCases.map(\.rawValue).joined(separator: ", "))"
        case let .shapeTooLarge(tensor, shape):
            return prefix + "tensor '\(tensor)' has shape \(shape), too large to address (its non-zero sizes multiply to more than 2^40)"
        case let .invalidOffsets(tensor, begin, end):
            return prefix + "tensor '\(tensor)' has data_offsets [\(begin), \(end)] with begin after end"
        case let .offsetsOutOfBounds(tensor, begin, end, dataSize):
            return prefix + "tensor '\(tensor)' has data_offsets [\(begin), \(end)] outside the \(dataSize)-byte data section"
        case let .sizeMismatch(tensor, expected, actual):
            return prefix + "tensor '\(tensor)' spans \(actual) bytes, its shape and dtype need \(expected)"
        case let .overlappingTensors(first, second):
            return prefix + "tensors '\(first)' and '\(second)' overlap"
        case let .unindexedBytes(begin, end):
            return prefix + "data bytes [\(begin), \(end)) belong to no tensor"
        case let .invalidTensor(name, reason):
            return "cannot write tensor '\(name)': \(reason)"
        }
    }
}

/// The safetensors format (Hugging Face): an 8-byte little-endian UInt64 N, N bytes of UTF-8
/// JSON header, then the data section. The header maps each tensor name to
/// {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets into the data section,
/// little-endian C-order elements) and may hold "__metadata__", an object of strings. The
/// tensors must cover the data section exactly, without overlaps or gaps.
///
/// Writing stores F32 tensors contiguously in the order given, the header padded with spaces to
/// a multiple of 8 bytes, keys in a fixed order so equal inputs give equal bytes. Reading
/// accepts F32, F16, BF16 and F64 (converted to Float), checks every field against the file
/// before allocating, and reports the first problem as a `SafetensorsError`; it never traps
/// on any input.
public enum Safetensors {
    /// The largest header accepted, as in the reference implementation.
    public static let maximumHeaderSize = 100_000_000

    /// The element types a reader accepts.
    public enum DType: String, CaseIterable, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"

        var size: Int {
            switch self {
            case .f16, .bf16: return 2
            case .f32: return 4
            case .f64: return 8
            }
        }

        /// Element `index` of `bytes` starting at `start`, little-endian.
        func value(_ bytes: [UInt8], start: Int, index: Int) -> Float {
            let word = LittleEndian.integer(bytes, at: start + index * size, size: size)
            switch self {
            case .f32: return Float(bitPattern: UInt32(truncatingIfNeeded: word))
            case .f16: return Float(Float16(bitPattern: UInt16(truncatingIfNeeded: word)))
            case .bf16: return Float(bitPattern: UInt32(truncatingIfNeeded: word) << 16)
            case .f64: return Float(Double(bitPattern: word))
            }
        }
    }

    // MARK: Writing

    public static func encode(_ file: SafetensorsFile) throws(SafetensorsError) -> [UInt8] {
        var names = Set<String>()
        var header = "{"
        if !file.metadata.isEmpty {
            let entries = file.metadata.sorted { $0.key < $1.key }
                .map { "\(JSONWriter.string($0.key)):\(JSONWriter.string($0.value))" }
            header += "\"__metadata__\":{\(entries.joined(separator: ","))}"
        }
        var offset = 0
        for tensor in file.tensors {
            guard tensor.name != "__metadata__" else {
                throw .invalidTensor(name: tensor.name, reason: "the name is reserved for metadata")
            }
            guard names.insert(tensor.name).inserted else {
                throw .invalidTensor(name: tensor.name, reason: "the name appears twice")
            }
            guard tensor.shape.allSatisfy({ $0 >= 0 }), tensor.shape.reduce(1, *) == tensor.values.count else {
                throw .invalidTensor(name: tensor.name, reason: "shape \(tensor.shape) does not hold \(tensor.values.count) values")
            }
            let end = offset + 4 * tensor.values.count
            if header.count > 1 { header += "," }
            header += "\(JSONWriter.string(tensor.name)):{\"dtype\":\"F32\",\"shape\":[" +
                tensor.shape.map(String.init).joined(separator: ",") +
                "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8)

        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + headerBytes.count + offset)
        let length = UInt64(headerBytes.count)
        bytes += LittleEndian.bytes(of: length, size: 8)
        bytes += headerBytes
        for tensor in file.tensors {
            LittleEndian.append(tensor.values, to: &bytes)
        }
        return bytes
    }

    public static func write(_ file: SafetensorsFile, path: String) throws {
        try Files.write(encode(file), to: path)
    }

    // MARK: Reading

    public static func read(path: String) throws -> SafetensorsFile {
        try decode(Files.read(path))
    }

    public static func decode(_ bytes: [UInt8]) throws(SafetensorsError) -> SafetensorsFile {
        guard bytes.count >= 8 else { throw .fileTooSmall(size: bytes.count) }
        let length = LittleEndian.integer(bytes, at: 0, size: 8)
        guard length <= UInt64(maximumHeaderSize) else { throw .headerTooLarge(length: length, limit: maximumHeaderSize) }
        guard length <= UInt64(bytes.count - 8) else { throw .headerExceedsFile(length: length, available: bytes.count - 8) }
        let dataStart = 8 + Int(length)
        let dataSize = bytes.count - dataStart
        let headerBytes = bytes[8..<dataStart]
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw .headerNotUTF8 }
        guard headerBytes.first == UInt8(ascii: "{") else { throw .invalidJSON(reason: "the header does not start with '{'") }
        let json: JSONValue
        do {
            json = try JSONReader.parse(Array(headerBytes))
        } catch {
            throw .invalidJSON(reason: error.description)
        }
        guard case .object(let header) = json else { throw .invalidJSON(reason: "the top level is not an object") }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for name in header.keys.sorted() {
            let value = header[name] ?? .null
            if name == "__metadata__" {
                metadata = try parseMetadata(value)
            } else {
                entries.append(try Entry(name: name, json: value, dataSize: dataSize))
            }
        }

        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        var previous: String?
        for entry in entries {
            if entry.begin < cursor, let previous { throw .overlappingTensors(first: previous, second: entry.name) }
            if entry.begin > cursor { throw .unindexedBytes(begin: cursor, end: entry.begin) }
            cursor = entry.end
            previous = entry.name
        }
        if cursor < dataSize { throw .unindexedBytes(begin: cursor, end: dataSize) }

        let tensors = entries.map { entry in
            let count = (entry.end - entry.begin) / entry.dtype.size
            let start = dataStart + entry.begin
            return SafetensorsTensor(name: entry.name, shape: entry.shape,
                                     values: (0..<count).map { entry.dtype.value(bytes, start: start, index: $0) })
        }
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    private static func parseMetadata(_ value: JSONValue) throws(SafetensorsError) -> [String: String] {
        guard case .object(let object) = value else { throw .invalidMetadata(reason: "is not an object") }
        var metadata: [String: String] = [:]
        for (key, item) in object {
            guard case .string(let text) = item else { throw .invalidMetadata(reason: "value of '\(key)' is not a string") }
            metadata[key] = text
        }
        return metadata
    }

    /// One tensor's header entry, checked against the data section.
    private struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let begin: Int
        let end: Int

        init(name: String, json: JSONValue, dataSize: Int) throws(SafetensorsError) {
            guard case .object(let fields) = json else { throw .invalidEntry(tensor: name, reason: "the entry is not an object") }
            guard case .string(let dtypeName)? = fields["dtype"] else {
                throw .invalidEntry(tensor: name, reason: "dtype is missing or not a string")
            }
            guard let dtype = DType(rawValue: dtypeName) else { throw .unsupportedDtype(tensor: name, dtype: dtypeName) }
            guard let shape = Self.integers(fields["shape"]) else {
                throw .invalidEntry(tensor: name, reason: "shape is missing or not a list of non-negative integers")
            }
            guard let offsets = Self.integers(fields["data_offsets"]), offsets.count == 2 else {
                throw .invalidEntry(tensor: name, reason: "data_offsets is missing or not two non-negative integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else { throw .invalidOffsets(tensor: name, begin: begin, end: end) }
            guard end <= dataSize else { throw .offsetsOutOfBounds(tensor: name, begin: begin, end: end, dataSize: dataSize) }
            // Overflow-safe even with a zero size among huge ones (SizeLimits.elementCount).
            guard let count = SizeLimits.elementCount(shape, limit: SizeLimits.fileElements) else {
                throw .shapeTooLarge(tensor: name, shape: shape)
            }
            let size = count * dtype.size    // ≤ 2^43: no overflow
            guard size == end - begin else { throw .sizeMismatch(tensor: name, expected: size, actual: end - begin) }
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.begin = begin
            self.end = end
        }

        /// A JSON array of integers in 0...Int.max, or nil.
        private static func integers(_ value: JSONValue?) -> [Int]? {
            guard case .array(let items)? = value else { return nil }
            var result: [Int] = []
            for item in items {
                guard case .integer(let integer) = item, integer <= UInt64(Int.max) else { return nil }
                result.append(Int(integer))
            }
            return result
        }
    }
}
