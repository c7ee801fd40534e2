import CTurboJPEG
import Foundation

/// The compressibility reward of DDPO and the paper: r(x) = −(JPEG size in kB) of the sample
/// as a greyscale image, or +size for `incompressibility`. 1 kB = 1000 bytes.
///
/// A sample of D = H·W floats in [−1, 1] (row-major, one channel, as Fashion-MNIST's
/// [1, 28, 28]) becomes bytes p = clamp(round((x + 1) · 127.5), 0, 255), rounding half away from
/// zero: pixel quantisation, the only clamping. A sample with a NaN or ±Inf pixel scores NaN, so
/// the trainer's invalid-reward policy sees it. Compression is libjpeg-turbo's `tjCompress2`,
/// baseline, greyscale, accurate (islow) DCT, standard Huffman tables: byte for byte what
/// `cjpeg -quality Q -grayscale` writes for the same pixels.
public final class JPEGReward: Reward {
    public let width: Int
    public let height: Int
    public let quality: Int
    /// false: −size (compressibility), true: +size (incompressibility).
    public let incompressibility: Bool
    public var name: String { incompressibility ? "jpeg-incompressibility" : "jpeg" }

    private let handle: UnsafeMutableRawPointer
    private var pixels: [UInt8]                          // [H, W]
    private let output: UnsafeMutablePointer<UInt8>      // worst-case JPEG size for H × W
    private let outputCapacity: Int

    public init(width: Int, height: Int, quality: Int, incompressibility: Bool = false) throws {
        guard width > 0, height > 0, (1...100).contains(quality) else {
            throw RewardError(reward: incompressibility ? "jpeg-incompressibility" : "jpeg",
                              message: "needs a positive image size and quality in 1…100, got \(width)×\(height) at quality \(quality)")
        }
        guard let handle = tjInitCompress() else {
            throw RewardError(reward: "jpeg", message: "libjpeg-turbo could not start a compressor")
        }
        self.width = width
        self.height = height
        self.quality = quality
        self.incompressibility = incompressibility
        self.handle = handle
        pixels = [UInt8](repeating: 0, count: width * height)
        outputCapacity = Int(tjBufSize(Int32(width), Int32(height), Int32(TJSAMP_GRAY.rawValue)))
        output = .allocate(capacity: outputCapacity)
    }

    deinit {
        tjDestroy(handle)
        output.deallocate()
    }

    /// The byte a pixel value x ∈ [−1, 1] becomes: round((x + 1) · 127.5), clamped to 0…255.
    @inline(__always)
    public static func byte(_ x: Float) -> UInt8 {
        UInt8(min(255, max(0, ((x + 1) * 127.5).rounded(.toNearestOrAwayFromZero))))
    }

    /// The JPEG encoding's length in bytes of a greyscale image [H, W].
    public func compressedSize(_ image: [UInt8]) throws -> Int {
        precondition(image.count == width * height, "image has \(image.count) pixels, expected \(width * height)")
        var destination: UnsafeMutablePointer<UInt8>? = output
        var size = UInt(outputCapacity)
        let status = image.withUnsafeBufferPointer { source in
            tjCompress2(handle, source.baseAddress!, Int32(width), 0, Int32(height), Int32(TJPF_GRAY.rawValue),
                        &destination, &size, Int32(TJSAMP_GRAY.rawValue), Int32(quality),
                        TJFLAG_NOREALLOC | TJFLAG_ACCURATEDCT)
        }
        guard status == 0 else {
            throw RewardError(reward: name, message: "libjpeg-turbo failed: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Int(size)
    }

    public func score(_ x: UnsafePointer<Float>, batch: Int, dimension: Int, into rewards: UnsafeMutablePointer<Float>) throws {
        guard dimension == width * height else {
            throw RewardError(reward: name, message: "images are \(height)×\(width) = \(width * height) pixels but samples have \(dimension) floats")
        }
        for i in 0..<batch {
            let sample = x + i * dimension
            var finite = true
            for k in 0..<dimension {
                finite = finite && sample[k].isFinite
                pixels[k] = finite ? Self.byte(sample[k]) : 0
            }
            guard finite else {
                rewards[i] = .nan
                continue
            }
            let kilobytes = Float(try compressedSize(pixels)) / 1000
            rewards[i] = incompressibility ? kilobytes : -kilobytes
        }
    }
}
