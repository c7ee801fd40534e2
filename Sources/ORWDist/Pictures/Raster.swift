/// An 8-bit RGB picture and the few drawing operations sample pictures need: fill, rectangles,
/// discs, blending. Pixel (x, y) is column x, row y, row 0 at the top.
public struct Raster {
    public struct Color: Equatable, Sendable {
        public var red: UInt8, green: UInt8, blue: UInt8
        public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
            self.red = red
            self.green = green
            self.blue = blue
        }
        public init(gray: UInt8) { self.init(gray, gray, gray) }

        public static let white = Color(255, 255, 255)
        public static let black = Color(0, 0, 0)
    }

    public let width: Int
    public let height: Int
    public private(set) var rgb: [UInt8]     // [height, width, 3]

    public init(width: Int, height: Int, background: Color = .white) {
        self.width = width
        self.height = height
        rgb = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, width: width, height: height, background)
    }

    public subscript(x: Int, y: Int) -> Color {
        get {
            let k = (y * width + x) * 3
            return Color(rgb[k], rgb[k + 1], rgb[k + 2])
        }
        set {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let k = (y * width + x) * 3
            rgb[k] = newValue.red
            rgb[k + 1] = newValue.green
            rgb[k + 2] = newValue.blue
        }
    }

    /// Paints `color` over pixel (x, y) with opacity `alpha` in [0, 1]; outside pixels are ignored.
    public mutating func blend(x: Int, y: Int, _ color: Color, alpha: Double) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let old = self[x, y]
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) * (1 - alpha) + Double(b) * alpha).rounded()) }
        self[x, y] = Color(mix(old.red, color.red), mix(old.green, color.green), mix(old.blue, color.blue))
    }

    public mutating func fill(x: Int, y: Int, width: Int, height: Int, _ color: Color) {
        for row in max(0, y)..<min(self.height, y + height) {
            for column in max(0, x)..<min(self.width, x + width) { self[column, row] = color }
        }
    }

    /// A filled disc of `radius` pixels centred at (x, y), with a soft one-pixel edge.
    public mutating func disc(x: Double, y: Double, radius: Double, _ color: Color, alpha: Double = 1) {
        let r = Int(radius.rounded(.up)) + 1
        let cx = Int(x.rounded()), cy = Int(y.rounded())
        for row in (cy - r)...(cy + r) {
            for column in (cx - r)...(cx + r) {
                let distance = ((Double(column) - x) * (Double(column) - x) + (Double(row) - y) * (Double(row) - y)).squareRoot()
                let coverage = min(1, max(0, radius + 0.5 - distance))
                if coverage > 0 { blend(x: column, y: row, color, alpha: alpha * coverage) }
            }
        }
    }

    public func png() throws -> [UInt8] {
        try PNG.encode(width: width, height: height, rgb: rgb)
    }
}

/// A perceptually ordered colour map (viridis, sampled at five stops and interpolated):
/// 0 is dark purple, 1 is yellow.
public enum ColorMap {
    static let stops: [(Double, Double, Double)] = [
        (68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37),
    ]

    public static func viridis(_ value: Double) -> Raster.Color {
        let v = min(1, max(0, value.isFinite ? value : 0)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(v)), f = v - Double(i)
        let a = stops[i], b = stops[i + 1]
        func channel(_ x: Double, _ y: Double) -> UInt8 { UInt8((x + (y - x) * f).rounded()) }
        return Raster.Color(channel(a.0, b.0), channel(a.1, b.1), channel(a.2, b.2))
    }
}
