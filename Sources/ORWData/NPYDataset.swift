/// The user's own data: a `.npy` float32 array of shape [N, …], one sample per leading index.
/// Sample shape is the rest of the array's shape ([] for a 1-D array: one float per sample).
public struct NPYDataset: Dataset {
    public let array: NPYArray

    public var count: Int? { array.shape[0] }
    public var sampleShape: [Int] { Array(array.shape.dropFirst()) }

    public init(path: String) throws {
        let array = try NPY.read(path: path)
        guard !array.shape.isEmpty else {
            throw DatasetError.malformedFile(path: path, reason: "a dataset needs shape [N, …], the array is a scalar")
        }
        guard !array.shape.contains(0) else {
            throw DatasetError.malformedFile(path: path, reason: "a dataset needs at least one sample of at least one float, the array has shape \(array.shape)")
        }
        self.array = array
    }

    public func copySample(_ index: Int, into output: UnsafeMutablePointer<Float>) {
        let size = dimension
        for k in 0..<size {
            output[k] = array.values[index * size + k]
        }
    }
}
