import CZlib

/// Why gzip data could not be decompressed.
public enum GzipError: Error, Equatable, CustomStringConvertible {
    case corrupt(reason: String)
    case truncated
    /// The data inflates to more than the caller's limit (a gzip bomb, or not the file expected).
    case tooLarge(limit: Int)

    public var description: String {
        switch self {
        case .corrupt(let reason): return "corrupt gzip data: \(reason)"
        case .truncated: return "gzip data ends before the end of the compressed stream"
        case .tooLarge(let limit): return "gzip data inflates to more than \(limit) bytes, the most this file may hold"
        }
    }
}

/// Decompresses one gzip member (RFC 1952) with zlib: `inflateInit2` with 16 + MAX_WBITS
/// windows bits makes zlib expect and check the gzip header and CRC trailer. Inflating stops
/// with `.tooLarge` past `maximumBytes`: a few kilobytes of gzip can claim gigabytes.
public func gunzip(_ compressed: [UInt8], maximumBytes: Int) throws(GzipError) -> [UInt8] {
    var stream = z_stream()
    guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw .corrupt(reason: "zlib could not start inflating")
    }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    let result: GzipError? = compressed.withUnsafeBufferPointer { input in
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = uInt(input.count)
        while true {
            let (status, produced) = chunk.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                let status = inflate(&stream, Z_NO_FLUSH)
                return (status, out.count - Int(stream.avail_out))
            }
            guard produced <= maximumBytes - output.count else { return .tooLarge(limit: maximumBytes) }
            output.append(contentsOf: chunk[0..<produced])
            switch status {
            case Z_STREAM_END:
                return nil
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.avail_in == 0:
                return .truncated
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                return .corrupt(reason: message)
            }
        }
    }
    if let result { throw result }
    return output
}
