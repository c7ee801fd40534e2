/// An unsigned-byte array in LeCun's IDX format (the MNIST family's files): big-endian magic
/// 0x00 0x00 type ndim, then ndim big-endian UInt32 sizes, then the bytes in C order.
struct IDXArray {
    let shape: [Int]
    let bytes: [UInt8]      // [shape...]

    /// Parses an IDX file of type 0x08 (unsigned byte); `path` only names the file in errors.
    init(decoding data: [UInt8], path: String) throws(DatasetError) {
        func fail(_ reason: String) -> DatasetError { .malformedFile(path: path, reason: reason) }
        guard data.count >= 4, data[0] == 0, data[1] == 0 else { throw fail("not an IDX file (bad magic number)") }
        guard data[2] == 0x08 else { throw fail("IDX element type 0x\(String(data[2], radix: 16)) is not unsigned byte") }
        let rank = Int(data[3])
        let headerSize = 4 + 4 * rank
        guard data.count >= headerSize else { throw fail("IDX header is truncated") }
        var shape: [Int] = []
        var count = 1
        for axis in 0..<rank {
            let at = 4 + 4 * axis
            let size = Int(data[at]) << 24 | Int(data[at + 1]) << 16 | Int(data[at + 2]) << 8 | Int(data[at + 3])
            shape.append(size)
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, product <= data.count else { throw fail("IDX shape \(shape) needs more bytes than the file has") }
            count = product
        }
        guard data.count - headerSize == count else {
            throw fail("IDX shape \(shape) needs \(count) bytes of data, the file has \(data.count - headerSize)")
        }
        self.shape = shape
        self.bytes = Array(data[headerSize...])
    }
}
