/// Bounds on sizes that come from outside the program (file headers, model metadata, config
/// fields), checked before anything is allocated from them, so that hostile or mistaken input
/// is an error and never an integer-overflow trap or an impossible allocation (issue 20, #7).
public enum SizeLimits {
    /// The most elements one array read from a file may claim (2^40, far beyond any memory):
    /// products of its sizes, and of any part of them, then fit in Int even times 8 bytes.
    public static let fileElements = 1 << 40
    /// The most floats in one sample, or in one layer's width (2^24: a 4096 × 4096 image).
    public static let sampleElements = 1 << 24

    /// The number of elements of `shape`, or nil when a size is negative or when the product of
    /// its non-zero sizes overflows or exceeds `limit`. Zero sizes are left out of that product
    /// on purpose: an empty array [0, 2^62, 2^62] has no elements, yet code that multiplies
    /// part of its shape (a sample's size, a row's) would overflow.
    public static func elementCount(_ shape: [Int], limit: Int) -> Int? {
        var nonZero = 1
        for size in shape where size != 0 {
            guard size > 0 else { return nil }
            let (product, overflow) = nonZero.multipliedReportingOverflow(by: size)
            guard !overflow, product <= limit else { return nil }
            nonZero = product
        }
        return shape.contains(0) ? 0 : nonZero
    }
}
