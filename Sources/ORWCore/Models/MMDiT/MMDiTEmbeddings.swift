import Foundation

/// SD3's timestep features, diffusers' `Timesteps(256, flip_sin_to_cos=True,
/// downscale_freq_shift=0)` (`get_timestep_embedding`): e(τ) = [cos(τ f_k)]_{k<128} ++
/// [sin(τ f_k)]_{k<128}, f_k = exp(−ln(10000) · k / 128), for the timestep τ = 1000σ.
///
/// diffusers evaluates this in float32: f_k = expf(Float(−ln 10000) · k / 128) and the argument
/// τ · f_k rounded to Float, which at τ ≈ 1000 moves the fast components by ~6e-5 from the exact
/// formula. This reproduces each float32 rounding (sin and cos of the rounded argument are taken
/// in Double, within PyTorch's 1-ulp accuracy), so the weights trained on diffusers' features
/// see the same inputs. (`TimeEmbedding` is the exact-formula variant of orwdist's MLP.)
///
/// Letters: B = batch, E = 256.
public enum MMDiTTimestepEmbedding {
    public static let width = 256
    static let frequencies: [Float] = {  // [E / 2], float32 as in diffusers
        let half = width / 2
        let exponent = Float(-log(10000.0))
        return (0..<half).map { expf(exponent * Float($0) / Float(half)) }
    }()

    /// e [B, E] = e(τ [B]). Overwrites e. No backward: the timestep is an input, not trained.
    static func forward(
        output: UnsafeMutablePointer<Float>,  // [B, E]
        timestep: UnsafePointer<Float>,       // [B]
        batch: Int
    ) {
        let half = width / 2
        for (row, τ) in UnsafeBufferPointer(start: timestep, count: batch).enumerated() {
            for (k, frequency) in frequencies.enumerated() {
                let angle = Double(τ * frequency)  // the float32 product, as diffusers rounds it
                output[row * width + k] = Float(cos(angle))
                output[row * width + half + k] = Float(sin(angle))
            }
        }
    }
}

/// SD3's fixed 2-D sin-cos position table, diffusers' `get_2d_sincos_pos_embed(D, M,
/// base_size = sample_size / p, interpolation_scale = 1)` as `PatchEmbed` builds it for
/// pos_embed_max_size M: for grid cell (row i, column j) the first D/2 features encode the column
/// position j / (M / base) and the last D/2 the row position, each as [sin(pos ω_k)]_{k<D/4} ++
/// [cos(pos ω_k)]_{k<D/4} with ω_k = 10000^(−k / (D/4)). Positions are float32 (as diffusers'
/// torch.arange … / (M / base)), ω and the sines float64, rounded to Float once (diffusers' `.float()`).
///
/// Letters: M = pos_embed_max_size, D = inner width.
public enum MMDiTPositionEmbedding {
    /// The table [M², D], row i · M + j for cell (i, j): diffusers' `pos_embed.pos_embed[0]`
    /// (the buffer a model directory stores; 226 MB for SD3-medium, so the model itself only
    /// computes its crop).
    public static func table(_ architecture: MMDiTArchitecture) -> [Float] {
        let m = architecture.posEmbedMaxSize
        return crop(architecture, rows: m, columns: m)
    }

    /// The centre crop PatchEmbed adds to an (H/p) × (W/p) = rows × columns patch grid: [rows ·
    /// columns, D], the cells (top + i, left + j) with top = (M − rows) / 2, left = (M − columns) / 2.
    public static func crop(_ architecture: MMDiTArchitecture, rows: Int, columns: Int) -> [Float] {
        let m = architecture.posEmbedMaxSize, d = architecture.innerDim, quarter = d / 4
        let top = (m - rows) / 2, left = (m - columns) / 2
        let baseSize = architecture.sampleSize / architecture.patchSize
        let step = Float(Double(m) / Double(baseSize))
        let omega = (0..<quarter).map { 1 / pow(10000, Double($0) / Double(quarter)) }
        var table = [Float](repeating: 0, count: rows * columns * d)
        for i in 0..<rows {
            for j in 0..<columns {
                let row = (i * columns + j) * d
                let cell = [(0, Double(Float(left + j) / step)), (d / 2, Double(Float(top + i) / step))]
                for (half, position) in cell {
                    for k in 0..<quarter {
                        table[row + half + k] = Float(sin(position * omega[k]))
                        table[row + half + quarter + k] = Float(cos(position * omega[k]))
                    }
                }
            }
        }
        return table
    }
}
