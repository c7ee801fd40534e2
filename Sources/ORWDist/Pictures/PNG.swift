import CPNG
import Foundation

/// PNG files through libpng's simplified API (png_image_*): 8-bit RGB in, bytes out, and back.
/// The only file that imports CPNG.
public enum PNG {
    public struct CodecError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { "PNG: \(message)" }
    }

    /// Encodes `rgb` [height, width, 3] (row-major, 8-bit) as a PNG file.
    public static func encode(width: Int, height: Int, rgb: [UInt8]) throws -> [UInt8] {
        precondition(rgb.count == width * height * 3, "rgb must hold width × height × 3 bytes")
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_RGB)
        let stride = Int32(width * 3)
        var size = 0
        // First call: the size the file needs; second call: the file.
        guard rgb.withUnsafeBytes({ png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }) != 0 else {
            throw CodecError(message: message(of: &image))
        }
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBytes { output in
            rgb.withUnsafeBytes { png_image_write_to_memory(&image, output.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard written != 0 else { throw CodecError(message: message(of: &image)) }
        return Array(bytes.prefix(size))
    }

    /// Decodes any PNG file to 8-bit RGB [height, width, 3] (alpha composited away by libpng).
    public static func decode(_ bytes: [UInt8]) throws -> (width: Int, height: Int, rgb: [UInt8]) {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard bytes.withUnsafeBytes({ png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }) != 0 else {
            throw CodecError(message: message(of: &image))
        }
        image.format = UInt32(PNG_FORMAT_RGB)
        let width = Int(image.width), height = Int(image.height)
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        let white = png_color(red: 255, green: 255, blue: 255)
        let finished = withUnsafePointer(to: white) { background in
            rgb.withUnsafeMutableBytes { png_image_finish_read(&image, background, $0.baseAddress, Int32(width * 3), nil) }
        }
        guard finished != 0 else { throw CodecError(message: message(of: &image)) }
        return (width, height, rgb)
    }

    private static func message(of image: inout png_image) -> String {
        let text = withUnsafeBytes(of: &image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        png_image_free(&image)
        return text.isEmpty ? "libpng failed" : text
    }
}
