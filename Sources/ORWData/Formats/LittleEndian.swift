/// Little-endian integers and Float32 arrays in byte buffers, for the file formats.
enum LittleEndian {
    /// The `size`-byte (≤ 8) unsigned integer at `offset`; the caller checks the bounds.
    static func integer(_ bytes: [UInt8], at offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for k in 0..<size { value |= UInt64(bytes[offset + k]) << (8 * k) }
        return value
    }

    /// The `size` low bytes of `value`, least significant first.
    static func bytes(of value: UInt64, size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    /// Appends `values` as IEEE 754 binary32, little-endian.
    static func append(_ values: [Float], to bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + 4 * values.count)
        for value in values {
            let word = value.bitPattern
            bytes += [UInt8(truncatingIfNeeded: word), UInt8(truncatingIfNeeded: word >> 8),
                      UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 24)]
        }
    }
}
