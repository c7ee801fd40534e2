import ORWRewards

/// Pictures of samples x [N, D], one per call of `draw`:
///
/// - plane (D = 2, or the first two coordinates): a scatter plot of the samples (red) over the
///   first samples drawn (grey, the base distribution during fine-tuning) and, given a reward,
///   over a heat map of the reward landscape (viridis: dark low, yellow high);
/// - line (D = 1): histograms of the samples (red) and of the first samples (grey) above a strip
///   shading the reward along the line;
/// - image: a grid of the first 64 samples, pixel values in [−1, 1] mapped to black … white.
///
/// The window of the plane or line is fixed by the first call, so pictures of successive
/// epochs share their axes and can be compared by eye.
public struct SamplePicture {
    public let shape: SampleShape
    public let dimension: Int
    let reward: (any Reward)?

    static let size = 480                    // plane: size × size; line: size × size/2
    static let cell = 4                      // heat map: one reward evaluation per cell × cell pixels
    static let sampleColor = Raster.Color(215, 38, 30)
    static let baseColor = Raster.Color(70, 70, 70)

    var window: (x: ClosedRange<Double>, y: ClosedRange<Double>)?
    var first: [Float]?                      // the first samples drawn [N, D]
    var landscape: [Double]?                 // reward in [0, 1], one per heat-map cell (or column)

    public init(shape: SampleShape, dimension: Int, reward: (any Reward)? = nil) {
        self.shape = shape
        self.dimension = dimension
        self.reward = reward
    }

    /// The picture of `samples` [N, D]. Throws only if the reward fails on the landscape grid.
    public mutating func draw(_ samples: [Float]) throws -> Raster {
        switch shape {
        case .image(let channels, let height, let width):
            return grid(samples, channels: channels, height: height, width: width)
        case .plane:
            return try scatter(samples)
        case .line:
            return try histogram(samples)
        }
    }

    // MARK: Plane

    mutating func scatter(_ samples: [Float]) throws -> Raster {
        let count = samples.count / dimension
        if window == nil {
            first = samples
            let xs = (0..<count).map { Double(samples[$0 * dimension]) }
            let ys = (0..<count).map { Double(samples[$0 * dimension + 1]) }
            let x = Self.range(xs), y = Self.range(ys)
            // One scale on both axes: widen the narrower range to the wider one's span.
            let half = max(x.upperBound - x.lowerBound, y.upperBound - y.lowerBound) / 2
            let cx = (x.lowerBound + x.upperBound) / 2, cy = (y.lowerBound + y.upperBound) / 2
            window = ((cx - half)...(cx + half), (cy - half)...(cy + half))
            if dimension == 2, let reward { landscape = try Self.normalised(planeRewards(reward)) }
        }
        let size = Self.size, cells = size / Self.cell
        var picture = Raster(width: size, height: size)
        if let landscape {
            for row in 0..<cells {
                for column in 0..<cells {
                    var color = ColorMap.viridis(landscape[row * cells + column])
                    color = Self.mix(color, .white, 0.3)
                    picture.fill(x: column * Self.cell, y: row * Self.cell, width: Self.cell, height: Self.cell, color)
                }
            }
        }
        if let first, samples != first {
            plot(first, on: &picture, color: Self.baseColor, radius: 1.5, alpha: 0.3)
        }
        plot(samples, on: &picture, color: Self.sampleColor, radius: 2.2, alpha: 0.8)
        return picture
    }

    /// Plane coordinates → pixel coordinates (y up).
    func pixel(_ x: Double, _ y: Double) -> (Double, Double) {
        let window = window!, size = Double(Self.size)
        let u = (x - window.x.lowerBound) / (window.x.upperBound - window.x.lowerBound)
        let v = (y - window.y.lowerBound) / (window.y.upperBound - window.y.lowerBound)
        return (u * size, (1 - v) * size)
    }

    func plot(_ samples: [Float], on picture: inout Raster, color: Raster.Color, radius: Double, alpha: Double) {
        for i in 0..<(samples.count / dimension) {
            let (x, y) = pixel(Double(samples[i * dimension]), Double(samples[i * dimension + 1]))
            guard x.isFinite, y.isFinite else { continue }
            picture.disc(x: x, y: y, radius: radius, color, alpha: alpha)
        }
    }

    /// r at the centre of every heat-map cell, row by row from the top.
    func planeRewards(_ reward: any Reward) throws -> [Float] {
        let window = window!, cells = Self.size / Self.cell
        var points = [Float](repeating: 0, count: cells * cells * 2)      // [cells², 2]
        for row in 0..<cells {
            for column in 0..<cells {
                let u = (Double(column) + 0.5) / Double(cells), v = 1 - (Double(row) + 0.5) / Double(cells)
                points[(row * cells + column) * 2] = Float(window.x.lowerBound + u * (window.x.upperBound - window.x.lowerBound))
                points[(row * cells + column) * 2 + 1] = Float(window.y.lowerBound + v * (window.y.upperBound - window.y.lowerBound))
            }
        }
        var rewards = [Float](repeating: 0, count: cells * cells)
        try reward.score(points, batch: cells * cells, dimension: 2, into: &rewards)
        return rewards
    }

    // MARK: Line

    mutating func histogram(_ samples: [Float]) throws -> Raster {
        let width = Self.size, height = Self.size / 2, strip = 24, bins = 80
        if window == nil {
            first = samples
            window = (Self.range(samples.map(Double.init)), 0...1)
            if let reward {
                let x = window!.x
                let points = (0..<width).map { Float(x.lowerBound + (Double($0) + 0.5) / Double(width) * (x.upperBound - x.lowerBound)) }
                var rewards = [Float](repeating: 0, count: width)
                try reward.score(points, batch: width, dimension: 1, into: &rewards)
                landscape = Self.normalised(rewards)
            }
        }
        let x = window!.x
        func counts(_ values: [Float]) -> [Int] {
            var counts = [Int](repeating: 0, count: bins)
            for value in values {
                let u = (Double(value) - x.lowerBound) / (x.upperBound - x.lowerBound)
                if u >= 0, u < 1 { counts[Int(u * Double(bins))] += 1 }
            }
            return counts
        }
        var picture = Raster(width: width, height: height)
        if let landscape {
            for column in 0..<width {
                picture.fill(x: column, y: height - strip, width: 1, height: strip, ColorMap.viridis(landscape[column]))
            }
        }
        var layers = [(samples, Self.sampleColor, 0.7)]
        if let first, first != samples { layers.insert((first, Self.baseColor, 0.35), at: 0) }
        let tallest = Double(max(1, layers.flatMap { counts($0.0) }.max() ?? 1))
        let barWidth = width / bins, plotHeight = Double(height - strip - 8)
        for (values, color, alpha) in layers {
            for (bin, count) in counts(values).enumerated() where count > 0 {
                let barHeight = Int((Double(count) / tallest * plotHeight).rounded(.up))
                for row in (height - strip - barHeight)..<(height - strip) {
                    for column in (bin * barWidth)..<((bin + 1) * barWidth - 1) { picture.blend(x: column, y: row, color, alpha: alpha) }
                }
            }
        }
        return picture
    }

    // MARK: Images

    /// The first 64 samples in a square-ish grid, each pixel scaled up to about 56 screen pixels a tile.
    func grid(_ samples: [Float], channels: Int, height: Int, width: Int) -> Raster {
        let count = min(64, samples.count / dimension)
        let columns = Int(Double(count).squareRoot().rounded(.up)), rows = (count + columns - 1) / columns
        let scale = max(1, 56 / max(height, width)), gap = 2
        let tileWidth = width * scale, tileHeight = height * scale
        var picture = Raster(width: columns * (tileWidth + gap) + gap, height: rows * (tileHeight + gap) + gap,
                             background: Raster.Color(gray: 128))
        func byte(_ value: Float) -> UInt8 { UInt8((min(1, max(-1, value.isFinite ? value : 0)) + 1) * 127.5) }
        for n in 0..<count {
            let left = gap + (n % columns) * (tileWidth + gap), top = gap + (n / columns) * (tileHeight + gap)
            let base = n * dimension, plane = height * width
            for y in 0..<height {
                for x in 0..<width {
                    let k = y * width + x
                    let color = channels == 3
                        ? Raster.Color(byte(samples[base + k]), byte(samples[base + plane + k]), byte(samples[base + 2 * plane + k]))
                        : Raster.Color(gray: byte(samples[base + k]))
                    picture.fill(x: left + x * scale, y: top + y * scale, width: scale, height: scale, color)
                }
            }
        }
        return picture
    }

    // MARK: Helpers

    /// The central 99% of `values`, padded by 15% on each side (never empty).
    static func range(_ values: [Double]) -> ClosedRange<Double> {
        let sorted = values.filter(\.isFinite).sorted()
        guard let first = sorted.first, let last = sorted.last else { return -1...1 }
        let low = sorted[Int(Double(sorted.count - 1) * 0.005)], high = sorted[Int(Double(sorted.count - 1) * 0.995)]
        var span = high - low
        if span <= 0 { span = max(1, abs(first), abs(last)) }
        return (low - 0.15 * span)...(high + 0.15 * span)
    }

    /// Values rescaled to [0, 1] by their finite minimum and maximum.
    static func normalised(_ values: [Float]) -> [Double] {
        let finite = values.filter(\.isFinite).map(Double.init)
        guard let low = finite.min(), let high = finite.max(), high > low else { return values.map { _ in 0.5 } }
        return values.map { $0.isFinite ? (Double($0) - low) / (high - low) : 0 }
    }

    static func mix(_ a: Raster.Color, _ b: Raster.Color, _ t: Double) -> Raster.Color {
        func channel(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Double(x) * (1 - t) + Double(y) * t).rounded()) }
        return Raster.Color(channel(a.red, b.red), channel(a.green, b.green), channel(a.blue, b.blue))
    }
}
